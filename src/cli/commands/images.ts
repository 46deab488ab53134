// `kiln images [OPTIONS] [REPOSITORY[:TAG]]` (also `kiln image ls|list`), with Docker's table,
// -q, -a, --digests, --no-trunc, --filter, --format json|TEMPLATE. Also the helpers other image
// commands share: imageFacts() (what inspect shows) and the container-usage lookup.
import type { Command } from 'commander';
import { CliError, type CliContext } from '../context.js';
import type { Engine } from '../../engine.js';
import { chainIds, shortId } from '../../image/digest.js';
import { repoDigests, type ImageFacts } from '../../image/inspect.js';
import { familiarName, familiarString, parseReference } from '../../image/reference.js';
import type { Digest, ImageConfig } from '../../image/types.js';
import type { ContainerRecord, ImageRecord } from '../../store/db.js';
import { createdSince, formatList, goTimeString, humanSize, toTime } from '../format/index.js';

// ---------------------------------------------------------------- shared helpers

/** The image's config as stored (null if its blob is missing). */
export function readConfig(engine: Engine, id: Digest): ImageConfig | null {
  try {
    return engine.content.readJson<ImageConfig>(id);
  } catch {
    return null;
  }
}

/** Everything the inspect shaping needs about one stored image. */
export function imageFacts(engine: Engine, rec: ImageRecord, config: ImageConfig): ImageFacts {
  const tags = engine.db.listTags(rec.id);
  const diffIds = config.rootfs?.diff_ids ?? [];
  const dirs: string[] = [];
  for (const c of chainIds(diffIds)) if (engine.layers.has(c)) dirs.push(engine.layers.dir(c));
  const lastTag = tags.map((t) => t.created).sort().at(-1);
  return {
    id: rec.id,
    config,
    tags: tags.map((t) => t.ref),
    manifestDigest: rec.manifestDigest,
    repoDigests: engine.db.listRepoDigests(rec.id),
    size: rec.size,
    lastTagTime: lastTag ?? null,
    layerDirs: dirs.length === diffIds.length ? dirs : [],
  };
}

/** Normalizes a container's image reference to a Digest for comparison. */
function containerImage(c: ContainerRecord): string {
  const id = String(c.imageId ?? '');
  return /^[a-f0-9]{64}$/.test(id) ? `sha256:${id}` : id;
}

/** Best knowledge of whether a container is running, from its recorded state. */
export function containerRunning(c: ContainerRecord): boolean {
  const s = c.state as Record<string, unknown> | null;
  if (!s || typeof s !== 'object') return false;
  if (s.Running === true || s.running === true || s.Paused === true) return true;
  const st = String(s.Status ?? s.status ?? '').toLowerCase();
  return st === 'running' || st === 'paused' || st === 'restarting';
}

/** Containers created from an image. */
export function containersUsing(engine: Engine, id: Digest): ContainerRecord[] {
  return engine.db.listContainers().filter((c) => containerImage(c) === id);
}

/**
 * When an image was made: its config's `created`, or (a config without one) the time of its
 * newest history entry.
 */
export function createdOf(config: ImageConfig | null): number | undefined {
  const t = toTime(config?.created);
  if (t !== undefined) return t;
  let newest: number | undefined;
  for (const h of config?.history ?? []) {
    const x = toTime(h.created);
    if (x !== undefined && (newest === undefined || x > newest)) newest = x;
  }
  return newest;
}

/** Image IDs the build cache refers to (untagged ones are intermediate images, hidden without -a). */
function cacheImageIds(engine: Engine): Set<string> {
  return new Set(engine.db.listCache().map((c) => c.imageId));
}

// ---------------------------------------------------------------- listing

export interface ImageRow {
  Containers: string;
  CreatedAt: string;
  CreatedSince: string;
  Digest: string;
  ID: string;
  Repository: string;
  SharedSize: string;
  Size: string;
  Tag: string;
  UniqueSize: string;
  VirtualSize: string;
}

export const IMAGE_HEADERS = {
  Containers: 'CONTAINERS',
  CreatedAt: 'CREATED AT',
  CreatedSince: 'CREATED',
  Digest: 'DIGEST',
  ID: 'IMAGE ID',
  Repository: 'REPOSITORY',
  SharedSize: 'SHARED SIZE',
  Size: 'SIZE',
  Tag: 'TAG',
  UniqueSize: 'UNIQUE SIZE',
  VirtualSize: 'VIRTUAL SIZE',
};

export interface ImagesOptions {
  all?: boolean;
  digests?: boolean;
  filter?: string[];
  format?: string;
  trunc?: boolean;
  quiet?: boolean;
}

/** Go's path.Match for reference patterns (`*`, `?`, `[…]`; `*` does not cross `/`). */
export function pathMatch(pattern: string, s: string): boolean {
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end < 0) return false;
      let cls = pattern.slice(i + 1, end);
      if (cls.startsWith('^')) cls = '^' + cls.slice(1);
      re += `[${cls.replace(/\\/g, '\\\\')}]`;
      i = end;
    } else if (c === '\\' && i + 1 < pattern.length) re += '\\' + pattern[++i];
    else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  try {
    return new RegExp(re + '$').test(s);
  } catch {
    return false;
  }
}

/** Docker's reference filter: the pattern matches the familiar `repo:tag` or `repo`, or the full name. */
function referenceMatches(pattern: string, ref: string): boolean {
  const r = parseReference(ref);
  const fam = familiarString(r);
  const name = familiarName(r);
  if (pathMatch(pattern, fam) || pathMatch(pattern, name) || pathMatch(pattern, ref)) return true;
  // a pattern with an explicit default domain or library/ prefix
  try {
    const p = parseReference(pattern);
    if (!/[*?[]/.test(pattern)) {
      const hasTag = pattern.lastIndexOf(':') > pattern.lastIndexOf('/');
      return hasTag ? familiarString(p) === fam : familiarName(p) === name;
    }
  } catch {
    /* a pattern, not a reference */
  }
  return false;
}

interface Filters {
  dangling?: boolean;
  reference: string[];
  label: string[];
  before?: number;
  since?: number;
}

function parseFilters(engine: Engine, list: readonly string[]): Filters {
  const f: Filters = { reference: [], label: [] };
  for (const raw of list) {
    const eq = raw.indexOf('=');
    if (eq < 0) throw new CliError(`bad format of filter (expected name=value)`);
    const key = raw.slice(0, eq).toLowerCase();
    const value = raw.slice(eq + 1);
    switch (key) {
      case 'dangling':
        if (!['true', 'false', '1', '0'].includes(value.toLowerCase())) throw new CliError(`invalid filter 'dangling=${value}'`);
        f.dangling = ['true', '1'].includes(value.toLowerCase());
        break;
      case 'reference':
        f.reference.push(value);
        break;
      case 'label':
        f.label.push(value);
        break;
      case 'before':
      case 'since': {
        const id = engine.db.resolveImageId(value);
        const t = createdOf(readConfig(engine, id)) ?? 0;
        if (key === 'before') f.before = t;
        else f.since = t;
        break;
      }
      default:
        throw new CliError(`invalid filter '${key}'`);
    }
  }
  return f;
}

/** The rows `docker images` would print, newest image first. */
export function imageRows(engine: Engine, repoArg: string | undefined, o: ImagesOptions): ImageRow[] {
  const filters = parseFilters(engine, o.filter ?? []);
  if (repoArg) filters.reference.push(repoArg);
  const intermediate = o.all ? new Set<string>() : cacheImageIds(engine);
  const trunc = o.trunc !== false;
  const images: { rec: ImageRecord; config: ImageConfig | null; created: number | undefined }[] = engine.db.listImages().map((rec) => {
    const config = readConfig(engine, rec.id);
    return { rec, config, created: createdOf(config) };
  });
  images.sort((a, b) => (b.created ?? 0) - (a.created ?? 0) || (a.rec.id < b.rec.id ? -1 : 1));
  const used = new Set(engine.db.listContainers().map((c) => containerImage(c)));
  const rows: ImageRow[] = [];
  const now = Date.now();
  for (const { rec, config, created } of images) {
    const tags = engine.db.listTags(rec.id).map((t) => t.ref);
    const dangling = tags.length === 0;
    if (dangling && intermediate.has(rec.id) && !used.has(rec.id)) continue;
    if (filters.dangling !== undefined && filters.dangling !== dangling) continue;
    if (filters.before !== undefined && !((created ?? 0) < filters.before)) continue;
    if (filters.since !== undefined && !((created ?? 0) > filters.since)) continue;
    if (filters.label.length) {
      const labels = config?.config?.Labels ?? {};
      const ok = filters.label.every((l) => {
        const i = l.indexOf('=');
        return i < 0 ? l in labels : labels[l.slice(0, i)] === l.slice(i + 1);
      });
      if (!ok) continue;
    }
    let shown = tags;
    if (filters.reference.length) {
      shown = tags.filter((t) => filters.reference.some((p) => referenceMatches(p, t)));
      if (shown.length === 0) continue;
    }
    const digests = repoDigests(engine.db.listRepoDigests(rec.id));
    const base = {
      Containers: 'N/A',
      // Docker keeps an image's creation time in whole seconds (time.Unix(created, 0).String()).
      CreatedAt: created !== undefined ? goTimeString(new Date(Math.floor(created / 1000) * 1000)) : '',
      CreatedSince: createdSince(created, now),
      ID: trunc ? shortId(rec.id) : rec.id,
      SharedSize: 'N/A',
      Size: humanSize(rec.size),
      UniqueSize: 'N/A',
      VirtualSize: humanSize(rec.size),
    };
    if (shown.length === 0) {
      rows.push({ ...base, Repository: '<none>', Tag: '<none>', Digest: '<none>' });
      continue;
    }
    for (const t of [...shown].sort()) {
      const r = parseReference(t);
      const name = familiarName(r);
      const d = digests.find((x) => x.startsWith(`${name}@`));
      rows.push({ ...base, Repository: name, Tag: r.tag ?? '<none>', Digest: d ? d.slice(name.length + 1) : '<none>' });
    }
  }
  return rows;
}

export function formatImages(rows: readonly ImageRow[], o: ImagesOptions): string {
  const def = o.digests
    ? 'table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}'
    : 'table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}';
  let format = o.format;
  if (o.quiet && (!format || format === 'table')) format = '{{.ID}}';
  return formatList(rows, { format, defaultFormat: def, headers: IMAGE_HEADERS });
}

/** Adds the `images` options and action to a command (`images`, `image ls`). */
export function defineImages(cmd: Command, ctx: CliContext): Command {
  return cmd
    .description('List images')
    .argument('[repository]', 'only images of this repository (REPOSITORY[:TAG], wildcards allowed)')
    .option('-a, --all', 'show all images (default hides intermediate images)')
    .option('--digests', 'show digests')
    .option('-f, --filter <filter>', 'filter output based on conditions (dangling, reference, label, before, since)', collect, [])
    .option('--format <format>', "format output: 'table', 'table TEMPLATE', 'json' or a Go template")
    .option('--no-trunc', "don't truncate output")
    .option('-q, --quiet', 'only show image IDs')
    .action((repo: string | undefined, o: { all?: boolean; digests?: boolean; filter: string[]; format?: string; trunc: boolean; quiet?: boolean }) => {
      const engine = ctx.engine();
      const rows = imageRows(engine, repo, o);
      process.stdout.write(formatImages(rows, o));
    });
}

export function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}

export function register(program: Command, ctx: CliContext): void {
  defineImages(program.command('images'), ctx);
}
