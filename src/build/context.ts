// The build context: the files under the context directory that .dockerignore lets through, and
// the content hash of each, which COPY/ADD cache keys are made of. Hashing a large context must not
// re-read unchanged files on every build, so hashes are remembered per context directory keyed by
// (size, mtime, ctime, inode), as BuildKit's content-hash cache does; a changed stat re-hashes.
// The same rows remember which layer files COPY made from that content, for COPY to hard-link
// instead of copying again (upper-copy.ts).
import { createHash } from 'node:crypto';
import { createReadStream, lstatSync, promises as fsp, readdirSync, readlinkSync, type Stats } from 'node:fs';
import { join, resolve } from 'node:path';

export type EntryType = 'file' | 'dir' | 'symlink';

export interface ContextEntry {
  /** Slash-separated path relative to the context root, no leading "./". */
  path: string;
  type: EntryType;
  mode: number;
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  ino: number;
  linkTarget?: string;
}

import type { IgnoreMatcher } from '../dockerfile/dockerignore.js';

/** Lists the context, depth first in sorted order, skipping what the ignore matcher excludes.
 *  An excluded directory is still entered when a later `!` pattern might re-include something in
 *  it: `excludedDirs` then gets its entry (what is in it may change what is let through). */
export async function walkContext(root: string, ignore: IgnoreMatcher | null, excludedDirs: ContextEntry[] = []): Promise<ContextEntry[]> {
  const out: ContextEntry[] = [];
  // Synchronous calls: an lstat costs microseconds, a trip through the thread pool for each of
  // thousands of files costs more than the call.
  function visit(dirAbs: string, rel: string): void {
    const names = readdirSync(dirAbs).sort();
    for (const name of names) {
      const p = rel ? `${rel}/${name}` : name;
      const abs = join(dirAbs, name);
      const st = lstatSync(abs);
      const excluded = ignore?.matches(p) ?? false;
      const type: EntryType = st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'file';
      if (!excluded) out.push(toEntry(p, type, st, type === 'symlink' ? readlinkSync(abs) : undefined));
      if (type === 'dir' && (!excluded || ignore!.mayReincludeBelow(p))) {
        if (excluded) excludedDirs.push(toEntry(p, type, st));
        visit(abs, p);
      }
    }
  }
  visit(resolve(root), '');
  return out;
}

function toEntry(path: string, type: EntryType, st: Stats, linkTarget?: string): ContextEntry {
  return { path, type, mode: st.mode & 0o7777, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, ino: st.ino, linkTarget };
}

/** `copies`: files in layer dirs ("<chain ID hex>/diff/<path>") that COPY made from this content, one per path. */
type CacheRow = [size: number, mtimeMs: number, ctimeMs: number, ino: number, hash: string, copies?: string[]];

const MAX_COPIES = 8;
const pathOfCopy = (c: string) => c.slice(70); // after "<64 hex>/diff/"

type StatKey = Pick<Stats, 'size' | 'mtimeMs' | 'ctimeMs' | 'ino'>;
const sameStat = (row: CacheRow, st: StatKey) => row[0] === st.size && row[1] === st.mtimeMs && row[2] === st.ctimeMs && row[3] === st.ino;

/**
 * A file changed this recently (ms) before it was read may change again within the same timestamp
 * tick without its stat changing (git's "racily clean" case): its hash is used for this build but
 * not remembered. File times come from the kernel's coarse clock (a tick is 1–10 ms); on a
 * filesystem with whole-second times (both times on a second) the window is two seconds.
 */
export const RACY_MS = 50;
const RACY_COARSE_MS = 2000;

/** Whether a file with these times, read from `readAt` on, could change again and keep its stat. */
export function racy(e: Pick<ContextEntry, 'mtimeMs' | 'ctimeMs'>, readAt: number): boolean {
  const window = e.mtimeMs % 1000 === 0 && e.ctimeMs % 1000 === 0 ? RACY_COARSE_MS : RACY_MS;
  return readAt - Math.max(e.mtimeMs, e.ctimeMs) < window;
}

/** Remembers file hashes between builds in one JSON file per context directory. */
export class ContentHashCache {
  private rows: Record<string, CacheRow> = {};
  private dirty = false;
  private loaded = false;

  constructor(
    private readonly file: string,
    private readonly now: () => number = Date.now,
  ) {}

  async load(): Promise<void> {
    if (this.loaded) return;
    this.loaded = true;
    try {
      this.rows = JSON.parse(await fsp.readFile(this.file, 'utf8')) as Record<string, CacheRow>;
    } catch {
      this.rows = {}; // missing or torn file: just re-hash
    }
  }

  /** The remembered hash of an unchanged file (after load()), if there is one. */
  remembered(e: ContextEntry): string | undefined {
    const row = e.type === 'file' ? this.rows[e.path] : undefined;
    return row && sameStat(row, e) ? row[4] : undefined;
  }

  /** Hash of a context entry's content: file bytes, or the link target for a symlink. */
  async hash(root: string, e: ContextEntry): Promise<string> {
    if (e.type === 'dir') return '';
    if (e.type === 'symlink') return createHash('sha256').update(`link:${e.linkTarget}`).digest('hex');
    await this.load();
    const row = this.rows[e.path];
    if (row && sameStat(row, e)) return row[4];
    const started = this.now();
    const h = await hashFile(join(root, e.path), e.size);
    if (!racy(e, started)) {
      this.rows[e.path] = [e.size, e.mtimeMs, e.ctimeMs, e.ino, h];
      this.dirty = true;
    } else if (this.rows[e.path]) {
      delete this.rows[e.path]; // its old hash (and copies) belong to an older content
      this.dirty = true;
    }
    return h;
  }

  /** The layer file an earlier COPY made at `layerPath` from `path` while it had the stat `st` (so the same content). */
  copyOf(path: string, st: StatKey, layerPath: string): string | undefined {
    const row = this.rows[path];
    return row && sameStat(row, st) && Array.isArray(row[5]) ? row[5].find((c) => pathOfCopy(c) === layerPath) : undefined;
  }

  /** Remembers that `path`, with the stat `st` it was hashed with, was copied to `copy` ("<hex>/diff/<path>"). */
  rememberCopy(path: string, st: StatKey, copy: string): void {
    const row = this.rows[path];
    if (!row || !sameStat(row, st) || (Array.isArray(row[5]) && row[5][0] === copy)) return;
    const earlier = Array.isArray(row[5]) ? row[5] : [];
    row[5] = [copy, ...earlier.filter((c) => pathOfCopy(c) !== pathOfCopy(copy))].slice(0, MAX_COPIES);
    this.dirty = true;
  }

  async save(): Promise<void> {
    if (!this.dirty) return;
    const tmp = `${this.file}.${process.pid}.tmp`;
    await fsp.writeFile(tmp, JSON.stringify(this.rows));
    await fsp.rename(tmp, this.file); // atomic: a torn write never replaces a good cache
    this.dirty = false;
  }
}

export async function hashFile(path: string, size = Infinity): Promise<string> {
  // Small files (the common case) in one read; large ones streamed.
  if (size < 4 << 20) return createHash('sha256').update(await fsp.readFile(path)).digest('hex');
  return new Promise((res, rej) => {
    const h = createHash('sha256');
    createReadStream(path)
      .on('data', (c) => h.update(c))
      .on('error', rej)
      .on('end', () => res(h.digest('hex')));
  });
}
