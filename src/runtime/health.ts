// HEALTHCHECK / --health-cmd without a daemon: one check is an exec in the container (recorded in
// the container's state as Docker's State.Health); a detached `kiln container healthcheck
// --monitor ID` process, started with the container, repeats it every interval until the
// container stops (Podman uses systemd timers for the same job).
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { kilnEntry } from '../self.js';
import type { Engine } from '../engine.js';
import type { HealthConfig } from '../image/types.js';
import { getContainer, type Container } from './containers.js';
import { execInContainer } from './container-exec.js';

export interface HealthLogEntry {
  Start: string;
  End: string;
  ExitCode: number;
  Output: string;
}

export interface HealthState {
  Status: 'starting' | 'healthy' | 'unhealthy';
  FailingStreak: number;
  Log: HealthLogEntry[];
}

const SECOND = 1e9;
const MAX_LOG = 5;
const MAX_OUTPUT = 4096;

/** The argv of a HEALTHCHECK test, or undefined when there is none (NONE or empty). */
export function healthArgv(h: HealthConfig | undefined): string[] | undefined {
  const t = h?.Test;
  if (!t?.length || t[0] === 'NONE') return undefined;
  if (t[0] === 'CMD-SHELL') return ['/bin/sh', '-c', t.slice(1).join(' ')];
  if (t[0] === 'CMD') return t.slice(1);
  return t;
}

export function healthTimings(h: HealthConfig) {
  return {
    intervalMs: (h.Interval || 30 * SECOND) / 1e6,
    timeoutMs: (h.Timeout || 30 * SECOND) / 1e6,
    startPeriodMs: (h.StartPeriod || 0) / 1e6,
    retries: h.Retries || 3,
  };
}

/** Run the container's health check once and record the result. */
export async function runHealthcheck(engine: Engine, idOrName: string): Promise<HealthState> {
  const c = await getContainer(engine, idOrName);
  const argv = healthArgv(c.config.healthcheck);
  if (!argv) throw new Error(`container ${c.name} has no healthcheck configured`);
  if (c.state.status !== 'running') throw new Error(`container ${c.id} is not running`);
  const t = healthTimings(c.config.healthcheck!);
  const start = new Date();
  let output = '';
  const capture = (b: Buffer) => {
    if (output.length < MAX_OUTPUT) output += b.toString('utf8');
  };
  let exitCode: number;
  try {
    exitCode = await Promise.race([
      execInContainer(engine, c.id, { cmd: argv, stdout: capture, stderr: capture }),
      sleep(t.timeoutMs, -1, { ref: false }),
    ]);
    if (exitCode === -1) output = `Health check exceeded timeout (${t.timeoutMs / 1000}s)`;
  } catch (e) {
    exitCode = -1;
    output = (e as Error).message;
  }
  const entry: HealthLogEntry = { Start: start.toISOString(), End: new Date().toISOString(), ExitCode: exitCode, Output: output.slice(0, MAX_OUTPUT) };
  const inStartPeriod = Date.now() - Date.parse(c.state.startedAt) < t.startPeriodMs;
  const updated = engine.db.updateContainer<Container['state'], Container['config']>(c.id, (cur) => {
    const prev: HealthState = cur.state.health ?? { Status: 'starting', FailingStreak: 0, Log: [] };
    const ok = exitCode === 0;
    const streak = ok ? 0 : inStartPeriod ? prev.FailingStreak : prev.FailingStreak + 1;
    const status: HealthState['Status'] = ok ? 'healthy' : streak >= t.retries ? 'unhealthy' : prev.Status;
    return { state: { ...cur.state, health: { Status: status, FailingStreak: streak, Log: [...prev.Log, entry].slice(-MAX_LOG) } } };
  });
  return updated.state.health!;
}

/** The monitor loop: check every interval while the container runs. */
export async function healthMonitor(engine: Engine, id: string): Promise<void> {
  for (;;) {
    const c = await getContainer(engine, id).catch(() => undefined);
    if (!c || c.state.status !== 'running' && c.state.status !== 'paused') return;
    await sleep(healthTimings(c.config.healthcheck ?? {}).intervalMs);
    const now = await getContainer(engine, id).catch(() => undefined);
    if (!now || now.state.status !== 'running' || now.state.startedAt !== c.state.startedAt) {
      if (now?.state.status === 'paused') continue;
      return;
    }
    await runHealthcheck(engine, id).catch(() => {});
  }
}

/** Start the detached monitor for a container that has a health check. */
export function spawnHealthMonitor(engine: Engine, c: Container): void {
  if (!healthArgv(c.config.healthcheck)) return;
  spawn(process.execPath, [kilnEntry(), '--root', engine.root, 'container', 'healthcheck', '--monitor', c.id], {
    detached: true,
    stdio: 'ignore',
  }).unref();
}
