// An exclusive lock on a file (flock), taken without blocking the event loop: LOCK_NB, polled.
// Other kiln processes serialize on it; the kernel drops it if the holder dies.
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { LOCK_EX, LOCK_NB, LOCK_UN, flock } from '../sys/fs.js';

/** With `mkdir: false` a missing directory is an ENOENT error rather than made anew. */
export async function withFileLock<T>(file: string, fn: () => Promise<T>, pollMs = 5, opts: { mkdir?: boolean } = {}): Promise<T> {
  if (opts.mkdir !== false) mkdirSync(dirname(file), { recursive: true });
  const fd = openSync(file, 'a');
  try {
    while (!flock(fd, LOCK_EX | LOCK_NB)) await sleep(pollMs);
    return await fn();
  } finally {
    try {
      flock(fd, LOCK_UN);
    } finally {
      closeSync(fd);
    }
  }
}
