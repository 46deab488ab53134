// `kiln logs [-f] [--tail N] [-t] [--since T] [--until T] CONTAINER`
import type { Command } from 'commander';
import { CliError, type CliContext } from '../context.js';
import { containerPaths, getContainer } from '../../runtime/containers.js';
import { readLogs } from '../../runtime/logs.js';

/** Docker's --since/--until: RFC 3339, a Unix timestamp, or a duration before now (10m, 1h30m). */
export function parseTime(v: string | undefined, now = Date.now()): number | undefined {
  if (v === undefined) return undefined;
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v) * 1000;
  const d = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(v);
  if (d && v) return now - ((Number(d[1] ?? 0) * 60 + Number(d[2] ?? 0)) * 60 + Number(d[3] ?? 0)) * 1000;
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new CliError(`invalid value for "since": ${v}`);
  return t;
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('logs')
    .description('Fetch the logs of a container')
    .argument('<container>')
    .option('-f, --follow', 'follow log output')
    .option('-n, --tail <n>', 'number of lines to show from the end of the logs', 'all')
    .option('-t, --timestamps', 'show timestamps')
    .option('--since <t>', 'show logs since timestamp or relative (e.g. 42m)')
    .option('--until <t>', 'show logs before a timestamp or relative (e.g. 42m)')
    .option('--details', 'show extra details provided to logs (kiln\'s log file keeps none: no effect)')
    .action(async (name: string, o: { follow?: boolean; tail: string; timestamps?: boolean; since?: string; until?: string }) => {
      const engine = ctx.engine();
      const c = await getContainer(engine, name);
      const tail = o.tail === 'all' ? undefined : Number(o.tail);
      if (tail !== undefined && !Number.isInteger(tail)) throw new CliError(`invalid value for "tail": ${o.tail}`);
      await readLogs(containerPaths(engine, c.id).log, {
        follow: o.follow,
        tail: tail !== undefined && tail < 0 ? undefined : tail,
        timestamps: o.timestamps,
        since: parseTime(o.since),
        until: parseTime(o.until),
        running: async () => {
          const now = await getContainer(engine, c.id);
          return now.state.status === 'running' || now.state.status === 'paused' || now.state.status === 'restarting';
        },
        write: (stream, text) => (stream === 'stdout' ? process.stdout : process.stderr).write(text),
      });
    });
}
