// `load`, step 1: unpack an archive (file or stdin) into a private staging directory. Entry names
// are untrusted: none becomes a path. Regular files are written as numbered files and looked up
// by their normalized archive name; symlinks and hard links inside the archive (Podman's and
// skopeo's docker-archives link legacy paths to the real layer files) are resolved by name, and
// may not leave the archive.
import { createWriteStream, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { posix } from 'node:path';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { decompressArchive } from '../layers/compress.js';

export class ArchiveError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ArchiveError';
  }
}

export interface StagedArchive {
  dir: string;
  /** Normalized archive names of all regular files. */
  names(): string[];
  has(name: string): boolean;
  /** The staged file for an archive name (links followed); throws ArchiveError if absent. */
  file(name: string): string;
  size(name: string): number;
  read(name: string): Buffer;
  /** Removes the staging directory. */
  dispose(): void;
}

/** `./a//b/` → `a/b`; refuses absolute names and `..` components. */
export function normalizeEntryName(name: string): string {
  if (name.startsWith('/')) throw new ArchiveError(`invalid archive entry ${JSON.stringify(name)}: absolute path`);
  const parts: string[] = [];
  for (const p of name.split('/')) {
    if (p === '' || p === '.') continue;
    if (p === '..') throw new ArchiveError(`invalid archive entry ${JSON.stringify(name)}: ".." component`);
    parts.push(p);
  }
  return parts.join('/');
}

/** Unpacks `src` (a tar, plain or compressed with gzip, zstd, xz or bzip2) into `dir`, which must not exist yet. */
export async function stageArchive(src: Readable, dir: string): Promise<StagedArchive> {
  mkdirSync(dir, { recursive: false, mode: 0o700 });
  const files = new Map<string, { path: string; size: number }>();
  const links = new Map<string, { target: string; hard: boolean }>();
  let n = 0;
  try {
    const { stream: input, head } = await decompressArchive(src);
    if (head.length === 0) throw new ArchiveError('empty archive: nothing to load');
    const ex = tar.extract();
    const consume = (async () => {
      for await (const entry of ex) {
        const h = entry.header;
        const name = normalizeEntryName(h.name);
        if (h.type === 'file' || h.type === 'contiguous-file') {
          const path = join(dir, String(n++));
          await pipeline(entry as unknown as Readable, createWriteStream(path, { mode: 0o600 }));
          files.set(name, { path, size: h.size ?? 0 });
          links.delete(name);
        } else {
          if ((h.type === 'symlink' || h.type === 'link') && h.linkname) {
            links.set(name, { target: h.linkname, hard: h.type === 'link' });
            files.delete(name);
          }
          for await (const _chunk of entry as unknown as AsyncIterable<Buffer>) {
            /* skip the body */
          }
        }
      }
    })();
    await Promise.all([pipeline(input, ex as unknown as Writable), consume]);
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    if (e instanceof ArchiveError) throw e;
    throw new ArchiveError(`cannot read archive: ${(e as Error).message}`);
  }

  const resolve = (name: string): { path: string; size: number } | undefined => {
    let cur = normalizeEntryName(name);
    for (let hops = 0; hops < 40; hops++) {
      const f = files.get(cur);
      if (f) return f;
      // a link may be the name itself or one of its parent directories
      const parts = cur.split('/');
      let found = false;
      for (let i = parts.length; i >= 1; i--) {
        const prefix = parts.slice(0, i).join('/');
        const l = links.get(prefix);
        if (!l) continue;
        const rest = parts.slice(i).join('/');
        let target: string;
        if (l.hard) target = l.target;
        else {
          if (l.target.startsWith('/')) throw new ArchiveError(`archive link ${JSON.stringify(prefix)} points outside the archive`);
          target = posix.join(posix.dirname(prefix), l.target);
        }
        target = posix.normalize(target);
        if (target === '..' || target.startsWith('../')) throw new ArchiveError(`archive link ${JSON.stringify(prefix)} points outside the archive`);
        cur = normalizeEntryName(rest ? `${target}/${rest}` : target);
        found = true;
        break;
      }
      if (!found) return undefined;
    }
    throw new ArchiveError(`too many levels of links resolving ${JSON.stringify(name)} in the archive`);
  };

  return {
    dir,
    names: () => [...files.keys()],
    has: (name) => {
      try {
        return resolve(name) !== undefined;
      } catch {
        return false;
      }
    },
    file(name) {
      const f = resolve(name);
      if (!f) throw new ArchiveError(`archive has no file ${JSON.stringify(name)}`);
      return f.path;
    },
    size(name) {
      const f = resolve(name);
      if (!f) throw new ArchiveError(`archive has no file ${JSON.stringify(name)}`);
      return f.size;
    },
    read(name) {
      const f = resolve(name);
      if (!f) throw new ArchiveError(`archive has no file ${JSON.stringify(name)}`);
      return readFileSync(f.path);
    },
    dispose() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
