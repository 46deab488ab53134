// `exec` and `top` in a running container: the runtime's exec (runc exec) and ps, as our child
// processes, with Docker's exit codes and events.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import tty from 'node:tty';
import { constants as osConstants } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { Engine } from '../engine.js';
import { ConflictError } from '../store/errors.js';
import { randomHex } from '../util/random.js';
import { containerPaths, event, getContainer, startFailureCode, type ContainerRuntimeOptions } from './containers.js';
import { mergeEnv } from './container-options.js';
import { cleanContainerPath } from './paths.js';
import { DEFAULT_RUNC_ROOT, RuntimeError, runtimeCommand, runtimeFailure } from './runc.js';
import { resolveUser } from './user.js';
import { ConsoleSocket } from '../sys/console-socket.js';
import { setWindowSize } from '../sys/termios.js';
import { becomeSubreaper, waitForExit } from '../sys/reaper.js';
import { writeAllSync } from '../util/write-all.js';

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
  onTerminal?: (t: ExecTerminal) => void;
}

/** The terminal of an exec'd process (the master side, which we hold). */
export interface ExecTerminal {
  write(b: Buffer): void;
  resize(rows: number, cols: number): void;
}

/** Where runc's console sockets live: a short path (sun_path is 108 bytes), cleaned with /run. */
const CONSOLE_SOCKET_DIR = '/run/kiln/console';

/** `docker exec`: `runc exec` as our child; the process's exit code (127/126 as Docker maps them). */
export async function execInContainer(engine: Engine, idOrName: string, e: ExecOptions, opts: ContainerRuntimeOptions = {}): Promise<number> {
  const c = await getContainer(engine, idOrName, opts);
  if (c.state.status === 'paused') throw new ConflictError(`container ${c.id} is paused, unpause the container before exec`);
  if (c.state.status !== 'running') throw new ConflictError(`container ${c.id} is not running`);
  const p = containerPaths(engine, c.id);
  const user = resolveUser(p.merged, e.user ?? c.config.user);
  const logFile = join(p.bundle, `exec-${randomHex(4)}.log`);
  const env = mergeEnv([], e.env ?? []);
  const execId = randomHex();
  // With a terminal, runc hands its master to a console socket (it would otherwise need ours to be
  // its controlling terminal, and there is none under CI or a pipe) and, as it then must, detaches:
  // we relay the terminal and, as the subreaper that adopts the process, wait for it ourselves.
  const pidFile = join(p.bundle, `exec-${execId.slice(0, 12)}.pid`);
  let consoleSocket: ConsoleSocket | undefined;
  if (e.tty && !e.detach) {
    mkdirSync(CONSOLE_SOCKET_DIR, { recursive: true, mode: 0o700 });
    consoleSocket = ConsoleSocket.listen(join(CONSOLE_SOCKET_DIR, `${execId.slice(0, 24)}.sock`));
    becomeSubreaper();
  }
  const args = [
    '--root', opts.runtimeRoot ?? DEFAULT_RUNC_ROOT,
    '--log', logFile, '--log-format', 'json',
    'exec',
    '--user', `${user.uid}:${user.gid}`,
    ...user.additionalGids.flatMap((g) => ['--additional-gids', String(g)]),
    '--cwd', e.workdir ? cleanContainerPath(e.workdir, c.config.workingDir) : c.config.workingDir,
    ...env.flatMap((kv) => ['--env', kv]),
    ...(c.config.env.some((x) => x.startsWith('HOME=')) || env.some((x) => x.startsWith('HOME=')) ? [] : ['--env', `HOME=${user.home}`]),
    ...(e.tty ? ['--tty'] : []),
    ...(consoleSocket ? ['--detach', '--console-socket', consoleSocket.path, '--pid-file', pidFile] : e.detach ? ['--detach'] : []),
    ...(e.privileged ? ['--cap', 'CAP_SYS_ADMIN'] : []),
    c.id,
    ...e.cmd,
  ];
  const execAttrs = { execID: execId, ...(e.tty ? { tty: 'true' } : {}) };
  event(engine, c, `exec_create: ${e.cmd.join(' ')}`, execAttrs);
  event(engine, c, `exec_start: ${e.cmd.join(' ')}`, execAttrs);
  const code = await new Promise<number>((resolve, reject) => {
    const child = spawn(opts.runtime ?? 'runc', args, {
      stdio: consoleSocket ? ['ignore', 'inherit', 'inherit'] : [e.stdin ? 'pipe' : 'ignore', e.stdout ? 'pipe' : 'inherit', e.stderr ? 'pipe' : 'inherit'],
    });
    child.on('error', reject);
    const relay = consoleSocket ? relayTerminal(consoleSocket, e) : undefined;
    if (!relay) {
      if (e.stdout) child.stdout!.on('data', e.stdout);
      if (e.stderr) child.stderr!.on('data', e.stderr);
      if (e.stdin) {
        e.stdin.pipe(child.stdin!);
        child.stdin!.on('error', () => {});
      }
    }
    child.on('close', (code, signal) => {
      const exit = code ?? 128 + (signal ? (osConstants.signals[signal] ?? 0) : 0);
      consoleSocket?.close();
      if (!relay) return resolve(exit);
      // runc has started the process (or failed to): wait for it, then for what it wrote.
      let pid = NaN;
      try {
        if (exit === 0) pid = Number(readFileSync(pidFile, 'utf8').trim());
      } catch {
        /* no pid file: runc failed, its log says why */
      }
      rmSync(pidFile, { force: true });
      const ended = Number.isInteger(pid) && pid > 0 ? waitForExit(pid) : Promise.resolve(exit);
      void ended.then(
        (processExit) => relay.finish().then(() => resolve(processExit)),
        () => relay.finish().then(() => resolve(exit)),
      );
    });
  });
  const failure = runtimeFailure(logFile);
  rmSync(logFile, { force: true });
  let result = code;
  if (failure && code !== 0) {
    result = startFailureCode(failure);
    if (result === 128) throw new RuntimeError(`OCI runtime exec failed: ${failure}`, 126);
  }
  if (!e.detach) event(engine, c, 'exec_die', { ...execAttrs, exitCode: String(result) });
  return result;
}

/**
 * Relays the terminal runc sends to `consoleSocket`: its output to `e.stdout` (or ours), and `e.stdin`
 * (or what onTerminal's caller types) into it. `finish()` (runc has exited) ends the relay once
 * the output has drained: at once when the last process holding the terminal closed it, else
 * (a background process keeps it open, as Docker's exec also leaves it) after a short grace.
 */
function relayTerminal(consoleSocket: ConsoleSocket, e: ExecOptions): { finish(): Promise<void> } {
  let ended: Promise<void> = Promise.resolve();
  let stop = () => {};
  const started = consoleSocket.receive().then(
    (master) => {
      const out = e.stdout ?? ((b: Buffer) => writeAllSync(1, b));
      let open = true;
      const write = (b: Buffer) => {
        if (!open) return;
        try {
          writeAllSync(master, b);
        } catch {
          /* the terminal is gone: what was typed goes nowhere */
        }
      };
      e.onTerminal?.({ write, resize: (rows, cols) => open && setWindowSize(master, rows, cols) });
      const onInput = (b: Buffer) => write(b);
      e.stdin?.on('data', onInput);
      // A tty stream polls the master (epoll), so it can be stopped while nothing arrives.
      const stream = new tty.ReadStream(master);
      stream.on('data', (b: Buffer) => out(b));
      ended = new Promise<void>((done) => {
        const end = () => {
          if (!open) return;
          open = false;
          e.stdin?.off('data', onInput);
          stream.destroy(); // closes the master
          done();
        };
        stream.on('end', end);
        stream.on('error', end); // EIO: no process holds the terminal any more
        stream.on('close', end);
        stop = end;
      });
    },
    () => {}, // runc failed before making one: its log says why
  );
  return {
    finish: async () => {
      await started;
      const grace = setTimeout(() => stop(), 250);
      await ended;
      clearTimeout(grace);
    },
  };
}

/** `docker top`: `runc ps` (host `ps` filtered to the container's cgroup). */
export async function topContainer(engine: Engine, idOrName: string, psArgs: string[] = [], opts: ContainerRuntimeOptions = {}): Promise<string> {
  const c = await getContainer(engine, idOrName, opts);
  if (c.state.status !== 'running' && c.state.status !== 'paused') throw new ConflictError(`container ${c.id} is not running`);
  const r = await runtimeCommand(['ps', c.id, ...(psArgs.length ? psArgs : ['-ef'])], opts);
  if (r.code !== 0) throw new Error(r.stderr.trim());
  return r.stdout;
}

