// File-system calls Node lacks: mknod(2) (device nodes, fifos, overlay whiteouts), the l*xattr
// family (never following symlinks), and flock(2).
import { check, lastErrno, libcFn, SysError } from './ffi.js';

export const S_IFMT = 0o170000;
export const S_IFSOCK = 0o140000;
export const S_IFLNK = 0o120000;
export const S_IFREG = 0o100000;
export const S_IFBLK = 0o060000;
export const S_IFDIR = 0o040000;
export const S_IFCHR = 0o020000;
export const S_IFIFO = 0o010000;

/** glibc's makedev for the 64-bit dev_t. */
export function makedev(major: number, minor: number): bigint {
  const ma = BigInt(major >>> 0);
  const mi = BigInt(minor >>> 0);
  return ((ma & 0xfffff000n) << 32n) | ((ma & 0xfffn) << 8n) | ((mi & 0xffffff00n) << 12n) | (mi & 0xffn);
}

export function major(dev: number | bigint): number {
  const d = BigInt(dev);
  return Number(((d >> 8n) & 0xfffn) | ((d >> 32n) & ~0xfffn));
}

export function minor(dev: number | bigint): number {
  const d = BigInt(dev);
  return Number((d & 0xffn) | ((d >> 12n) & ~0xffn));
}

/** mknod(2). `mode` includes the file type (S_IFCHR, S_IFBLK, S_IFIFO…) and permission bits. */
export function mknod(path: string, mode: number, dev: bigint | number = 0): void {
  const f = libcFn('int mknod(const char *path, uint32_t mode, uint64_t dev)');
  check(f(path, mode >>> 0, BigInt(dev)), 'mknod', path);
}

/** An overlayfs whiteout: a 0/0 character device. */
export function mkWhiteout(path: string): void {
  mknod(path, S_IFCHR, 0);
}

const ENODATA = 61;
const ERANGE = 34;
const ENOTSUP = 95;

/** lgetxattr(2): the value, or null when the attribute is absent. */
export function lgetxattr(path: string, name: string): Buffer | null {
  const f = libcFn('intptr_t lgetxattr(const char *path, const char *name, void *value, size_t size)');
  let size = 256;
  for (;;) {
    const buf = Buffer.alloc(size);
    const n = Number(f(path, name, buf, size));
    if (n >= 0) return buf.subarray(0, n);
    const e = lastErrno();
    if (e === ENODATA || e === ENOTSUP) return null;
    if (e !== ERANGE) throw new SysError('lgetxattr', e, path, name);
    const need = Number(f(path, name, null, 0));
    if (need < 0) throw new SysError('lgetxattr', lastErrno(), path, name);
    size = Math.max(need, size * 2);
  }
}

/** lsetxattr(2). flags: 0, XATTR_CREATE (1) or XATTR_REPLACE (2). */
export function lsetxattr(path: string, name: string, value: Buffer | string, flags = 0): void {
  const f = libcFn('int lsetxattr(const char *path, const char *name, const void *value, size_t size, int flags)');
  const v = typeof value === 'string' ? Buffer.from(value) : value;
  if (Number(f(path, name, v, v.length, flags)) < 0) throw new SysError('lsetxattr', lastErrno(), path, name);
}

export function lremovexattr(path: string, name: string): void {
  const f = libcFn('int lremovexattr(const char *path, const char *name)');
  if (Number(f(path, name)) < 0) {
    const e = lastErrno();
    if (e !== ENODATA) throw new SysError('lremovexattr', e, path, name);
  }
}

/** llistxattr(2): attribute names, sorted (byte order) so callers are deterministic. */
export function llistxattr(path: string): string[] {
  const f = libcFn('intptr_t llistxattr(const char *path, void *list, size_t size)');
  let size = 1024;
  for (;;) {
    const buf = Buffer.alloc(size);
    const n = Number(f(path, buf, size));
    if (n >= 0) {
      const names = buf.subarray(0, n).toString('utf8').split('\0').filter((s) => s.length > 0);
      return names.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    }
    const e = lastErrno();
    if (e === ENOTSUP) return [];
    if (e !== ERANGE) throw new SysError('llistxattr', e, path);
    const need = Number(f(path, null, 0));
    if (need < 0) throw new SysError('llistxattr', lastErrno(), path);
    size = Math.max(need, size * 2);
  }
}

export const LOCK_SH = 1;
export const LOCK_EX = 2;
export const LOCK_NB = 4;
export const LOCK_UN = 8;
const EWOULDBLOCK = 11;

/** flock(2). With LOCK_NB, returns false instead of throwing when the lock is held elsewhere. */
export function flock(fd: number, op: number): boolean {
  const f = libcFn('int flock(int fd, int op)');
  if (Number(f(fd, op)) === 0) return true;
  const e = lastErrno();
  if (e === EWOULDBLOCK && op & LOCK_NB) return false;
  throw new SysError('flock', e);
}
