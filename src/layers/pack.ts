// Overlay-form layer directory → deterministic tar. The entries are walked depth first with
// children sorted by byte order, and every header is a pure function of the file's metadata, so
// re-packing an unchanged directory gives the same bytes and the same diffID (DESIGN.md).
import { createHash } from 'node:crypto';
import { closeSync, constants as fsc, lstatSync, openSync, readdirSync, readlinkSync, readSync, type BigIntStats } from 'node:fs';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import type { Digest } from '../image/types.js';
import { lgetxattr, llistxattr, major, minor } from '../sys/fs.js';
import { BLOCK, END_OF_ARCHIVE, encodeHeader, padding, type TarHeader } from './tar.js';

export const WHITEOUT_PREFIX = '.wh.';
export const WHITEOUT_OPAQUE = '.wh..wh..opq';
export const OVERLAY_OPAQUE_XATTR = 'trusted.overlay.opaque';

export interface PackOptions {
  /** Clamp every mtime to this (seconds since the epoch): reproducible builds. */
  sourceDateEpoch?: number;
  /**
   * Files and symlinks (by path relative to `dir`) whose metadata the caller knows because it has
   * just written them (a COPY step): packed without lstat or xattr calls. Must be what is on disk.
   */
  known?: ReadonlyMap<string, KnownEntry>;
}

/** What packing needs to know of a file or symlink; it has no extended attributes and no other name in the layer. */
export interface KnownEntry {
  type: 'file' | 'symlink';
  /** Permission bits plus setuid/setgid/sticky. */
  mode: number;
  uid: number;
  gid: number;
  mtimeMs: number;
  size: number;
  linkname?: string;
}

export interface PackResult {
  /** sha256 of the tar stream. */
  diffId: Digest;
  /** Bytes of the (uncompressed) tar stream. */
  size: number;
  /** Sum of the sizes of the regular files (each hard-linked inode once): Docker's layer "size". */
  contentSize: number;
  /** Number of tar entries (whiteouts and opaque markers included). */
  entries: number;
}

const CHUNK = 1 << 20;
const ZEROS = Buffer.alloc(BLOCK); // padding: read-only, shared
const YIELD_EVERY = 16 << 20;

const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

function waitDrain(out: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    const onDrain = () => {
      out.off('error', onError);
      out.off('close', onClose);
      resolve();
    };
    const onError = (err: Error) => {
      out.off('drain', onDrain);
      out.off('close', onClose);
      reject(err);
    };
    const onClose = () => {
      out.off('drain', onDrain);
      out.off('error', onError);
      reject(new Error('output closed while packing a layer'));
    };
    out.once('drain', onDrain);
    out.once('error', onError);
    out.once('close', onClose);
  });
}

/** Extended attributes worth keeping: everything but overlayfs' own bookkeeping. */
export function layerXattrs(path: string): [string, Buffer][] {
  const out: [string, Buffer][] = [];
  for (const name of llistxattr(path)) {
    if (name.startsWith('trusted.overlay.')) continue;
    const v = lgetxattr(path, name);
    if (v !== null) out.push([name, v]);
  }
  return out;
}

export function isOpaqueDir(path: string): boolean {
  const v = lgetxattr(path, OVERLAY_OPAQUE_XATTR);
  return v !== null && v.toString() === 'y';
}

const isWhiteout = (st: BigIntStats) => st.isCharacterDevice() && st.rdev === 0n;

/**
 * Packs `dir` (an upperdir or a layer dir in overlay form) as a tar on `out` (null: hash only).
 * Overlay whiteouts (0/0 char devices) become empty `.wh.NAME` files; an opaque directory
 * (trusted.overlay.opaque=y) gets a `.wh..wh..opq` entry right after its own.
 */
export async function packLayer(dir: string, out: Writable | null, opts: PackOptions = {}): Promise<PackResult> {
  const hash = createHash('sha256');
  let size = 0;
  let contentSize = 0;
  let entries = 0;
  let sinceYield = 0;
  const links = new Map<string, string>(); // dev:ino -> first path
  const epoch = opts.sourceDateEpoch;
  const readBuf = out ? null : Buffer.allocUnsafe(CHUNK);

  // Small pieces (headers, padding, small files) are gathered into ~1 MiB writes.
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const flush = async (): Promise<void> => {
    if (!out || pendingBytes === 0) return;
    const b = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes);
    pending = [];
    pendingBytes = 0;
    if (!out.write(b)) await waitDrain(out);
  };
  // Hashing (and queueing for `out`) is synchronous; the walk awaits only when a write must wait
  // for `out` or the event loop is due a turn, not once per piece: for thousands of small files
  // the promise round trips cost more than the hashing.
  const emit = (b: Buffer): void => {
    hash.update(b);
    size += b.length;
    sinceYield += b.length;
    if (out) {
      pending.push(b);
      pendingBytes += b.length;
    }
  };
  const due = () => (out !== null && pendingBytes >= CHUNK) || sinceYield >= YIELD_EVERY;
  const settle = async (): Promise<void> => {
    if (out && pendingBytes >= CHUNK) await flush();
    if (sinceYield >= YIELD_EVERY) {
      sinceYield = 0;
      await new Promise<void>((r) => setImmediate(r));
    }
  };
  const header = (h: TarHeader): void => {
    entries++;
    emit(encodeHeader(h));
  };
  const mtimeOf = (st: BigIntStats): number => {
    const t = Number(st.mtimeNs / 1_000_000_000n) - (st.mtimeNs < 0n && st.mtimeNs % 1_000_000_000n !== 0n ? 1 : 0);
    return epoch !== undefined && t > epoch ? epoch : t;
  };

  /** Reads the next piece of a file with `left` bytes to go (one byte more: a file that grew is noticed, not cut). */
  const readPiece = (fd: number, rel: string, left: number): Buffer => {
    const want = Math.min(CHUNK, left + 1);
    const buf = readBuf ?? Buffer.allocUnsafe(want);
    const n = readSync(fd, buf, 0, want, null);
    if (n > left) throw new Error(`layer file ${JSON.stringify(rel)} grew while being packed`);
    if (n < want && n < left) throw new Error(`layer file ${JSON.stringify(rel)} shrank while being packed`);
    return n === buf.length ? buf : buf.subarray(0, n);
  };
  /** A file's header, bytes and padding; a promise only for a file of several pieces. */
  const packFile = (abs: string, rel: string, h: TarHeader): Promise<void> | void => {
    const fd = openSync(abs, fsc.O_RDONLY | fsc.O_NOFOLLOW);
    let closeHere = true;
    try {
      header(h);
      if (h.size < CHUNK) {
        emit(readPiece(fd, rel, h.size));
        const pad = padding(h.size);
        if (pad) emit(ZEROS.subarray(0, pad));
        return;
      }
      closeHere = false;
      return (async () => {
        try {
          for (let left = h.size; ; ) {
            if (due()) await settle();
            const piece = readPiece(fd, rel, left);
            left -= piece.length;
            emit(piece);
            if (left === 0 && piece.length < CHUNK) break;
          }
          const pad = padding(h.size);
          if (pad) emit(ZEROS.subarray(0, pad));
        } finally {
          closeSync(fd);
        }
      })();
    } finally {
      if (closeHere) closeSync(fd);
    }
  };

  const known = opts.known;
  const packKnown = (k: KnownEntry, abs: string, rel: string): Promise<void> | void => {
    const ms = Math.floor(k.mtimeMs / 1000);
    const base = { name: rel, uid: k.uid, gid: k.gid, mtime: epoch !== undefined && ms > epoch ? epoch : ms, mode: k.mode & 0o7777 };
    if (k.type === 'symlink') return header({ ...base, type: 'symlink', size: 0, linkname: k.linkname! });
    contentSize += k.size;
    return packFile(abs, rel, { ...base, type: 'file', size: k.size });
  };

  const walk = async (absDir: string, relDir: string): Promise<void> => {
    const names = readdirSync(absDir).sort(byteOrder);
    for (const name of names) {
      if (due()) await settle();
      const abs = join(absDir, name);
      const rel = relDir + name;
      const k = known?.get(rel);
      if (k) {
        const p = packKnown(k, abs, rel);
        if (p) await p;
        continue;
      }
      const st = lstatSync(abs, { bigint: true });
      const base = { uid: Number(st.uid), gid: Number(st.gid), mtime: mtimeOf(st), mode: Number(st.mode) & 0o7777 };
      if (isWhiteout(st)) {
        header({ ...base, name: relDir + WHITEOUT_PREFIX + name, type: 'file', mode: 0o600, size: 0 });
      } else if (st.isDirectory()) {
        header({ ...base, name: rel + '/', type: 'dir', size: 0, xattrs: layerXattrs(abs) });
        if (isOpaqueDir(abs)) {
          header({ ...base, name: rel + '/' + WHITEOUT_OPAQUE, type: 'file', mode: base.mode & 0o777, size: 0 });
        }
        await walk(abs, rel + '/');
      } else if (st.isFile()) {
        const key = `${st.dev}:${st.ino}`;
        const first = st.nlink > 1n ? links.get(key) : undefined;
        if (first !== undefined) {
          header({ ...base, name: rel, type: 'link', size: 0, linkname: first, xattrs: layerXattrs(abs) });
        } else {
          if (st.nlink > 1n) links.set(key, rel);
          contentSize += Number(st.size);
          const p = packFile(abs, rel, { ...base, name: rel, type: 'file', size: Number(st.size), xattrs: layerXattrs(abs) });
          if (p) await p;
        }
      } else if (st.isSymbolicLink()) {
        header({ ...base, name: rel, type: 'symlink', size: 0, linkname: readlinkSync(abs), xattrs: layerXattrs(abs) });
      } else if (st.isCharacterDevice() || st.isBlockDevice()) {
        header({
          ...base,
          name: rel,
          type: st.isCharacterDevice() ? 'char' : 'block',
          size: 0,
          devmajor: major(st.rdev),
          devminor: minor(st.rdev),
          xattrs: layerXattrs(abs),
        });
      } else if (st.isFIFO()) {
        header({ ...base, name: rel, type: 'fifo', size: 0, xattrs: layerXattrs(abs) });
      }
      // Sockets are not archivable (Docker skips them too).
    }
  };

  await walk(dir, '');
  emit(END_OF_ARCHIVE);
  await flush();
  return { diffId: `sha256:${hash.digest('hex')}`, size, contentSize, entries };
}
