// `kiln builder prune`: the build cache (step key → intermediate image) and what only it keeps
// alive. `--keep-storage` keeps the most recently used entries up to a size (a cache size cap);
// `-a` also removes the cache mounts (RUN --mount=type=cache) and the build network sandbox.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { CliError } from '../context.js';
import type { ImageConfig } from '../../image/types.js';
import { removeBuildSandbox } from '../../build/build-network.js';

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1e3, kb: 1e3, m: 1e6, mb: 1e6, g: 1e9, gb: 1e9, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3 };

export function parseSize(s: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(s.trim());
  const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) throw new CliError(`invalid size ${JSON.stringify(s)}: use e.g. 500MB or 2GB`);
  return Math.round(Number(m[1]) * unit);
}

function human(n: number): string {
  const u = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1000 && i < u.length - 1) (n /= 1000), i++;
  return `${i ? n.toFixed(3 - Math.floor(Math.log10(n) + 1) < 0 ? 0 : 3 - Math.floor(Math.log10(n) + 1)) : n}${u[i]}`;
}

export function register(program: Command, ctx: CliContext): void {
  const builder = program.command('builder').description('Manage the build cache');
  builder
    .command('prune')
    .description('Remove build cache')
    .option('-a, --all', 'also remove cache mounts and the build network sandbox')
    .option('-f, --force', 'do not prompt for confirmation')
    .option('--keep-storage <size>', 'keep the most recently used cache up to this size')
    .action(async (o: { all?: boolean; keepStorage?: string }) => {
      const engine = ctx.engine();
      const keep = o.keepStorage !== undefined ? parseSize(o.keepStorage) : 0;
      // Most recently used first: those are the ones a cap keeps.
      const entries = engine.db.listCache().reverse();
      let kept = 0;
      const doomed: string[] = [];
      for (const e of entries) {
        let size = 0;
        try {
          const cfg = engine.content.readJson<ImageConfig>(e.imageId);
          size = engine.layers.sizeOf(cfg.rootfs.diff_ids.slice(-1));
        } catch {
          /* config or layer already gone: the entry is useless anyway */
        }
        if (keep > 0 && kept + size <= keep) kept += size;
        else doomed.push(e.key);
      }
      engine.db.tx(() => {
        for (const k of doomed) engine.db.deleteCache(k);
      });
      const report = engine.prune();
      if (o.all) {
        rmSync(join(engine.root, 'cache-mounts'), { recursive: true, force: true });
        await removeBuildSandbox(engine);
      }
      process.stdout.write(`Deleted build cache objects: ${doomed.length}\nTotal reclaimed space: ${human(report.reclaimedBytes)}\n`);
    });
}
