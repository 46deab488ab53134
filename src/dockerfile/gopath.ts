// Go's path.Clean/Dir/Join and filepath.Match (Unix flavour: '/' separator, '\' escapes),
// because .dockerignore patterns and COPY wildcards are defined by those functions.

// A path that Clean would return unchanged (fast path for long lists of tidy paths).
const untidy = /\/\/|(?:^|\/)\.\.?(?:\/|$)|.\/$/u;

/** path.Clean: lexical shortening of a slash path ("a//b/../c/" -> "a/c", "" -> "."). */
export function cleanPath(p: string): string {
  if (p === '') return '.';
  if (!untidy.test(p)) return p;
  const rooted = p.startsWith('/');
  const parts = p.split('/');
  const out: string[] = [];
  for (const part of parts) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!rooted) out.push('..');
      continue;
    }
    out.push(part);
  }
  const joined = out.join('/');
  if (rooted) return '/' + joined;
  return joined === '' ? '.' : joined;
}

/** path.Dir: everything but the last element, cleaned. */
export function dirPath(p: string): string {
  const i = p.lastIndexOf('/');
  if (i < 0) return '.';
  return cleanPath(i === 0 ? '/' : p.slice(0, i));
}

/** path.Base. */
export function basePath(p: string): string {
  if (p === '') return '.';
  let s = p;
  while (s.length > 1 && s.endsWith('/')) s = s.slice(0, -1);
  if (s === '/') return '/';
  const i = s.lastIndexOf('/');
  return i >= 0 ? s.slice(i + 1) : s;
}

/** path.Join (empty elements ignored, result cleaned). */
export function joinPath(...elems: string[]): string {
  const nonEmpty = elems.filter((e) => e !== '');
  if (nonEmpty.length === 0) return '';
  return cleanPath(nonEmpty.join('/'));
}

export class BadPatternError extends Error {
  override readonly name = 'BadPatternError';
  constructor(pattern: string) {
    super(`syntax error in pattern: ${pattern}`);
  }
}

// ---------------------------------------------------------------------------------------
// filepath.Match

/** Split the pattern into (leading stars, chunk up to the next unbracketed star, rest). */
function scanChunk(pattern: string): { star: boolean; chunk: string; rest: string } {
  let star = false;
  let p = pattern;
  while (p.length > 0 && p[0] === '*') {
    p = p.slice(1);
    star = true;
  }
  let inrange = false;
  let i = 0;
  scan: for (; i < p.length; i++) {
    switch (p[i]) {
      case '\\':
        if (i + 1 < p.length) i++;
        break;
      case '[':
        inrange = true;
        break;
      case ']':
        inrange = false;
        break;
      case '*':
        if (!inrange) break scan;
        break;
    }
  }
  return { star, chunk: p.slice(0, i), rest: p.slice(i) };
}

const BAD = Symbol('bad pattern');

/** One class character or escape; BAD for '-' or ']' in that position, or missing input. */
function getEsc(chunk: string): { r: number; rest: string } | typeof BAD {
  if (chunk.length === 0 || chunk[0] === '-' || chunk[0] === ']') return BAD;
  let c = chunk;
  if (c[0] === '\\') {
    c = c.slice(1);
    if (c.length === 0) return BAD;
  }
  const r = c.codePointAt(0)!;
  const rest = c.slice(r > 0xffff ? 2 : 1);
  if (rest.length === 0) return BAD;
  return { r, rest };
}

/**
 * Match a chunk at the start of s. Returns the rest of s on success, null on mismatch;
 * throws BadPatternError when the chunk is malformed (checked even after a mismatch).
 */
function matchChunk(chunk: string, s: string, pattern: string): string | null {
  let failed = false;
  let c = chunk;
  let str = s;
  while (c.length > 0) {
    if (!failed && str.length === 0) failed = true;
    switch (c[0]) {
      case '[': {
        let r = -1;
        if (!failed) {
          r = str.codePointAt(0)!;
          str = str.slice(r > 0xffff ? 2 : 1);
        }
        c = c.slice(1);
        let negated = false;
        if (c.length > 0 && c[0] === '^') {
          negated = true;
          c = c.slice(1);
        }
        let match = false;
        let nrange = 0;
        for (;;) {
          if (c.length > 0 && c[0] === ']' && nrange > 0) {
            c = c.slice(1);
            break;
          }
          const lo = getEsc(c);
          if (lo === BAD) throw new BadPatternError(pattern);
          c = lo.rest;
          let hi = lo.r;
          if (c[0] === '-') {
            const h = getEsc(c.slice(1));
            if (h === BAD) throw new BadPatternError(pattern);
            c = h.rest;
            hi = h.r;
          }
          if (lo.r <= r && r <= hi) match = true;
          nrange++;
        }
        if (match === negated) failed = true;
        break;
      }
      case '?':
        if (!failed) {
          if (str[0] === '/') failed = true;
          const cp = str.codePointAt(0)!;
          str = str.slice(cp > 0xffff ? 2 : 1);
        }
        c = c.slice(1);
        break;
      default: {
        if (c[0] === '\\') {
          // an escaped character matches itself
          c = c.slice(1);
          if (c.length === 0) throw new BadPatternError(pattern);
        }
        if (!failed) {
          if (c[0] !== str[0]) failed = true;
          str = str.slice(1);
        }
        c = c.slice(1);
      }
    }
  }
  return failed ? null : str;
}

/**
 * Go's filepath.Match on Unix: `*` any run of non-'/' characters, `?` one non-'/' character,
 * `[...]`/`[^...]` classes with ranges, `\` escapes. Matches the whole name. Throws
 * BadPatternError for a malformed pattern (the whole pattern is checked, as Go does).
 */
export function matchPath(pattern: string, name: string): boolean {
  let pat = pattern;
  let nm = name;
  outer: while (pat.length > 0) {
    const { star, chunk, rest } = scanChunk(pat);
    pat = rest;
    if (star && chunk === '') {
      // A trailing * matches the rest of the name unless it has a '/'.
      return !nm.includes('/');
    }
    const t = matchChunk(chunk, nm, pattern);
    if (t !== null && (t.length === 0 || pat.length > 0)) {
      nm = t;
      continue;
    }
    if (star) {
      // Try skipping i+1 characters (never a '/').
      for (let i = 0; i < nm.length && nm[i] !== '/'; i++) {
        const t2 = matchChunk(chunk, nm.slice(i + 1), pattern);
        if (t2 !== null) {
          if (pat.length === 0 && t2.length > 0) continue;
          nm = t2;
          continue outer;
        }
      }
    }
    // Before reporting a mismatch, make sure the rest of the pattern is well formed.
    while (pat.length > 0) {
      const next = scanChunk(pat);
      pat = next.rest;
      matchChunk(next.chunk, '', pattern);
    }
    return false;
  }
  return nm.length === 0;
}

/** Throws BadPatternError if `pattern` is not a valid filepath.Match pattern. */
export function checkPattern(pattern: string): void {
  matchPath(pattern, '.');
}

/** Does a path element contain wildcard characters (an escaped one does not count)? */
export function hasWildcards(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const ch = s[i];
    if (ch === '\\') i++;
    else if (ch === '*' || ch === '?' || ch === '[') return true;
  }
  return false;
}
