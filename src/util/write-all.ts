// Writing a whole buffer to a descriptor synchronously, for output that must not be reordered with
// what a child process or a replay writes: a non-blocking pipe or terminal that is full (EAGAIN)
// is tried again; any other error (EPIPE: the reader went away) is the caller's.
import { writeSync } from 'node:fs';

export function writeAllSync(fd: number, b: Buffer): void {
  for (let off = 0; off < b.length; ) {
    try {
      off += writeSync(fd, b, off);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
    }
  }
}
