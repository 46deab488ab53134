// Resource usage of running containers from their cgroup v1 files and /proc (`docker stats`).
import { readFileSync } from 'node:fs';
import { availableParallelism, totalmem } from 'node:os';
import { join } from 'node:path';

const CG = '/sys/fs/cgroup';

export interface StatsSample {
  /** ns of CPU used by the container, and by the whole host (from /proc/stat) */
  cpuUsage: number;
  systemUsage: number;
  onlineCpus: number;
  memUsage: number;
  memLimit: number;
  netRx: number;
  netTx: number;
  blockRead: number;
  blockWrite: number;
  pids: number;
}

function num(file: string): number {
  try {
    return Number(readFileSync(file, 'utf8').trim()) || 0;
  } catch {
    return 0;
  }
}

function memoryStat(dir: string): Record<string, number> {
  const out: Record<string, number> = {};
  try {
    for (const line of readFileSync(join(dir, 'memory.stat'), 'utf8').split('\n')) {
      const [k, v] = line.split(' ');
      if (k) out[k] = Number(v);
    }
  } catch {
    /* absent */
  }
  return out;
}

function systemUsageNs(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const ticks = line.split(/\s+/).slice(1, 8).reduce((a, v) => a + Number(v), 0);
  return ticks * (1e9 / 100); // USER_HZ = 100
}

function netDev(pid: number): { rx: number; tx: number } {
  let rx = 0;
  let tx = 0;
  try {
    for (const line of readFileSync(`/proc/${pid}/net/dev`, 'utf8').split('\n').slice(2)) {
      const [name, rest] = line.split(':');
      if (!rest || name!.trim() === 'lo') continue;
      const f = rest.trim().split(/\s+/).map(Number);
      rx += f[0]!;
      tx += f[8]!;
    }
  } catch {
    /* gone */
  }
  return { rx, tx };
}

function blkio(dir: string): { read: number; write: number } {
  let read = 0;
  let write = 0;
  try {
    for (const line of readFileSync(join(dir, 'blkio.throttle.io_service_bytes_recursive'), 'utf8').split('\n')) {
      const [, op, v] = line.split(' ');
      if (op === 'Read') read += Number(v);
      else if (op === 'Write') write += Number(v);
    }
  } catch {
    /* absent */
  }
  return { read, write };
}

/** One sample for the container with cgroup `/kiln/<id>` and init `pid`. */
export function sampleStats(id: string, pid: number): StatsSample {
  const path = `kiln/${id}`;
  const memDir = join(CG, 'memory', path);
  const stat = memoryStat(memDir);
  const usage = num(join(memDir, 'memory.usage_in_bytes'));
  let limit = num(join(memDir, 'memory.limit_in_bytes'));
  if (!limit || limit > totalmem()) limit = totalmem();
  const net = netDev(pid);
  const blk = blkio(join(CG, 'blkio', path));
  return {
    cpuUsage: num(join(CG, 'cpuacct', path, 'cpuacct.usage')),
    systemUsage: systemUsageNs(),
    onlineCpus: availableParallelism(),
    memUsage: Math.max(0, usage - (stat.total_inactive_file ?? 0)),
    memLimit: limit,
    netRx: net.rx,
    netTx: net.tx,
    blockRead: blk.read,
    blockWrite: blk.write,
    pids: num(join(CG, 'pids', path, 'pids.current')),
  };
}

/** Docker's CPU %: container CPU time over host CPU time between two samples, × CPUs. */
export function cpuPercent(prev: StatsSample, cur: StatsSample): number {
  const cpu = cur.cpuUsage - prev.cpuUsage;
  const sys = cur.systemUsage - prev.systemUsage;
  return sys > 0 && cpu > 0 ? (cpu / sys) * cur.onlineCpus * 100 : 0;
}
