// What the registry code needs from kiln's store, in one narrow interface, and its implementation
// over the Engine's content store, metadata database and layer store.
import fs from 'node:fs';
import type { Readable } from 'node:stream';
import type { Descriptor, Digest, ImageConfig } from '../image/types.js';
import type { ContentStore } from '../store/content-store.js';
import type { Db } from '../store/db.js';
import type { CompressOptions, LayerStore, StagedLayer } from '../layers/layer-store.js';
import { DigestMismatchError } from './errors.js';
import { WorkerGoneError, type ExtractPool } from './extract-pool.js';
import { sha256 } from '../image/digest.js';
import { parseReference, repositoryName } from '../image/reference.js';

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
  /**
   * Takes a download whose size and digest were verified while it was written into the content
   * store without copying it (fsync + rename; the file is gone afterwards).
   */
  adoptFile(file: string, desc: Descriptor): Promise<void>;
  /** Stores small verified bytes (configs, manifests). */
  putBlob(bytes: Buffer, digest: Digest): void;
  hasLayer(chainId: Digest): boolean;
  /**
   * Extracts layer `desc` (a blob in the content store) into staging; it must produce `diffId`.
   * Independent of the layer's parents, so layers can be extracted in parallel; installLayer()
   * puts them in place in order. Aborting `signal` stops the extraction (and discards it). With a
   * `pool`, the work runs in one of its worker threads (in this thread if none can take it).
   */
  extractLayer(
    desc: Descriptor,
    diffId: Digest,
    onProgress?: (compressedBytesRead: number) => void,
    signal?: AbortSignal,
    pool?: ExtractPool | null,
  ): Promise<StagedLayer>;
  /**
   * Installs an extracted layer on top of `parentDiffIds` (present already) and remembers its blob
   * `desc` as a compressed form of the layer.
   */
  installLayer(staged: StagedLayer, parentDiffIds: Digest[], desc: Descriptor): void;
  /** Remembers that layer `diffId` exists as the stored blob `desc`. */
  recordLayerBlob(diffId: Digest, desc: Descriptor): void;
  /** The remembered compressed blob of the layer in `mediaType`'s compression, if any. */
  knownCompressedLayer(chainId: Digest, mediaType: string): CompressedBlob | undefined;
  /**
   * The layer as a compressed blob of `mediaType`'s compression, made (and remembered) if needed;
   * when it is made now, `opts.tap` also gets the compressed bytes as they are made.
   */
  compressedLayer(chainId: Digest, mediaType: string, opts?: CompressOptions): Promise<CompressedBlob & { tapError?: unknown }>;
  /** Records the image and (optionally) points a normalized tag at it, in one transaction. */
  recordImage(r: { id: Digest; manifestDigest: Digest; manifestMediaType: string; ref?: string; repoDigest?: { repo: string; digest: Digest } }): void;
  /** Records that a repository (pushed to) knows the image by a manifest digest. */
  recordRepoDigest(repo: string, digest: Digest, id: Digest): void;
  /** The image ID a normalized tag, or a repository digest (`repo@sha256:…`), points at, if any. */
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
    putBlob(bytes, digest) {
      const got = sha256(bytes);
      if (got !== digest) throw new DigestMismatchError('blob', digest, got);
      content.putBytes(bytes, { digest });
    },
    hasLayer: (c) => layers.has(c),
    async adoptFile(file, desc) {
      await content.adoptFile(file, { digest: desc.digest, size: desc.size });
    },
    async extractLayer(desc, diffId, onProgress, signal, pool) {
      // A blob in the content store is complete and correct (verified when it was stored), so it
      // is not hashed again here; the diffID of what it unpacks to is checked.
      signal?.throwIfAborted();
      const file = content.path(desc.digest);
      if (pool) {
        try {
          return await layers.extractTar((dir) => pool.extract(file, dir, { onProgress, signal }), diffId);
        } catch (e) {
          if (!(e instanceof WorkerGoneError)) throw e;
          // No worker could do it: extract here instead (extractTar removed the partial staging).
        }
      }
      const src = fs.createReadStream(file, { highWaterMark: 1 << 20 });
      if (onProgress) {
        let n = 0;
        src.on('data', (c: Buffer | string) => onProgress((n += c.length)));
      }
      const onAbort = () => src.destroy(signal?.reason instanceof Error ? signal.reason : new Error('extraction aborted'));
      signal?.addEventListener('abort', onAbort, { once: true });
      try {
        return await layers.extractTar(src, diffId);
      } finally {
        signal?.removeEventListener('abort', onAbort);
      }
    },
    installLayer(staged, parents, desc) {
      const r = layers.installStaged(staged, parents);
      layers.rememberBlob(r.diffId, desc);
    },
    recordLayerBlob: (diffId, desc) => layers.rememberBlob(diffId, desc),
    knownCompressedLayer: (chainId, mediaType) => layers.knownCompressed(chainId, mediaType),
    compressedLayer: (chainId, mediaType, opts) => layers.compressed(chainId, mediaType, opts),
    recordImage(r) {
      db.tx(() => {
        const config = content.readJson<ImageConfig>(r.id);
        const size = layers.sizeOf(config.rootfs?.diff_ids ?? []);
        db.putImage({ id: r.id, manifestDigest: r.manifestDigest, manifestMediaType: r.manifestMediaType, size });
        if (r.ref) db.setTag(r.ref, r.id);
        if (r.repoDigest) db.addRepoDigest(r.repoDigest.repo, r.repoDigest.digest, r.id);
      });
    },
    recordRepoDigest: (repo, digest, id) => db.addRepoDigest(repo, digest, id),
    taggedImage(ref) {
      const r = parseReference(ref);
      return (r.digest ? db.findRepoDigest(repositoryName(r), r.digest) : db.getTag(ref)?.imageId) ?? undefined;
    },
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
