// Which files a COPY/ADD source selects, and where they land: BuildKit's rules
// (dockerfile2llb + fsutil copy), as a pure function over a list of entries.
//
//   selectSources(entries, sources, { exclude, parents }) -> { matches }
//   placeMatches(matches, { destPath, destEndsWithSlash, destType }) -> placements
//   resolveCopyDest(dest, workdir) -> { destPath, destEndsWithSlash }
//
// `entries` lists the source tree (the build context, or a stage's root filesystem for
// COPY --from), paths relative to its root. Sources are the instruction's source words
// AFTER variable expansion. Rules:
//
//  * a source is relative to the tree root ("/a" == "a"); one that climbs out of it with
//    ".." is an error ("forbidden path outside the build context");
//  * without wildcards the source must exist ("failed to compute cache key: ... not found");
//    symlinks in the source path are followed;
//  * with wildcards (* ? [ - a backslash escapes), the longest wildcard-free leading part is
//    walked and every entry whose path below it matches the rest (Go filepath.Match, so `*`
//    never crosses '/') is selected; a matched directory is taken whole, not descended; no
//    match is fine (BuildKit allows empty wildcards);
//  * a selected directory contributes its CONTENTS (destRel relative to it); a selected file
//    or symlink contributes itself (destRel = its name);
//  * --exclude patterns (.dockerignore rules) apply to what is inside each selected
//    directory, relative to that directory; a directly selected file is never excluded;
//  * --parents keeps the path: below the first "/./" pivot if there is one, else from the
//    root; the part after the pivot may use `**`; directories on the way are created
//    (returned with implicit: true).
//
// Every match lists the selected item first (root: true) followed by what is inside it.

import { BadPatternError, basePath, cleanPath, hasWildcards, joinPath, matchPath } from './gopath.js';
import { EntryIndex, filterWalk, type ContextEntry, type EntryType } from './walk.js';

export type { ContextEntry, EntryType } from './walk.js';

export interface SelectOptions {
  /** --exclude patterns. */
  exclude?: readonly string[];
  /** --parents. */
  parents?: boolean;
  /** Follow symlinks in source paths (BuildKit does for COPY/ADD). Default true. */
  followSymlinks?: boolean;
}

export interface SourceMatch {
  /** The source word this match comes from. */
  source: string;
  /** Path in the tree ('.' for the root), after following symlinks for a selected item. */
  path: string;
  type: EntryType;
  /** Where it goes, relative to the destination directory ('' for a selected directory itself). */
  destRel: string;
  /** The selected item itself, as opposed to something inside a selected directory. */
  root: boolean;
  /** A directory that is only on the way to selected paths (--parents). */
  implicit?: boolean;
  /** Symlinks: the link target. */
  linkTarget?: string;
}

export interface Selection {
  matches: SourceMatch[];
}

export type SelectErrorCode = 'NOT_FOUND' | 'OUTSIDE_CONTEXT' | 'BAD_PATTERN' | 'SYMLINK_LOOP';

export class ContextSelectError extends Error {
  override readonly name = 'ContextSelectError';
  constructor(
    message: string,
    readonly code: SelectErrorCode,
    readonly source: string,
  ) {
    super(message);
  }
}

const notFound = (source: string, path: string) =>
  new ContextSelectError(
    `failed to compute cache key: failed to calculate checksum of ref: ${JSON.stringify('/' + (path === '.' ? '' : path))}: not found`,
    'NOT_FOUND',
    source,
  );

/** Clean a source relative to the root; throws if it climbs out. '.' is the root. */
function cleanSource(source: string): string {
  const rel = cleanPath(source.replace(/^\/+/u, ''));
  if (rel === '..' || rel.startsWith('../')) {
    throw new ContextSelectError(`forbidden path outside the build context: ${source}`, 'OUTSIDE_CONTEXT', source);
  }
  return rel;
}

/** Split "a/b/*.go/c" into the wildcard-free leading part and the rest. */
function splitWildcards(p: string): [string, string] {
  const parts = p === '.' ? [] : p.split('/');
  const i = parts.findIndex((s) => hasWildcards(s));
  if (i < 0) return [p, ''];
  return [parts.slice(0, i).join('/') || '.', parts.slice(i).join('/')];
}

class Tree {
  readonly index: EntryIndex;
  constructor(entries: readonly ContextEntry[] | EntryIndex) {
    this.index = entries instanceof EntryIndex ? entries : new EntryIndex(entries);
  }

  /** Resolve symlinks along the path (and at its end when followFinal), clamped to the root. */
  resolve(p: string, followFinal: boolean, source: string): { path: string; entry: ContextEntry } | null {
    const queue = p === '.' ? [] : p.split('/');
    const cur: string[] = [];
    let hops = 0;
    while (queue.length > 0) {
      const part = queue.shift()!;
      if (part === '' || part === '.') continue;
      if (part === '..') {
        cur.pop();
        continue;
      }
      const candidate = [...cur, part].join('/');
      const e = this.index.get(candidate);
      if (!e) return null;
      if (e.type === 'symlink' && (queue.length > 0 || followFinal) && e.target !== undefined) {
        if (++hops > 255) throw new ContextSelectError(`too many levels of symbolic links: ${source}`, 'SYMLINK_LOOP', source);
        if (e.target.startsWith('/')) cur.length = 0;
        queue.unshift(...e.target.split('/'));
        continue;
      }
      cur.push(part);
    }
    const path = cur.length ? cur.join('/') : '.';
    return { path, entry: this.index.get(path)! };
  }

  /** Paths below `base` matching `pattern`; a matching directory is not descended. */
  wildcard(base: string, pattern: string, source: string): string[] {
    const out: string[] = [];
    let skip: string | undefined; // a matched directory is not descended (walk order is depth-first)
    for (const e of this.index.below(base)) {
      if (skip !== undefined && e.path.startsWith(skip + '/')) continue;
      skip = undefined;
      let ok: boolean;
      try {
        ok = matchPath(pattern, e.path);
      } catch (err) {
        if (err instanceof BadPatternError) throw new ContextSelectError(err.message, 'BAD_PATTERN', source);
        throw err;
      }
      if (!ok) continue;
      out.push(base === '.' ? e.path : `${base}/${e.path}`);
      if (e.type === 'dir') skip = e.path;
    }
    return out;
  }
}

/**
 * Select what each source copies. `entries` may be an EntryIndex built once per tree and
 * reused across instructions. Throws ContextSelectError (not found, outside the context...).
 */
export function selectSources(
  entries: readonly ContextEntry[] | EntryIndex,
  sources: readonly string[],
  opts: SelectOptions = {},
): Selection {
  const tree = new Tree(entries);
  const follow = opts.followSymlinks ?? true;
  const exclude = opts.exclude && opts.exclude.length > 0 ? opts.exclude : undefined;
  const matches: SourceMatch[] = [];
  for (const source of sources) {
    if (opts.parents) selectWithParents(tree, source, follow, exclude, matches);
    else selectPlain(tree, source, follow, exclude, matches);
  }
  return { matches };
}

function selectPlain(
  tree: Tree,
  source: string,
  follow: boolean,
  exclude: readonly string[] | undefined,
  out: SourceMatch[],
): void {
  const p = cleanSource(source);
  const [fixed, rest] = splitWildcards(p);
  if (rest === '') {
    const r = tree.resolve(p, follow, source);
    if (!r) throw notFound(source, p);
    emitItem(tree, source, r.path, r.entry, p === '.' ? '.' : basePath(p), exclude, out);
    return;
  }
  const base = tree.resolve(fixed, true, source);
  if (!base || base.entry.type !== 'dir') return; // a wildcard may match nothing
  for (const m of tree.wildcard(base.path, rest, source)) {
    const r = tree.resolve(m, follow, source);
    if (!r) throw notFound(source, m);
    emitItem(tree, source, r.path, r.entry, basePath(m), exclude, out);
  }
}

// One selected item: a directory gives itself (destRel '') and its filtered contents.
function emitItem(
  tree: Tree,
  source: string,
  path: string,
  entry: ContextEntry,
  name: string,
  exclude: readonly string[] | undefined,
  out: SourceMatch[],
): void {
  if (entry.type !== 'dir') {
    out.push(withLink({ source, path, type: entry.type, destRel: name, root: true }, entry));
    return;
  }
  out.push({ source, path, type: 'dir', destRel: '', root: true });
  const inside = filterWalk(tree.index.below(path), exclude ? { exclude } : {});
  for (const e of inside) {
    out.push(withLink({ source, path: join(path, e.path), type: e.type, destRel: e.path, root: false }, e));
  }
}

function selectWithParents(
  tree: Tree,
  source: string,
  follow: boolean,
  exclude: readonly string[] | undefined,
  out: SourceMatch[],
): void {
  const trimmed = source.replace(/^\/+/u, '');
  const cut = trimmed.indexOf('/./');
  const pivotWord = cut >= 0 ? trimmed.slice(0, cut) : '.';
  const restWord = cut >= 0 ? trimmed.slice(cut + 3) : trimmed;
  const pivot = cleanSource(pivotWord);
  const pattern = cleanSource(restWord);
  const full = cleanSource(trimmed);

  let pivots: string[];
  const [pFixed, pRest] = splitWildcards(pivot);
  if (pRest === '') {
    const r = tree.resolve(pivot, follow, source);
    if (!r || r.entry.type !== 'dir') {
      if (!hasWildcards(pattern)) throw notFound(source, full);
      return;
    }
    pivots = [r.path];
  } else {
    const base = tree.resolve(pFixed, true, source);
    pivots = [];
    if (base && base.entry.type === 'dir') {
      for (const m of tree.wildcard(base.path, pRest, source)) {
        const r = tree.resolve(m, follow, source);
        if (r && r.entry.type === 'dir') pivots.push(r.path);
      }
    }
  }

  const literal = !pattern.split('/').some((s) => hasWildcards(s));
  for (const root of pivots) {
    if (literal && pattern !== '.' && !tree.resolve(join(root, pattern), false, source)) {
      throw notFound(source, pivots.length === 1 && pRest === '' ? full : join(root, pattern));
    }
    out.push({ source, path: root, type: 'dir', destRel: '', root: true });
    const below = tree.index.below(root);
    const kept = filterWalk(below, {
      ...(pattern === '.' ? {} : { include: [escapeForInclude(pattern, literal)] }),
      ...(exclude ? { exclude } : {}),
    });
    for (const e of kept) {
      const m: SourceMatch = { source, path: join(root, e.path), type: e.type, destRel: e.path, root: false };
      if (e.implicit) m.implicit = true;
      out.push(withLink(m, e));
    }
  }
}

// A literal path used as an include pattern must not be read as a glob.
function escapeForInclude(pattern: string, literal: boolean): string {
  return literal ? pattern.replace(/[\\*?[\]]/gu, '\\$&') : pattern;
}

function withLink(m: SourceMatch, e: ContextEntry): SourceMatch {
  if (e.type === 'symlink' && e.target !== undefined) m.linkTarget = e.target;
  return m;
}

function join(root: string, rel: string): string {
  return root === '.' ? rel : `${root}/${rel}`;
}

// ---------------------------------------------------------------------------------------
// Destinations

/**
 * The destination of COPY/ADD as an absolute path: relative destinations are relative to
 * WORKDIR; "." or a trailing "/" means "a directory" (created if missing).
 */
export function resolveCopyDest(dest: string, workdir = '/'): { destPath: string; destEndsWithSlash: boolean } {
  const endsWithSlash = dest === '' || dest === '.' || dest.endsWith('/') || dest.endsWith('/.');
  const abs = dest.startsWith('/') ? cleanPath(dest) : cleanPath(joinPath(workdir.startsWith('/') ? workdir : '/' + workdir, dest));
  return { destPath: abs, destEndsWithSlash: endsWithSlash };
}

export interface PlaceOptions {
  /** Absolute destination path (see resolveCopyDest). */
  destPath: string;
  /** The destination was written as a directory ("dir/", "."). */
  destEndsWithSlash: boolean;
  /** What exists at destPath before the copy (following symlinks). */
  destType: 'missing' | 'file' | 'dir';
}

export interface Placement {
  source: string;
  /** Path in the source tree. */
  from: string;
  /** Absolute path in the target filesystem. */
  to: string;
  type: EntryType;
  root: boolean;
  implicit?: boolean;
  linkTarget?: string;
}

/**
 * Where every match goes. Selected items are placed one after the other, like fsutil: a
 * directory's contents go into the destination (created as a directory); a file goes INTO
 * the destination when it is (by then) a directory or was written with a trailing '/',
 * otherwise it BECOMES the destination (so several files onto one non-directory destination
 * overwrite each other, as in BuildKit).
 */
export function placeMatches(matches: readonly SourceMatch[], opts: PlaceOptions): Placement[] {
  const dest = cleanPath(opts.destPath);
  let state: PlaceOptions['destType'] = opts.destEndsWithSlash ? 'dir' : opts.destType;
  const out: Placement[] = [];
  for (const m of matches) {
    const p: Placement = { source: m.source, from: m.path, to: dest, type: m.type, root: m.root };
    if (m.implicit) p.implicit = true;
    if (m.linkTarget !== undefined) p.linkTarget = m.linkTarget;
    if (m.root) {
      if (m.type === 'dir') {
        if (state === 'file') {
          throw new ContextSelectError(`cannot copy to non-directory: ${dest}`, 'NOT_FOUND', m.source);
        }
        state = 'dir';
        p.to = dest;
      } else {
        p.to = state === 'dir' ? joinPath(dest, m.destRel) : dest;
        if (state !== 'dir') state = 'file';
      }
    } else {
      p.to = joinPath(dest, m.destRel);
    }
    out.push(p);
  }
  return out;
}
