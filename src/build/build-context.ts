// The build context of one build: the directory, its .dockerignore (or <Dockerfile>.dockerignore
// beside the Dockerfile), the files it lets through (walked once, lazily), and the selection of
// COPY/ADD sources with their content hashes for the cache key.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import type { Engine } from '../engine.js';
import { createIgnoreMatcher, parseIgnoreFile, type IgnoreMatcher } from '../dockerfile/dockerignore.js';
import { cleanPath, hasWildcards, matchPath } from '../dockerfile/gopath.js';
import { mkdirSync } from 'node:fs';
import { ContentHashCache, walkContext, type ContextEntry, type EntryType } from './context.js';
import type { SourceHash } from './cache-key.js';
import { mapLimit } from '../util/concurrency.js';

export interface CopyTop {
  abs: string;
  /** Where it lands relative to the destination ('' for a directory's contents). */
  destRel: string;
  type: EntryType;
}

export interface CopyEntry {
  abs: string;
  destRel: string;
  type: EntryType;
  /** A top-level archive (ADD extracts it instead of copying). */
  isTopArchive?: boolean;
  /** --parents: the entry's parent directories must be created first. */
  parentsToCreate?: boolean;
}

export interface CopySelection {
  tops: CopyTop[];
  /** Every entry to copy, parents before children. */
  entries: CopyEntry[];
  hashes: SourceHash[];
}

export class BuildContext {
  private entries?: Promise<ContextEntry[]>;
  private byPath?: Map<string, ContextEntry>;
  private readonly hashCache: ContentHashCache;
  readonly root: string;

  constructor(engine: Engine, root: string, private readonly dockerfilePath: string) {
    this.root = root;
    const dir = join(engine.root, 'build', 'context-hashes');
    mkdirSync(dir, { recursive: true });
    this.hashCache = new ContentHashCache(join(dir, `${createHash('sha256').update(root).digest('hex').slice(0, 32)}.json`));
  }

  /** .dockerignore rules: `<Dockerfile>.dockerignore` next to the Dockerfile wins over the context's. */
  private ignore(): IgnoreMatcher | null {
    for (const f of [`${this.dockerfilePath}.dockerignore`, join(this.root, '.dockerignore')]) {
      if (existsSync(f)) return createIgnoreMatcher(parseIgnoreFile(readFileSync(f, 'utf8')));
    }
    return null;
  }

  private async list(): Promise<ContextEntry[]> {
    this.entries ??= walkContext(this.root, this.ignore()).then((es) => {
      this.byPath = new Map(es.map((e) => [e.path, e]));
      return es;
    });
    return this.entries;
  }

  /**
   * Resolves COPY/ADD sources (wildcards as Go's filepath.Match, a directory meaning its contents)
   * against the context, applying --exclude, and hashes what was selected.
   */
  async selectForCopy(sources: string[], opts: { exclude: string[]; parents: boolean }): Promise<CopySelection> {
    const all = await this.list();
    const byPath = this.byPath!;
    const exclude = opts.exclude.length ? createIgnoreMatcher(opts.exclude) : null;
    const tops: CopyTop[] = [];
    const entries: CopyEntry[] = [];
    const seen = new Set<string>();
    const add = (e: CopyEntry) => {
      if (!seen.has(e.destRel + '\0' + e.abs)) {
        seen.add(e.destRel + '\0' + e.abs);
        entries.push(e);
      }
    };
    for (const src of sources) {
      const clean = cleanPath(src.replace(/^\/+/, '')).replace(/^\/+/, '') || '.';
      if (clean === '..' || clean.startsWith('../')) throw new Error(`failed to compute cache key: "${src}": not found: outside of the build context`);
      let matches: { path: string; type: EntryType }[];
      if (clean === '.') matches = [{ path: '', type: 'dir' }];
      else if (hasWildcards(clean)) {
        const depth = clean.split('/').length;
        matches = all.filter((e) => e.path.split('/').length === depth && matchPath(clean, e.path));
      } else {
        const e = byPath.get(clean);
        matches = e ? [e] : [];
      }
      if (matches.length === 0) throw new Error(`failed to compute cache key: failed to calculate checksum of ref: "/${clean}": not found`);
      // --exclude drops matched files, and filters what a matched directory contributes (the
      // directory itself is still created, as BuildKit does).
      for (const m of matches) {
        if (m.type !== 'dir' && exclude && (exclude.matches(m.path) || exclude.matches(posix.basename(m.path)))) continue;
        const abs = join(this.root, m.path);
        if (m.type === 'dir') {
          const destBase = opts.parents ? m.path : '';
          tops.push({ abs, destRel: destBase, type: 'dir' });
          if (opts.parents && m.path) add({ abs, destRel: m.path, type: 'dir', parentsToCreate: true });
          const prefix = m.path ? `${m.path}/` : '';
          for (const e of all) {
            if (!e.path.startsWith(prefix) || e.path === m.path) continue;
            const rel = e.path.slice(prefix.length);
            if (exclude?.matches(e.path) || exclude?.matches(rel)) continue;
            add({ abs: join(this.root, e.path), destRel: opts.parents ? e.path : rel, type: e.type });
          }
        } else {
          const destRel = opts.parents ? m.path : posix.basename(m.path);
          tops.push({ abs, destRel, type: m.type });
          add({ abs, destRel, type: m.type, isTopArchive: m.type === 'file', parentsToCreate: opts.parents });
        }
      }
    }
    const hashes = await mapLimit(entries, 32, async (e): Promise<SourceHash> => {
      const ce = byPath.get(e.abs.slice(this.root.length + 1));
      const hash = ce ? await this.hashCache.hash(this.root, ce) : '';
      return { path: e.destRel, mode: ce?.mode ?? 0, hash: `${e.type}:${hash}` };
    });
    hashes.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    return { tops, entries, hashes };
  }

  async close(): Promise<void> {
    await this.hashCache.save();
  }
}
