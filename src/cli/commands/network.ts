// `kiln network create|ls|inspect|rm|prune|connect|disconnect`: CNI bridge networks (conflists in <state>/networks/).
import type { Command } from 'commander';
import { CliError, type CliContext } from '../context.js';
import { formatInspect, formatList, templateErrorMessage } from '../format/index.js';
import { Networks, type NetworkInfo } from '../../runtime/network.js';
import { connectNetwork, disconnectNetwork, listContainers } from '../../runtime/containers.js';
import { confirm } from '../prompt.js';
import { groupFilters } from '../filters.js';
import type { Engine } from '../../engine.js';

const collect = (v: string, prev: string[] = []) => [...prev, v];

export function inspectJson(nets: Networks, n: NetworkInfo) {
  const containers: Record<string, unknown> = {};
  for (const ep of nets.endpoints(n.name)) {
    containers[ep.containerId] = {
      Name: ep.name,
      EndpointID: ep.containerId,
      MacAddress: ep.mac ?? '',
      IPv4Address: `${ep.ip}/${ep.prefixLen}`,
      IPv6Address: '',
    };
  }
  return {
    Name: n.name,
    Id: n.id,
    Created: n.created,
    Scope: 'local',
    Driver: n.driver,
    EnableIPv6: false,
    IPAM: { Driver: 'host-local', Options: {}, Config: [{ Subnet: n.subnet, Gateway: n.gateway }] },
    Internal: n.internal,
    Attachable: false,
    Ingress: false,
    ConfigOnly: false,
    Containers: containers,
    Options: { 'com.docker.network.bridge.name': n.bridge },
    Labels: n.labels,
  };
}

/** Removes the networks no container uses (never the default one); returns their names. */
export async function pruneNetworks(engine: Engine): Promise<string[]> {
  const used = new Set((await listContainers(engine)).flatMap((c) => [c.config.networkMode, ...(c.config.connectedNetworks ?? []).map((n) => n.name)]));
  const n = new Networks(engine.root);
  const removed: string[] = [];
  for (const info of n.list()) {
    if (info.name === 'kiln' || used.has(info.name) || n.endpoints(info.name).length) continue;
    await n.remove(info.name);
    removed.push(info.name);
  }
  return removed;
}

interface ListedNetwork {
  id: string;
  name: string;
  driver: string;
  internal: boolean;
  labels: Record<string, string>;
  created: string;
  builtin: boolean;
}

/**
 * `network ls --filter`, with Docker's rules: values of one key match if any does, keys must all
 * match. name is a substring, id a prefix; dangling asks whether a container uses the network.
 */
async function networkFilter(specs: string[], usedBy: () => Promise<(n: ListedNetwork) => boolean>): Promise<(n: ListedNetwork) => boolean> {
  const byKey = groupFilters(specs);
  const used = byKey.has('dangling') ? await usedBy() : undefined;
  const tests: ((n: ListedNetwork) => boolean)[] = [];
  for (const [k, vals] of byKey) {
    const one = (test: (n: ListedNetwork, v: string) => boolean) => tests.push((n) => vals.some((v) => test(n, v)));
    if (k === 'name') one((n, v) => n.name.includes(v));
    else if (k === 'id') one((n, v) => n.id.startsWith(v));
    else if (k === 'driver') one((n, v) => n.driver === v);
    else if (k === 'scope') one((_, v) => v === 'local');
    else if (k === 'label') one((n, v) => (v.includes('=') ? n.labels[v.slice(0, v.indexOf('='))] === v.slice(v.indexOf('=') + 1) : v in n.labels));
    else if (k === 'type') {
      for (const v of vals) if (v !== 'custom' && v !== 'builtin') throw new CliError(`invalid filter: 'type'='${v}'`);
      one((n, v) => (v === 'builtin') === n.builtin);
    } else if (k === 'dangling') {
      for (const v of vals) if (!['true', 'false', '1', '0'].includes(v)) throw new CliError(`invalid filter 'dangling=${v}'`);
      // As in Docker, the predefined networks are never dangling.
      one((n, v) => (n.builtin ? false : !used!(n)) === (v === 'true' || v === '1'));
    } else throw new CliError(`invalid filter '${k}'`);
  }
  return (n) => tests.every((t) => t(n));
}

export function register(program: Command, ctx: CliContext): void {
  const network = program.command('network').description('Manage networks');
  const nets = () => new Networks(ctx.engine().root);
  network
    .command('connect')
    .description('Connect a container to a network')
    .argument('<network>')
    .argument('<container>')
    .option('--alias <alias>', 'add a network-scoped alias for the container; repeatable', collect, [])
    .option('--ip <address>', 'IPv4 address on the network (e.g. 10.5.0.10)')
    .action(async (net: string, container: string, o: { alias: string[]; ip?: string }) => {
      try {
        await connectNetwork(ctx.engine(), container, net, { aliases: o.alias, ...(o.ip ? { ip: o.ip } : {}) });
      } catch (e) {
        throw new CliError((e as Error).message);
      }
    });
  network
    .command('disconnect')
    .description('Disconnect a container from a network')
    .argument('<network>')
    .argument('<container>')
    .option('-f, --force', 'force the container to disconnect from a network')
    .action(async (net: string, container: string) => {
      try {
        await disconnectNetwork(ctx.engine(), container, net);
      } catch (e) {
        throw new CliError((e as Error).message);
      }
    });
  network
    .command('create')
    .description('Create a network')
    .argument('<name>')
    .option('-d, --driver <driver>', 'driver to manage the network (bridge)', 'bridge')
    .option('--internal', 'restrict external access to the network')
    .option('--label <k=v>', 'set metadata on a network; repeatable', collect, [])
    .option('--subnet <cidr>', 'subnet in CIDR format (default: a free /24 of 10.213.0.0/16)')
    .option('--gateway <ip>', 'IPv4 gateway for the subnet (default: its first address)')
    .option('--attachable', 'accepted for compatibility (in Docker it concerns swarm overlay networks)')
    .option('--ipv6', 'enable IPv6 networking (not supported)')
    .option('-o, --opt <k=v>', 'driver options: com.docker.network.bridge.name is not supported; repeatable', collect, [])
    .action((name: string, o: { driver: string; internal?: boolean; label: string[]; subnet?: string; gateway?: string; ipv6?: boolean; opt: string[] }) => {
      if (o.gateway !== undefined && o.subnet === undefined) throw new CliError('no matching subnet for gateway: --gateway needs --subnet');
      if (o.ipv6) throw new CliError('IPv6 networks are not supported by kiln');
      if (o.opt.length) throw new CliError(`network driver options (${o.opt.join(', ')}) are not supported by kiln's bridge driver`);
      if (o.driver !== 'bridge') throw new CliError(`plugin "${o.driver}" not found`);
      const labels = Object.fromEntries(o.label.map((kv) => [kv.split('=')[0]!, kv.slice(kv.indexOf('=') + 1)]));
      try {
        process.stdout.write(`${nets().create(name, { internal: o.internal, labels, subnet: o.subnet, gateway: o.gateway }).id}\n`);
      } catch (e) {
        throw new CliError((e as Error).message);
      }
    });
  network
    .command('ls')
    .alias('list')
    .description('List networks')
    .option('-q, --quiet', 'only display network IDs')
    .option('--no-trunc', 'do not truncate the output')
    .option('--format <fmt>', "'table', 'json' or a Go template")
    .option('-f, --filter <k=v>', 'filter: name, id, driver, label, scope, type=custom|builtin, dangling=true|false; repeatable', collect, [])
    .action(async (o: { quiet?: boolean; trunc: boolean; format?: string; filter: string[] }) => {
      const short = (id: string) => (o.trunc === false ? id : id.slice(0, 12));
      const n = nets();
      const all: ListedNetwork[] = [
        ...n.list().map((x) => ({ id: x.id, name: x.name, driver: x.driver, internal: x.internal, labels: x.labels, created: x.created, builtin: x.name === 'kiln' })),
        { id: 'host'.padEnd(64, '0'), name: 'host', driver: 'host', internal: false, labels: {}, created: '', builtin: true },
        { id: 'none'.padEnd(64, '0'), name: 'none', driver: 'null', internal: false, labels: {}, created: '', builtin: true },
      ];
      const usedBy = async () => {
        const modes = new Set((await listContainers(ctx.engine())).flatMap((c) => [c.config.networkMode, ...(c.config.connectedNetworks ?? []).map((n) => n.name)]));
        return (x: ListedNetwork) => modes.has(x.name) || (x.name === 'kiln' && (modes.has('bridge') || modes.has('default'))) || (x.driver === 'bridge' && n.endpoints(x.name).length > 0);
      };
      const keep = await networkFilter(o.filter, usedBy);
      const rows = all
        .filter(keep)
        .map((x) => ({ ID: short(x.id), Name: x.name, Driver: x.driver, Scope: 'local', Internal: String(x.internal), Labels: Object.entries(x.labels).map(([k, v]) => `${k}=${v}`).join(','), CreatedAt: x.created }))
        .sort((a, b) => a.Name.localeCompare(b.Name));
      try {
        process.stdout.write(
          formatList(rows, {
            format: o.format,
            quiet: o.quiet,
            quietFormat: '{{.ID}}',
            defaultFormat: 'table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}',
            headers: { ID: 'NETWORK ID' },
          }),
        );
      } catch (e) {
        throw new CliError(templateErrorMessage(e) ?? (e as Error).message);
      }
    });
  network
    .command('inspect')
    .description('Display detailed information on one or more networks')
    .argument('<networks...>')
    .option('-f, --format <fmt>', 'format the output using the given Go template')
    .action((names: string[], o: { format?: string }) => {
      const n = nets();
      const items = names.map((name) => {
        const info = n.get(name);
        if (!info) throw new CliError(`network ${name} not found`);
        return inspectJson(n, info);
      });
      process.stdout.write(formatInspect(items, o.format));
    });
  network
    .command('rm')
    .alias('remove')
    .description('Remove one or more networks')
    .argument('<networks...>')
    .action(async (names: string[]) => {
      const n = nets();
      await listContainers(ctx.engine()); // settle containers that ended: their endpoints go
      let failed = 0;
      for (const name of names) {
        try {
          await n.remove(name);
          process.stdout.write(`${name}\n`);
        } catch (e) {
          failed++;
          process.stderr.write(`Error response from daemon: ${(e as Error).message}\n`);
        }
      }
      if (failed) process.exitCode = 1;
    });
  network
    .command('prune')
    .description('Remove all unused networks')
    .option('-f, --force', 'do not prompt for confirmation')
    .action(async (o: { force?: boolean }) => {
      if (!o.force && !(await confirm('WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue?'))) return;
      const removed = await pruneNetworks(ctx.engine());
      if (removed.length) process.stdout.write(`Deleted Networks:\n${removed.join('\n')}\n`);
    });
}
