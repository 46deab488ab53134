// `exec` and `top` in a running container: the runtime's exec as our child process, with
// Docker's exit codes and events, and the host's ps filtered to the container's processes.
import { execFile, spawn } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync, type Dirent } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { Engine } from '../engine.js';
import { ConflictError } from '../store/errors.js';
import { randomHex } from '../util/random.js';
import { containerPaths, event, getContainer, type ContainerRuntimeOptions } from './containers.js';
import { mergeEnv } from './container-options.js';
import { cleanContainerPath } from './paths.js';
import { globalArgs, RuntimeError, runtimeFailure, runtimeFor, startFailureCode, StartupStderr } from './oci-runtime.js';
import { writeAllSync } from '../util/write-all.js';
import type { OciProcess, OciSpec } from './oci-spec.js';
import { resolveUser, supplementaryGroups } from './user.js';
import type { ConsoleSocket } from '../sys/console-socket.js';
import { holdTerminal, listenConsoleSocket, relayTerminal, type TerminalControl } from './terminal-relay.js';
import { becomeSubreaper, waitForExit } from '../sys/reaper.js';

export interface ExecOptions {
  cmd: string[];
  tty?: boolean;
  interactive?: boolean;
  user?: string;
  workdir?: string;
  env?: string[];
  privileged?: boolean;
  detach?: boolean;
  /** the process's output (with a terminal, all of it comes on stdout); ours when absent */
  stdout?: (b: Buffer) => void;
  stderr?: (b: Buffer) => void;
  stdin?: Readable;
  /** with tty: called with the terminal once it exists, to type into it and resize it */
  onTerminal?: (t: TerminalControl) => void;
}



/** `docker exec`: the runtime's exec as our child; the process's exit code (127/126 as Docker maps them). */
export async function execInContainer(engine: Engine, idOrName: string, e: ExecOptions, opts: ContainerRuntimeOptions = {}): Promise<number> {
  const c = await getContainer(engine, idOrName, opts);
  if (c.state.status === 'paused') throw new ConflictError(`container ${c.id} is paused, unpause the container before exec`);
  if (c.state.status !== 'running') throw new ConflictError(`container ${c.id} is not running`);
  const p = containerPaths(engine, c.id);
  const user = resolveUser(p.merged, e.user ?? c.config.user);
  const execId = randomHex();
  const logFile = join(p.bundle, `exec-${execId.slice(0, 12)}.log`);
  const processFile = join(p.bundle, `exec-${execId.slice(0, 12)}.json`);
  // With a terminal, the runtime hands its master to a console socket (it would otherwise need ours to be
  // its controlling terminal, and there is none under CI or a pipe) and, as it then must, detaches:
  // we relay the terminal and, as the subreaper that adopts the process, wait for it ourselves.
  const pidFile = join(p.bundle, `exec-${execId.slice(0, 12)}.pid`);
  let consoleSocket: ConsoleSocket | undefined;
  if (e.tty) {
    consoleSocket = listenConsoleSocket(execId);
    if (!e.detach) becomeSubreaper();
  }
  // The whole process as a file (both runtimes take `--process`): the container's own process
  // (capabilities, rlimits, no-new-privileges) with this exec's user, groups, cwd, env and args.
  const base = (JSON.parse(readFileSync(join(p.bundle, 'config.json'), 'utf8')) as OciSpec).process!;
  const groups = supplementaryGroups(p.merged, user, c.config.groupAdd);
  let env = mergeEnv(base.env ?? [], e.env ?? []);
  if (!env.some((x) => x.startsWith('HOME='))) env = [...env, `HOME=${user.home}`];
  const proc: OciProcess = {
    ...base,
    terminal: !!e.tty,
    consoleSize: undefined,
    user: { uid: user.uid, gid: user.gid, ...(groups.length ? { additionalGids: groups } : {}) },
    args: e.cmd,
    env,
    cwd: e.workdir ? cleanContainerPath(e.workdir, c.config.workingDir) : c.config.workingDir,
  };
  if (e.privileged && proc.capabilities) {
    const add = (set: string[] | undefined) => (set && !set.includes('CAP_SYS_ADMIN') ? [...set, 'CAP_SYS_ADMIN'] : set);
    proc.capabilities = { ...proc.capabilities, bounding: add(proc.capabilities.bounding), effective: add(proc.capabilities.effective), permitted: add(proc.capabilities.permitted) };
  }
  writeFileSync(processFile, JSON.stringify(proc));
  const rt = runtimeFor(c.id);
  const args = [
    ...globalArgs(rt, logFile),
    'exec',
    '--process', processFile,
    ...(consoleSocket ? ['--detach', '--console-socket', consoleSocket.path, '--pid-file', pidFile] : e.detach ? ['--detach'] : []),
    c.id,
  ];
  const execAttrs = { execID: execId, ...(e.tty ? { tty: 'true' } : {}) };
  event(engine, c, `exec_create: ${e.cmd.join(' ')}`, execAttrs);
  event(engine, c, `exec_start: ${e.cmd.join(' ')}`, execAttrs);
  // A detached process gets none of our stdio (Docker discards its output): what it inherited
  // would hold our caller's pipes open until it exits. The runtime's own errors are in its log.
  const detachedPlain = e.detach && !consoleSocket;
  // The runtime writes its failure to the process's stderr as well as to its log: kiln reports it once.
  const errOut = e.stderr ?? ((b: Buffer) => writeAllSync(2, b));
  const startup = consoleSocket || detachedPlain ? undefined : new StartupStderr(errOut);
  const code = await new Promise<number>((resolve, reject) => {
    const child = spawn(rt.binary, args, {
      stdio: consoleSocket ? ['ignore', 'inherit', 'inherit'] : detachedPlain ? 'ignore' : [e.stdin ? 'pipe' : 'ignore', e.stdout ? 'pipe' : 'inherit', 'pipe'],
    });
    child.on('error', reject);
    const relay = consoleSocket && !e.detach ? relayTerminal(consoleSocket, e) : undefined;
    const held = consoleSocket && e.detach ? holdTerminal(consoleSocket) : undefined;
    if (startup) {
      if (e.stdout) child.stdout!.on('data', (b: Buffer) => (startup.release(), e.stdout!(b)));
      child.stderr!.on('data', (b: Buffer) => startup.write(b));
      if (e.stdin) {
        e.stdin.pipe(child.stdin!);
        child.stdin!.on('error', () => {});
      }
    }
    child.on('close', (code, signal) => {
      const exit = code ?? 128 + (signal ? (osConstants.signals[signal] ?? 0) : 0);
      if (held) {
        // The runtime has sent the terminal (or failed and never will): close the socket only then.
        const done = () => (consoleSocket!.close(), resolve(exit));
        if (exit === 0) held.then(done, done);
        else done();
        return;
      }
      consoleSocket?.close();
      if (!relay) return resolve(exit);
      // The runtime has started the process (or failed to): wait for it, then for what it wrote.
      let pid = NaN;
      try {
        if (exit === 0) pid = Number(readFileSync(pidFile, 'utf8').trim());
      } catch {
        /* no pid file: the runtime failed, its log says why */
      }
      rmSync(pidFile, { force: true });
      const ended = Number.isInteger(pid) && pid > 0 ? waitForExit(pid) : Promise.resolve(exit);
      void ended.then(
        (processExit) => relay.finish().then(() => resolve(processExit)),
        () => relay.finish().then(() => resolve(exit)),
      );
    });
  });
  const failure = code !== 0 ? runtimeFailure(logFile) : undefined;
  startup?.end(failure);
  rmSync(logFile, { force: true });
  rmSync(processFile, { force: true });
  let result = code;
  if (failure) {
    result = startFailureCode(failure);
    if (result === 128) throw new RuntimeError(`OCI runtime exec failed: ${failure}`, 126);
    // Docker's words for a command that could not be found or run (127/126).
    errOut(Buffer.from(`OCI runtime exec failed: ${failure}\n`));
  }
  if (!e.detach) event(engine, c, 'exec_die', { ...execAttrs, exitCode: String(result) });
  return result;
}

/**
 * `docker top`: the host's `ps` (with the user's ps options, -ef by default) filtered to the
 * processes in the container's cgroup, as `runc ps` does; one way for every runtime.
 */
export async function topContainer(engine: Engine, idOrName: string, psArgs: string[] = [], opts: ContainerRuntimeOptions = {}): Promise<string> {
  const c = await getContainer(engine, idOrName, opts);
  if (c.state.status !== 'running' && c.state.status !== 'paused') throw new ConflictError(`container ${c.id} is not running`);
  const pids = cgroupPids(`/kiln/${c.id}`);
  const r = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve, reject) =>
    execFile('ps', psArgs.length ? psArgs : ['-ef'], { maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err && typeof (err as NodeJS.ErrnoException).code === 'string') return reject(err);
      resolve({ code: err ? 1 : 0, stdout, stderr });
    }),
  );
  if (r.code !== 0) throw new Error(`ps ${psArgs.join(' ')}: ${r.stderr.trim() || 'failed'}`);
  return filterPsOutput(r.stdout, pids);
}

/** Every pid in a cgroup (v1 pids hierarchy) and its sub-cgroups. */
function cgroupPids(cgroupsPath: string): Set<number> {
  const pids = new Set<number>();
  const walk = (dir: string) => {
    let entries: Dirent[];
    try {
      for (const line of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n')) if (line) pids.add(Number(line));
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const d of entries) if (d.isDirectory()) walk(join(dir, d.name));
  };
  for (const ctrl of ['pids', 'memory', 'unified']) {
    walk(join('/sys/fs/cgroup', ctrl, cgroupsPath));
    if (pids.size) break;
  }
  return pids;
}

/** The header and the rows of `ps` output whose PID column is in `pids`. */
export function filterPsOutput(text: string, pids: Set<number>): string {
  const lines = text.split('\n').filter((l) => l !== '');
  const header = lines[0] ?? '';
  const col = header.trim().split(/\s+/).indexOf('PID');
  if (col < 0) throw new Error('couldn\'t find PID field in ps output');
  const rows = lines.slice(1).filter((l) => pids.has(Number(l.trim().split(/\s+/)[col])));
  return [header, ...rows].join('\n') + '\n';
}
