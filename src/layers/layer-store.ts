// Unpacked layers: <root>/layers/<chainID-hex>/diff, in overlay form, used as lowerdirs as they
// are. A layer directory only ever appears by an atomic rename of a complete directory (a
// committed upperdir, or a tar extracted in staging), and its database row is written after that,
// so a row never points at a half-made directory and a crash leaves at worst an orphan dir (GC).
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough, Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { chainIds, hexOf, parseDigest } from '../image/digest.js';
import { MediaType, type Digest } from '../image/types.js';
import type { ContentStore } from '../store/content-store.js';
import type { Db, LayerBlobRecord } from '../store/db.js';
import { DigestMismatchError } from '../store/content-store.js';
import { NotFoundError } from '../store/errors.js';
import { removeTree, stage, stagingName } from '../store/staging.js';
import { applyLayer, type ApplyResult } from './apply.js';
import { compressionOf, createCompressor, decompress, layerMediaType, type Compression } from './compress.js';
import { packLayer, type PackOptions } from './pack.js';

export interface LayerResult {
  diffId: Digest;
  chainId: Digest;
  /** Bytes of the uncompressed layer tar. */
  size: number;
  /** Sum of regular file sizes (Docker's layer size). */
  contentSize: number;
}

export interface ApplyTarResult extends LayerResult {
  /** The blob as it arrived (kept in the content store unless keepBlob was false). */
  blob: { digest: Digest; size: number; mediaType: string; compression: Compression };
}

/**
 * A layer extracted into staging but not installed yet (see extractTar): it does not depend on its
 * parents, so several can be extracted at once and installed in order afterwards. Either
 * installStaged() or discard() must be called.
 */
export interface StagedLayer {
  diffId: Digest;
  /** Bytes of the uncompressed layer tar. */
  size: number;
  contentSize: number;
  compression: Compression;
  /** Removes the staging directory (no-op after installStaged). */
  discard(): void;
}

/** Fills an empty directory with an applied layer and reports it (see extractTar). */
export type LayerExtractor = (diffDir: string) => Promise<ApplyResult>;

interface StagedInternal extends StagedLayer {
  stage: string;
  diff: string;
  done: boolean;
}

export interface CompressOptions {
  /**
   * Only when the layer has to be compressed now: also hands the compressed bytes, as they are
   * made, to `tap` (e.g. to upload them while they are written), with a promise of their digest
   * and size that settles as soon as the last byte is hashed (before the blob is fsynced and
   * renamed into place) and rejects if storing fails. The blob is stored whatever the tap does; a
   * tap that fails or stops reading is detached and its error reported in `tapError`.
   * compressed() resolves once both the store and the tap are done.
   */
  tap?: (compressed: Readable, digest: Promise<{ digest: Digest; size: number }>) => Promise<void>;
}

export interface ApplyTarOptions {
  /** Media type to remember for the arriving blob (default: sniffed compression, OCI spelling). */
  mediaType?: string;
  /** Keep the blob as it arrived in the content store and remember it (default true). */
  keepBlob?: boolean;
  /** Expected digest of the arriving (compressed) bytes, e.g. from a manifest. */
  expectDigest?: Digest;
}

const sameCompression = (a: string, b: string) => compressionOf(a) === compressionOf(b);

export class LayerStore {
  readonly layersDir: string;
  readonly tmpDir: string;

  constructor(
    readonly stateDir: string,
    readonly db: Db,
    readonly content: ContentStore,
  ) {
    this.layersDir = join(stateDir, 'layers');
    this.tmpDir = join(stateDir, 'tmp');
    mkdirSync(this.layersDir, { recursive: true });
    mkdirSync(this.tmpDir, { recursive: true });
  }

  /** <root>/layers/<hex>/diff */
  dir(chainId: Digest): string {
    return join(this.layersDir, hexOf(parseDigest(chainId)), 'diff');
  }

  /** The layer is recorded and its directory is there. */
  has(chainId: Digest): boolean {
    return this.db.getLayer(chainId) !== null && existsSync(this.dir(chainId));
  }

  /** Chain IDs for a list of diffIDs (bottom first). */
  chainIds(diffIds: Digest[]): Digest[] {
    return chainIds(diffIds);
  }

  /** Lower directories for an image's diffIDs (bottom first in, top first out); all must exist. */
  lowerDirs(diffIds: Digest[]): string[] {
    const chain = chainIds(diffIds);
    const missing = chain.filter((c) => !this.has(c));
    if (missing.length) throw new NotFoundError('layer', `${missing[0]} (${missing.length} of ${chain.length} layers missing)`);
    return chain.map((c) => this.dir(c)).reverse();
  }

  private parentChain(parentDiffIds: Digest[]): Digest | null {
    if (parentDiffIds.length === 0) return null;
    const chain = chainIds(parentDiffIds);
    const top = chain[chain.length - 1]!;
    if (!this.has(top)) throw new NotFoundError('layer', `${top} (parent of the new layer)`);
    return top;
  }

  /**
   * Moves a complete directory into place as layer `chainId`; false if it already existed (then
   * the caller's directory is left where it was).
   */
  private install(srcDir: string, chainId: Digest): boolean {
    const home = join(this.layersDir, hexOf(chainId));
    mkdirSync(home, { recursive: true });
    try {
      renameSync(srcDir, join(home, 'diff'));
      return true;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // Another process installed it first: its directory is complete too (renames are atomic).
      if (code === 'ENOTEMPTY' || code === 'EEXIST') return false;
      throw e;
    }
  }

  /**
   * Commits an upperdir as a layer on top of `parentDiffIds`: packs it only to learn its diffID,
   * then renames the directory into the store (no copy). If the layer already exists (same
   * chainID, e.g. another process built it), ours is discarded. `upperDir` is consumed either way.
   */
  async commitDir(upperDir: string, parentDiffIds: Digest[], opts: PackOptions = {}): Promise<LayerResult> {
    const parent = this.parentChain(parentDiffIds);
    const packed = await packLayer(upperDir, null, opts);
    const chainId = chainIds([...parentDiffIds, packed.diffId]).at(-1)!;
    const result = { diffId: packed.diffId, chainId, size: packed.size, contentSize: packed.contentSize };
    if (this.has(chainId)) {
      removeTree(upperDir);
      return result;
    }
    if (!this.install(upperDir, chainId)) removeTree(upperDir);
    this.db.putLayer({ chainId, diffId: packed.diffId, parent, size: packed.size, contentSize: packed.contentSize });
    return result;
  }

  /**
   * Extracts a layer tar (plain, gzip or zstd) on top of `parentDiffIds`: into staging, verified
   * against `expectDiffId`, then renamed into place. The blob as it arrived is kept in the content
   * store (same pass) and remembered as a compressed form of the layer, so save/push send it back
   * byte for byte.
   */
  async applyTar(src: Readable, parentDiffIds: Digest[], expectDiffId?: Digest, opts: ApplyTarOptions = {}): Promise<ApplyTarResult> {
    if (expectDiffId !== undefined) parseDigest(expectDiffId);
    const parent = this.parentChain(parentDiffIds);
    const keepBlob = opts.keepBlob !== false;
    const stage = join(this.tmpDir, stagingName('apply'));
    mkdirSync(stage, 0o700);
    const diff = join(stage, 'diff');
    mkdirSync(diff, 0o755);
    try {
      const toApply = new PassThrough({ highWaterMark: 1 << 20 });
      const toStore = new PassThrough({ highWaterMark: 1 << 20 });
      let rawSize = 0;
      const rawHash = createHash('sha256');
      src.on('data', (c: Buffer) => {
        rawSize += c.length;
        rawHash.update(c);
      });
      src.on('error', (err) => {
        toApply.destroy(err);
        toStore.destroy(err);
      });
      src.pipe(toApply);
      if (keepBlob) src.pipe(toStore);
      const applying = applyLayer(toApply, diff);
      const storing = keepBlob ? this.content.ingest(toStore, opts.expectDigest ? { digest: opts.expectDigest } : {}) : null;
      let applied;
      let stored;
      try {
        [applied, stored] = await Promise.all([applying, storing]);
      } catch (e) {
        src.destroy();
        toApply.destroy();
        toStore.destroy();
        await Promise.allSettled([applying, storing]);
        throw e;
      }
      const rawDigest: Digest = stored?.digest ?? `sha256:${rawHash.digest('hex')}`;
      if (!keepBlob && opts.expectDigest && rawDigest !== opts.expectDigest) throw new DigestMismatchError(opts.expectDigest, rawDigest);
      if (expectDiffId !== undefined && applied.diffId !== expectDiffId) throw new DigestMismatchError(expectDiffId, applied.diffId, 'layer diffID');
      const chainId = chainIds([...parentDiffIds, applied.diffId]).at(-1)!;
      const mediaType = opts.mediaType ?? layerMediaType(applied.compression);
      const blob = { digest: rawDigest, size: stored?.size ?? rawSize, mediaType, compression: applied.compression };
      if (!this.has(chainId)) {
        this.install(diff, chainId);
        this.db.putLayer({ chainId, diffId: applied.diffId, parent, size: applied.size, contentSize: applied.contentSize });
      }
      if (keepBlob) this.db.putLayerBlob({ diffId: applied.diffId, digest: blob.digest, mediaType, size: blob.size });
      const rec = this.db.getLayer(chainId)!;
      return { diffId: applied.diffId, chainId, size: rec.size, contentSize: rec.contentSize, blob };
    } finally {
      removeTree(stage);
    }
  }

  /**
   * Extracts a layer tar (plain, gzip or zstd) into staging without installing it: an
   * overlay-form layer directory does not depend on its parents, so layers can be extracted in
   * parallel, in any order, and installed in order afterwards with installStaged(). The source is
   * trusted to be the right bytes (e.g. a blob from the content store, verified when it was
   * stored); the result is checked against `expectDiffId`. Instead of a stream, `src` may be a
   * function that does the extraction into the (empty) directory it is given and reports what
   * applyLayer() would, e.g. applyLayer run in a worker thread.
   */
  async extractTar(src: Readable | LayerExtractor, expectDiffId?: Digest): Promise<StagedLayer> {
    if (expectDiffId !== undefined) parseDigest(expectDiffId);
    const stage = join(this.tmpDir, stagingName('extract'));
    mkdirSync(stage, 0o700);
    const diff = join(stage, 'diff');
    try {
      mkdirSync(diff, 0o755);
      let applied: ApplyResult;
      if (typeof src === 'function') applied = await src(diff);
      else {
        src.on('error', () => {
          /* surfaces through applyLayer's read */
        });
        try {
          applied = await applyLayer(src, diff);
        } finally {
          src.destroy();
        }
      }
      if (expectDiffId !== undefined && applied.diffId !== expectDiffId) throw new DigestMismatchError(expectDiffId, applied.diffId, 'layer diffID');
      const staged: StagedInternal = {
        diffId: applied.diffId,
        size: applied.size,
        contentSize: applied.contentSize,
        compression: applied.compression,
        stage,
        diff,
        done: false,
        discard() {
          if (staged.done) return;
          staged.done = true;
          removeTree(stage);
        },
      };
      return staged;
    } catch (e) {
      removeTree(stage);
      throw e;
    }
  }

  /**
   * Installs a layer made by extractTar() on top of `parentDiffIds` (which must all be present):
   * renamed into place and recorded. If the layer is already there (same chain ID), the staged
   * copy is discarded. The staged layer is consumed either way.
   */
  installStaged(staged: StagedLayer, parentDiffIds: Digest[]): LayerResult {
    const st = staged as StagedInternal;
    if (st.done) throw new Error('staged layer already installed or discarded');
    try {
      const parent = this.parentChain(parentDiffIds);
      const chainId = chainIds([...parentDiffIds, st.diffId]).at(-1)!;
      if (!this.has(chainId)) {
        this.install(st.diff, chainId);
        this.db.putLayer({ chainId, diffId: st.diffId, parent, size: st.size, contentSize: st.contentSize });
      }
      const rec = this.db.getLayer(chainId)!;
      return { diffId: st.diffId, chainId, size: rec.size, contentSize: rec.contentSize };
    } finally {
      st.done = true;
      removeTree(st.stage);
    }
  }

  /** Remembers a compressed form of a layer that is already in the content store. */
  rememberBlob(diffId: Digest, blob: { digest: Digest; size: number; mediaType: string }): void {
    this.db.putLayerBlob({ diffId: parseDigest(diffId), digest: parseDigest(blob.digest), mediaType: blob.mediaType, size: blob.size });
  }

  /** Known compressed forms of a layer whose blob is still in the content store. */
  blobs(diffId: Digest): LayerBlobRecord[] {
    return this.db.getLayerBlobs(diffId).filter((b) => this.content.has(b.digest));
  }

  /**
   * The layer's uncompressed tar. A layer that arrived as a blob is served from that blob (so its
   * diffID is exactly the original); a built layer is re-packed from its directory. Either way the
   * stream fails if the bytes do not hash to the layer's diffID.
   */
  openTar(chainId: Digest): Readable {
    const rec = this.db.getLayer(chainId);
    if (!rec || !existsSync(this.dir(chainId))) throw new NotFoundError('layer', chainId);
    const mismatch = (got: Digest) => new DigestMismatchError(rec.diffId, got, `layer ${chainId} content`);
    const blob = this.blobs(rec.diffId)[0];
    if (!blob) {
      // packLayer hashes what it writes: its diffID decides whether the stream ends or fails (it
      // has not ended yet when packLayer returns), so the bytes are hashed once, not twice.
      const out = new PassThrough({ highWaterMark: 1 << 20 });
      packLayer(this.dir(chainId), out).then(
        (r) => (r.diffId === rec.diffId ? out.end() : out.destroy(mismatch(r.diffId))),
        (e: Error) => out.destroy(e),
      );
      return out;
    }
    const h = createHash('sha256');
    const out = new Transform({
      highWaterMark: 1 << 20,
      transform(chunk: Buffer, _e, cb) {
        h.update(chunk);
        cb(null, chunk);
      },
      flush(cb) {
        const got: Digest = `sha256:${h.digest('hex')}`;
        cb(got === rec.diffId ? null : mismatch(got));
      },
    });
    // A stored blob is decompressed by what its bytes are (sniffed), not what its media type says.
    decompress(this.content.createReadStream(blob.digest))
      .then(({ stream }) => pipeline(stream, out))
      .catch((e: Error) => out.destroy(e));
    return out;
  }

  /** The remembered compressed blob of the layer in `mediaType`'s compression, if there is one. */
  knownCompressed(chainId: Digest, mediaType: string = MediaType.OciLayerGzip): { digest: Digest; size: number; mediaType: string } | undefined {
    const rec = this.db.getLayer(chainId);
    if (!rec) throw new NotFoundError('layer', chainId);
    const known = this.blobs(rec.diffId).find((b) => sameCompression(b.mediaType, mediaType));
    return known ? { digest: known.digest, size: known.size, mediaType } : undefined;
  }

  /**
   * A compressed blob of the layer for save/push, made lazily: the first call compresses into the
   * content store and remembers it; later calls (and layers that arrived compressed) reuse it.
   * Docker and OCI gzip media types are the same bytes, so either request finds either record.
   * gzip is made by pigz when installed (see compress.ts); the digest is that of the bytes stored.
   */
  async compressed(
    chainId: Digest,
    mediaType: string = MediaType.OciLayerGzip,
    opts: CompressOptions = {},
  ): Promise<{ digest: Digest; size: number; mediaType: string; tapError?: unknown }> {
    const known = this.knownCompressed(chainId, mediaType);
    if (known) return known;
    const rec = this.db.getLayer(chainId)!;
    const c = compressionOf(mediaType);
    const tar = this.openTar(chainId);
    const compressor = createCompressor(c);
    tar.on('error', (e) => compressor.destroy(e));
    tar.pipe(compressor);
    let tapping: Promise<void> | null = null;
    let tapped: PassThrough | null = null;
    let onHashed!: (r: { digest: Digest; size: number }) => void;
    let notHashed!: (e: unknown) => void;
    const hashed = new Promise<{ digest: Digest; size: number }>((resolve, reject) => {
      onHashed = resolve;
      notHashed = reject;
    });
    hashed.catch(() => {});
    let toStore: Readable = compressor;
    if (opts.tap) {
      const store = new PassThrough({ highWaterMark: 1 << 20 });
      const tap = new PassThrough({ highWaterMark: 1 << 20 });
      compressor.on('error', (e) => {
        store.destroy(e);
        tap.destroy(e);
      });
      compressor.pipe(store);
      compressor.pipe(tap); // unpiped by the stream itself if the tap destroys it
      tapping = opts.tap(tap, hashed).finally(() => {
        // Whatever the tap left unread must not hold the store back.
        compressor.unpipe(tap);
        tap.destroy();
      });
      tapping.catch(() => {});
      tapped = tap;
      toStore = store;
    }
    let stored;
    try {
      stored = await this.content.ingest(toStore, {}, { onHashed });
    } catch (e) {
      notHashed(e);
      compressor.destroy();
      tapped?.destroy(e as Error);
      if (tapping) await tapping.catch(() => {});
      throw e;
    }
    this.db.putLayerBlob({ diffId: rec.diffId, digest: stored.digest, mediaType, size: stored.size });
    const out: { digest: Digest; size: number; mediaType: string; tapError?: unknown } = { digest: stored.digest, size: stored.size, mediaType };
    if (tapping) {
      try {
        await tapping;
      } catch (e) {
        out.tapError = e;
      }
    }
    return out;
  }

  /** Deletes a layer: its row first (nothing may point at a half-deleted dir), then the dir. */
  remove(chainId: Digest): void {
    const staged = this.detach(chainId);
    if (staged) removeTree(staged);
  }

  /**
   * The quick half of remove(): deletes the row and renames the layer's directory into staging.
   * Returns the staged path for the caller to delete (removeTree) when convenient.
   */
  detach(chainId: Digest): string | null {
    parseDigest(chainId);
    this.db.deleteLayer(chainId);
    return stage(join(this.layersDir, hexOf(chainId)), this.tmpDir, 'rmlayer');
  }

  /** Docker's image size: the sum of the layers' unpacked sizes (0 for unknown layers). */
  sizeOf(diffIds: Digest[]): number {
    let total = 0;
    for (const c of chainIds(diffIds)) total += this.db.getLayer(c)?.contentSize ?? 0;
    return total;
  }

  /** Layer directories on disk (chain IDs), recorded or not. */
  listDirs(): Digest[] {
    if (!existsSync(this.layersDir)) return [];
    return readdirSync(this.layersDir)
      .filter((n) => /^[a-f0-9]{64}$/.test(n))
      .map((n) => `sha256:${n}` as Digest);
  }
}
