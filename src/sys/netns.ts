// Named network namespaces as `ip netns add/delete` makes them (a bind mount of the namespace on
// /run/netns/NAME), without spawning `ip`: unshare(CLONE_NEWNET) on the calling thread only, bring
// `lo` up while inside (what the CNI loopback plugin would do), bind-mount the namespace, setns back.
// Namespaces are per thread, and everything here is synchronous on Node's main thread, so no other
// code (libuv's pool, a spawn) ever runs in the new namespace.
import { closeSync, mkdirSync, openSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import { SysError, check, lastErrno, libcFn, SOCK_CLOEXEC } from './ffi.js';
import { MNT_DETACH, MS_BIND, MS_REC, MS_SHARED, mount, umount2 } from './mount.js';

const CLONE_NEWNET = 0x40000000;
const AF_INET = 2;
const SOCK_DGRAM = 2;
const SIOCGIFFLAGS = 0x8913;
const SIOCSIFFLAGS = 0x8914;
const IFF_UP = 0x1;
const IFREQ_SIZE = 40; // struct ifreq on Linux x86-64/arm64: 16-byte name + 24-byte union

/**
 * `ip netns add`: as iproute2 does, the directory is made a shared mount point first, so that
 * unmounting a namespace file here also unmounts copies other mount namespaces made of it.
 */
function sharedRunDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  try {
    mount('', dir, 'none', MS_SHARED | MS_REC);
  } catch (e) {
    if ((e as SysError).code !== 'EINVAL') throw e; // EINVAL: not a mount point yet
    mount(dir, dir, 'none', MS_BIND | MS_REC);
    mount('', dir, 'none', MS_SHARED | MS_REC);
  }
}

function loopbackUp(): void {
  const socket = libcFn('int socket(int domain, int type, int protocol)');
  const ioctl = libcFn('int ioctl(int fd, unsigned long request, ...)');
  const fd = check(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), 'socket');
  try {
    const ifr = Buffer.alloc(IFREQ_SIZE);
    ifr.write('lo', 0, 'latin1');
    check(ioctl(fd, SIOCGIFFLAGS, 'void *', ifr), 'ioctl SIOCGIFFLAGS', 'lo');
    ifr.writeInt16LE(ifr.readInt16LE(16) | IFF_UP, 16);
    check(ioctl(fd, SIOCSIFFLAGS, 'void *', ifr), 'ioctl SIOCSIFFLAGS', 'lo');
  } finally {
    closeSync(fd);
  }
}

/** Creates a new network namespace with `lo` up, bound at `path` (which must not exist). */
export function createNamedNetns(path: string): void {
  sharedRunDir(dirname(path));
  const unshare = libcFn('int unshare(int flags)');
  const setns = libcFn('int setns(int fd, int nstype)');
  const home = openSync('/proc/thread-self/ns/net', 'r');
  try {
    closeSync(openSync(path, 'wx', 0));
    check(unshare(CLONE_NEWNET), 'unshare', 'CLONE_NEWNET');
    let failure: unknown;
    try {
      loopbackUp();
      mount('/proc/thread-self/ns/net', path, 'none', MS_BIND);
    } catch (e) {
      failure = e;
    }
    // Back to the host's namespace before anything else runs on this thread; failing that, every
    // later socket and child of this process would live in the container's namespace.
    if (setns(home, CLONE_NEWNET) !== 0) {
      process.stderr.write(`kiln: fatal: setns back to the host network namespace: ${new SysError('setns', lastErrno()).message}\n`);
      process.exit(125);
    }
    if (failure) {
      try {
        unlinkSync(path);
      } catch {
        /* not made */
      }
      throw failure;
    }
  } finally {
    closeSync(home);
  }
}

/** `ip netns delete`: unmount (lazily: a process may still hold it) and remove the file. */
export function deleteNamedNetns(path: string): void {
  try {
    umount2(path, MNT_DETACH);
  } catch (e) {
    const code = (e as SysError).code;
    if (code !== 'EINVAL' && code !== 'ENOENT') throw e; // EINVAL: not mounted (half-made)
  }
  try {
    unlinkSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}
