// `kiln rmi [-f] [--no-prune] IMAGE...` (also `kiln image rm|remove`) with Docker's rules:
//   - by tag: untag; the image itself goes only with its last tag. The last tag of an image a
//     container uses is kept unless -f.
//   - by ID: an image with one tag is untagged and deleted; with several tags it needs -f.
//   - a container using the image is a conflict: a stopped one can be forced past (its layers stay
//     reachable through the container, so it keeps working), a running one cannot.
// Output lines are Docker's `Untagged: app:latest` / `Deleted: sha256:…` (the image ID, then the
// chain IDs of the layers that went). Layers and blobs nothing else reaches are removed.
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import type { Engine } from '../../engine.js';
import { chainIds, shortId } from '../../image/digest.js';
import { familiarString, parseReference } from '../../image/reference.js';
import type { Digest } from '../../image/types.js';
import { ConflictError } from '../../store/errors.js';
import { otherSessions, reachable } from '../../store/gc.js';
import { removeTree } from '../../store/staging.js';
import { recordEvent } from '../../store/event-log.js';
import { containerRunning, containersUsing, readConfig } from './images.js';

export interface DeleteRecord {
  Untagged?: string;
  Deleted?: string;
}

export interface RemoveImageOptions {
  force?: boolean;
}

function familiar(ref: string): string {
  try {
    return familiarString(parseReference(ref));
  } catch {
    return ref;
  }
}

function conflict(id: Digest, hard: boolean, why: string): ConflictError {
  return new ConflictError(`conflict: unable to delete ${shortId(id)} (${hard ? 'cannot' : 'must'} be forced) - ${why}`);
}

/** Whether `arg` names the image by ID (full, or a prefix with or without sha256:). */
function isIdArg(arg: string, id: Digest): boolean {
  const s = arg.trim();
  if (s === id) return true;
  const hex = s.startsWith('sha256:') ? s.slice(7) : s;
  return /^[a-f0-9]+$/.test(hex) && id.slice(7).startsWith(hex);
}

/** Removes one image argument, Docker's way; returns the Untagged/Deleted records. */
export function removeImage(engine: Engine, arg: string, opts: RemoveImageOptions = {}): DeleteRecord[] {
  const force = opts.force === true;
  const id = engine.db.resolveImageId(arg);
  const records: DeleteRecord[] = [];
  const tagged = engine.db.getTag(arg);
  const byTag = tagged !== null && tagged.imageId === id && !(isIdArg(arg, id) && !arg.includes(':'));
  let tags = engine.db.listTags(id).map((t) => t.ref);
  const users = containersUsing(engine, id);
  const running = users.find(containerRunning);
  let quiet = false;
  if (byTag) {
    if (!force && tags.length === 1 && users.length > 0) {
      throw new ConflictError(
        `conflict: unable to remove repository reference ${JSON.stringify(arg)} (must force) - container ${shortId(users[0]!.id)} is using its referenced image ${shortId(id)}`,
      );
    }
    engine.untagImage(tagged!.ref);
    records.push({ Untagged: familiar(tagged!.ref) });
    tags = tags.filter((t) => t !== tagged!.ref);
    if (tags.length > 0) return records;
    quiet = true;
  } else if (tags.length === 1) {
    if (running) throw conflict(id, true, `image is being used by running container ${shortId(running.id)}`);
    if (!force && users.length) throw conflict(id, false, `image is being used by stopped container ${shortId(users[0]!.id)}`);
    engine.untagImage(tags[0]!);
    records.push({ Untagged: familiar(tags[0]!) });
    tags = [];
  }
  // imageDeleteHelper
  let problem: ConflictError | undefined;
  if (running) problem = conflict(id, true, `image is being used by running container ${shortId(running.id)}`);
  else if (!force && tags.length) problem = conflict(id, false, 'image is referenced in multiple repositories');
  else if (!force && users.length) problem = conflict(id, false, `image is being used by stopped container ${shortId(users[0]!.id)}`);
  if (problem) {
    if (quiet) return records; // the untag was the whole job: the image stays, used
    throw problem;
  }
  for (const t of tags) {
    engine.untagImage(t);
    records.push({ Untagged: familiar(t) });
  }
  records.push(...deleteImage(engine, id).records);
  return records;
}

/**
 * Deletes an image row, then the layers and blobs of that image nothing else reaches (other
 * images, the build cache, containers). Returns Docker's Deleted records and the bytes freed.
 *
 * Like gc, files only go when no other kiln command is running (a concurrent build may have the
 * image's layers mounted): the decision and the detaching of layers happen in one write
 * transaction, the slow removal after it. With other commands running, only the image row goes
 * and its files are left to a later prune.
 */
export function deleteImage(engine: Engine, id: Digest): { records: DeleteRecord[]; reclaimed: number } {
  recordEvent(engine.root, 'image', 'delete', id, { name: id });
  const config = readConfig(engine, id);
  const records: DeleteRecord[] = [{ Deleted: id }];
  let reclaimed = 0;
  const detached: string[] = [];
  engine.db.tx(() => {
    const rec = engine.db.getImage(id);
    engine.db.deleteImage(id);
    if (otherSessions(engine.db, engine.session).length > 0) return;
    const live = reachable(engine);
    const diffIds = config?.rootfs?.diff_ids ?? [];
    const chains = chainIds(diffIds);
    const removedDiffIds = new Set<Digest>();
    for (let i = chains.length - 1; i >= 0; i--) {
      const c = chains[i]!;
      if (live.chains.has(c)) continue;
      const layer = engine.db.getLayer(c);
      if (!layer) continue;
      const p = engine.layers.detach(c);
      if (p) detached.push(p);
      reclaimed += layer.contentSize;
      removedDiffIds.add(layer.diffId);
      records.push({ Deleted: c });
    }
    const dropBlob = (d: Digest): void => {
      if (live.blobs.has(d) || !engine.content.has(d)) return;
      reclaimed += engine.content.stat(d)?.size ?? 0;
      engine.content.remove(d);
    };
    // compressed forms of layers that are gone everywhere
    const liveDiffIds = new Set(engine.db.listLayers().map((l) => l.diffId));
    for (const d of removedDiffIds) {
      if (liveDiffIds.has(d)) continue;
      for (const b of engine.db.getLayerBlobs(d)) {
        engine.db.deleteLayerBlob(b.diffId, b.digest);
        if (!engine.db.findLayerBlob(b.digest)) dropBlob(b.digest);
      }
    }
    if (rec?.manifestDigest) dropBlob(rec.manifestDigest);
    dropBlob(id);
  });
  for (const p of detached) {
    try {
      removeTree(p);
    } catch {
      /* left in staging: the next sweep retries */
    }
  }
  return { records, reclaimed };
}

export function printRecords(records: readonly DeleteRecord[], out: { write(s: string): unknown } = process.stdout): void {
  for (const r of records) {
    if (r.Untagged) out.write(`Untagged: ${r.Untagged}\n`);
    if (r.Deleted) out.write(`Deleted: ${r.Deleted}\n`);
  }
}

/** Adds the `rmi` options and action to a command (`rmi`, `image rm`). */
export function defineRmi(cmd: Command, ctx: CliContext): Command {
  return cmd
    .description('Remove one or more images')
    .argument('<image...>', 'images to remove (name[:tag], ID or ID prefix)')
    .option('-f, --force', 'force removal of the image')
    .option('--no-prune', 'do not delete untagged parents (accepted for compatibility)')
    .action((images: string[], o: { force?: boolean }) => {
      const engine = ctx.engine();
      let failed = false;
      for (const img of images) {
        try {
          printRecords(removeImage(engine, img, { force: o.force }));
        } catch (e) {
          // like Docker: report each failure, go on with the rest, exit 1 at the end
          process.stderr.write(`Error: ${(e as Error).message}\n`);
          failed = true;
        }
      }
      if (failed) process.exitCode = 1;
    });
}

export function register(program: Command, ctx: CliContext): void {
  defineRmi(program.command('rmi'), ctx);
}
