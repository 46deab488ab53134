// `exec` and `top` in a running container: the runtime's exec (runc exec) and ps, as our child
// processes, with Docker's exit codes and events.
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
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

export interface ExecOptions {
  cmd: string[];
  tty?: boolean;
  interactive?: boolean;
  user?: string;
  workdir?: string;
  env?: string[];
  privileged?: boolean;
  detach?: boolean;
  stdout?: (b: Buffer) => void;
  stderr?: (b: Buffer) => void;
  stdin?: Readable | 'inherit';
}

/** `docker exec`: `runc exec` as our child; the process's exit code (127/126 as Docker maps them). */
export async function execInContainer(engine: Engine, idOrName: string, e: ExecOptions, opts: ContainerRuntimeOptions = {}): Promise<number> {
  const c = await getContainer(engine, idOrName, opts);
  if (c.state.status === 'paused') throw new ConflictError(`container ${c.id} is paused, unpause the container before exec`);
  if (c.state.status !== 'running') throw new ConflictError(`container ${c.id} is not running`);
  const p = containerPaths(engine, c.id);
  const user = resolveUser(p.merged, e.user ?? c.config.user);
  const logFile = join(p.bundle, `exec-${randomHex(4)}.log`);
  const env = mergeEnv([], e.env ?? []);
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
    ...(e.detach ? ['--detach'] : []),
    ...(e.privileged ? ['--cap', 'CAP_SYS_ADMIN'] : []),
    c.id,
    ...e.cmd,
  ];
  const inherit = e.tty && e.stdin === 'inherit';
  const execId = randomHex();
  const execAttrs = { execID: execId, ...(e.tty ? { tty: 'true' } : {}) };
  event(engine, c, `exec_create: ${e.cmd.join(' ')}`, execAttrs);
  event(engine, c, `exec_start: ${e.cmd.join(' ')}`, execAttrs);
  const code = await new Promise<number>((resolve, reject) => {
    const child = spawn(opts.runtime ?? 'runc', args, {
      stdio: inherit ? 'inherit' : [e.stdin === 'inherit' ? 'inherit' : e.stdin ? 'pipe' : 'ignore', e.stdout ? 'pipe' : 'inherit', e.stderr ? 'pipe' : 'inherit'],
    });
    child.on('error', reject);
    if (e.stdout) child.stdout!.on('data', e.stdout);
    if (e.stderr) child.stderr!.on('data', e.stderr);
    if (e.stdin && e.stdin !== 'inherit' && !inherit) {
      e.stdin.pipe(child.stdin!);
      child.stdin!.on('error', () => {});
    }
    child.on('close', (code, signal) => resolve(code ?? 128 + (signal ? (osConstants.signals[signal] ?? 0) : 0)));
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

/** `docker top`: `runc ps` (host `ps` filtered to the container's cgroup). */
export async function topContainer(engine: Engine, idOrName: string, psArgs: string[] = [], opts: ContainerRuntimeOptions = {}): Promise<string> {
  const c = await getContainer(engine, idOrName, opts);
  if (c.state.status !== 'running' && c.state.status !== 'paused') throw new ConflictError(`container ${c.id} is not running`);
  const r = await runtimeCommand(['ps', c.id, ...(psArgs.length ? psArgs : ['-ef'])], opts);
  if (r.code !== 0) throw new Error(r.stderr.trim());
  return r.stdout;
}

