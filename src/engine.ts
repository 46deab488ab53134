// The one object that owns a state directory (DESIGN.md, "State directory"): opening it creates
// the layout, sweeps staging left by crashed commands, and opens the database. Every module
// reaches the store through it.
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Digest, ImageConfig } from './image/types.js';
import { familiarString, normalize, parseReference } from './image/reference.js';
import { recordEvent } from './store/event-log.js';
import { LayerStore } from './layers/layer-store.js';
import { ContentStore } from './store/content-store.js';
import { Db, type ImageRecord } from './store/db.js';
import { NotFoundError } from './store/errors.js';
import { prune, type PruneOptions, type PruneReport } from './store/gc.js';
import { stagingName, sweepStaging } from './store/staging.js';

export class Engine {
  readonly root: string;
  readonly content: ContentStore;
  readonly db: Db;
  readonly layers: LayerStore;
  /** This Engine's row in `sessions`: prune deletes freely only when no other session is live. */
  readonly session: string;
  private closed = false;

  private constructor(root: string) {
    this.root = root;
    this.content = new ContentStore(root);
    this.db = new Db(root);
    this.layers = new LayerStore(root, this.db, this.content);
    this.session = stagingName('session');
    this.db.registerSession(this.session);
  }

  /** Opens (creating if needed) the state directory at `root`. */
  static open(root: string): Engine {
    const abs = resolve(root);
    mkdirSync(abs, { recursive: true, mode: 0o711 });
    for (const d of ['blobs/sha256', 'layers', 'containers', 'volumes', 'tmp']) mkdirSync(join(abs, d), { recursive: true, mode: 0o700 });
    sweepStaging(join(abs, 'tmp'));
    return new Engine(abs);
  }

  /** A fresh directory under <root>/tmp (same filesystem as the store: renames are atomic). */
  tmpDir(prefix: string): string {
    const p = join(this.root, 'tmp', stagingName(prefix));
    mkdirSync(p, { mode: 0o700 });
    return p;
  }

  /** Image by tag, full ID or unique ID prefix, with its config. */
  resolveImage(refOrId: string): { id: Digest; config: ImageConfig } {
    const id = this.db.resolveImageId(refOrId);
    if (!this.content.has(id)) throw new NotFoundError('image', `${refOrId} (config blob ${id} is missing from the store)`);
    return { id, config: this.content.readJson<ImageConfig>(id) };
  }

  /** Points `ref` (normalized: busybox → docker.io/library/busybox:latest) at image `id`. */
  tagImage(ref: string, id: Digest): string {
    const rec = this.db.setTag(ref, id);
    recordEvent(this.root, 'image', 'tag', id, { name: familiarString(parseReference(rec.ref)) });
    return rec.ref;
  }

  untagImage(ref: string): boolean {
    const id = this.db.getTag(ref)?.imageId;
    const gone = this.db.deleteTag(ref);
    if (gone && id) recordEvent(this.root, 'image', 'untag', id, { name: familiarString(parseReference(ref)) });
    return gone;
  }

  /**
   * Stores an image config (canonical JSON) and records the image; its ID is the config digest.
   * Every layer in rootfs.diff_ids must already be in the layer store.
   */
  putImage(config: ImageConfig, opts: { manifestDigest?: Digest | null; manifestMediaType?: string | null } = {}): ImageRecord {
    this.layers.lowerDirs(config.rootfs.diff_ids); // throws if a layer is missing
    const { digest } = this.content.putJson(config);
    return this.db.putImage({
      id: digest,
      manifestDigest: opts.manifestDigest ?? null,
      manifestMediaType: opts.manifestMediaType ?? null,
      size: this.layers.sizeOf(config.rootfs.diff_ids),
    });
  }

  /** Deletes unreachable blobs and layers (see store/gc.ts). */
  prune(opts: PruneOptions = {}): PruneReport {
    return prune({ root: this.root, db: this.db, content: this.content, layers: this.layers, session: this.session }, opts);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.db.unregisterSession(this.session);
    } catch {
      /* a crashed session is dropped by the next prune */
    }
    this.db.close();
  }
}

export { normalize as normalizeReference };
