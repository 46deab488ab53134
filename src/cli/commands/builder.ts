// `kiln builder prune`: the build cache (step key → intermediate image) and what only it keeps
// alive. `--keep-storage` keeps the most recently used entries up to a size (a cache size cap);
// `-a` also removes the cache mounts (RUN --mount=type=cache) and the build network sandbox.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import type { Engine } from '../../engine.js';
import { CliError } from '../context.js';
import { removeReplayRecords } from '../../build/replay-record.js';
import { pruneBuildCache as pruneCacheEntries } from '../../store/gc.js';
import { removeBuildSandbox } from '../../build/build-network.js';
import { getContainer } from '../../runtime/containers.js';
import * as cfg from '../../build/image-config.js';
import { processWords } from '../../dockerfile/shell-lex.js';
import { shortId } from '../../image/digest.js';
import { parseBytes } from '../../runtime/volumes.js';
import { humanSize } from '../format/index.js';
import { readWorkingConfig, workingCommit, workingCopy, workingFrom, workingList, workingMount, workingMounts, workingRemove, workingRun, workingUnmount, writeWorkingConfig } from '../../build/working-container.js';

const collect = (v: string, prev: string[]) => [...prev, v];

/** Buildah's --cmd/--entrypoint: a JSON array as is, otherwise words (cmd) or a shell command (entrypoint). */
function commandValue(v: string, shellForm: boolean): string[] {
  if (v.trim().startsWith('[')) {
    const parsed: unknown = JSON.parse(v);
    if (Array.isArray(parsed) && parsed.every((x) => typeof x === 'string')) return parsed as string[];
    throw new CliError(`invalid command ${JSON.stringify(v)}: expected a JSON array of strings`);
  }
  return shellForm ? ['/bin/sh', '-c', v] : processWords(v, {});
}

/**
 * `builder prune` (and `system prune`): the cache entries (all, or all but the most recently used
 * up to `keep` bytes) with their step images, then what only they kept alive; `all` also removes
 * the cache mounts and the build sandbox.
 */
export async function pruneBuildCache(engine: Engine, o: { all?: boolean; keep?: number } = {}): Promise<{ entries: number; reclaimed: number }> {
  const removed = pruneCacheEntries(engine, { keepBytes: o.keep });
  const report = engine.prune();
  removeReplayRecords(engine.root); // stale once their entries are gone (and checked anyway)
  if (o.all) {
    rmSync(join(engine.root, 'cache-mounts'), { recursive: true, force: true });
    await removeBuildSandbox(engine);
  }
  return { entries: removed.length, reclaimed: report.reclaimedBytes };
}

export function register(program: Command, ctx: CliContext): void {
  const builder = program.command('builder').description('Build images step by step (Buildah style) and manage the build cache');
  builder
    .command('from')
    .description('Create a working container from an image; prints its name')
    .argument('<image>')
    .option('--name <name>', 'name of the working container')
    .action(async (image: string, o: { name?: string }) => {
      const c = await workingFrom(ctx.engine(), image, o.name);
      process.stdout.write(`${c.name}\n`);
    });
  builder
    .command('run')
    .description('Run a command in a working container (its changes stay in the container)')
    .argument('<container>')
    .argument('<command...>')
    .option('--network <mode>', 'default, none or host', 'default')
    .option('-t, --tty', 'allocate a terminal')
    .action(async (name: string, command: string[], o: { network: 'default' | 'none' | 'host'; tty?: boolean }) => {
      const engine = ctx.engine();
      const code = await workingRun(engine, await getContainer(engine, name), command, { network: o.network, tty: !!o.tty });
      process.exitCode = code;
    });
  builder
    .command('config')
    .description("Change a working container's image configuration")
    .argument('<container>')
    .option('--env <k=v>', 'set an environment variable; repeatable', collect, [])
    .option('--cmd <cmd>', 'default command (JSON array or words)')
    .option('--entrypoint <cmd>', 'entrypoint (JSON array or a shell command)')
    .option('--workingdir <dir>', 'working directory')
    .option('--user <user>', 'user[:group]')
    .option('--label <k=v>', 'add a label; repeatable', collect, [])
    .option('--port <port>', 'expose a port; repeatable', collect, [])
    .option('--volume <path>', 'declare a volume; repeatable', collect, [])
    .option('--stop-signal <sig>', 'stop signal')
    .option('--author <author>', 'image author')
    .action(async (name: string, o: { env: string[]; cmd?: string; entrypoint?: string; workingdir?: string; user?: string; label: string[]; port: string[]; volume: string[]; stopSignal?: string; author?: string }) => {
      const engine = ctx.engine();
      const c = await getContainer(engine, name);
      const config = readWorkingConfig(engine, c);
      const kv = (s: string): [string, string] => (s.includes('=') ? [s.slice(0, s.indexOf('=')), s.slice(s.indexOf('=') + 1)] : [s, '']);
      if (o.env.length) cfg.setEnv(config, o.env.map(kv));
      if (o.cmd !== undefined) cfg.setCmd(config, commandValue(o.cmd, false));
      if (o.entrypoint !== undefined) cfg.setEntrypoint(config, commandValue(o.entrypoint, true), o.cmd !== undefined);
      if (o.workingdir !== undefined) cfg.cc(config).WorkingDir = o.workingdir;
      if (o.user !== undefined) cfg.cc(config).User = o.user;
      if (o.label.length) cfg.addLabels(config, o.label.map(kv));
      if (o.port.length) cfg.addExposed(config, o.port);
      if (o.volume.length) cfg.addVolumes(config, o.volume);
      if (o.stopSignal !== undefined) cfg.cc(config).StopSignal = o.stopSignal;
      if (o.author !== undefined) config.author = o.author;
      writeWorkingConfig(engine, c, config);
    });
  builder
    .command('copy')
    .description('Copy files from the host into a working container')
    .argument('<container>')
    .argument('<paths...>', 'SRC... DEST')
    .action(async (name: string, paths: string[]) => {
      if (paths.length < 2) throw new CliError('builder copy needs at least one source and a destination');
      const engine = ctx.engine();
      await workingCopy(engine, await getContainer(engine, name), paths.slice(0, -1), paths[paths.length - 1]!);
    });
  builder
    .command('commit')
    .description('Create an image from a working container')
    .argument('<container>')
    .argument('[image]')
    .action(async (name: string, image: string | undefined) => {
      const engine = ctx.engine();
      const id = await workingCommit(engine, await getContainer(engine, name), image);
      process.stdout.write(`${id}\n`);
    });
  builder
    .command('ls')
    .description('List working containers')
    .option('-q, --quiet', 'only IDs')
    .action(async (o: { quiet?: boolean }) => {
      const engine = ctx.engine();
      const list = await workingList(engine);
      if (o.quiet) {
        process.stdout.write(list.map((c) => `${c.id.slice(0, 12)}\n`).join(''));
        return;
      }
      const rows = [['CONTAINER ID', 'IMAGE ID', 'IMAGE NAME', 'CONTAINER NAME'], ...list.map((c) => [c.id.slice(0, 12), shortId(c.config.imageId), c.config.image, c.name])];
      const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
      process.stdout.write(rows.map((r) => r.map((x, i) => x.padEnd(widths[i]!)).join('  ').trimEnd() + '\n').join(''));
    });
  builder
    .command('mount')
    .description("Mount a working container's root filesystem and print where (none given: list the mounted ones)")
    .argument('[containers...]')
    .action(async (names: string[]) => {
      const engine = ctx.engine();
      if (names.length === 0) {
        for (const m of await workingMounts(engine)) process.stdout.write(`${m.container.name} ${m.path}\n`);
        return;
      }
      for (const n of names) {
        const path = await workingMount(engine, await getContainer(engine, n));
        process.stdout.write(names.length > 1 ? `${n} ${path}\n` : `${path}\n`);
      }
    });
  builder
    .command('umount')
    .alias('unmount')
    .description("Unmount a working container's root filesystem")
    .argument('[containers...]')
    .option('-a, --all', 'unmount every mounted working container')
    .action(async (names: string[], o: { all?: boolean }) => {
      const engine = ctx.engine();
      if (!o.all && names.length === 0) throw new CliError('at least one container name or --all is needed');
      const targets = o.all ? (await workingMounts(engine)).map((m) => m.container) : await Promise.all(names.map((n) => getContainer(engine, n)));
      for (const c of targets) {
        await workingUnmount(engine, c);
        process.stdout.write(`${c.id}\n`);
      }
    });
  builder
    .command('rm')
    .description('Remove working containers')
    .argument('<containers...>')
    .action(async (names: string[]) => {
      const engine = ctx.engine();
      for (const n of names) {
        const c = await getContainer(engine, n);
        await workingRemove(engine, c);
        process.stdout.write(`${c.id}\n`);
      }
    });
  builder
    .command('prune')
    .description('Remove build cache')
    .option('-a, --all', 'also remove cache mounts and the build network sandbox')
    .option('-f, --force', 'do not prompt for confirmation')
    .option('--keep-storage <size>', 'keep the most recently used cache up to this size')
    .action(async (o: { all?: boolean; keepStorage?: string }) => {
      const keep = o.keepStorage !== undefined ? parseBytes(o.keepStorage) : 0;
      const r = await pruneBuildCache(ctx.engine(), { all: o.all, keep });
      process.stdout.write(`Deleted build cache objects: ${r.entries}\nTotal reclaimed space: ${humanSize(r.reclaimed)}\n`);
    });
}
