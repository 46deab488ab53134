// Walking a list of context entries the way tonistiigi/fsutil walks a directory tree:
// lexical order within each directory, parents before children, with include patterns
// (only matching paths and the directories leading to them) and exclude patterns
// (.dockerignore semantics: an excluded directory is skipped unless an exception pattern
// could re-include something below it).
//
// Entries are plain data ({ path, type }) so this stays free of I/O: the caller lists the
// context (or a stage's root filesystem) and passes the list in. Lists of 100k+ entries are
// expected (node_modules), so the index sorts once and answers "everything below X" with a
// binary search.

import { createIgnoreMatcher, type IgnoreMatcher } from './dockerignore.js';
import { cleanPath, matchPath } from './gopath.js';

export type EntryType = 'file' | 'dir' | 'symlink';

export interface ContextEntry {
  /** Slash-separated path relative to the context root ("a/b.txt"; "./a" and "/a" are accepted). */
  path: string;
  type: EntryType;
  /** Symlinks: the link target as stored (needed to follow links in COPY sources). */
  target?: string;
}

/** Clean an entry path to the canonical relative form; '.' is the root. */
export function normalizeEntryPath(p: string): string {
  if (p !== '' && p[0] !== '/' && cleanPath(p) === p) return p; // already canonical
  const c = cleanPath('/' + p);
  return c === '/' ? '.' : c.slice(1);
}

// Walk order compares segment by segment ("a/b" before "a-c"). Mapping '/' to U+0000, which
// sorts before every other character, turns that into a plain string comparison.
function walkKey(path: string): string {
  return path.includes('/') ? path.replaceAll('/', '\u0000') : path;
}

/** Walk order of two relative paths. */
export function compareWalkOrder(a: string, b: string): number {
  const x = walkKey(a);
  const y = walkKey(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Entries by canonical path, with the parent directories a list leaves implicit. */
export class EntryIndex {
  private readonly byPath = new Map<string, ContextEntry>();
  private readonly sorted: ContextEntry[];
  private readonly keys: string[];

  constructor(entries: readonly ContextEntry[]) {
    this.byPath.set('.', { path: '.', type: 'dir' });
    for (const e of entries) {
      const path = normalizeEntryPath(e.path);
      if (path === '.') continue;
      this.byPath.set(path, path === e.path ? e : { ...e, path });
    }
    for (const path of [...this.byPath.keys()]) {
      let parent = path;
      for (let i = parent.lastIndexOf('/'); i >= 0; i = parent.lastIndexOf('/')) {
        parent = parent.slice(0, i);
        if (this.byPath.has(parent)) break;
        this.byPath.set(parent, { path: parent, type: 'dir' });
      }
    }
    this.byPath.delete('.');
    const all = [...this.byPath.values()];
    const keys = all.map((e) => walkKey(e.path));
    const order = keys.map((_, i) => i).sort((a, b) => (keys[a]! < keys[b]! ? -1 : keys[a]! > keys[b]! ? 1 : 0));
    this.keys = order.map((i) => keys[i]!);
    this.sorted = order.map((i) => all[i]!);
    this.byPath.set('.', { path: '.', type: 'dir' });
  }

  get(path: string): ContextEntry | undefined {
    return this.byPath.get(path);
  }

  /** Entries strictly below `root` ('.' for everything), in walk order, paths relative to root. */
  below(root: string): ContextEntry[] {
    if (root === '.') return [...this.sorted];
    const prefix = walkKey(root) + '\u0000';
    let lo = 0;
    let hi = this.keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.keys[mid]! < prefix) lo = mid + 1;
      else hi = mid;
    }
    const out: ContextEntry[] = [];
    const cut = root.length + 1;
    for (let i = lo; i < this.keys.length && this.keys[i]!.startsWith(prefix); i++) {
      const e = this.sorted[i]!;
      out.push({ ...e, path: e.path.slice(cut) });
    }
    return out;
  }
}

export interface WalkFilter {
  /** Keep only paths matching one of these (and the directories leading to them). */
  include?: readonly string[];
  /** Drop paths matching these (.dockerignore rules, '!' re-includes). */
  exclude?: readonly string[] | IgnoreMatcher;
}

export interface WalkedEntry extends ContextEntry {
  /** A directory kept only because something below it is included. */
  implicit?: boolean;
}

/**
 * Filter entries (relative paths, any order; parent directories a list leaves out are
 * implied) like fsutil's walker. Returns the kept entries in walk order; directories that
 * are only on the way to an included path are emitted right before their first kept
 * descendant and marked implicit.
 */
export function filterWalk(entries: readonly ContextEntry[] | EntryIndex, filter: WalkFilter = {}): WalkedEntry[] {
  const include = filter.include && filter.include.length > 0 ? createIgnoreMatcher(filter.include) : undefined;
  const includePatterns = include ? include.patterns.map((p) => p.pattern) : [];
  const exclude =
    filter.exclude === undefined
      ? undefined
      : Array.isArray(filter.exclude)
        ? createIgnoreMatcher(filter.exclude as readonly string[])
        : (filter.exclude as IgnoreMatcher);

  const walk = (entries instanceof EntryIndex ? entries : new EntryIndex(entries)).below('.');
  if (!include && !exclude) return walk;

  const skipped: string[] = []; // stack of directories whose subtree is dropped
  const pending: WalkedEntry[] = []; // stack of directories waiting for an included descendant
  const out: WalkedEntry[] = [];
  const under = (p: string, dir: string) => p.startsWith(dir + '/');

  for (const e of walk) {
    // Walk order is depth-first, so both stacks only need their tops checked.
    while (skipped.length > 0 && !under(e.path, skipped[skipped.length - 1]!)) skipped.pop();
    if (skipped.length > 0) continue;
    while (pending.length > 0 && !under(e.path, pending[pending.length - 1]!.path)) pending.pop();

    if (include && !include.matches(e.path)) {
      if (e.type === 'dir' && includePatterns.some((pat) => mayMatchBelow(pat, e.path)) && !isExcluded(exclude, e)) {
        pending.push({ ...e, implicit: true });
      } else if (e.type === 'dir') {
        skipped.push(e.path);
      }
      continue;
    }
    if (isExcluded(exclude, e)) {
      if (e.type === 'dir') skipped.push(e.path);
      continue;
    }
    out.push(...pending.splice(0));
    out.push(e);
  }
  return out;
}

function isExcluded(exclude: IgnoreMatcher | undefined, e: ContextEntry): boolean {
  if (!exclude || !exclude.matches(e.path)) return false;
  // An excluded directory is still entered when an exception could re-include below it.
  return !(e.type === 'dir' && exclude.mayReincludeBelow(e.path));
}

/** Could something strictly below `dir` match the (cleaned) pattern? */
function mayMatchBelow(pattern: string, dir: string): boolean {
  if (pattern.includes('**')) return true;
  const pat = pattern.split('/');
  const d = dir.split('/');
  if (d.length >= pat.length) return false;
  try {
    return d.every((seg, i) => matchPath(pat[i]!, seg));
  } catch {
    return false;
  }
}
