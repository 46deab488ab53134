// `kiln info` (also `system info`), `kiln system df` and `kiln system prune`: Docker's view of the
// whole state directory — how much images, containers, volumes and build cache hold, and one
// command to reclaim what nothing uses.
import { existsSync } from 'node:fs';
import { cpus, hostname, totalmem } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { CliError, type CliContext } from '../context.js';
import type { Engine } from '../../engine.js';
import type { Digest } from '../../image/types.js';
import { chainIds } from '../../image/digest.js';
import { containerPaths, listContainers, pruneContainers } from '../../runtime/containers.js';
import { diskUsage, Volumes } from '../../runtime/volumes.js';
import { defaultRuntimeName, ociRuntime, runtimeUnavailable, RUNTIME_NAMES } from '../../runtime/runtime-select.js';
import { goArch, kernelVersion, kilnVersion, operatingSystem, toolVersion } from '../about.js';
import { createdSince, formatList, formatObject, goJson, humanSize } from '../format/index.js';
import { confirm } from '../prompt.js';
import { IMAGE_HEADERS, containersUsing, imageRows, readConfig, type ImageRow } from './images.js';
import { psRow } from './ps.js';
import { shortId } from '../../image/digest.js';
import { pruneImages } from './image.js';
import { pruneFilter } from '../filters.js';
import { pruneNetworks } from './network.js';
import { pruneBuildCache } from './builder.js';

// ---------------------------------------------------------------- info

async function infoData(engine: Engine) {
  const containers = await listContainers(engine);
  const count = (s: string) => containers.filter((c) => c.state.status === s).length;
  const runtimes: Record<string, { path: string; version: string }> = {};
  for (const name of RUNTIME_NAMES) {
    if (runtimeUnavailable(name) === undefined) runtimes[name] = { path: ociRuntime(name).binary, version: toolVersion(name) };
  }
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
    DefaultRuntime: defaultRuntimeName() as string,
    Runtimes: runtimes,
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
    ` Default Runtime: ${i.DefaultRuntime}${i.Runtimes[i.DefaultRuntime]?.version ? ` (${i.Runtimes[i.DefaultRuntime]!.version})` : ''}`,
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

/**
 * `system df -v`: Docker's four tables. An image's shared size is what its layers hold that another
 * image's also do; a container's size is its writable layer; a cache entry's is the layer its step
 * added (shared when an image holds it too).
 */
interface VerboseUsage {
  /** Docker's JSON: one array per table */
  tables: { Images: ImageRow[]; Containers: Record<string, string>[]; Volumes: Record<string, string>[]; BuildCache: Record<string, string>[] };
  /** what the build cache alone holds */
  cacheBytes: number;
}

async function diskUsageVerbose(engine: Engine): Promise<VerboseUsage> {
  const layerSize = (chain: Digest) => engine.db.getLayer(chain)?.contentSize ?? 0;
  const rows = imageRows(engine, undefined, { trunc: false });
  const chainsOf = new Map<string, Digest[]>();
  for (const id of new Set(rows.map((r) => r.ID))) chainsOf.set(id, chainIds(readConfig(engine, id as Digest)?.rootfs.diff_ids ?? []));
  const users = new Map<Digest, number>();
  for (const chains of chainsOf.values()) for (const c of chains) users.set(c, (users.get(c) ?? 0) + 1);
  const Images = rows.map((r) => {
    const chains = chainsOf.get(r.ID)!;
    const total = chains.reduce((n, c) => n + layerSize(c), 0);
    const shared = chains.filter((c) => (users.get(c) ?? 0) > 1).reduce((n, c) => n + layerSize(c), 0);
    return { ...r, ID: shortId(r.ID), SharedSize: humanSize(shared), UniqueSize: humanSize(total - shared), Containers: String(containersUsing(engine, r.ID as Digest).length) };
  });
  const now = Date.now();
  const Containers = (await listContainers(engine)).map((c) => ({ ...psRow(c, { now }), Size: humanSize(diskUsage(containerPaths(engine, c.id).upper)) }));
  const vols = new Volumes(engine);
  const volumeRows = vols.list().map((v) => ({ Name: v.name, Links: String(vols.usedBy(v.name).length), Size: humanSize(diskUsage(join(engine.root, 'volumes', v.name))) }));
  let cacheBytes = 0;
  const BuildCache = engine.db.listCache().map((e) => {
    const chains = chainIds(readConfig(engine, e.imageId)?.rootfs.diff_ids ?? []);
    const own = chains[chains.length - 1];
    const shared = own !== undefined && users.has(own);
    const size = own !== undefined ? layerSize(own) : 0;
    if (!shared) cacheBytes += size;
    return { ID: e.key.replace(/^sha256:/, '').slice(0, 12), CacheType: 'regular', Size: humanSize(size), CreatedSince: createdSince(e.created, now), LastUsedSince: createdSince(e.lastUsed, now), Shared: String(shared) };
  });
  return { tables: { Images, Containers, Volumes: volumeRows, BuildCache }, cacheBytes };
}

function formatDiskUsageVerbose({ tables: u, cacheBytes }: VerboseUsage): string {
  const table = (rows: readonly object[], format: string, headers: Record<string, string>) => formatList(rows, { defaultFormat: format, headers });
  return [
    'Images space usage:\n\n',
    table(u.Images, 'table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}', IMAGE_HEADERS),
    '\nContainers space usage:\n\n',
    table(u.Containers, 'table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t{{.RunningFor}}\t{{.Status}}\t{{.Names}}', {
      ID: 'CONTAINER ID', Image: 'IMAGE', Command: 'COMMAND', LocalVolumes: 'LOCAL VOLUMES', Size: 'SIZE', RunningFor: 'CREATED', Status: 'STATUS', Names: 'NAMES',
    }),
    '\nLocal Volumes space usage:\n\n',
    table(u.Volumes, 'table {{.Name}}\t{{.Links}}\t{{.Size}}', { Name: 'VOLUME NAME', Links: 'LINKS', Size: 'SIZE' }),
    `\nBuild cache usage: ${humanSize(cacheBytes)}\n\n`,
    table(u.BuildCache, 'table {{.ID}}\t{{.CacheType}}\t{{.Size}}\t{{.CreatedSince}}\t{{.LastUsedSince}}\t{{.Shared}}', {
      ID: 'CACHE ID', CacheType: 'CACHE TYPE', Size: 'SIZE', CreatedSince: 'CREATED', LastUsedSince: 'LAST USED', Shared: 'SHARED',
    }),
  ].join('');
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
    .option('-v, --verbose', 'show detailed information on space usage')
    .action(async (o: { format?: string; verbose?: boolean }) => {
      if (o.verbose) {
        if (o.format !== undefined && o.format !== 'json') throw new CliError('--format with --verbose: only json');
        const u = await diskUsageVerbose(ctx.engine());
        process.stdout.write(o.format === 'json' ? goJson(u.tables, { sortKeys: true }) + '\n' : formatDiskUsageVerbose(u));
        return;
      }
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
