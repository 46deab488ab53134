// What the registry code needs from kiln's store, in one narrow interface, and its implementation
// over the Engine's content store, metadata database and layer store.
import fs from 'node:fs';
import type { Readable } from 'node:stream';
import type { Descriptor, Digest, ImageConfig } from '../image/types.js';
import type { ContentStore } from '../store/content-store.js';
import type { Db } from '../store/db.js';
import type { LayerStore } from '../layers/layer-store.js';
import { DigestMismatchError } from './errors.js';
import { sha256 } from '../image/digest.js';

export interface CompressedBlob {
  digest: Digest;
  size: number;
  mediaType: string;
}

export interface LocalImage {
  id: Digest;
  config: ImageConfig;
  configBytes: Buffer;
}

export interface RegistryStore {
  root: string;
  /** Staging directory on the store's filesystem (<root>/tmp). */
  tmpDir: string;
  hasBlob(d: Digest): boolean;
  readBlob(d: Digest): Buffer;
  blobStream(d: Digest): Readable;
  /** Moves a verified download into the content store (verified again on the way). */
  ingestFile(file: string, desc: Descriptor): Promise<void>;
  /** Stores small verified bytes (configs, manifests). */
  putBlob(bytes: Buffer, digest: Digest): void;
  hasLayer(chainId: Digest): boolean;
  /**
   * Unpacks layer `desc` on top of `parentDiffIds` from a verified download (`file`) or from the
   * content store (no file); must produce `diffId`. The blob is kept as it arrived and remembered
   * as a compressed form of the layer.
   */
  applyLayer(desc: Descriptor, file: string | undefined, parentDiffIds: Digest[], diffId: Digest, onProgress?: (compressedBytesRead: number) => void): Promise<void>;
  /** Remembers that layer `diffId` exists as the stored blob `desc`. */
  recordLayerBlob(diffId: Digest, desc: Descriptor): void;
  /** The layer as a compressed blob of `mediaType`'s compression, made (and remembered) if needed. */
  compressedLayer(chainId: Digest, mediaType: string): Promise<CompressedBlob>;
  /** Records the image and (optionally) points a normalized tag at it, in one transaction. */
  recordImage(r: { id: Digest; manifestDigest: Digest; manifestMediaType: string; ref?: string }): void;
  /** The image ID a normalized tag points at, if any. */
  taggedImage(ref: string): Digest | undefined;
  /** A local image by reference or ID, with its config. */
  resolveImage(ref: string): LocalImage | undefined;
}

/** The parts of the Engine the registry code uses. */
export interface StoreEngine {
  content: ContentStore;
  db: Db;
  layers: LayerStore;
}

export function openRegistryStore(engine: StoreEngine): RegistryStore {
  const { content, db, layers } = engine;
  const root = content.stateDir;
  return {
    root,
    tmpDir: content.tmpDir,
    hasBlob: (d) => content.has(d),
    readBlob: (d) => content.read(d),
    blobStream: (d) => content.createReadStream(d),
    async ingestFile(file, desc) {
      await content.ingest(fs.createReadStream(file, { highWaterMark: 1 << 20 }), { digest: desc.digest, size: desc.size });
    },
    putBlob(bytes, digest) {
      const got = sha256(bytes);
      if (got !== digest) throw new DigestMismatchError('blob', digest, got);
      content.putBytes(bytes, { digest });
    },
    hasLayer: (c) => layers.has(c),
    async applyLayer(desc, file, parents, diffId, onProgress) {
      const src = file ? fs.createReadStream(file, { highWaterMark: 1 << 20 }) : content.createReadStream(desc.digest);
      if (onProgress) {
        let n = 0;
        src.on('data', (c: Buffer | string) => onProgress((n += c.length)));
      }
      if (file) await layers.applyTar(src, parents, diffId, { mediaType: desc.mediaType, expectDigest: desc.digest });
      else {
        await layers.applyTar(src, parents, diffId, { keepBlob: false, expectDigest: desc.digest });
        layers.rememberBlob(diffId, desc);
      }
    },
    recordLayerBlob: (diffId, desc) => layers.rememberBlob(diffId, desc),
    compressedLayer: (chainId, mediaType) => layers.compressed(chainId, mediaType),
    recordImage(r) {
      db.tx(() => {
        const config = content.readJson<ImageConfig>(r.id);
        const size = layers.sizeOf(config.rootfs?.diff_ids ?? []);
        db.putImage({ id: r.id, manifestDigest: r.manifestDigest, manifestMediaType: r.manifestMediaType, size });
        if (r.ref) db.setTag(r.ref, r.id);
      });
    },
    taggedImage: (ref) => db.getTag(ref)?.imageId,
    resolveImage(ref) {
      let id: Digest;
      try {
        id = db.resolveImageId(ref);
      } catch (e) {
        if ((e as { code?: string }).code === 'ENOTFOUND') return undefined;
        throw e;
      }
      const configBytes = content.read(id);
      return { id, configBytes, config: JSON.parse(configBytes.toString('utf8')) as ImageConfig };
    },
  };
}
