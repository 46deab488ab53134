// Random identifiers: container, volume and network IDs, staging names. Read from /dev/urandom
// rather than through node:crypto, whose loading costs ~5 ms of a command's start; `run`, `ps` and
// the like need nothing else from it.
import { closeSync, openSync, readSync } from 'node:fs';

/** `bytes` random bytes as lowercase hex (64 characters by default, like Docker's IDs). */
export function randomHex(bytes = 32): string {
  const buf = Buffer.allocUnsafe(bytes);
  const fd = openSync('/dev/urandom', 'r');
  try {
    for (let n = 0; n < bytes; ) n += readSync(fd, buf, n, bytes - n, null);
  } finally {
    closeSync(fd);
  }
  return buf.toString('hex');
}
