// .dockerignore matching with the exact rules of moby/patternmatcher (used by both the
// classic builder and BuildKit), and the .dockerignore file reader (patternmatcher/ignorefile).
//
// Rules, briefly:
//  * each pattern is trimmed, dropped if empty, cleaned like Go's filepath.Clean
//    ("docs/" -> "docs", "./a" -> "a", "a/../b" -> "b"), then a leading '!' marks an
//    exception (a lone "!" is an error); the rest must be a valid filepath.Match pattern;
//  * patterns apply in order, the last one that applies wins: a normal pattern is only
//    consulted while the path is not matched, an exception only while it is;
//  * a pattern matches a path if it matches the path itself or any of its parent directories
//    ("docs" covers "docs/README.md");
//  * `*` and `?` never cross '/', `**` spans any number of segments (also zero: "**/foo"
//    matches "foo"; but "abc/**" does not match "abc"), `[...]` classes and `\` escapes work,
//    other characters (. + ( ) | { } $) are literal.

import { compileGoRegexp } from './go-regexp.js';
import { BadPatternError, checkPattern, cleanPath, dirPath } from './gopath.js';
import { trimSpace } from './text.js';

export { BadPatternError } from './gopath.js';

type MatchType = 'unknown' | 'exact' | 'prefix' | 'suffix' | 'regexp';

/** One compiled pattern. */
export class IgnorePattern {
  /** The cleaned pattern, without the leading '!'. */
  readonly pattern: string;
  /** A '!' pattern (re-includes). */
  readonly exclusion: boolean;
  private matchType: MatchType = 'unknown';
  private regexp: RegExp | undefined;

  constructor(pattern: string, exclusion: boolean) {
    this.pattern = pattern;
    this.exclusion = exclusion;
  }

  /** Does the pattern match exactly this path (no parent matching)? Throws on a bad pattern. */
  match(path: string): boolean {
    if (this.matchType === 'unknown') this.compile();
    const p = this.pattern;
    switch (this.matchType) {
      case 'exact':
        return path === p;
      case 'prefix':
        return path.startsWith(p.slice(0, -2)); // strip the trailing **
      case 'suffix': {
        const suffix = p.slice(2); // strip the leading **
        if (path.endsWith(suffix)) return true;
        return suffix[0] === '/' && path === suffix.slice(1); // "**/foo" matches "foo"
      }
      case 'regexp':
        return this.regexp!.test(path);
      default:
        throw new BadPatternError(p);
    }
  }

  toString(): string {
    return (this.exclusion ? '!' : '') + this.pattern;
  }

  // Classify the pattern (exact, "prefix**", "**suffix", or a regexp), like patternmatcher.
  // Failing to compile leaves the type unknown, so every match attempt fails again.
  private compile(): void {
    let reg = '^';
    let type: MatchType = 'exact';
    const chars = Array.from(this.pattern);
    let pos = 0;
    const peek = () => chars[pos];
    for (let i = 0; pos < chars.length; i++) {
      const ch = chars[pos++]!;
      if (ch === '*') {
        if (peek() === '*') {
          pos++;
          if (peek() === '/') pos++; // treat "**/" as "**"
          if (peek() === undefined) {
            // "**" at the end matches everything below, like .gitignore
            if (type === 'exact') type = 'prefix';
            else {
              reg += '.*';
              type = 'regexp';
            }
          } else {
            // any number of segments, even none
            reg += '(.*/)?';
            type = 'regexp';
          }
          if (i === 0) type = 'suffix';
        } else {
          reg += '[^/]*';
          type = 'regexp';
        }
      } else if (ch === '?') {
        reg += '[^/]';
        type = 'regexp';
      } else if ('.+()|{}$'.includes(ch)) {
        reg += '\\' + ch;
      } else if (ch === '\\') {
        if (peek() !== undefined) {
          reg += '\\' + chars[pos++];
          type = 'regexp';
        } else {
          reg += '\\';
        }
      } else if (ch === '[' || ch === ']') {
        reg += ch;
        type = 'regexp';
      } else {
        reg += ch;
      }
    }
    if (type === 'regexp') {
      try {
        this.regexp = compileGoRegexp(reg + '$');
      } catch {
        throw new BadPatternError(this.pattern);
      }
    }
    this.matchType = type;
  }
}

export interface IgnoreMatcher {
  /** The compiled patterns, in order. */
  readonly patterns: readonly IgnorePattern[];
  /** True when some pattern starts with '!'. */
  readonly hasExclusions: boolean;
  /**
   * Is the slash-separated relative path ignored? A pattern matching a parent directory
   * covers the path. Throws BadPatternError for a pattern that only fails when used.
   */
  matches(path: string): boolean;
  /** Like matches() but without parent-directory matching. */
  matchesExact(path: string): boolean;
  /**
   * For an ignored directory: could an exception pattern re-include something below it?
   * (Then a walk must still enter it.)
   */
  mayReincludeBelow(dir: string): boolean;
}

/** Build a matcher. Throws for a lone "!" or a pattern that is not a valid filepath.Match pattern. */
export function createIgnoreMatcher(patterns: readonly string[]): IgnoreMatcher {
  const compiled: IgnorePattern[] = [];
  let hasExclusions = false;
  for (const raw of patterns) {
    let p = trimSpace(raw);
    if (p === '') continue;
    p = cleanPath(p);
    let exclusion = false;
    if (p[0] === '!') {
      if (p.length === 1) throw new Error('illegal exclusion pattern: "!"');
      exclusion = true;
      p = p.slice(1);
      hasExclusions = true;
    }
    checkPattern(p);
    compiled.push(new IgnorePattern(p, exclusion));
  }
  return new Matcher(compiled, hasExclusions);
}

class Matcher implements IgnoreMatcher {
  constructor(readonly patterns: readonly IgnorePattern[], readonly hasExclusions: boolean) {}

  matches(file: string): boolean {
    let matched = false;
    const parent = dirPath(file);
    // The parent directories, shortest first: "a", "a/b", ... (as joined by Go).
    let parents: string[] | undefined;
    for (const pattern of this.patterns) {
      // An inclusion only matters while unmatched, an exclusion only while matched.
      if (pattern.exclusion !== matched) continue;
      let match = pattern.match(file);
      if (!match && parent !== '.') {
        parents ??= prefixes(parent);
        for (const dir of parents) {
          if (pattern.match(dir)) {
            match = true;
            break;
          }
        }
      }
      if (match) matched = !pattern.exclusion;
    }
    return matched;
  }

  matchesExact(file: string): boolean {
    let matched = false;
    for (const pattern of this.patterns) {
      if (pattern.exclusion !== matched) continue;
      if (pattern.match(file)) matched = !pattern.exclusion;
    }
    return matched;
  }

  mayReincludeBelow(dir: string): boolean {
    if (!this.hasExclusions) return false;
    const dirSlash = dir + '/';
    return this.patterns.some((p) => p.exclusion && (p.pattern + '/').startsWith(dirSlash));
  }
}

function prefixes(dir: string): string[] {
  const out: string[] = [];
  for (let i = dir.indexOf('/'); i >= 0; i = dir.indexOf('/', i + 1)) out.push(dir.slice(0, i));
  out.push(dir);
  return out;
}

/**
 * Read .dockerignore text into patterns (moby/patternmatcher/ignorefile.ReadAll): a BOM is
 * dropped, `#` starts a comment only in column 0, lines are trimmed, empty ones skipped,
 * each pattern cleaned and one leading '/' removed ("/foo" -> "foo"), "! x" -> "!x".
 */
export function parseIgnoreFile(text: string): string[] {
  const body = text.startsWith('\ufeff') ? text.slice(1) : text;
  const lines = body.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const out: string[] = [];
  for (let line of lines) {
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (line.startsWith('#')) continue;
    let pattern = trimSpace(line);
    if (pattern === '') continue;
    const invert = pattern[0] === '!';
    if (invert) pattern = trimSpace(pattern.slice(1));
    if (pattern.length > 0) {
      pattern = cleanPath(pattern);
      if (pattern.length > 1 && pattern[0] === '/') pattern = pattern.slice(1);
    }
    out.push(invert ? '!' + pattern : pattern);
  }
  return out;
}
