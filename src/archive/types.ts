// What the archive writers need to know about an image, independent of the store that holds it.
import type { Readable } from 'node:stream';
import type { Digest, ImageConfig } from '../image/types.js';

export type ArchiveFormat = 'docker-archive' | 'oci-archive';

export interface ArchiveLayer {
  diffId: Digest;
  chainId: Digest;
  /** The uncompressed layer tar; the writer checks its sha256 against diffId. */
  openTar(): Readable | Promise<Readable>;
  /** The compressed blob (for OCI layouts): made and remembered by the store if needed. */
  blob(): Promise<{ digest: Digest; size: number; mediaType: string; open(): Readable }>;
}

export interface ArchiveImage {
  /** Image ID: the config digest. */
  id: Digest;
  /** The config bytes exactly as stored (their sha256 is the ID). */
  configBytes: Buffer;
  config: ImageConfig;
  /** Names to record, normalized (docker.io/library/app:latest); empty for an untagged image. */
  names: string[];
  /** Layers bottom first, one per rootfs.diff_ids entry. */
  layers: ArchiveLayer[];
  /** A stored manifest to reuse in OCI layouts when its blobs are the ones `blob()` gives. */
  manifest?: { bytes: Buffer; digest: Digest; mediaType: string } | null;
}
