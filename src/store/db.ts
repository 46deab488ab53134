// Metadata in SQLite (<root>/kiln.db): images, tags, layers, remembered compressed layer blobs,
// build cache, containers, volumes. WAL mode plus a busy timeout let several kiln commands use the
// store at once; every multi-row change goes through tx(), which takes the write lock up front
// (BEGIN IMMEDIATE) so two writers queue instead of failing with SQLITE_BUSY half way.
import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { kilnHome } from '../self.js';
import { isDigest } from '../image/digest.js';
import { normalize, parseReference, formatReference, repositoryName } from '../image/reference.js';
import type { Digest } from '../image/types.js';
import { AmbiguousError, ConflictError, NotFoundError } from './errors.js';

export interface ImageRecord {
  /** Image ID = digest of the config blob. */
  id: Digest;
  /** When the image entered this store (ISO 8601). The config has its own `created`. */
  created: string;
  /** The manifest it was pulled/loaded/pushed as, when there is one. */
  manifestDigest: Digest | null;
  manifestMediaType: string | null;
  /** Sum of the layers' unpacked sizes (what `kiln images` shows). */
  size: number;
}

export interface TagRecord {
  /** Normalized reference: docker.io/library/busybox:latest. */
  ref: string;
  imageId: Digest;
  created: string;
}

export interface LayerRecord {
  chainId: Digest;
  diffId: Digest;
  /** Chain ID of the layer below, null for a bottom layer. */
  parent: Digest | null;
  /** Bytes of the uncompressed layer tar. */
  size: number;
  /** Sum of regular file sizes in the layer (Docker's layer size, as `history` shows it). */
  contentSize: number;
  created: string;
}

export interface LayerBlobRecord {
  diffId: Digest;
  /** Digest of the (usually compressed) blob in the content store. */
  digest: Digest;
  mediaType: string;
  size: number;
}

export interface CacheRecord<I = unknown> {
  key: string;
  /** The intermediate image (config digest) this step produced. */
  imageId: Digest;
  created: string;
  lastUsed: string;
  size: number;
  info: I | null;
}

export interface ContainerRecord<S = unknown, C = unknown> {
  /** 64 hex characters (no "sha256:"), as Docker. */
  id: string;
  /** Unique, without Docker's leading "/". */
  name: string;
  imageId: string;
  created: string;
  state: S;
  config: C;
}

export type ContainerPatch<S = unknown, C = unknown> = Partial<Pick<ContainerRecord<S, C>, 'name' | 'imageId' | 'state' | 'config'>>;

export interface VolumeRecord {
  name: string;
  created: string;
  labels: Record<string, string>;
  options: Record<string, string>;
}

const MIGRATIONS: string[] = [
  // 1: initial schema
  `
  CREATE TABLE images (
    id TEXT PRIMARY KEY,
    created TEXT NOT NULL,
    manifest_digest TEXT,
    manifest_media_type TEXT,
    size INTEGER NOT NULL DEFAULT 0
  );
  CREATE INDEX images_manifest ON images(manifest_digest);
  CREATE TABLE tags (
    ref TEXT PRIMARY KEY,
    image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    created TEXT NOT NULL
  );
  CREATE INDEX tags_image ON tags(image_id);
  CREATE TABLE layers (
    chain_id TEXT PRIMARY KEY,
    diff_id TEXT NOT NULL,
    parent TEXT,
    size INTEGER NOT NULL,
    content_size INTEGER NOT NULL DEFAULT 0,
    created TEXT NOT NULL
  );
  CREATE INDEX layers_diff ON layers(diff_id);
  CREATE TABLE layer_blobs (
    diff_id TEXT NOT NULL,
    digest TEXT NOT NULL,
    media_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    PRIMARY KEY (diff_id, digest)
  );
  CREATE INDEX layer_blobs_digest ON layer_blobs(digest);
  CREATE TABLE build_cache (
    key TEXT PRIMARY KEY,
    image_id TEXT NOT NULL,
    created TEXT NOT NULL,
    last_used TEXT NOT NULL,
    size INTEGER NOT NULL DEFAULT 0,
    info TEXT
  );
  CREATE INDEX build_cache_image ON build_cache(image_id);
  CREATE TABLE containers (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    image_id TEXT NOT NULL,
    created TEXT NOT NULL,
    state TEXT NOT NULL,
    config TEXT NOT NULL
  );
  CREATE INDEX containers_image ON containers(image_id);
  CREATE TABLE volumes (
    name TEXT PRIMARY KEY,
    created TEXT NOT NULL,
    labels TEXT NOT NULL DEFAULT '{}',
    options TEXT NOT NULL DEFAULT '{}'
  );
  `,
  // 2: live kiln processes (prune deletes freely only when it is alone)
  `
  CREATE TABLE sessions (
    token TEXT PRIMARY KEY,
    pid INTEGER NOT NULL,
    started TEXT NOT NULL
  );
  `,
  // 3: the digest each repository knows an image by (pulled or pushed), as Docker's RepoDigests
  `
  CREATE TABLE repo_digests (
    repo TEXT NOT NULL,
    digest TEXT NOT NULL,
    image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    created TEXT NOT NULL,
    PRIMARY KEY (repo, digest)
  );
  CREATE INDEX repo_digests_image ON repo_digests(image_id);
  `,
  // 4: a counter that moves whenever what a build resolves against changes (images, tags, layers,
  // cache entries; not a cache hit's last_used), kept by triggers so no write path can forget it.
  // A build replay record (build/replay-record.ts) is valid only while it has not moved.
  `
  CREATE TABLE store_generation (id INTEGER PRIMARY KEY CHECK (id = 1), n INTEGER NOT NULL);
  INSERT INTO store_generation (id, n) VALUES (1, 0);
  ${['images', 'tags', 'layers']
    .flatMap((t) => ['INSERT', 'UPDATE', 'DELETE'].map((op) => `CREATE TRIGGER ${t}_${op.toLowerCase()}_generation AFTER ${op} ON ${t} BEGIN UPDATE store_generation SET n = n + 1; END;`))
    .join('\n  ')}
  CREATE TRIGGER build_cache_insert_generation AFTER INSERT ON build_cache BEGIN UPDATE store_generation SET n = n + 1; END;
  CREATE TRIGGER build_cache_update_generation AFTER UPDATE OF key, image_id, size, info ON build_cache BEGIN UPDATE store_generation SET n = n + 1; END;
  CREATE TRIGGER build_cache_delete_generation AFTER DELETE ON build_cache BEGIN UPDATE store_generation SET n = n + 1; END;
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

const now = () => new Date().toISOString();
const HEX_PREFIX = /^(?:sha256:)?([a-f0-9]{1,64})$/;

interface ImageRow {
  id: string;
  created: string;
  manifest_digest: string | null;
  manifest_media_type: string | null;
  size: number;
}
interface LayerRow {
  chain_id: string;
  diff_id: string;
  parent: string | null;
  size: number;
  content_size: number;
  created: string;
}
interface CacheRow {
  key: string;
  image_id: string;
  created: string;
  last_used: string;
  size: number;
  info: string | null;
}
interface ContainerRow {
  id: string;
  name: string;
  image_id: string;
  created: string;
  state: string;
  config: string;
}
interface VolumeRow {
  name: string;
  created: string;
  labels: string;
  options: string;
}

const toImage = (r: ImageRow): ImageRecord => ({
  id: r.id as Digest,
  created: r.created,
  manifestDigest: (r.manifest_digest as Digest | null) ?? null,
  manifestMediaType: r.manifest_media_type ?? null,
  size: r.size,
});
const toLayer = (r: LayerRow): LayerRecord => ({
  chainId: r.chain_id as Digest,
  diffId: r.diff_id as Digest,
  parent: (r.parent as Digest | null) ?? null,
  size: r.size,
  contentSize: r.content_size,
  created: r.created,
});
const toCache = <I>(r: CacheRow): CacheRecord<I> => ({
  key: r.key,
  imageId: r.image_id as Digest,
  created: r.created,
  lastUsed: r.last_used,
  size: r.size,
  info: r.info === null ? null : (JSON.parse(r.info) as I),
});
const toContainer = <S, C>(r: ContainerRow): ContainerRecord<S, C> => ({
  id: r.id,
  name: r.name,
  imageId: r.image_id,
  created: r.created,
  state: JSON.parse(r.state) as S,
  config: JSON.parse(r.config) as C,
});
const toVolume = (r: VolumeRow): VolumeRecord => ({
  name: r.name,
  created: r.created,
  labels: JSON.parse(r.labels) as Record<string, string>,
  options: JSON.parse(r.options) as Record<string, string>,
});

export interface DbOptions {
  /** How long to wait for another command's write lock, in ms (default 30 s). */
  busyTimeoutMs?: number;
  readonly?: boolean;
}

// better-sqlite3's addon by its path: its default lookup (the `bindings` package) tries a dozen
// candidate paths first, on every command.
let addonPath: string | null | undefined;
function sqliteAddon(): string | null {
  if (addonPath === undefined) {
    const p = join(kilnHome(), 'node_modules', 'better-sqlite3', 'build', 'Release', 'better_sqlite3.node');
    addonPath = existsSync(p) ? p : null;
  }
  return addonPath;
}

export class Db {
  readonly sqlite: Database.Database;
  readonly path: string;

  constructor(stateDir: string, opts: DbOptions = {}) {
    this.path = join(stateDir, 'kiln.db');
    this.sqlite = new Database(this.path, { nativeBinding: sqliteAddon() ?? undefined, timeout: opts.busyTimeoutMs ?? 30_000, readonly: opts.readonly ?? false });
    if (!opts.readonly) {
      this.sqlite.pragma('journal_mode = WAL');
      this.sqlite.pragma('synchronous = NORMAL'); // durable at checkpoints; never corrupt (WAL)
    }
    this.sqlite.pragma('foreign_keys = ON');
    if (!opts.readonly) this.migrate();
  }

  private migrate(): void {
    const version = () => this.sqlite.pragma('user_version', { simple: true }) as number;
    if (version() >= MIGRATIONS.length) return;
    this.tx(() => {
      const v = version(); // re-read under the write lock: another process may have migrated
      if (v > MIGRATIONS.length) throw new Error(`kiln.db schema version ${v} is newer than this kiln (${MIGRATIONS.length})`);
      for (let i = v; i < MIGRATIONS.length; i++) this.sqlite.exec(MIGRATIONS[i]!);
      this.sqlite.pragma(`user_version = ${MIGRATIONS.length}`);
    });
  }

  /** The store generation (migration 4): equal values mean no image, tag, layer or cache entry changed between. */
  generation(): number {
    return (this.sqlite.prepare('SELECT n FROM store_generation WHERE id = 1').get() as { n: number }).n;
  }

  schemaVersion(): number {
    return this.sqlite.pragma('user_version', { simple: true }) as number;
  }

  /** Runs `fn` in one transaction holding the write lock from the start (nested calls: savepoints). */
  tx<T>(fn: () => T): T {
    return this.sqlite.transaction(fn).immediate();
  }

  close(): void {
    if (this.sqlite.open) this.sqlite.close();
  }

  // ---- sessions (one per open Engine) -------------------------------------------------------

  registerSession(token: string, pid = process.pid): void {
    this.sqlite.prepare('INSERT OR REPLACE INTO sessions (token, pid, started) VALUES (?, ?, ?)').run(token, pid, now());
  }

  unregisterSession(token: string): void {
    this.sqlite.prepare('DELETE FROM sessions WHERE token = ?').run(token);
  }

  listSessions(): { token: string; pid: number; started: string }[] {
    return this.sqlite.prepare('SELECT token, pid, started FROM sessions ORDER BY started').all() as { token: string; pid: number; started: string }[];
  }

  // ---- images -------------------------------------------------------------------------------

  putImage(rec: Omit<ImageRecord, 'created'> & { created?: string }): ImageRecord {
    const full: ImageRecord = { created: rec.created ?? now(), id: rec.id, manifestDigest: rec.manifestDigest ?? null, manifestMediaType: rec.manifestMediaType ?? null, size: rec.size };
    this.sqlite
      .prepare(
        `INSERT INTO images (id, created, manifest_digest, manifest_media_type, size) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT(id) DO UPDATE SET manifest_digest = COALESCE(excluded.manifest_digest, manifest_digest),
           manifest_media_type = COALESCE(excluded.manifest_media_type, manifest_media_type), size = excluded.size
         WHERE (excluded.manifest_digest IS NOT NULL AND excluded.manifest_digest IS NOT images.manifest_digest)
            OR (excluded.manifest_media_type IS NOT NULL AND excluded.manifest_media_type IS NOT images.manifest_media_type)
            OR excluded.size IS NOT images.size`, // an unchanged image is not rewritten (nor the generation moved)
      )
      .run(full.id, full.created, full.manifestDigest, full.manifestMediaType, full.size);
    return this.getImage(full.id)!;
  }

  getImage(id: Digest): ImageRecord | null {
    const r = this.sqlite.prepare('SELECT * FROM images WHERE id = ?').get(id) as ImageRow | undefined;
    return r ? toImage(r) : null;
  }

  listImages(): ImageRecord[] {
    return (this.sqlite.prepare('SELECT * FROM images ORDER BY created DESC, id').all() as ImageRow[]).map(toImage);
  }

  /** Deletes an image row and its tags. Returns whether it existed. */
  deleteImage(id: Digest): boolean {
    return this.tx(() => {
      this.sqlite.prepare('DELETE FROM tags WHERE image_id = ?').run(id);
      return this.sqlite.prepare('DELETE FROM images WHERE id = ?').run(id).changes > 0;
    });
  }

  /** Image IDs starting with a hex prefix (with or without "sha256:"). */
  findImageIds(prefix: string): Digest[] {
    const m = HEX_PREFIX.exec(prefix);
    if (!m) return [];
    const rows = this.sqlite.prepare("SELECT id FROM images WHERE id >= ? AND id < ? ORDER BY id").all(`sha256:${m[1]}`, `sha256:${m[1]}g`) as { id: string }[];
    return rows.map((r) => r.id as Digest);
  }

  /**
   * Docker's image lookup: a full ID; a reference (tag or name@digest, normalized); or a unique ID
   * prefix. Throws NotFoundError ("No such image: X") or AmbiguousError.
   */
  resolveImageId(refOrId: string): Digest {
    const s = refOrId.trim();
    if (isDigest(s)) {
      if (this.getImage(s)) return s;
      throw new NotFoundError('image', refOrId);
    }
    if (/^[a-f0-9]{64}$/.test(s)) {
      if (this.getImage(`sha256:${s}`)) return `sha256:${s}`;
      throw new NotFoundError('image', refOrId);
    }
    let ref: ReturnType<typeof parseReference> | null = null;
    try {
      ref = parseReference(s);
    } catch {
      ref = null;
    }
    if (ref) {
      const t = this.getTag(formatReference(ref));
      if (t) return t.imageId;
      if (ref.digest) {
        const known = this.findRepoDigest(repositoryName(ref), ref.digest);
        if (known) return known;
        // A manifest seen under another name (loaded, or pulled from a mirror) is the same image.
        const r = this.sqlite.prepare('SELECT id FROM images WHERE manifest_digest = ? ORDER BY id').all(ref.digest) as { id: string }[];
        if (r.length >= 1) return r[0]!.id as Digest;
      }
    }
    const m = HEX_PREFIX.exec(s);
    if (m) {
      const ids = this.findImageIds(s);
      if (ids.length === 1) return ids[0]!;
      if (ids.length > 1) throw new AmbiguousError('image', refOrId, ids);
    }
    throw new NotFoundError('image', refOrId);
  }

  // ---- tags ---------------------------------------------------------------------------------

  /** Points `ref` (normalized here) at an image, replacing what it pointed at. */
  setTag(ref: string, imageId: Digest): TagRecord {
    const norm = normalize(ref);
    return this.tx(() => {
      if (!this.getImage(imageId)) throw new NotFoundError('image', imageId);
      this.sqlite
        // Re-pointing a tag at its own image changes nothing (a rebuild's tags keep their time).
        .prepare('INSERT INTO tags (ref, image_id, created) VALUES (?, ?, ?) ON CONFLICT(ref) DO UPDATE SET image_id = excluded.image_id, created = excluded.created WHERE excluded.image_id IS NOT tags.image_id')
        .run(norm, imageId, now());
      return this.getTag(norm)!;
    });
  }

  getTag(ref: string): TagRecord | null {
    let norm: string;
    try {
      norm = normalize(ref);
    } catch {
      return null;
    }
    const r = this.sqlite.prepare('SELECT ref, image_id, created FROM tags WHERE ref = ?').get(norm) as { ref: string; image_id: string; created: string } | undefined;
    return r ? { ref: r.ref, imageId: r.image_id as Digest, created: r.created } : null;
  }

  deleteTag(ref: string): boolean {
    let norm: string;
    try {
      norm = normalize(ref);
    } catch {
      return false;
    }
    return this.sqlite.prepare('DELETE FROM tags WHERE ref = ?').run(norm).changes > 0;
  }

  listTags(imageId?: Digest): TagRecord[] {
    const rows = (
      imageId
        ? this.sqlite.prepare('SELECT ref, image_id, created FROM tags WHERE image_id = ? ORDER BY ref').all(imageId)
        : this.sqlite.prepare('SELECT ref, image_id, created FROM tags ORDER BY ref').all()
    ) as { ref: string; image_id: string; created: string }[];
    return rows.map((r) => ({ ref: r.ref, imageId: r.image_id as Digest, created: r.created }));
  }

  // ---- repository digests -------------------------------------------------------------------

  /** Records that `repo` (normalized, e.g. docker.io/library/busybox) knows the image by `digest`. */
  addRepoDigest(repo: string, digest: Digest, imageId: Digest): void {
    this.sqlite
      .prepare('INSERT INTO repo_digests (repo, digest, image_id, created) VALUES (?, ?, ?, ?) ON CONFLICT(repo, digest) DO UPDATE SET image_id = excluded.image_id')
      .run(repo, digest, imageId, now());
  }

  findRepoDigest(repo: string, digest: Digest): Digest | null {
    const r = this.sqlite.prepare('SELECT image_id FROM repo_digests WHERE repo = ? AND digest = ?').get(repo, digest) as { image_id: string } | undefined;
    return r ? (r.image_id as Digest) : null;
  }

  /** `repo@digest` references of an image, sorted. */
  listRepoDigests(imageId: Digest): string[] {
    const rows = this.sqlite.prepare('SELECT repo, digest FROM repo_digests WHERE image_id = ? ORDER BY repo, digest').all(imageId) as { repo: string; digest: string }[];
    return rows.map((r) => `${r.repo}@${r.digest}`);
  }

  // ---- layers -------------------------------------------------------------------------------

  /** Records an unpacked layer (call only once its directory is complete). Idempotent. */
  putLayer(rec: Omit<LayerRecord, 'created'> & { created?: string }): LayerRecord {
    this.sqlite
      .prepare('INSERT OR IGNORE INTO layers (chain_id, diff_id, parent, size, content_size, created) VALUES (?, ?, ?, ?, ?, ?)')
      .run(rec.chainId, rec.diffId, rec.parent, rec.size, rec.contentSize, rec.created ?? now());
    return this.getLayer(rec.chainId)!;
  }

  getLayer(chainId: Digest): LayerRecord | null {
    const r = this.sqlite.prepare('SELECT * FROM layers WHERE chain_id = ?').get(chainId) as LayerRow | undefined;
    return r ? toLayer(r) : null;
  }

  listLayers(): LayerRecord[] {
    return (this.sqlite.prepare('SELECT * FROM layers ORDER BY chain_id').all() as LayerRow[]).map(toLayer);
  }

  deleteLayer(chainId: Digest): boolean {
    return this.sqlite.prepare('DELETE FROM layers WHERE chain_id = ?').run(chainId).changes > 0;
  }

  // ---- layer blobs (diffID → compressed forms) ------------------------------------------------

  putLayerBlob(rec: LayerBlobRecord): void {
    this.sqlite
      .prepare('INSERT INTO layer_blobs (diff_id, digest, media_type, size) VALUES (?, ?, ?, ?) ON CONFLICT(diff_id, digest) DO UPDATE SET media_type = excluded.media_type, size = excluded.size')
      .run(rec.diffId, rec.digest, rec.mediaType, rec.size);
  }

  getLayerBlobs(diffId: Digest): LayerBlobRecord[] {
    const rows = this.sqlite.prepare('SELECT diff_id, digest, media_type, size FROM layer_blobs WHERE diff_id = ? ORDER BY rowid').all(diffId) as {
      diff_id: string;
      digest: string;
      media_type: string;
      size: number;
    }[];
    return rows.map((r) => ({ diffId: r.diff_id as Digest, digest: r.digest as Digest, mediaType: r.media_type, size: r.size }));
  }

  /** The diffID a (compressed) blob digest is known to unpack to. */
  findLayerBlob(digest: Digest): LayerBlobRecord | null {
    const r = this.sqlite.prepare('SELECT diff_id, digest, media_type, size FROM layer_blobs WHERE digest = ? ORDER BY rowid LIMIT 1').get(digest) as
      | { diff_id: string; digest: string; media_type: string; size: number }
      | undefined;
    return r ? { diffId: r.diff_id as Digest, digest: r.digest as Digest, mediaType: r.media_type, size: r.size } : null;
  }

  listLayerBlobs(): LayerBlobRecord[] {
    const rows = this.sqlite.prepare('SELECT diff_id, digest, media_type, size FROM layer_blobs').all() as { diff_id: string; digest: string; media_type: string; size: number }[];
    return rows.map((r) => ({ diffId: r.diff_id as Digest, digest: r.digest as Digest, mediaType: r.media_type, size: r.size }));
  }

  deleteLayerBlob(diffId: Digest, digest: Digest): void {
    this.sqlite.prepare('DELETE FROM layer_blobs WHERE diff_id = ? AND digest = ?').run(diffId, digest);
  }

  // ---- build cache --------------------------------------------------------------------------

  putCache<I = unknown>(key: string, imageId: Digest, opts: { size?: number; info?: I } = {}): CacheRecord<I> {
    const t = now();
    this.sqlite
      .prepare(
        `INSERT INTO build_cache (key, image_id, created, last_used, size, info) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT(key) DO UPDATE SET image_id = excluded.image_id, last_used = excluded.last_used, size = excluded.size, info = excluded.info`,
      )
      .run(key, imageId, t, t, opts.size ?? 0, opts.info === undefined ? null : JSON.stringify(opts.info));
    return this.getCache<I>(key, { touch: false })!;
  }

  /** A cache entry; by default a hit refreshes its last_used time (for LRU pruning). */
  getCache<I = unknown>(key: string, opts: { touch?: boolean } = {}): CacheRecord<I> | null {
    const r = this.sqlite.prepare('SELECT * FROM build_cache WHERE key = ?').get(key) as CacheRow | undefined;
    if (!r) return null;
    if (opts.touch !== false) {
      r.last_used = now();
      this.sqlite.prepare('UPDATE build_cache SET last_used = ? WHERE key = ?').run(r.last_used, key);
    }
    return toCache<I>(r);
  }

  /** Marks cache entries used now, as hits do (a replayed build: build/replay-record.ts). */
  touchCache(keys: string[]): void {
    if (keys.length) this.sqlite.prepare('UPDATE build_cache SET last_used = ? WHERE key IN (SELECT value FROM json_each(?))').run(now(), JSON.stringify(keys));
  }

  /** Entries, least recently used first. */
  listCache<I = unknown>(): CacheRecord<I>[] {
    return (this.sqlite.prepare('SELECT * FROM build_cache ORDER BY last_used, key').all() as CacheRow[]).map((r) => toCache<I>(r));
  }

  deleteCache(key: string): boolean {
    return this.sqlite.prepare('DELETE FROM build_cache WHERE key = ?').run(key).changes > 0;
  }

  // ---- containers ---------------------------------------------------------------------------

  /** Inserts a container; a taken name is a ConflictError with Docker's message. */
  putContainer<S, C>(rec: Omit<ContainerRecord<S, C>, 'created'> & { created?: string }): ContainerRecord<S, C> {
    const name = rec.name.replace(/^\//, '');
    return this.tx(() => {
      const other = this.sqlite.prepare('SELECT id FROM containers WHERE name = ? AND id != ?').get(name, rec.id) as { id: string } | undefined;
      if (other) throw nameConflict(name, other.id);
      this.sqlite
        .prepare(
          `INSERT INTO containers (id, name, image_id, created, state, config) VALUES (?, ?, ?, ?, ?, ?)
           ON CONFLICT(id) DO UPDATE SET name = excluded.name, image_id = excluded.image_id, state = excluded.state, config = excluded.config`,
        )
        .run(rec.id, name, rec.imageId, rec.created ?? now(), JSON.stringify(rec.state ?? null), JSON.stringify(rec.config ?? null));
      return this.getContainerById<S, C>(rec.id)!;
    });
  }

  private getContainerById<S, C>(id: string): ContainerRecord<S, C> | null {
    const r = this.sqlite.prepare('SELECT * FROM containers WHERE id = ?').get(id) as ContainerRow | undefined;
    return r ? toContainer<S, C>(r) : null;
  }

  /** Docker's lookup: full ID, then exact name (a leading "/" is allowed), then unique ID prefix. */
  findContainer<S = unknown, C = unknown>(idOrNameOrPrefix: string): ContainerRecord<S, C> | null {
    const s = idOrNameOrPrefix.trim();
    if (!s) return null;
    const byId = this.getContainerById<S, C>(s);
    if (byId) return byId;
    const byName = this.sqlite.prepare('SELECT * FROM containers WHERE name = ?').get(s.replace(/^\//, '')) as ContainerRow | undefined;
    if (byName) return toContainer<S, C>(byName);
    if (/^[a-f0-9]+$/.test(s)) {
      const rows = this.sqlite.prepare('SELECT * FROM containers WHERE id >= ? AND id < ? LIMIT 2').all(s, `${s}g`) as ContainerRow[];
      if (rows.length === 1) return toContainer<S, C>(rows[0]!);
      if (rows.length > 1) throw new AmbiguousError('container', s, rows.map((r) => r.id));
    }
    return null;
  }

  /** Like findContainer, but a miss is a NotFoundError ("No such container: X"). */
  getContainer<S = unknown, C = unknown>(idOrNameOrPrefix: string): ContainerRecord<S, C> {
    const c = this.findContainer<S, C>(idOrNameOrPrefix);
    if (!c) throw new NotFoundError('container', idOrNameOrPrefix);
    return c;
  }

  listContainers<S = unknown, C = unknown>(): ContainerRecord<S, C>[] {
    return (this.sqlite.prepare('SELECT * FROM containers ORDER BY created DESC, id').all() as ContainerRow[]).map((r) => toContainer<S, C>(r));
  }

  /**
   * Changes a container in one transaction. `patch` may be a function of the current record
   * (read-modify-write of its state without losing another process's update).
   */
  updateContainer<S = unknown, C = unknown>(
    idOrNameOrPrefix: string,
    patch: ContainerPatch<S, C> | ((cur: ContainerRecord<S, C>) => ContainerPatch<S, C>),
  ): ContainerRecord<S, C> {
    return this.tx(() => {
      const cur = this.getContainer<S, C>(idOrNameOrPrefix);
      const p = typeof patch === 'function' ? patch(cur) : patch;
      const next = { ...cur, ...p, name: (p.name ?? cur.name).replace(/^\//, '') };
      if (next.name !== cur.name) {
        const other = this.sqlite.prepare('SELECT id FROM containers WHERE name = ? AND id != ?').get(next.name, cur.id) as { id: string } | undefined;
        if (other) throw nameConflict(next.name, other.id);
      }
      this.sqlite
        .prepare('UPDATE containers SET name = ?, image_id = ?, state = ?, config = ? WHERE id = ?')
        .run(next.name, next.imageId, JSON.stringify(next.state ?? null), JSON.stringify(next.config ?? null), cur.id);
      return this.getContainerById<S, C>(cur.id)!;
    });
  }

  deleteContainer(id: string): boolean {
    return this.sqlite.prepare('DELETE FROM containers WHERE id = ?').run(id).changes > 0;
  }

  // ---- volumes ------------------------------------------------------------------------------

  putVolume(rec: { name: string; labels?: Record<string, string>; options?: Record<string, string>; created?: string }): VolumeRecord {
    this.sqlite
      .prepare('INSERT INTO volumes (name, created, labels, options) VALUES (?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET labels = excluded.labels, options = excluded.options')
      .run(rec.name, rec.created ?? now(), JSON.stringify(rec.labels ?? {}), JSON.stringify(rec.options ?? {}));
    return this.getVolume(rec.name)!;
  }

  getVolume(name: string): VolumeRecord | null {
    const r = this.sqlite.prepare('SELECT * FROM volumes WHERE name = ?').get(name) as VolumeRow | undefined;
    return r ? toVolume(r) : null;
  }

  listVolumes(): VolumeRecord[] {
    return (this.sqlite.prepare('SELECT * FROM volumes ORDER BY name').all() as VolumeRow[]).map(toVolume);
  }

  deleteVolume(name: string): boolean {
    return this.sqlite.prepare('DELETE FROM volumes WHERE name = ?').run(name).changes > 0;
  }
}

function nameConflict(name: string, id: string): ConflictError {
  return new ConflictError(
    `Conflict. The container name "/${name}" is already in use by container "${id}". You have to remove (or rename) that container to be able to reuse that name.`,
  );
}
