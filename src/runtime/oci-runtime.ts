// The OCI runtime (crun or runc, runtime-select.ts) as kiln drives it: a foreground `run` as a
// child of Node for one-shot processes (build RUN steps, `kiln run` without -d), and the small
// lifecycle commands (state, start, kill, delete, pause, update) that detached containers under
// conmon need. Both speak the same command line; only their state files differ (fastState).
import { spawn, execFile, type StdioOptions } from 'node:child_process';
import { closeSync, constants as fsConstants, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { constants as osConstants } from 'node:os';
import type { Readable } from 'node:stream';
import type { OciHook, OciSpec } from './oci-spec.js';
import { serializeSpec } from './spec.js';
import { S_IFIFO, mknod } from '../sys/fs.js';
import { becomeSubreaper, waitForExit } from '../sys/reaper.js';
import { listenConsoleSocket, relayTerminal } from './terminal-relay.js';
import { defaultRuntimeName, ociRuntime, runtimeHolding, runtimeRoot, type OciRuntime, type RuntimeName } from './runtime-select.js';

const CGROUP_ROOT = '/sys/fs/cgroup';

export interface RuntimeOptions {
  /** the OCI runtime; by default the one holding the container, or for a new one the default */
  runtime?: RuntimeName;
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
  /** a signal for the container (forwarded to its init through `runc kill`) */
  signal?: AbortSignal;
  /** put runc in its own process group: terminal signals then reach only us (we forward them) */
  newProcessGroup?: boolean;
}

export interface RunResult {
  exitCode: number;
  oomKilled: boolean;
  /** why the process never ran (127: not found, 126: not executable), in the runtime's words */
  startError?: string;
}

/**
 * Holds a container's first stderr bytes back until it has surely started: the runtime writes its
 * own failure to the same stderr as well as to its log, and kiln reports that failure itself, once.
 * Anything on stdout, or 200 ms, releases what was held (in order); `end` drops the runtime's line.
 */
export class StartupStderr {
  private held: Buffer[] | undefined = [];
  private timer: NodeJS.Timeout;

  constructor(private readonly out: (b: Buffer) => void) {
    this.timer = setTimeout(() => this.release(), 200);
    this.timer.unref();
  }

  write(b: Buffer): void {
    if (this.held) this.held.push(b);
    else this.out(b);
  }

  release(): void {
    clearTimeout(this.timer);
    const held = this.held;
    this.held = undefined;
    if (held?.length) this.out(Buffer.concat(held));
  }

  /** The process is gone: release what was held, without the line that is `failure`. */
  end(failure: string | undefined): void {
    if (this.held && failure !== undefined) {
      const text = Buffer.concat(this.held).toString('utf8');
      const kept = text.split('\n').filter((line) => line.trim() !== failure.trim()).join('\n');
      this.held = kept ? [Buffer.from(kept)] : [];
    }
    this.release();
  }
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

/** The runtime for container `id`: the one asked for, else the one holding it, else the default. */
export function runtimeFor(id: string, opts: RuntimeOptions = {}): OciRuntime {
  return ociRuntime(opts.runtime ?? runtimeHolding(id) ?? defaultRuntimeName());
}

export function globalArgs(rt: OciRuntime, logFile?: string): string[] {
  const args = ['--root', rt.root];
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
  const logFile = join(opts.bundleDir, 'runtime.log');
  const rt = runtimeFor(opts.id, opts);
  // With no terminal of ours to give it (CI, a pipe), a -t process gets one we hold ourselves.
  if (opts.tty && !(opts.stdin === 'inherit' && process.stdin.isTTY)) return runWithOwnTerminal(opts, rt, logFile, spec.linux?.cgroupsPath);
  // runc's --keep leaves the stopped container (and its memory cgroup) for us to read the OOM
  // counter; crun has no --keep, which is why a memory-limited container gets runc (container-create.ts).
  const memoryLimited = (spec.linux?.resources?.memory?.limit ?? 0) > 0 && rt.name === 'runc';
  const cgroupsPath = spec.linux?.cgroupsPath;
  const args = [
    ...globalArgs(rt, logFile),
    'run',
    ...(memoryLimited ? ['--keep'] : []),
    '--bundle',
    opts.bundleDir,
    opts.id,
  ];

  const stdin = opts.stdin === 'inherit' ? 'inherit' : opts.stdin ? 'pipe' : 'ignore';
  const stdio: StdioOptions = [stdin, opts.stdout ? 'pipe' : 'inherit', opts.stderr ? 'pipe' : 'inherit'];
  const held = opts.stderr ? new StartupStderr(opts.stderr) : undefined;
  let exitCode: number;
  try {
    exitCode = await new Promise<number>((resolve, reject) => {
      const child = spawn(rt.launcher, args, { stdio, detached: !!opts.newProcessGroup });
      child.on('error', reject);
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
      if (opts.stdout) sink(child.stdout!, held ? (b) => (held.release(), opts.stdout!(b)) : opts.stdout);
      if (held) sink(child.stderr!, (b) => held.write(b));
      if (opts.stdin && opts.stdin !== 'inherit') {
        opts.stdin.pipe(child.stdin!);
        child.stdin!.on('error', () => {}); // the container may exit before reading everything
      }
      const onAbort = () => void kill(opts.id, 'KILL', { runtime: rt.name }).catch(() => {});
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      child.on('close', (code, signal) => {
        opts.signal?.removeEventListener('abort', onAbort);
        resolve(code ?? 128 + (signal ? (osConstants.signals[signal] ?? 0) : 0));
      });
    });
  } catch (e) {
    held?.release();
    await cleanup(rt, opts.id, cgroupsPath, false);
    throw e;
  }
  const oomKilled = memoryLimited && cgroupsPath ? oomKillCount(cgroupsPath) > 0 : false;
  await cleanup(rt, opts.id, cgroupsPath, memoryLimited);

  // runc's own failures (it could not create or start the container) are in its log as errors.
  const failure = exitCode !== 0 ? runtimeFailure(logFile) : undefined;
  held?.end(failure);
  if (failure !== undefined) return startFailed(failure, exitCode, oomKilled);
  return { exitCode, oomKilled };
}

/** Map a runtime start failure to Docker's exit codes (127 not found, 126 not executable), else 128. */
export function startFailureCode(msg: string): number {
  if (/exec/.test(msg) && /executable file not found|no such file or directory/i.test(msg)) return 127;
  if (/exec/.test(msg) && /permission denied/i.test(msg)) return 126;
  return 128;
}

/** The result of a process the runtime could not start: Docker's 127 and 126, else a RuntimeError. */
function startFailed(failure: string, runtimeExit: number, oomKilled = false): RunResult {
  const exitCode = startFailureCode(failure);
  if (exitCode === 128) throw new RuntimeError(`OCI runtime error: ${failure}`, runtimeExit);
  return { exitCode, oomKilled, startError: failure };
}

/**
 * runOnce with a terminal we hold (terminal-relay.ts): the runtime creates the container and hands
 * us the terminal's master; as a subreaper we adopt its process, start it, and wait for its exit
 * code, relaying the terminal meanwhile; then the stopped container is deleted. (Create, then
 * start: a process started by `run --detach` could exit before the runtime did, which would reap it.)
 */
async function runWithOwnTerminal(opts: RunOnceOptions, rt: OciRuntime, logFile: string, cgroupsPath: string | undefined): Promise<RunResult> {
  const socket = listenConsoleSocket(opts.id);
  becomeSubreaper();
  const pidFile = join(opts.bundleDir, 'init.pid');
  const stdin = opts.stdin === 'inherit' ? process.stdin : opts.stdin;
  const relay = relayTerminal(socket, { stdout: opts.stdout, stdin });
  const args = [...globalArgs(rt, logFile), 'create', '--console-socket', socket.path, '--pid-file', pidFile, '--bundle', opts.bundleDir, opts.id];
  try {
    const started = await new Promise<number>((resolve, reject) => {
      // The runtime's own errors (before there is a terminal) go where the process's would.
      const child = spawn(rt.launcher, args, { stdio: ['ignore', 'ignore', opts.stderr ? 'pipe' : 'inherit'] });
      if (opts.stderr) child.stderr!.on('data', opts.stderr);
      child.on('error', reject);
      child.on('close', (code) => resolve(code ?? 1));
    });
    if (started !== 0) return startFailed(runtimeFailure(logFile) ?? `${rt.name} create exited with ${started}`, started);
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    try {
      await start(opts.id, { runtime: rt.name });
    } catch (e) {
      const failure = runtimeFailure(logFile);
      if (failure === undefined) throw e;
      void waitForExit(pid).catch(() => {}); // reap it, if it ran at all
      return startFailed(failure, 1);
    }
    const onAbort = () => void kill(opts.id, 'KILL', { runtime: rt.name }).catch(() => {});
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const exitCode = await waitForExit(pid);
      await relay.finish();
      return { exitCode, oomKilled: false };
    } finally {
      opts.signal?.removeEventListener('abort', onAbort);
    }
  } finally {
    socket.close();
    if (opts.stdin === 'inherit') process.stdin.destroy(); // a pipe we read from would keep us running
    await cleanup(rt, opts.id, cgroupsPath, true); // a detached run leaves the stopped container
  }
}

async function cleanup(rt: OciRuntime, id: string, cgroupsPath: string | undefined, force: boolean): Promise<void> {
  // After a normal `run` exit the runtime has already deleted the container: no extra process.
  if (force || existsSync(join(rt.root, id))) await deleteContainer(id, { runtime: rt.name, force: true });
  if (cgroupsPath) removeCgroup(cgroupsPath);
}

/** Last error-level message in the runtime's JSON log, if any. */
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
function runtimeCommand(rt: OciRuntime, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(
      rt.binary,
      [...globalArgs(rt), ...args],
      { maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err && typeof (err as NodeJS.ErrnoException).code === 'string') return reject(err);
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

/** A runtime subcommand about container `id` (`args` name it where the subcommand wants it), which must succeed. */
async function checked(id: string, args: string[], opts: RuntimeOptions): Promise<string> {
  const rt = runtimeFor(id, opts);
  const r = await runtimeCommand(rt, args);
  if (r.code !== 0) throw new RuntimeError(`${rt.name} ${args[0]}: ${r.stderr.trim() || `exit ${r.code}`}`, r.code);
  return r.stdout;
}

export async function start(id: string, opts: RuntimeOptions = {}): Promise<void> {
  await checked(id, ['start', id], opts);
}

/** Send a signal (name without SIG, or number) to the container's init (or all its processes). */
export async function kill(id: string, signal: string | number, opts: RuntimeOptions & { all?: boolean } = {}): Promise<void> {
  await checked(id, ['kill', ...(opts.all ? ['--all'] : []), id, String(signal)], opts);
}

export async function deleteContainer(id: string, opts: RuntimeOptions & { force?: boolean } = {}): Promise<void> {
  const name = opts.runtime ?? runtimeHolding(id);
  if (!name) return; // no runtime holds it: nothing to delete, no spawn
  const rt = ociRuntime(name);
  if (!existsSync(join(rt.root, id))) return;
  const r = await runtimeCommand(rt, ['delete', ...(opts.force ? ['--force'] : []), id]);
  if (r.code !== 0 && !/does not exist|not found|no such file/i.test(r.stderr)) {
    throw new RuntimeError(`${rt.name} delete: ${r.stderr.trim()}`, r.code);
  }
}

/** `update`: new cgroup limits for a running container (`resourcesFile`: OCI resources JSON). */
export async function update(id: string, resourcesFile: string, opts: RuntimeOptions = {}): Promise<void> {
  await checked(id, ['update', '--resources', resourcesFile, id], opts);
}

export async function pause(id: string, opts: RuntimeOptions = {}): Promise<void> {
  await checked(id, ['pause', id], opts);
}

export async function resume(id: string, opts: RuntimeOptions = {}): Promise<void> {
  await checked(id, ['resume', id], opts);
}

export interface FastState {
  status: 'created' | 'running' | 'paused' | 'stopped';
  pid: number;
  created?: string;
}

/** What fastState needs from a runtime's own state file. */
interface RuntimeStateFile {
  pid: number;
  /** the init's start time (clock ticks since boot) */
  start?: number;
  created?: string;
  /** the v1 freezer cgroup directory */
  freezer?: string;
}

/** runc's state.json, or crun's status file. */
function readStateFile(dir: string): RuntimeStateFile | undefined {
  try {
    const st = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as { init_process_pid?: number; init_process_start?: number; created?: string; cgroup_paths?: Record<string, string> };
    return { pid: st.init_process_pid ?? 0, start: st.init_process_start, created: st.created, freezer: st.cgroup_paths?.freezer };
  } catch {
    /* not runc's */
  }
  try {
    const st = JSON.parse(readFileSync(join(dir, 'status'), 'utf8')) as { pid?: number; 'process-start-time'?: number; created?: string; 'cgroup-path'?: string };
    const cg = st['cgroup-path'];
    return { pid: st.pid ?? 0, start: st['process-start-time'], created: st.created, freezer: cg ? join(CGROUP_ROOT, 'freezer', cg) : undefined };
  } catch {
    return undefined;
  }
}

/**
 * The container's status as the runtime's `state` would say it, read from its state file and
 * /proc without spawning it (kiln ps with many containers): init alive (same start time, not a
 * zombie) → running, or paused when its freezer cgroup is FROZEN, or created while the runtime's
 * exec.fifo still exists; otherwise stopped. undefined when no runtime knows the container.
 */
export function fastState(id: string, opts: RuntimeOptions = {}): FastState | undefined {
  const name = opts.runtime ?? runtimeHolding(id);
  if (!name) return undefined;
  const dir = join(runtimeRoot(name), id);
  const st = readStateFile(dir);
  if (!st) return undefined;
  const base = { pid: st.pid, created: st.created };
  if (!processAlive(st.pid, st.start)) return { ...base, status: 'stopped' };
  if (existsSync(join(dir, 'exec.fifo'))) return { ...base, status: 'created' };
  const freezer = st.freezer;
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
