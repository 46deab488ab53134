// conmon, the container monitor of detached containers (machine-notes §3): it runs the runtime's `create`,
// holds the container's stdio (k8s-file log, attach socket, tty), waits for the exit, writes the
// exit code to <persist-dir>/exit (and <persist-dir>/oom after an OOM kill), then runs our exit
// command (`kiln container cleanup ID`), which tears the container down without a daemon.
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { globalArgs, runtimeFailure } from './oci-runtime.js';
import type { OciRuntime } from './runtime-select.js';
import { findOnPath } from '../util/which.js';

export const CONMON_SOCKET_DIR = '/run/kiln/socket';

export interface ConmonOptions {
  runtime: OciRuntime;
  id: string;
  name: string;
  bundleDir: string;
  logFile: string;
  persistDir: string;
  /** keep stdin open (docker run -i) */
  stdin?: boolean;
  tty?: boolean;
  /** argv run by conmon after the container exited */
  exitCommand?: string[];
  conmon?: string;
}

/** Files conmon leaves in the bundle. */
export function conmonFiles(bundleDir: string) {
  return {
    pidFile: join(bundleDir, 'ctr.pid'),
    conmonPidFile: join(bundleDir, 'conmon.pid'),
    runtimeLog: join(bundleDir, 'runtime.log'),
    stderr: join(bundleDir, 'conmon.err'),
  };
}

/**
 * Start conmon (which daemonizes at once) and wait, on the sync pipe, until the runtime's `create`
 * is done. Returns the container's init pid; the container is then "created" and needs `start`.
 */
export async function conmonCreate(opts: ConmonOptions): Promise<{ pid: number; conmonPid?: number }> {
  const files = conmonFiles(opts.bundleDir);
  mkdirSync(opts.persistDir, { recursive: true });
  mkdirSync(CONMON_SOCKET_DIR, { recursive: true });
  const args = [
    '--api-version', '1',
    '-c', opts.id,
    '-u', opts.id,
    '-n', opts.name,
    '-r', opts.runtime.launcher,
    '-b', opts.bundleDir,
    '-p', files.pidFile,
    '-P', files.conmonPidFile,
    '-l', `k8s-file:${opts.logFile}`,
    '--exit-dir', opts.persistDir,
    '--persist-dir', opts.persistDir,
    '--socket-dir-path', CONMON_SOCKET_DIR,
    ...globalArgs(opts.runtime, files.runtimeLog).map((a) => `--runtime-arg=${a}`),
  ];
  if (opts.stdin) args.push('-i', '--leave-stdin-open');
  if (opts.tty) args.push('-t');
  if (opts.exitCommand?.length) {
    args.push('--exit-command', opts.exitCommand[0]!);
    for (const a of opts.exitCommand.slice(1)) args.push('--exit-command-arg', a);
  }
  const errFd = openSync(files.stderr, 'w');
  let text = '';
  try {
    await new Promise<void>((resolve, reject) => {
      const child = spawn(opts.conmon ?? findOnPath('conmon') ?? 'conmon', args, {
        stdio: ['ignore', errFd, errFd, 'pipe'],
        env: { ...process.env, _OCI_SYNCPIPE: '3' },
        detached: true,
      });
      child.on('error', reject);
      const sync = child.stdio[3] as NodeJS.ReadableStream;
      sync.on('data', (b: Buffer) => {
        text += b.toString();
        if (/\}\s*$/.test(text)) {
          (sync as unknown as { destroy(): void }).destroy();
          resolve();
        }
      });
      sync.on('end', () => resolve());
      sync.on('error', () => resolve());
      child.unref();
    });
  } finally {
    closeSync(errFd);
  }
  let msg: { data?: number; message?: string } = {};
  try {
    msg = JSON.parse(text) as { data?: number; message?: string };
  } catch {
    /* conmon died before writing */
  }
  if (typeof msg.data !== 'number' || msg.data <= 0) {
    const why = runtimeFailure(files.runtimeLog) ?? msg.message ?? readTail(files.stderr) ?? 'conmon failed';
    const err = new Error(why) as Error & { runtimeFailure?: string };
    err.runtimeFailure = why;
    throw err;
  }
  return { pid: msg.data, conmonPid: readPid(files.conmonPidFile) };
}

export function readPid(file: string): number | undefined {
  try {
    const n = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

function readTail(file: string): string | undefined {
  try {
    const t = readFileSync(file, 'utf8').trim();
    return t ? t.split('\n').slice(-3).join('; ') : undefined;
  } catch {
    return undefined;
  }
}
