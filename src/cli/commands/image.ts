// `kiln image COMMAND`: ls/list, rm/remove, prune, tag, history, save, load, inspect — the same
// commands as the top-level ones, plus `image prune [-a] [-f] [--filter]` with Docker's output.
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import type { Engine } from '../../engine.js';
import type { Digest } from '../../image/types.js';
import { humanSize } from '../format/index.js';
import { defineHistory } from './history.js';
import { collect, containersUsing, defineImages, readConfig } from './images.js';
import { defineImageInspect } from './inspect.js';
import { defineLoad } from './load.js';
import { defineRmi, deleteImage, type DeleteRecord } from './rmi.js';
import { defineSave } from './save.js';
import { defineTag } from './tag.js';
import { confirm } from '../prompt.js';
import { pruneFilter } from '../filters.js';
import { familiarString, parseReference } from '../../image/reference.js';

export interface PruneImagesOptions {
  all?: boolean;
  filter?: string[];
}

/**
 * Docker's image prune: dangling images (no tag; not build-cache intermediates), or with `all`
 * every image no container uses. Returns the records and the bytes freed.
 */
export function pruneImages(engine: Engine, o: PruneImagesOptions = {}): { records: DeleteRecord[]; reclaimed: number } {
  const keep = pruneFilter(o.filter ?? []);
  const cache = new Set(engine.db.listCache().map((c) => c.imageId));
  const records: DeleteRecord[] = [];
  let reclaimed = 0;
  for (const rec of engine.db.listImages()) {
    const tags = engine.db.listTags(rec.id);
    if (!o.all && tags.length) continue;
    if (tags.length === 0 && cache.has(rec.id)) continue; // build cache: `builder prune`
    if (containersUsing(engine, rec.id).length) continue;
    const cfg = readConfig(engine, rec.id);
    if (!keep(cfg?.created ?? rec.created, cfg?.config?.Labels ?? {})) continue;
    for (const t of tags) {
      engine.untagImage(t.ref);
      records.push({ Untagged: familiarString(parseReference(t.ref)) });
    }
    const r = deleteImage(engine, rec.id as Digest);
    records.push(...r.records);
    reclaimed += r.reclaimed;
  }
  return { records, reclaimed };
}

function definePrune(cmd: Command, ctx: CliContext): Command {
  return cmd
    .description('Remove unused images')
    .option('-a, --all', 'remove all unused images, not just dangling ones')
    .option('-f, --force', 'do not prompt for confirmation')
    .option('--filter <filter>', "provide filter values (e.g. 'until=<timestamp>', 'label=<key>=<value>')", collect, [])
    .action(async (o: { all?: boolean; force?: boolean; filter: string[] }) => {
      if (!o.force) {
        const warning = o.all
          ? 'WARNING! This will remove all images without at least one container associated to them.'
          : 'WARNING! This will remove all dangling images.';
        if (!(await confirm(`${warning}\nAre you sure you want to continue?`))) return;
      }
      const { records, reclaimed } = pruneImages(ctx.engine(), o);
      let out = '';
      if (records.length) {
        out += 'Deleted Images:\n';
        for (const r of records) {
          if (r.Untagged) out += `untagged: ${r.Untagged}\n`;
          if (r.Deleted) out += `deleted: ${r.Deleted}\n`;
        }
        out += '\n';
      }
      out += `Total reclaimed space: ${humanSize(reclaimed)}\n`;
      process.stdout.write(out);
    });
}

export function register(program: Command, ctx: CliContext): void {
  const image = program.command('image').description('Manage images');
  defineImages(image.command('ls').alias('list'), ctx);
  defineRmi(image.command('rm').alias('remove'), ctx);
  definePrune(image.command('prune'), ctx);
  defineTag(image.command('tag'), ctx);
  defineHistory(image.command('history'), ctx);
  defineSave(image.command('save'), ctx);
  defineLoad(image.command('load'), ctx);
  defineImageInspect(image.command('inspect'), ctx);
}
