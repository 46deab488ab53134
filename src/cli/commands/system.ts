// `kiln info` (also `system info`), `kiln system df` and `kiln system prune`: Docker's view of the
// whole state directory — how much images, containers, volumes and build cache hold, and one
// command to reclaim what nothing uses.
import { existsSync } from 'node:fs';
import { cpus, hostname, totalmem } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import type { Engine } from '../../engine.js';
import type { Digest } from '../../image/types.js';
import { chainIds } from '../../image/digest.js';
import { containerPaths, listContainers, pruneContainers } from '../../runtime/containers.js';
import { diskUsage, Volumes } from '../../runtime/volumes.js';
import { goArch, kernelVersion, kilnVersion, operatingSystem, toolVersion } from '../about.js';
import { formatList, formatObject, humanSize } from '../format/index.js';
import { confirm } from '../prompt.js';
import { readConfig } from './images.js';
import { pruneImages } from './image.js';
import { pruneFilter } from '../filters.js';
import { pruneNetworks } from './network.js';
import { pruneBuildCache } from './builder.js';

// ---------------------------------------------------------------- info

async function infoData(engine: Engine) {
  const containers = await listContainers(engine);
  const count = (s: string) => containers.filter((c) => c.state.status === s).length;
  const runtime = toolVersion('runc');
  return {
    ID: engine.root,
    Containers: containers.length,
    ContainersRunning: count('running'),
    ContainersPaused: count('paused'),
    ContainersStopped: containers.length - count('running') - count('paused'),
    Images: engine.db.listImages().length,
    Driver: 'overlay',
    DriverStatus: [['Backing Filesystem', 'overlayfs'], ['Native Overlay Diff', 'true']],
    Plugins: { Volume: ['local'], Network: ['bridge', 'host', 'null'] },
    CgroupDriver: 'cgroupfs',
    CgroupVersion: existsSync('/sys/fs/cgroup/cgroup.controllers') ? '2' : '1',
    KernelVersion: kernelVersion(),
    OperatingSystem: operatingSystem(),
    OSType: 'linux',
    Architecture: goArch(),
    NCPU: cpus().length,
    MemTotal: totalmem(),
    DockerRootDir: engine.root,
    Name: hostname(),
    ServerVersion: kilnVersion(),
    DefaultRuntime: 'runc',
    Runtimes: { runc: { path: 'runc', version: runtime } },
    SecurityOptions: ['name=seccomp,profile=builtin'],
  };
}

function infoText(i: Awaited<ReturnType<typeof infoData>>): string {
  return [
    'Client: kiln',
    ` Version:    ${i.ServerVersion}`,
    ` Node.js:    ${process.version}`,
    '',
    'Engine (daemonless):',
    ` Containers: ${i.Containers}`,
    `  Running: ${i.ContainersRunning}`,
    `  Paused: ${i.ContainersPaused}`,
    `  Stopped: ${i.ContainersStopped}`,
    ` Images: ${i.Images}`,
    ` Storage Driver: ${i.Driver}`,
    ...i.DriverStatus.map(([k, v]) => `  ${k}: ${v}`),
    ` Cgroup Driver: ${i.CgroupDriver}`,
    ` Cgroup Version: ${i.CgroupVersion}`,
    ` Plugins:`,
    `  Volume: ${i.Plugins.Volume.join(' ')}`,
    `  Network: ${i.Plugins.Network.join(' ')}`,
    ` Runtimes: ${Object.keys(i.Runtimes).join(' ')}`,
    ` Default Runtime: ${i.DefaultRuntime}${i.Runtimes.runc.version ? ` (${i.Runtimes.runc.version})` : ''}`,
    ` Security Options:`,
    ...i.SecurityOptions.map((s) => `  ${s.replace(/^name=/, '').replace(/,profile=/, '\n   Profile: ')}`),
    ` Kernel Version: ${i.KernelVersion}`,
    ` Operating System: ${i.OperatingSystem}`,
    ` OSType: ${i.OSType}`,
    ` Architecture: ${i.Architecture}`,
    ` CPUs: ${i.NCPU}`,
    ` Total Memory: ${humanSize(i.MemTotal)}`,
    ` Name: ${i.Name}`,
    ` Kiln Root Dir: ${i.DockerRootDir}`,
    '',
  ].join('\n');
}

function defineInfo(cmd: Command, ctx: CliContext): Command {
  return cmd
    .description('Display system-wide information')
    .option('-f, --format <format>', "format the output using a Go template or 'json'")
    .action(async (o: { format?: string }) => {
      const data = await infoData(ctx.engine());
      if (o.format) return void process.stdout.write(formatObject(data, o.format));
      process.stdout.write(infoText(data));
    });
}

// ---------------------------------------------------------------- df

export interface DiskUsageRow {
  Type: string;
  TotalCount: number;
  Active: number;
  Size: string;
  Reclaimable: string;
}

const pct = (part: number, whole: number) => `${humanSize(part)} (${whole ? Math.round((part / whole) * 100) : 0}%)`;

/** Docker's `system df` summary: shared layers are counted once, as on disk. */
export async function diskUsageRows(engine: Engine): Promise<DiskUsageRow[]> {
  const containers = await listContainers(engine);
  const usedImages = new Set(containers.map((c) => c.config.imageId));
  const cached = new Set(engine.db.listCache().map((e) => e.imageId));
  const layerSize = (chain: Digest) => engine.db.getLayer(chain)?.contentSize ?? 0;

  // Images (build cache intermediates are counted under Build Cache, as Docker does).
  const all = new Set<Digest>();
  const active = new Set<Digest>();
  let imageCount = 0;
  let activeCount = 0;
  for (const rec of engine.db.listImages()) {
    if (cached.has(rec.id) && engine.db.listTags(rec.id).length === 0) continue;
    const chains = chainIds(readConfig(engine, rec.id as Digest)?.rootfs.diff_ids ?? []);
    imageCount++;
    chains.forEach((c) => all.add(c));
    if (usedImages.has(rec.id)) {
      activeCount++;
      chains.forEach((c) => active.add(c));
    }
  }
  const sum = (s: Iterable<Digest>) => [...s].reduce((n, c) => n + layerSize(c), 0);
  const imagesSize = sum(all);
  const imagesReclaimable = imagesSize - sum(active);

  // Containers: their writable layers.
  let ctrSize = 0;
  let ctrReclaimable = 0;
  let running = 0;
  for (const c of containers) {
    const size = diskUsage(containerPaths(engine, c.id).upper);
    ctrSize += size;
    if (c.state.status === 'running' || c.state.status === 'paused') running++;
    else ctrReclaimable += size;
  }

  // Volumes.
  const vols = new Volumes(engine);
  let volSize = 0;
  let volReclaimable = 0;
  let volActive = 0;
  const volumes = vols.list();
  for (const v of volumes) {
    const size = diskUsage(join(engine.root, 'volumes', v.name));
    volSize += size;
    if (vols.usedBy(v.name).length) volActive++;
    else volReclaimable += size;
  }

  // Build cache: each entry's own (last) layer, unless an image also holds it.
  let cacheSize = 0;
  const cacheEntries = engine.db.listCache();
  const seen = new Set<Digest>(all);
  for (const e of cacheEntries) {
    const chains = chainIds(readConfig(engine, e.imageId as Digest)?.rootfs.diff_ids ?? []);
    const own = chains[chains.length - 1];
    if (own && !seen.has(own)) {
      seen.add(own);
      cacheSize += layerSize(own);
    }
  }

  return [
    { Type: 'Images', TotalCount: imageCount, Active: activeCount, Size: humanSize(imagesSize), Reclaimable: pct(imagesReclaimable, imagesSize) },
    { Type: 'Containers', TotalCount: containers.length, Active: running, Size: humanSize(ctrSize), Reclaimable: pct(ctrReclaimable, ctrSize) },
    { Type: 'Local Volumes', TotalCount: volumes.length, Active: volActive, Size: humanSize(volSize), Reclaimable: pct(volReclaimable, volSize) },
    { Type: 'Build Cache', TotalCount: cacheEntries.length, Active: 0, Size: humanSize(cacheSize), Reclaimable: humanSize(cacheSize) },
  ];
}

// ---------------------------------------------------------------- prune

interface SystemPruneOptions {
  all?: boolean;
  force?: boolean;
  volumes?: boolean;
  filter: string[];
}

async function systemPrune(engine: Engine, o: SystemPruneOptions): Promise<string> {
  let out = '';
  let reclaimed = 0;
  const section = (title: string, lines: string[]) => {
    if (lines.length) out += `${title}:\n${lines.join('\n')}\n\n`;
  };
  const keep = pruneFilter(o.filter);
  const ctrs = await pruneContainers(engine, {}, (c) => keep(c.created, c.config.labels));
  section('Deleted Containers', ctrs.removed);
  reclaimed += ctrs.reclaimed;
  section('Deleted Networks', await pruneNetworks(engine));
  if (o.volumes) {
    const v = new Volumes(engine).prune();
    section('Deleted Volumes', v.removed);
    reclaimed += v.reclaimed;
  }
  // The cache first: the step images it drops are then no longer held by it.
  const cache = await pruneBuildCache(engine, { all: o.all });
  if (cache.entries) out += `Deleted build cache objects: ${cache.entries}\n\n`;
  reclaimed += cache.reclaimed;
  const images = pruneImages(engine, { all: o.all, filter: o.filter });
  section(
    'Deleted Images',
    images.records.flatMap((r) => [...(r.Untagged ? [`untagged: ${r.Untagged}`] : []), ...(r.Deleted ? [`deleted: ${r.Deleted}`] : [])]),
  );
  reclaimed += images.reclaimed;
  return `${out}Total reclaimed space: ${humanSize(reclaimed)}\n`;
}

function prunePrompt(o: SystemPruneOptions): string {
  return [
    'WARNING! This will remove:',
    '  - all stopped containers',
    '  - all networks not used by at least one container',
    ...(o.volumes ? ['  - all anonymous volumes not used by at least one container'] : []),
    o.all ? '  - all images without at least one container associated to them' : '  - all dangling images',
    o.all ? '  - all build cache' : '  - unused build cache',
    '',
    'Are you sure you want to continue?',
  ].join('\n');
}

export function register(program: Command, ctx: CliContext): void {
  defineInfo(program.command('info'), ctx);
  const system = program.command('system').description('Manage kiln');
  defineInfo(system.command('info'), ctx);
  system
    .command('df')
    .description('Show kiln disk usage')
    .option('--format <format>', "format the output using a Go template or 'json'")
    .action(async (o: { format?: string }) => {
      const rows = await diskUsageRows(ctx.engine());
      process.stdout.write(
        formatList(rows, {
          format: o.format,
          defaultFormat: 'table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}',
          headers: { TotalCount: 'TOTAL', Reclaimable: 'RECLAIMABLE' },
        }),
      );
    });
  system
    .command('prune')
    .description('Remove unused data')
    .option('-a, --all', 'remove all unused images and all build cache, not just dangling ones')
    .option('-f, --force', 'do not prompt for confirmation')
    .option('--volumes', 'prune anonymous volumes')
    .option('--filter <filter>', "provide filter values (e.g. 'until=<timestamp>', 'label=<key>=<value>'); repeatable", (v: string, p: string[]) => [...p, v], [])
    .action(async (o: SystemPruneOptions) => {
      if (!o.force && !(await confirm(prunePrompt(o)))) return;
      process.stdout.write(await systemPrune(ctx.engine(), o));
    });
}
