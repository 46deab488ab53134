// Waiting for a process that is not our child: runc exec --detach leaves the process it started
// to whoever reaps orphans, so a kiln that has made itself a subreaper (prctl, as conmon and
// containerd's shim do) adopts it and can wait for it. waitpid blocks, so it runs on libuv's
// thread pool (koffi's .async). Node reaps only the children it spawned, by their pids.
import { check, libcFn } from './ffi.js';

const PR_SET_CHILD_SUBREAPER = 36;

type AsyncFn = { async: (...args: unknown[]) => void };

/** Orphaned descendants become our children from now on. */
export function becomeSubreaper(): void {
  check(libcFn('int prctl(int option, unsigned long arg2, unsigned long arg3, unsigned long arg4, unsigned long arg5)')(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), 'prctl');
}

/** The exit code of child `pid` once it ends: its own, or 128 + the signal that ended it. */
export function waitForExit(pid: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const status = new Int32Array(1);
    (libcFn('int waitpid(int pid, _Out_ int *status, int options)') as unknown as AsyncFn).async(pid, status, 0, (err: unknown, ret: number) => {
      if (err || ret !== pid) return reject(new Error(`waitpid ${pid}: ${String(err ?? 'no such child')}`));
      const s = status[0]!;
      const signal = s & 0x7f;
      resolve(signal === 0 ? (s >> 8) & 0xff : 128 + signal);
    });
  });
}
