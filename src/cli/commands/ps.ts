// `kiln ps [-a] [-q] [-n N] [-l] [--no-trunc] [--filter K=V] [--format json|TEMPLATE]`: Docker's
// columns and JSON fields; every state is checked against the runtime (no spawn per container).
import type { Command } from 'commander';
import { CliError, type CliContext } from '../context.js';
import { formatList, humanDuration, humanSize, templateErrorMessage } from '../format/index.js';
import type { Engine } from '../../engine.js';
import type { Digest } from '../../image/types.js';
import { containerPaths, listContainers, ZERO_TIME, type Container } from '../../runtime/containers.js';
import { diskUsage } from '../../runtime/volumes.js';
import { portsText } from '../../runtime/inspect.js';

const collect = (v: string, prev: string[] = []) => [...prev, v];

/** Docker's STATUS column: "Up 3 seconds", "Exited (0) 5 minutes ago", "Created". */
export function statusText(c: Container, now = Date.now()): string {
  const s = c.state;
  const ago = (t: string) => humanDuration(Math.max(0, now - Date.parse(t)));
  switch (s.status) {
    case 'running': {
      const h = s.health?.Status;
      return `Up ${ago(s.startedAt)}${h === 'starting' ? ' (health: starting)' : h ? ` (${h})` : ''}`;
    }
    case 'paused':
      return `Up ${ago(s.startedAt)} (Paused)`;
    case 'restarting':
      return `Restarting (${s.exitCode}) ${ago(s.finishedAt)} ago`;
    case 'exited':
      return s.finishedAt === ZERO_TIME ? `Exited (${s.exitCode})` : `Exited (${s.exitCode}) ${ago(s.finishedAt)} ago`;
    case 'created':
      return 'Created';
    case 'removing':
      return 'Removal In Progress';
    default:
      return 'Dead';
  }
}

/** One row with the fields of Docker's container formatter (`--format '{{.Names}}'`, json). */
export function psRow(c: Container, opts: { noTrunc?: boolean; now?: number } = {}): Record<string, string> {
  let command = [...c.config.entrypoint, ...c.config.cmd].join(' ');
  if (!opts.noTrunc && command.length > 20) command = command.slice(0, 19) + '…';
  const now = opts.now ?? Date.now();
  return {
    Command: JSON.stringify(command),
    CreatedAt: new Date(c.created).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' +0000 UTC'),
    ID: opts.noTrunc ? c.id : c.id.slice(0, 12),
    Image: c.config.image,
    Labels: Object.entries(c.config.labels)
      .map(([k, v]) => `${k}=${v}`)
      .join(','),
    LocalVolumes: String(c.config.mounts.filter((m) => m.type === 'volume').length),
    Mounts: c.config.mounts.map((m) => (m.type === 'volume' ? m.name!.slice(0, 15) : (m.source ?? m.destination))).join(','),
    Names: c.name,
    Networks: [c.config.networkMode, ...(c.config.connectedNetworks ?? []).map((n) => n.name)].join(','),
    Ports: portsText(c),
    RunningFor: `${humanDuration(Math.max(0, now - Date.parse(c.created)))} ago`,
    Size: '0B',
    State: c.state.status,
    Status: statusText(c, now),
  };
}

/** One `--filter KEY=VALUE` against one container. */
function matchOne(c: Container, k: string, v: string, all: Container[]): boolean {
  switch (k) {
    case 'status':
      if (!['created', 'restarting', 'running', 'removing', 'paused', 'exited', 'dead'].includes(v)) throw new CliError(`invalid filter 'status=${v}'`);
      return c.state.status === v;
    case 'name':
      return new RegExp(v).test(c.name);
    case 'id':
      return c.id.startsWith(v);
    case 'label': {
      const j = v.indexOf('=');
      const [lk, lv] = j < 0 ? [v, undefined] : [v.slice(0, j), v.slice(j + 1)];
      return lk in c.config.labels && (lv === undefined || c.config.labels[lk] === lv);
    }
    case 'ancestor':
      return c.config.image === v || c.config.imageId.includes(v);
    case 'exited':
      return c.state.status === 'exited' && String(c.state.exitCode) === v;
    case 'network':
      return c.config.networkMode === v || (v === 'bridge' && c.config.networkMode === 'kiln') || !!c.config.connectedNetworks?.some((n) => n.name === v);
    case 'volume':
      return c.config.mounts.some((m) => m.name === v || m.source === v || m.destination === v);
    case 'health':
      return (c.state.health?.Status ?? 'none') === v;
    case 'before':
    case 'since': {
      const ref = all.find((x) => x.id.startsWith(v) || x.name === v);
      if (!ref) throw new CliError(`No such container: ${v}`);
      return k === 'before' ? c.created < ref.created : c.created > ref.created;
    }
    default:
      throw new CliError(`invalid filter '${k}'`);
  }
}

/** Docker's rule: filters with different keys must all match; several values of one key, any. */
function matches(c: Container, filters: string[], all: Container[]): boolean {
  const byKey = new Map<string, string[]>();
  for (const f of filters) {
    const i = f.indexOf('=');
    const [k, v] = i < 0 ? [f, ''] : [f.slice(0, i), f.slice(i + 1)];
    byKey.set(k, [...(byKey.get(k) ?? []), v]);
  }
  for (const [k, vs] of byKey) if (!vs.some((v) => matchOne(c, k, v, all))) return false;
  return true;
}

export interface PsOptions {
  all?: boolean;
  quiet?: boolean;
  last?: string;
  latest?: boolean;
  noTrunc?: boolean;
  size?: boolean;
  filter: string[];
  format?: string;
}

export async function ps(engine: Engine, o: PsOptions): Promise<string> {
  const all = await listContainers(engine);
  let list = all.filter((c) => matches(c, o.filter, all));
  const n = o.latest ? 1 : o.last !== undefined ? Number(o.last) : -1;
  if (!o.all && n < 0 && !o.filter.some((f) => f.startsWith('status=') || f.startsWith('exited='))) {
    list = list.filter((c) => c.state.status === 'running' || c.state.status === 'paused' || c.state.status === 'restarting');
  }
  if (n >= 0) list = list.slice(0, n);
  const now = Date.now();
  // As Docker's CLI: sizes are computed for -s, or when the template asks for them.
  const withSize = !!o.size || /\.Size\b/.test(o.format ?? '');
  const sized = (c: Container, row: Record<string, string>) => {
    if (!withSize) return row;
    const rw = diskUsage(containerPaths(engine, c.id).upper);
    const image = engine.db.getImage(c.config.imageId as Digest)?.size ?? 0;
    return { ...row, Size: `${humanSize(rw)} (virtual ${humanSize(rw + image)})` };
  };
  try {
    return formatList(
      list.map((c) => sized(c, psRow(c, { noTrunc: o.noTrunc, now }))),
      {
        format: o.format,
        quiet: o.quiet,
        quietFormat: '{{.ID}}',
        defaultFormat: `table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}${o.size ? '\t{{.Size}}' : ''}`,
        headers: { ID: 'CONTAINER ID', RunningFor: 'CREATED', CreatedAt: 'CREATED AT' },
      },
    );
  } catch (e) {
    const msg = templateErrorMessage(e);
    if (msg) throw new CliError(msg);
    throw e;
  }
}

export function addPsOptions(cmd: Command): Command {
  return cmd
    .option('-a, --all', 'show all containers (default shows just running)')
    .option('-q, --quiet', 'only display container IDs')
    .option('-n, --last <n>', 'show n last created containers (includes all states)')
    .option('-l, --latest', 'show the latest created container (includes all states)')
    .option('--no-trunc', "don't truncate output")
    .option('-s, --size', 'display total file sizes (writable layer, and virtual: with the image)')
    .option('-f, --filter <k=v>', 'filter output: status, name, id, label, ancestor, exited, network, volume, health, before, since; repeatable', collect, [])
    .option('--format <fmt>', "'table', 'table TEMPLATE', 'json' or a Go template");
}

export function register(program: Command, ctx: CliContext): void {
  addPsOptions(program.command('ps').description('List containers')).action(async (o: PsOptions & { trunc?: boolean }) => {
    process.stdout.write(await ps(ctx.engine(), { ...o, noTrunc: o.trunc === false }));
  });
}
