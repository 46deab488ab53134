// Volumes and mount specs, Docker's way: named volumes at <state>/volumes/<name>/_data (metadata
// in the database), anonymous volumes for an image's VOLUME entries, bind mounts and tmpfs, and the
// parsing of -v, --mount and --tmpfs.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import type { Engine } from '../engine.js';
import type { VolumeRecord } from '../store/db.js';
import { NotFoundError } from '../store/errors.js';
import { cleanContainerPath } from './paths.js';
import { randomHex } from '../util/random.js';
import { recordEvent } from '../store/event-log.js';

export interface MountRecord {
  type: 'bind' | 'volume' | 'tmpfs';
  /** host path (bind) */
  source?: string;
  /** volume name (volume) */
  name?: string;
  destination: string;
  readonly: boolean;
  /** made for an image VOLUME or a bare `-v /path`: removed with `rm -v` and by --rm */
  anonymous?: boolean;
  propagation?: 'rprivate' | 'private' | 'rshared' | 'shared' | 'rslave' | 'slave';
  /** tmpfs size in bytes and mode */
  size?: number;
  mode?: number;
  /** --mount type=volume,volume-nocopy */
  nocopy?: boolean;
}

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1024, m: 1024 ** 2, mb: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3, t: 1024 ** 4, tb: 1024 ** 4 };

/** Docker's RAMInBytes: "64m" → 67108864, "1.5g", "512" (bytes). */
export function parseBytes(s: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgtb]{0,2})\s*$/i.exec(s);
  const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) throw new Error(`invalid size: '${s}'`);
  return Math.round(Number(m[1]) * unit);
}

const VOLUME_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

const PROPAGATIONS = ['rprivate', 'private', 'rshared', 'shared', 'rslave', 'slave'] as const;

/** `-v [SRC:]DST[:OPTS]` */
export function parseVolumeSpec(spec: string, cwd = process.cwd()): MountRecord {
  const parts = spec.split(':');
  let src: string | undefined;
  let dst: string;
  let opts = '';
  if (parts.length === 1) dst = parts[0]!;
  else if (parts.length === 2) {
    if (parts[1]!.startsWith('/')) [src, dst] = parts as [string, string];
    else [dst, opts] = parts as [string, string];
  } else if (parts.length === 3) [src, dst, opts] = parts as [string, string, string];
  else throw new Error(`invalid volume specification: '${spec}'`);
  if (!dst || !dst.startsWith('/')) throw new Error(`invalid volume specification: '${spec}': invalid mount config: mount path must be absolute`);
  if (dst === '/') throw new Error(`invalid volume specification: '${spec}': invalid mount config: destination can't be '/'`);
  const m: MountRecord = { type: 'volume', destination: cleanContainerPath(dst), readonly: false };
  for (const o of opts.split(',').filter(Boolean)) {
    if (o === 'ro') m.readonly = true;
    else if (o === 'rw') m.readonly = false;
    else if ((PROPAGATIONS as readonly string[]).includes(o)) m.propagation = o as MountRecord['propagation'];
    else if (o === 'nocopy') m.nocopy = true;
    else if (o === 'z' || o === 'Z' || o === 'consistent' || o === 'cached' || o === 'delegated') continue;
    else throw new Error(`invalid volume specification: '${spec}': invalid mode: ${o}`);
  }
  if (src === undefined) m.anonymous = true;
  else if (src.startsWith('/') || src.startsWith('.') || src.startsWith('~')) {
    m.type = 'bind';
    m.source = isAbsolute(src) ? src : resolve(cwd, src.replace(/^~/, process.env.HOME ?? '/root'));
  } else {
    if (!VOLUME_NAME.test(src)) {
      throw new Error(`create ${src}: "${src}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`);
    }
    m.name = src;
  }
  return m;
}

/** `--mount type=bind|volume|tmpfs,source=…,target=…,readonly,…` */
export function parseMountSpec(spec: string, cwd = process.cwd()): MountRecord {
  const kv = new Map<string, string>();
  for (const field of spec.split(',')) {
    const i = field.indexOf('=');
    kv.set((i < 0 ? field : field.slice(0, i)).trim().toLowerCase(), i < 0 ? 'true' : field.slice(i + 1));
  }
  const type = (kv.get('type') ?? 'volume') as MountRecord['type'];
  if (!['bind', 'volume', 'tmpfs'].includes(type)) throw new Error(`invalid argument "${spec}" for "--mount" flag: invalid mount type: ${type}`);
  const target = kv.get('target') ?? kv.get('dst') ?? kv.get('destination');
  if (!target) throw new Error(`invalid argument "${spec}" for "--mount" flag: target is required`);
  const source = kv.get('source') ?? kv.get('src');
  const ro = ['readonly', 'ro'].some((k) => kv.has(k) && kv.get(k) !== 'false' && kv.get(k) !== '0');
  const m: MountRecord = { type, destination: cleanContainerPath(target), readonly: ro };
  if (type === 'bind') {
    if (!source) throw new Error(`invalid argument "${spec}" for "--mount" flag: source is required when type is bind`);
    m.source = resolve(cwd, source);
    if (!existsSync(m.source)) throw new Error(`invalid mount config for type "bind": bind source path does not exist: ${m.source}`);
    const prop = kv.get('bind-propagation');
    if (prop) m.propagation = prop as MountRecord['propagation'];
  } else if (type === 'volume') {
    if (source) m.name = source;
    else m.anonymous = true;
    if (kv.has('volume-nocopy')) m.nocopy = true;
  } else {
    if (source) throw new Error(`invalid mount config for type "tmpfs": source is not allowed`);
    if (kv.has('tmpfs-size')) m.size = parseBytes(kv.get('tmpfs-size')!);
    if (kv.has('tmpfs-mode')) m.mode = parseInt(kv.get('tmpfs-mode')!, 8);
  }
  return m;
}

/** `--tmpfs /path[:opts]` (opts: size=64m, mode=1777, ro, …) */
export function parseTmpfsSpec(spec: string): MountRecord {
  const i = spec.indexOf(':');
  const dst = i < 0 ? spec : spec.slice(0, i);
  if (!dst.startsWith('/')) throw new Error(`invalid tmpfs mount: ${spec}: mount path must be absolute`);
  const m: MountRecord = { type: 'tmpfs', destination: cleanContainerPath(dst), readonly: false };
  for (const o of (i < 0 ? '' : spec.slice(i + 1)).split(',').filter(Boolean)) {
    if (o.startsWith('size=')) m.size = parseBytes(o.slice(5));
    else if (o.startsWith('mode=')) m.mode = parseInt(o.slice(5), 8);
    else if (o === 'ro') m.readonly = true;
  }
  return m;
}

export interface VolumeInspect {
  CreatedAt: string;
  Driver: 'local';
  Labels: Record<string, string> | null;
  Mountpoint: string;
  Name: string;
  Options: Record<string, string> | null;
  Scope: 'local';
}

/** Named and anonymous volumes of one state directory. */
export class Volumes {
  constructor(private readonly engine: Engine) {}

  path(name: string): string {
    return join(this.engine.root, 'volumes', name, '_data');
  }

  get(name: string): VolumeRecord | null {
    return this.engine.db.getVolume(name);
  }

  /** Create (or return the existing) volume. */
  create(name?: string, opts: { labels?: Record<string, string>; anonymous?: boolean } = {}): VolumeRecord {
    const n = name ?? randomHex();
    if (!VOLUME_NAME.test(n)) throw new Error(`create ${n}: "${n}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed`);
    const existing = this.get(n);
    mkdirSync(this.path(n), { recursive: true, mode: 0o755 });
    if (existing) return existing;
    const labels = { ...(opts.labels ?? {}), ...(opts.anonymous ? { 'com.docker.volume.anonymous': '' } : {}) };
    const made = this.engine.db.putVolume({ name: n, labels });
    recordEvent(this.engine.root, 'volume', 'create', n, { driver: 'local' });
    return made;
  }

  list(): VolumeRecord[] {
    return this.engine.db.listVolumes();
  }

  inspect(name: string): VolumeInspect {
    const v = this.get(name);
    if (!v) throw new NotFoundError('volume', name);
    return {
      CreatedAt: v.created,
      Driver: 'local',
      Labels: Object.keys(v.labels).length ? v.labels : null,
      Mountpoint: this.path(name),
      Name: name,
      Options: Object.keys(v.options).length ? v.options : null,
      Scope: 'local',
    };
  }

  /** IDs of containers (any state) that mount `name`. */
  usedBy(name: string): string[] {
    return this.engine.db
      .listContainers<unknown, { mounts?: MountRecord[] }>()
      .filter((c) => (c.config.mounts ?? []).some((m) => m.type === 'volume' && m.name === name))
      .map((c) => c.id);
  }

  remove(name: string, opts: { force?: boolean } = {}): void {
    const v = this.get(name);
    if (!v) {
      if (opts.force) return;
      throw new NotFoundError('volume', name);
    }
    const users = this.usedBy(name);
    if (users.length) throw new Error(`remove ${name}: volume is in use - [${users.join(', ')}]`);
    rmSync(join(this.engine.root, 'volumes', name), { recursive: true, force: true });
    this.engine.db.deleteVolume(name);
    recordEvent(this.engine.root, 'volume', 'destroy', name, { driver: 'local' });
  }

  /** Unused volumes: anonymous ones only, or all with `all` (Docker 23+). */
  prune(opts: { all?: boolean } = {}): { removed: string[]; reclaimed: number } {
    const removed: string[] = [];
    let reclaimed = 0;
    for (const v of this.list()) {
      if (!opts.all && !('com.docker.volume.anonymous' in v.labels)) continue;
      if (this.usedBy(v.name).length) continue;
      reclaimed += diskUsage(join(this.engine.root, 'volumes', v.name));
      this.remove(v.name);
      removed.push(v.name);
    }
    return { removed, reclaimed };
  }

  /**
   * Docker's copy-up: a volume that is still empty gets the image's content at the mount point
   * (ownership and modes kept) the first time it is mounted.
   */
  populate(name: string, fromDir: string): void {
    const dst = this.path(name);
    if (!existsSync(fromDir) || !statSync(fromDir).isDirectory()) return;
    if (readdirSync(dst).length > 0 || readdirSync(fromDir).length === 0) return;
    execFileSync('cp', ['-a', '--', `${fromDir}/.`, `${dst}/`]);
  }
}

/** Bytes used under a directory (du -sb), 0 when unreadable. */
export function diskUsage(dir: string): number {
  try {
    return Number(execFileSync('du', ['-sb', dir], { encoding: 'utf8' }).split('\t')[0]) || 0;
  } catch {
    return 0;
  }
}
