// mount(2), umount2(2) and the new mount API (fsopen/fsconfig/fsmount/move_mount, Linux ≥ 5.2;
// overlay's "lowerdir+" key needs ≥ 6.8). The new API takes one lowerdir per call, so an overlay
// of 500 layers with long paths mounts where a legacy mount(2) option string (one page) fails.
import { closeSync, readSync } from 'node:fs';
import { SysError, check, lastErrno, libcFn } from './ffi.js';

export const MS_RDONLY = 0x1;
export const MS_NOSUID = 0x2;
export const MS_NODEV = 0x4;
export const MS_NOEXEC = 0x8;
export const MS_REMOUNT = 0x20;
export const MS_BIND = 0x1000;
export const MS_MOVE = 0x2000;
export const MS_REC = 0x4000;
export const MS_PRIVATE = 0x40000;
export const MS_SLAVE = 0x80000;
export const MS_SHARED = 0x100000;

export const MNT_FORCE = 0x1;
export const MNT_DETACH = 0x2;
export const MNT_EXPIRE = 0x4;
export const UMOUNT_NOFOLLOW = 0x8;

const FSOPEN_CLOEXEC = 0x1;
const FSCONFIG_SET_FLAG = 0;
const FSCONFIG_SET_STRING = 1;
const FSCONFIG_CMD_CREATE = 6;
const FSMOUNT_CLOEXEC = 0x1;
export const MOUNT_ATTR_RDONLY = 0x1;
export const MOUNT_ATTR_NOSUID = 0x2;
export const MOUNT_ATTR_NODEV = 0x4;
export const MOUNT_ATTR_NOEXEC = 0x8;
const MOVE_MOUNT_F_EMPTY_PATH = 0x4;
const AT_FDCWD = -100;

export function mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null = null): void {
  const f = libcFn('int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data)');
  check(f(source, target, fstype, flags, data), 'mount', target);
}

export function umount2(target: string, flags = 0): void {
  const f = libcFn('int umount2(const char *target, int flags)');
  check(f(target, flags), 'umount2', target);
}

/** The kernel's messages for a filesystem context ("e overlay: …"), read after a failure. */
function drainFsLog(fd: number): string {
  const lines: string[] = [];
  const buf = Buffer.alloc(4096);
  for (let i = 0; i < 32; i++) {
    let n: number;
    try {
      n = readSync(fd, buf, 0, buf.length, null);
    } catch {
      break; // ENODATA: no more messages
    }
    if (n <= 0) break;
    lines.push(buf.subarray(0, n).toString('utf8').trim());
  }
  return lines.join('; ');
}

export interface FsConfigEntry {
  key: string;
  /** A string value, or `true` for a flag option (e.g. "ro"). */
  value: string | true;
}

/**
 * Creates a filesystem with the new mount API and attaches it at `target`:
 * fsopen(fstype) → fsconfig(key, value)… → FSCONFIG_CMD_CREATE → fsmount → move_mount.
 * Errors name the failing step and include the kernel's message when it gave one.
 */
export function fsMount(fstype: string, source: string | null, config: FsConfigEntry[], target: string, attrFlags = 0): void {
  const fsopen = libcFn('int fsopen(const char *fsname, unsigned int flags)');
  const fsconfig = libcFn('int fsconfig(int fd, unsigned int cmd, const char *key, const char *value, int aux)');
  const fsmount = libcFn('int fsmount(int fd, unsigned int flags, unsigned int attr_flags)');
  const moveMount = libcFn('int move_mount(int from_dirfd, const char *from_path, int to_dirfd, const char *to_path, unsigned int flags)');

  const fsfd = check(fsopen(fstype, FSOPEN_CLOEXEC), 'fsopen', fstype);
  let mfd = -1;
  const fail = (what: string, path?: string): never => {
    const errno = lastErrno();
    throw new SysError(what, errno, path, drainFsLog(fsfd) || undefined);
  };
  try {
    if (source !== null && (fsconfig(fsfd, FSCONFIG_SET_STRING, "source", source, 0) as number) < 0) fail('fsconfig source', source);
    for (const { key, value } of config) {
      const r = value === true ? fsconfig(fsfd, FSCONFIG_SET_FLAG, key, null, 0) : fsconfig(fsfd, FSCONFIG_SET_STRING, key, value, 0);
      if ((r as number) < 0) fail(`fsconfig ${key}`, value === true ? undefined : value);
    }
    if ((fsconfig(fsfd, FSCONFIG_CMD_CREATE, null, null, 0) as number) < 0) fail(`fsconfig create ${fstype}`, target);
    mfd = fsmount(fsfd, FSMOUNT_CLOEXEC, attrFlags) as number;
    if (mfd < 0) fail('fsmount', target);
    if ((moveMount(mfd, '', AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) as number) < 0) fail('move_mount', target);
  } finally {
    if (mfd >= 0) closeSync(mfd);
    closeSync(fsfd);
  }
}
