// `kiln stats [--no-stream] [-a] [--format …] [CONTAINER…]`: CPU, memory, network, block I/O and
// pids from each container's cgroups, Docker's columns and units.
import type { Command } from 'commander';
import { CliError, type CliContext } from '../context.js';
import { formatList, humanSize, templateErrorMessage } from '../format/index.js';
import { getContainer, listContainers, type Container } from '../../runtime/containers.js';
import { cpuPercent, sampleStats, type StatsSample } from '../../runtime/stats.js';

/** go-units BytesSize: binary units, "1.02MiB". */
export function bytesSize(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${Number(n.toPrecision(3))}${units[i]}`;
}

function row(c: Container, prev: StatsSample | undefined, cur: StatsSample | undefined, noTrunc?: boolean): Record<string, string> {
  const live = cur !== undefined;
  const pct = (v: number) => `${v.toFixed(2)}%`;
  return {
    ID: noTrunc ? c.id : c.id.slice(0, 12),
    Container: noTrunc ? c.id : c.id.slice(0, 12),
    Name: c.name,
    CPUPerc: live && prev ? pct(cpuPercent(prev, cur)) : live ? '0.00%' : '--',
    MemUsage: live ? `${bytesSize(cur.memUsage)} / ${bytesSize(cur.memLimit)}` : '-- / --',
    MemPerc: live ? pct(cur.memLimit ? (cur.memUsage / cur.memLimit) * 100 : 0) : '--',
    NetIO: live ? `${humanSize(cur.netRx)} / ${humanSize(cur.netTx)}` : '--',
    BlockIO: live ? `${humanSize(cur.blockRead)} / ${humanSize(cur.blockWrite)}` : '--',
    PIDs: live ? String(cur.pids) : '--',
  };
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('stats')
    .description('Display a live stream of container(s) resource usage statistics')
    .argument('[containers...]')
    .option('-a, --all', 'show all containers (default shows just running)')
    .option('--no-stream', 'disable streaming stats and only pull the first result')
    .option('--no-trunc', "don't truncate output")
    .option('--format <fmt>', "'table', 'table TEMPLATE', 'json' or a Go template")
    .action(async (names: string[], o: { all?: boolean; stream: boolean; trunc: boolean; format?: string }) => {
      const engine = ctx.engine();
      const pick = async () => {
        const all = names.length ? await Promise.all(names.map((n) => getContainer(engine, n))) : await listContainers(engine);
        return names.length || o.all ? all : all.filter((c) => c.state.status === 'running' || c.state.status === 'paused');
      };
      const sample = (c: Container) => (c.state.status === 'running' || c.state.status === 'paused' ? sampleStats(c.id, c.state.pid) : undefined);
      let prev = new Map<string, StatsSample | undefined>();
      for (const c of await pick()) prev.set(c.id, sample(c));
      for (let first = true; ; first = false) {
        await new Promise((r) => setTimeout(r, first ? 500 : 1000));
        const list = await pick();
        const next = new Map<string, StatsSample | undefined>();
        const rows = list.map((c) => {
          const cur = sample(c);
          next.set(c.id, cur);
          return row(c, prev.get(c.id), cur, o.trunc === false);
        });
        prev = next;
        let out: string;
        try {
          out = formatList(rows, {
            format: o.format,
            defaultFormat: 'table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}',
            headers: { ID: 'CONTAINER ID', Container: 'CONTAINER', CPUPerc: 'CPU %', MemUsage: 'MEM USAGE / LIMIT', MemPerc: 'MEM %', NetIO: 'NET I/O', BlockIO: 'BLOCK I/O', PIDs: 'PIDS' },
          });
        } catch (e) {
          throw new CliError(templateErrorMessage(e) ?? (e as Error).message);
        }
        if (o.stream && process.stdout.isTTY) process.stdout.write('\x1b[2J\x1b[H');
        process.stdout.write(out);
        if (!o.stream) return;
      }
    });
}
