// The OCI runtime (runc) as kiln drives it: a foreground `runc run` as a child of Node for one-shot
// processes (build RUN steps, `kiln run` without -d), and the small lifecycle commands (state,
// start, kill, delete, exec, ps, pause) that detached containers under conmon need.
import { spawn, execFile, type StdioOptions } from 'node:child_process';
import { closeSync, constants as fsConstants, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { constants as osConstants } from 'node:os';
import type { Readable } from 'node:stream';
import type { OciHook, OciSpec } from './oci-spec.js';
import { serializeSpec } from './spec.js';
import { S_IFIFO, mknod } from '../sys/fs.js';

/** runc's state directory for kiln's containers (tmpfs: gone after a reboot, like the containers). */
export const DEFAULT_RUNC_ROOT = '/run/kiln/runc';
const CGROUP_ROOT = '/sys/fs/cgroup';

export interface RuntimeOptions {
  /** the OCI runtime binary (default: `runc` on PATH) */
  runtime?: string;
  /** the runtime's --root state dir (default /run/kiln/runc) */
  runtimeRoot?: string;
}

export interface RunOnceOptions extends RuntimeOptions {
  id: string;
  bundleDir: string;
  spec: OciSpec;
  /** container stdout (and, with a tty, everything); inherited when absent */
  stdout?: (b: Buffer) => void;
  stderr?: (b: Buffer) => void;
  /** stdin for the process; /dev/null when absent */
  stdin?: Readable | 'inherit';
  /** run with a terminal: with stdin 'inherit', runc uses our terminal (raw mode, resize) */
  tty?: boolean;
  /** called once runc has been spawned (its pid), e.g. to record the container as running */
  onSpawn?: (runcPid: number) => void;
  /** a signal for the container (forwarded to its init through `runc kill`) */
  signal?: AbortSignal;
  /** put runc in its own process group: terminal signals then reach only us (we forward them) */
  newProcessGroup?: boolean;
  /** extra `runc run` flags, e.g. --pid-file */
  runArgs?: string[];
}

export interface RunResult {
  exitCode: number;
  oomKilled: boolean;
}

/** An error from the runtime itself (bad config, missing binary), not the container's exit. */
export class RuntimeError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

export function runtimeBinary(opts: RuntimeOptions = {}): string {
  return opts.runtime ?? 'runc';
}

function globalArgs(opts: RuntimeOptions, logFile?: string): string[] {
  const args = ['--root', opts.runtimeRoot ?? DEFAULT_RUNC_ROOT];
  if (logFile) args.push('--log', logFile, '--log-format', 'json');
  return args;
}

/** Write `spec` as <bundleDir>/config.json. */
export function writeBundle(bundleDir: string, spec: OciSpec): string {
  mkdirSync(bundleDir, { recursive: true });
  const file = join(bundleDir, 'config.json');
  writeFileSync(file, serializeSpec(spec));
  return file;
}

/**
 * Holds a container's process until the caller opens the gate: a createRuntime hook (in the
 * host's namespaces) reads a FIFO in the bundle. runc runs that hook after making the namespaces,
 * cgroups and mounts, so that part of its work (most of it) overlaps whatever the caller still
 * does, e.g. the CNI ADD of a bridge network. We hold the FIFO open for writing from the start, so
 * the hook never blocks in open; if we die, it reads EOF and the start fails instead of hanging
 * (runc's hook timeout is the backstop). `open(false)` fails the start on purpose.
 */
export class StartGate {
  readonly hook: OciHook;
  private fd: number | undefined;

  constructor(bundleDir: string, timeoutSec = 60) {
    mkdirSync(bundleDir, { recursive: true });
    const fifo = join(bundleDir, 'start-gate');
    rmSync(fifo, { force: true });
    mknod(fifo, S_IFIFO | 0o600);
    this.fd = openSync(fifo, fsConstants.O_RDWR | fsConstants.O_NONBLOCK);
    this.hook = { path: '/bin/sh', args: ['sh', '-c', 'read -r s < "$0" && [ "$s" = go ]', fifo], timeout: timeoutSec };
  }

  open(go: boolean): void {
    if (this.fd !== undefined) writeSync(this.fd, go ? 'go\n' : 'stop\n');
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

/**
 * Run one process to completion: write config.json, `runc run` in the foreground as our child,
 * stream its output, and always leave nothing behind (runc state, cgroup directories). The exit
 * code is the process's own, or 128+N when a signal N ended it. Throws RuntimeError when runc
 * could not start the process at all, except for the two cases Docker maps to exit codes:
 * command not found (127) and not executable (126).
 */
export async function runOnce(opts: RunOnceOptions): Promise<RunResult> {
  const spec: OciSpec = structuredClone(opts.spec);
  spec.process!.terminal = !!opts.tty;
  writeBundle(opts.bundleDir, spec);
  const logFile = join(opts.bundleDir, 'runc.log');
  const memoryLimited = (spec.linux?.resources?.memory?.limit ?? 0) > 0;
  const cgroupsPath = spec.linux?.cgroupsPath;
  // --keep leaves the stopped container (and its memory cgroup) for us to read the OOM counter.
  const args = [
    ...globalArgs(opts, logFile),
    'run',
    ...(memoryLimited ? ['--keep'] : []),
    ...(opts.runArgs ?? []),
    '--bundle',
    opts.bundleDir,
    opts.id,
  ];

  const stdin = opts.stdin === 'inherit' ? 'inherit' : opts.stdin ? 'pipe' : 'ignore';
  const stdio: StdioOptions = [stdin, opts.stdout ? 'pipe' : 'inherit', opts.stderr ? 'pipe' : 'inherit'];
  let exitCode: number;
  try {
    exitCode = await new Promise<number>((resolve, reject) => {
      const child = spawn(runtimeBinary(opts), args, { stdio, detached: !!opts.newProcessGroup });
      child.on('error', reject);
      if (child.pid !== undefined) opts.onSpawn?.(child.pid);
      // A sink that throws (EPIPE: our reader went away) closes the pipe: the container's next
      // write then fails the way it would in a shell pipeline.
      const sink = (stream: NodeJS.ReadableStream & { destroy(): void }, fn: (b: Buffer) => void) =>
        stream.on('data', (b: Buffer) => {
          try {
            fn(b);
          } catch {
            stream.destroy();
          }
        });
      if (opts.stdout) sink(child.stdout!, opts.stdout);
      if (opts.stderr) sink(child.stderr!, opts.stderr);
      if (opts.stdin && opts.stdin !== 'inherit') {
        opts.stdin.pipe(child.stdin!);
        child.stdin!.on('error', () => {}); // the container may exit before reading everything
      }
      const onAbort = () => void kill(opts.id, 'KILL', opts).catch(() => {});
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      child.on('close', (code, signal) => {
        opts.signal?.removeEventListener('abort', onAbort);
        resolve(code ?? 128 + (signal ? (osConstants.signals[signal] ?? 0) : 0));
      });
    });
  } catch (e) {
    await cleanup(opts, cgroupsPath, false);
    throw e;
  }
  const oomKilled = memoryLimited && cgroupsPath ? oomKillCount(cgroupsPath) > 0 : false;
  await cleanup(opts, cgroupsPath, memoryLimited);

  // runc's own failures (it could not create or start the container) are in its log as errors.
  const failure = runtimeFailure(logFile);
  if (failure !== undefined && exitCode !== 0) {
    if (/executable file not found|no such file or directory/i.test(failure) && /exec/.test(failure)) {
      return { exitCode: 127, oomKilled };
    }
    if (/permission denied/i.test(failure) && /exec/.test(failure)) return { exitCode: 126, oomKilled };
    throw new RuntimeError(`OCI runtime error: ${failure}`, exitCode);
  }
  return { exitCode, oomKilled };
}

async function cleanup(opts: RuntimeOptions & { id: string }, cgroupsPath: string | undefined, force: boolean): Promise<void> {
  const root = opts.runtimeRoot ?? DEFAULT_RUNC_ROOT;
  // After a normal `runc run` exit runc has already deleted the container: no extra process.
  if (force || existsSync(join(root, opts.id))) await deleteContainer(opts.id, { ...opts, force: true });
  if (cgroupsPath) removeCgroup(cgroupsPath);
}

/** Last error-level message in a runc JSON log, if any. */
export function runtimeFailure(logFile: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(logFile, 'utf8');
  } catch {
    return undefined;
  }
  let msg: string | undefined;
  for (const line of text.split('\n')) {
    if (!line) continue;
    try {
      const entry = JSON.parse(line) as { level?: string; msg?: string };
      if ((entry.level === 'error' || entry.level === 'fatal') && entry.msg) msg = entry.msg;
    } catch {
      /* a partial line */
    }
  }
  return msg;
}

/** oom_kill counter of a v1 memory cgroup (0 when unreadable). */
export function oomKillCount(cgroupsPath: string): number {
  try {
    const text = readFileSync(join(CGROUP_ROOT, 'memory', cgroupsPath, 'memory.oom_control'), 'utf8');
    const m = /^oom_kill (\d+)$/m.exec(text);
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/**
 * Remove a container's cgroup directories in every hierarchy (runc removes the leaf on delete,
 * but not when it was killed halfway). The shared parent (/kiln) is left: removing it could race
 * with another container being created under it.
 */
export function removeCgroup(cgroupsPath: string): void {
  let controllers: string[];
  try {
    controllers = readdirSync(CGROUP_ROOT);
  } catch {
    return;
  }
  for (const c of controllers) {
    const dir = join(CGROUP_ROOT, c, cgroupsPath);
    try {
      rmdirSync(dir);
    } catch {
      /* absent, or (never expected) still busy */
    }
  }
}

/** Run a runtime subcommand and collect its output. */
export function runtimeCommand(
  args: string[],
  opts: RuntimeOptions = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(
      runtimeBinary(opts),
      [...globalArgs(opts), ...args],
      { maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err && typeof (err as NodeJS.ErrnoException).code === 'string') return reject(err);
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

async function checked(args: string[], opts: RuntimeOptions): Promise<string> {
  const r = await runtimeCommand(args, opts);
  if (r.code !== 0) throw new RuntimeError(`${runtimeBinary(opts)} ${args[0]}: ${r.stderr.trim() || `exit ${r.code}`}`, r.code);
  return r.stdout;
}

export async function start(id: string, opts: RuntimeOptions = {}): Promise<void> {
  await checked(['start', id], opts);
}

/** Send a signal (name without SIG, or number) to the container's init (or all its processes). */
export async function kill(id: string, signal: string | number, opts: RuntimeOptions & { all?: boolean } = {}): Promise<void> {
  await checked(['kill', ...(opts.all ? ['--all'] : []), id, String(signal)], opts);
}

export async function deleteContainer(id: string, opts: RuntimeOptions & { force?: boolean } = {}): Promise<void> {
  if (!existsSync(join(opts.runtimeRoot ?? DEFAULT_RUNC_ROOT, id))) return; // nothing to delete: no spawn
  const r = await runtimeCommand(['delete', ...(opts.force ? ['--force'] : []), id], opts);
  if (r.code !== 0 && !/does not exist|not found/i.test(r.stderr)) {
    throw new RuntimeError(`${runtimeBinary(opts)} delete: ${r.stderr.trim()}`, r.code);
  }
}

/** `runc update`: new cgroup limits for a running container (`resourcesFile`: OCI resources JSON). */
export async function update(id: string, resourcesFile: string, opts: RuntimeOptions = {}): Promise<void> {
  await checked(['update', '--resources', resourcesFile, id], opts);
}

export async function pause(id: string, opts: RuntimeOptions = {}): Promise<void> {
  await checked(['pause', id], opts);
}

export async function resume(id: string, opts: RuntimeOptions = {}): Promise<void> {
  await checked(['resume', id], opts);
}

export interface FastState {
  status: 'created' | 'running' | 'paused' | 'stopped';
  pid: number;
  created?: string;
}

/**
 * The container's status as `runc state` would say it, read from runc's state.json and /proc
 * without spawning runc (kiln ps with many containers): init alive (same start time, not a
 * zombie) → running, or paused when its freezer cgroup is FROZEN, or created while runc's
 * exec.fifo still exists; otherwise stopped. undefined when runc does not know the container.
 */
export function fastState(id: string, opts: RuntimeOptions = {}): FastState | undefined {
  const dir = join(opts.runtimeRoot ?? DEFAULT_RUNC_ROOT, id);
  let st: { init_process_pid?: number; init_process_start?: number; created?: string; cgroup_paths?: Record<string, string> };
  try {
    st = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8'));
  } catch {
    return undefined;
  }
  const pid = st.init_process_pid ?? 0;
  const base = { pid, created: st.created };
  if (!processAlive(pid, st.init_process_start)) return { ...base, status: 'stopped' };
  if (existsSync(join(dir, 'exec.fifo'))) return { ...base, status: 'created' };
  const freezer = st.cgroup_paths?.freezer;
  if (freezer) {
    try {
      if (readFileSync(join(freezer, 'freezer.state'), 'utf8').trim() === 'FROZEN') return { ...base, status: 'paused' };
    } catch {
      /* no freezer */
    }
  }
  return { ...base, status: 'running' };
}

function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields from 3 (state) on
  } catch {
    return undefined;
  }
}

/** A process's start time (clock ticks since boot): with the pid, it names the process uniquely. */
export function processStartTime(pid: number): number | undefined {
  const f = statFields(pid);
  return f ? Number(f[19]) : undefined;
}

/** pid exists, is not a zombie, and (if given) started at `startTime` (clock ticks since boot). */
export function processAlive(pid: number, startTime?: number): boolean {
  if (!pid) return false;
  const fields = statFields(pid);
  if (!fields || fields[0] === 'Z' || fields[0] === 'X') return false;
  return startTime === undefined || Number(fields[19]) === startTime;
}
