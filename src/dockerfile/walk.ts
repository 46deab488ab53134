// Walking a list of context entries the way tonistiigi/fsutil walks a directory tree:
// lexical order within each directory, parents before children, with include patterns
// (only matching paths and the directories leading to them) and exclude patterns
// (.dockerignore semantics: an excluded directory is skipped unless an exception pattern
// could re-include something below it).
//
// Entries are plain data ({ path, type }) so this stays free of I/O: the caller lists the
// context (or a stage's root filesystem) and passes the list in.

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
  const c = cleanPath('/' + p);
  return c === '/' ? '.' : c.slice(1);
}

/** Index entries by canonical path, adding the parent directories a list leaves implicit. */
export function indexEntries(entries: readonly ContextEntry[]): Map<string, ContextEntry> {
  const map = new Map<string, ContextEntry>();
  map.set('.', { path: '.', type: 'dir' });
  for (const e of entries) {
    const path = normalizeEntryPath(e.path);
    if (path === '.') continue;
    map.set(path, { ...e, path });
    let parent = path;
    for (;;) {
      const i = parent.lastIndexOf('/');
      if (i < 0) break;
      parent = parent.slice(0, i);
      if (!map.has(parent)) map.set(parent, { path: parent, type: 'dir' });
    }
  }
  return map;
}

function compareCodePoints(a: string, b: string): number {
  const x = Array.from(a);
  const y = Array.from(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = x[i]!.codePointAt(0)! - y[i]!.codePointAt(0)!;
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

/** Walk order: compare segment by segment, so "a/b" comes before "a-c". */
export function compareWalkOrder(a: string, b: string): number {
  const x = a.split('/');
  const y = b.split('/');
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = compareCodePoints(x[i]!, y[i]!);
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

/** Entries strictly below `root` ('.' for everything), in walk order, paths relative to root. */
export function entriesBelow(index: Map<string, ContextEntry>, root: string): ContextEntry[] {
  const prefix = root === '.' ? '' : root + '/';
  const out: ContextEntry[] = [];
  for (const [p, e] of index) {
    if (p === '.' || !p.startsWith(prefix) || p === root) continue;
    out.push({ ...e, path: p.slice(prefix.length) });
  }
  return out.sort((a, b) => compareWalkOrder(a.path, b.path));
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
export function filterWalk(entries: readonly ContextEntry[], filter: WalkFilter = {}): WalkedEntry[] {
  const include = filter.include && filter.include.length > 0 ? createIgnoreMatcher(filter.include) : undefined;
  const includeParts = include ? include.patterns.map((p) => p.pattern) : [];
  const exclude =
    filter.exclude === undefined
      ? undefined
      : Array.isArray(filter.exclude)
        ? createIgnoreMatcher(filter.exclude as readonly string[])
        : (filter.exclude as IgnoreMatcher);

  const sorted = entriesBelow(indexEntries(entries), '.');
  const skipped: string[] = []; // directories whose subtree is dropped
  const pending: WalkedEntry[] = []; // directories waiting for an included descendant
  const out: WalkedEntry[] = [];

  const under = (p: string, dir: string) => p.startsWith(dir + '/');

  for (const e of sorted) {
    if (skipped.some((d) => under(e.path, d))) continue;
    // Forget pending directories we have walked out of.
    while (pending.length > 0 && !under(e.path, pending[pending.length - 1]!.path)) pending.pop();

    let fullyIncluded = true;
    if (include) {
      fullyIncluded = include.matches(e.path);
      if (!fullyIncluded) {
        if (e.type === 'dir' && includeParts.some((pat) => mayMatchBelow(pat, e.path))) {
          if (!isExcluded(exclude, e)) pending.push({ ...e, implicit: true });
          else skipped.push(e.path);
        } else if (e.type === 'dir') {
          skipped.push(e.path);
        }
        continue;
      }
    }
    if (isExcluded(exclude, e)) {
      if (e.type === 'dir') skipped.push(e.path);
      continue;
    }
    out.push(...pending.splice(0));
    out.push({ ...e });
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
