// Layer tar → overlay-form directory: `.wh.NAME` becomes a 0/0 character device NAME,
// `.wh..wh..opq` marks its directory opaque (trusted.overlay.opaque=y). The tar is untrusted:
// absolute names, `..` components, paths through a symlink and hard links leaving the layer are
// refused with an error naming the entry, and nothing is ever written through a symlink.
import { createHash } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  constants as fsc,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  openSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeSync,
  type Stats,
} from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { Digest } from '../image/types.js';
import { SysError } from '../sys/ffi.js';
import { S_IFBLK, S_IFCHR, S_IFIFO, lsetxattr, makedev, mknod, mkWhiteout } from '../sys/fs.js';
import { decompress, type Compression } from './compress.js';
import { OVERLAY_OPAQUE_XATTR, WHITEOUT_OPAQUE, WHITEOUT_PREFIX } from './pack.js';
import { ByteReader, readTar, type TarEntryHeader } from './tar.js';

/** A tar entry that would land outside the layer (or otherwise cannot be applied safely). */
export class LayerPathError extends Error {
  constructor(
    readonly entry: string,
    reason: string,
  ) {
    super(`refusing layer entry ${JSON.stringify(entry)}: ${reason}`);
    this.name = 'LayerPathError';
  }
}

export interface ApplyResult {
  /** sha256 of the uncompressed tar stream. */
  diffId: Digest;
  /** Bytes of the uncompressed tar stream. */
  size: number;
  /** What the input was compressed with (sniffed from its first bytes). */
  compression: Compression;
  /** Sum of the sizes of the regular files written. */
  contentSize: number;
}

function lstatOrNull(p: string): Stats | null {
  try {
    return lstatSync(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

/** Splits an entry name into clean components, refusing absolute paths and `..`. */
function components(entry: string, name: string, what = 'path'): string[] {
  if (name.startsWith('/')) throw new LayerPathError(entry, `absolute ${what} ${JSON.stringify(name)}`);
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw new LayerPathError(entry, `${what} ${JSON.stringify(name)} has a ".." component and could escape the layer root`);
  if (parts.some((p) => p.includes('\0'))) throw new LayerPathError(entry, `${what} contains a NUL byte`);
  return parts;
}

/**
 * Makes sure every parent of `parts` is a real directory inside `root` (creating missing ones),
 * refusing to go through a symlink or a non-directory. Returns the absolute path of the parent.
 */
function ensureParents(root: string, entry: string, parts: string[], create: boolean): string {
  let p = root;
  for (let i = 0; i < parts.length - 1; i++) {
    p = join(p, parts[i]!);
    const st = lstatOrNull(p);
    if (st === null) {
      if (!create) throw new LayerPathError(entry, `${JSON.stringify(parts.slice(0, i + 1).join('/'))} does not exist in the layer`);
      mkdirSync(p, 0o755);
    } else if (st.isSymbolicLink()) {
      const target = readlinkSync(p);
      throw new LayerPathError(entry, `path goes through the symlink ${JSON.stringify(parts.slice(0, i + 1).join('/'))} -> ${JSON.stringify(target)}`);
    } else if (!st.isDirectory()) {
      throw new LayerPathError(entry, `${JSON.stringify(parts.slice(0, i + 1).join('/'))} is not a directory`);
    }
  }
  return p;
}

/** Removes whatever is at `p` (never following a symlink) so a new entry can take its place. */
function clear(p: string, keepDir: boolean): void {
  const st = lstatOrNull(p);
  if (st === null) return;
  if (st.isDirectory()) {
    if (keepDir) return;
    rmSync(p, { recursive: true, force: true });
  } else unlinkSync(p);
}

function setXattrs(abs: string, h: TarEntryHeader, symlink: boolean): void {
  for (const [name, value] of h.xattrs ?? []) {
    if (name.startsWith('trusted.overlay.')) continue; // overlayfs' own state never comes from a tar
    try {
      lsetxattr(abs, name, value);
    } catch (e) {
      const code = (e as SysError).code;
      if (code === 'ENOTSUP' || (symlink && code === 'EPERM')) continue;
      throw new Error(`layer entry ${JSON.stringify(h.name)}: cannot set xattr ${name}: ${(e as Error).message}`);
    }
  }
}

function setMeta(abs: string, h: TarEntryHeader, kind: 'symlink' | 'dir' | 'other'): void {
  lchownSync(abs, h.uid, h.gid);
  if (kind !== 'symlink') chmodSync(abs, h.mode & 0o7777); // after chown, which clears setuid bits
  setXattrs(abs, h, kind === 'symlink'); // after chown, which clears security.capability
  if (kind !== 'dir') lutimesSync(abs, h.mtime, h.mtime);
}

/**
 * Extracts a layer tar (plain, gzip or zstd) into `destDir` (an empty directory) in overlay form.
 * The diffID is the sha256 of the uncompressed stream, trailing bytes included.
 */
export async function applyLayer(src: Readable, destDir: string): Promise<ApplyResult> {
  const { stream, compression } = await decompress(src);
  const hash = createHash('sha256');
  const reader = new ByteReader(stream, (b) => hash.update(b));
  const dirTimes: [string, number][] = [];
  let contentSize = 0;
  try {
    for await (const { header: h, body } of readTar(reader)) {
      const entry = h.name;
      const parts = components(entry, h.name);
      if (parts.length === 0) {
        // The layer root itself ("./"): only its metadata.
        if (h.type !== 'dir') throw new LayerPathError(entry, 'the layer root must be a directory');
        setMeta(destDir, h, 'dir');
        dirTimes.push([destDir, h.mtime]);
        continue;
      }
      const base = parts[parts.length - 1]!;
      const parent = ensureParents(destDir, entry, parts, true);
      const abs = join(parent, base);

      if (base.startsWith(WHITEOUT_PREFIX)) {
        if (base === WHITEOUT_OPAQUE) {
          lsetxattr(parent, OVERLAY_OPAQUE_XATTR, 'y');
        } else if (!base.startsWith(WHITEOUT_PREFIX + WHITEOUT_PREFIX)) {
          // `.wh..wh.*` other than the opaque marker are aufs bookkeeping: ignored, as Docker does.
          const target = base.slice(WHITEOUT_PREFIX.length);
          if (target === '' || target === '.' || target === '..') throw new LayerPathError(entry, 'invalid whiteout name');
          const wpath = join(parent, target);
          clear(wpath, false);
          mkWhiteout(wpath);
          lchownSync(wpath, h.uid, h.gid);
        }
        continue;
      }

      switch (h.type) {
        case 'dir': {
          clear(abs, true);
          if (lstatOrNull(abs) === null) mkdirSync(abs, 0o700);
          setMeta(abs, h, 'dir');
          dirTimes.push([abs, h.mtime]);
          break;
        }
        case 'file': {
          clear(abs, false);
          const fd = openSync(abs, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o600);
          try {
            for await (const piece of body) {
              let off = 0;
              while (off < piece.length) off += writeSync(fd, piece, off, piece.length - off);
            }
          } finally {
            closeSync(fd);
          }
          contentSize += h.size;
          setMeta(abs, h, 'other');
          break;
        }
        case 'link': {
          const tparts = components(entry, h.linkname ?? '', 'hard link target');
          if (tparts.length === 0) throw new LayerPathError(entry, 'hard link to the layer root');
          const tparent = ensureParents(destDir, entry, tparts, false);
          const target = join(tparent, tparts[tparts.length - 1]!);
          const tst = lstatOrNull(target);
          if (tst === null) throw new LayerPathError(entry, `hard link target ${JSON.stringify(h.linkname)} is not in the layer (it must come earlier in the tar)`);
          if (tst.isDirectory()) throw new LayerPathError(entry, `hard link target ${JSON.stringify(h.linkname)} is a directory`);
          if (target === abs) break;
          clear(abs, false);
          linkSync(target, abs);
          break;
        }
        case 'symlink': {
          clear(abs, false);
          symlinkSync(h.linkname ?? '', abs);
          setMeta(abs, h, 'symlink');
          break;
        }
        case 'char':
        case 'block':
        case 'fifo': {
          clear(abs, false);
          const type = h.type === 'char' ? S_IFCHR : h.type === 'block' ? S_IFBLK : S_IFIFO;
          mknod(abs, type | (h.mode & 0o777), h.type === 'fifo' ? 0 : makedev(h.devmajor ?? 0, h.devminor ?? 0));
          setMeta(abs, h, 'other');
          break;
        }
      }
    }
    await reader.drain();
  } finally {
    stream.destroy();
  }
  for (const [p, t] of dirTimes) lutimesSync(p, t, t);
  return { diffId: `sha256:${hash.digest('hex')}`, size: reader.total, compression, contentSize };
}
