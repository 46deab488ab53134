// Shell-word expansion with the semantics of BuildKit's shell lexer
// (frontend/dockerfile/shell/lex.go): quote removal, escape processing, `$VAR` and `${...}`
// expansion including the operators
//
//   ${V:-w} ${V-w} ${V:+w} ${V+w} ${V:?m} ${V?m}      (":" makes an empty value count as unset)
//   ${V#p} ${V##p} ${V%p} ${V%%p}                     (shell patterns: * ? and \-escapes)
//   ${V/p/r} ${V//p/r}                                (first / all matches of a pattern)
//
// and word splitting that happens AFTER expansion (whitespace that came out of an unquoted
// expansion splits, quoted or escaped whitespace does not).
//
// Deliberate deviation: upstream's processStopOn resets a word buffer it shares with the
// caller, so ProcessWords("hello${x:-abc}") returns ["abc"] and loses "hello". We keep one
// buffer per call and return ["helloabc"]; ProcessWord (no splitting) is unaffected.

import { FrontendError } from './errors.js';
import { goQuote, isDigit, isLetter, isSpace } from './text.js';

export interface LexOptions {
  /** Escape character: "\\" (default) or "`" (from the `# escape=` directive). */
  escapeChar?: string;
  /** Keep quote characters in the output (used to tell quoted heredoc delimiters apart). */
  rawQuotes?: boolean;
  /** Keep escape characters in the output. */
  rawEscapes?: boolean;
  /** Leave references to unset variables as written instead of expanding them to "". */
  skipUnsetEnv?: boolean;
  /** Treat quotes as ordinary characters. */
  skipProcessQuotes?: boolean;
}

/** Variables visible to an expansion. A plain object or a Map; names are case-sensitive. */
export type Env = Readonly<Record<string, string>> | ReadonlyMap<string, string>;

export interface WordResult {
  /** The expanded word. */
  result: string;
  /** Names that were looked up and found (sorted). */
  matched: string[];
  /** Names that were looked up and not found (sorted). */
  unmatched: string[];
}

/** Expansion failed: bad substitution, unterminated quote, `${V?msg}` on an unset V... */
export class ShellLexError extends FrontendError {
  override readonly name = 'ShellLexError';
}

const EOF = null;
type Ch = string | null;

/** Expand one word (quotes removed, escapes processed, no field splitting). */
export function processWord(word: string, env: Env, opts: LexOptions = {}): WordResult {
  const sw = new ShellWord(word, env, opts, true, false);
  const { result } = sw.run(word);
  return { result, matched: [...sw.matches].sort(), unmatched: [...sw.nonmatches].sort() };
}

/** Expand, then split into words. Empty words are dropped. */
export function processWords(text: string, env: Env, opts: LexOptions = {}): string[] {
  const sw = new ShellWord(text, env, opts, false, false);
  return sw.run(text).words;
}

/**
 * Word splitting used by the parser to find heredoc openers on an instruction line: raw
 * quotes and escapes, unset variables kept, and whitespace right after a leading `<<` kept
 * so that `<<  EOF` stays one word (BuildKit accepts `RUN <<  EOF`). Errors yield [].
 */
export function heredocLineWords(line: string): string[] {
  try {
    const sw = new ShellWord(line, EMPTY_ENV, { rawQuotes: true, rawEscapes: true, skipUnsetEnv: true }, false, true);
    return sw.run(line).words;
  } catch {
    return [];
  }
}

const EMPTY_ENV: Env = Object.freeze({});

function lookup(env: Env, name: string): string | undefined {
  if (env instanceof Map) return env.get(name);
  const rec = env as Readonly<Record<string, string>>;
  return Object.prototype.hasOwnProperty.call(rec, name) ? rec[name] : undefined;
}

/** Go's text/scanner yields code points and skips a byte-order mark at the very start. */
function scannerChars(s: string): string[] {
  const chars = Array.from(s);
  if (chars[0] === '\ufeff') chars.shift();
  return chars;
}

class Words {
  private buf = '';
  private inWord = false;
  private readonly words: string[] = [];
  constructor(private readonly heredocMode: boolean) {}

  addChar(ch: string): void {
    if (isSpace(ch) && this.inWord) {
      if (this.heredocMode && this.afterHeredocOperator()) {
        this.addRawChar(ch);
        return;
      }
      if (this.buf.length !== 0) {
        this.words.push(this.buf);
        this.buf = '';
        this.inWord = false;
      }
    } else if (!isSpace(ch)) {
      this.addRawChar(ch);
    }
  }

  addRawChar(ch: string): void {
    this.buf += ch;
    this.inWord = true;
  }

  addString(s: string): void {
    for (const ch of s) this.addChar(ch);
  }

  addRawString(s: string): void {
    this.buf += s;
    this.inWord = true;
  }

  get(): string[] {
    if (this.buf.length > 0) {
      this.words.push(this.buf);
      this.buf = '';
      this.inWord = false;
    }
    return this.words;
  }

  private afterHeredocOperator(): boolean {
    const m = /^[0-9]*<</.exec(this.buf);
    return m !== null && Array.from(this.buf.slice(m[0].length)).every(isSpace);
  }
}

class ShellWord {
  private readonly chars: string[];
  private pos = 0;
  private readonly escape: string;
  private rawEscapes: boolean;
  readonly matches = new Set<string>();
  readonly nonmatches = new Set<string>();

  constructor(
    word: string,
    private readonly env: Env,
    private readonly opts: LexOptions,
    private readonly capture: boolean,
    private readonly heredocMode: boolean,
  ) {
    this.chars = scannerChars(word);
    this.escape = opts.escapeChar ?? '\\';
    this.rawEscapes = !!opts.rawEscapes;
  }

  run(source: string): { result: string; words: string[] } {
    try {
      return this.processStopOn(EOF, this.rawEscapes);
    } catch (e) {
      if (e instanceof ShellLexError) throw new ShellLexError(`failed to process ${goQuote(source)}: ${e.message}`);
      throw e;
    }
  }

  private peek(): Ch {
    return this.pos < this.chars.length ? this.chars[this.pos]! : EOF;
  }

  private next(): Ch {
    return this.pos < this.chars.length ? this.chars[this.pos++]! : EOF;
  }

  private processStopOn(stop: Ch, rawEscapes: boolean): { result: string; words: string[] } {
    let result = '';
    const words = new Words(this.heredocMode);
    const saved = this.rawEscapes;
    this.rawEscapes = rawEscapes;
    try {
      while (this.peek() !== EOF) {
        const ch = this.peek()!;
        if (stop !== EOF && ch === stop) {
          this.next();
          return { result, words: words.get() };
        }
        if (ch === '$') {
          const tmp = this.processDollar();
          result += tmp;
          words.addString(tmp);
        } else if (!this.opts.skipProcessQuotes && (ch === "'" || ch === '"')) {
          const tmp = ch === "'" ? this.processSingleQuote() : this.processDoubleQuote();
          result += tmp;
          words.addRawString(tmp);
        } else {
          let c = this.next()!;
          if (c === this.escape) {
            if (this.rawEscapes) {
              words.addRawChar(c);
              result += c;
            }
            // The escape character escapes the next one, except at the end of the word.
            const n = this.next();
            if (n === EOF) break;
            c = n;
            words.addRawChar(c);
          } else {
            words.addChar(c);
          }
          result += c;
        }
      }
    } finally {
      this.rawEscapes = saved;
    }
    if (stop !== EOF) throw new ShellLexError(`unexpected end of statement while looking for matching ${stop}`);
    return { result, words: words.get() };
  }

  // Everything up to the next ' is literal; a single quote cannot be escaped inside.
  private processSingleQuote(): string {
    let result = '';
    const open = this.next()!;
    if (this.opts.rawQuotes) result += open;
    for (;;) {
      const ch = this.next();
      if (ch === EOF) throw new ShellLexError('unexpected end of statement while looking for matching single-quote');
      if (ch === "'") {
        if (this.opts.rawQuotes) result += ch;
        return result;
      }
      result += ch;
    }
  }

  // Inside "...", $ expands and the escape character only escapes ", $ and itself.
  private processDoubleQuote(): string {
    let result = '';
    const open = this.next()!;
    if (this.opts.rawQuotes) result += open;
    for (;;) {
      const p = this.peek();
      if (p === EOF) throw new ShellLexError('unexpected end of statement while looking for matching double-quote');
      if (p === '"') {
        const ch = this.next()!;
        if (this.opts.rawQuotes) result += ch;
        return result;
      }
      if (p === '$') {
        result += this.processDollar();
        continue;
      }
      let ch = this.next()!;
      if (ch === this.escape) {
        if (this.rawEscapes) result += ch;
        const q = this.peek();
        if (q === EOF) continue; // a trailing escape is dropped
        if (q === '"' || q === '$' || q === this.escape) ch = this.next()!;
      }
      result += ch;
    }
  }

  private processDollar(): string {
    this.next(); // the '$'
    if (this.peek() !== '{') {
      const name = this.processName();
      if (name === '') return '$';
      const [value, found] = this.getEnv(name);
      if (!found && this.opts.skipUnsetEnv) return '$' + name;
      return value;
    }

    this.next(); // the '{'
    const first = this.peek();
    if (first === EOF) throw new ShellLexError("syntax error: missing '}'");
    if (first === '{' || first === '}' || first === ':') throw new ShellLexError('syntax error: bad substitution');

    const name = this.processName();
    let ch = this.next();
    // Upstream reports "unsupported modifier (\ufffd)" for a word that ends inside ${...};
    // the missing brace is the real problem, so say that.
    if (ch === EOF) throw new ShellLexError("syntax error: missing '}'");
    let chs = ch;
    let nullIsUnset = false;

    if (ch === '}') {
      const [value, set] = this.getEnv(name);
      if (!set && this.opts.skipUnsetEnv) return `\${${name}}`;
      return value;
    }

    if (ch === ':' || ch === '+' || ch === '-' || ch === '?' || ch === '#' || ch === '%') {
      if (ch === ':') {
        // ${V:x} - Go falls through to the operator branch whatever x is.
        nullIsUnset = true;
        ch = this.next();
        chs += ch ?? '\ufffd';
      }
      const rawEscapes = ch === '#' || ch === '%';
      if (nullIsUnset && rawEscapes) throw new ShellLexError(`unsupported modifier (${chs}) in substitution`);
      let word: string;
      try {
        word = this.processStopOn('}', rawEscapes).result;
      } catch (e) {
        if (e instanceof ShellLexError && this.peek() === EOF) throw new ShellLexError("syntax error: missing '}'");
        throw e;
      }

      const [value, set] = this.getEnv(name);
      if (this.opts.skipUnsetEnv && !set) return `\${${name}${chs}${word}}`;

      switch (ch) {
        case '-':
          return !set || (nullIsUnset && value === '') ? word : value;
        case '+':
          return !set || (nullIsUnset && value === '') ? '' : word;
        case '?':
          if (!set) throw new ShellLexError(`${name}: ${word !== '' ? word : 'is not allowed to be unset'}`);
          if (nullIsUnset && value === '') throw new ShellLexError(`${name}: ${word !== '' ? word : 'is not allowed to be empty'}`);
          return value;
        case '%':
        case '#': {
          // %/# remove the shortest match, %%/## the longest.
          let greedy = false;
          let pattern = word;
          if (pattern.length > 0 && pattern[0] === ch) {
            greedy = true;
            pattern = pattern.slice(1);
          }
          return ch === '%' ? trimSuffix(pattern, value, greedy) : trimPrefix(pattern, value, greedy);
        }
        default:
          throw new ShellLexError(`unsupported modifier (${chs}) in substitution`);
      }
    }

    if (ch === '/') {
      const replaceAll = this.peek() === '/';
      if (replaceAll) this.next();
      let pattern: string;
      try {
        pattern = this.processStopOn('/', true).result;
      } catch (e) {
        if (e instanceof ShellLexError && this.peek() === EOF) throw new ShellLexError("syntax error: missing '/' in ${}");
        throw e;
      }
      let replacement: string;
      try {
        replacement = this.processStopOn('}', true).result;
      } catch (e) {
        if (e instanceof ShellLexError && this.peek() === EOF) throw new ShellLexError("syntax error: missing '}'");
        throw e;
      }
      const [value, set] = this.getEnv(name);
      if (this.opts.skipUnsetEnv && !set) return `\${${name}/${pattern}/${replacement}}`;
      const re = patternRegExp(pattern, true, false);
      if (replaceAll) return goReplaceAll(re, value, replacement);
      re.lastIndex = 0;
      const m = re.exec(value);
      if (!m) return value;
      return value.slice(0, m.index) + replacement + value.slice(m.index + m[0].length);
    }

    throw new ShellLexError(`unsupported modifier (${chs}) in substitution`);
  }

  // A name is letters, digits and '_'; a leading digit takes only digits ($1x is $1 then x);
  // one of @ * # ? - $ ! 0 alone is a special parameter.
  private processName(): string {
    let name = '';
    while (this.peek() !== EOF) {
      const ch = this.peek()!;
      if (name === '' && isDigit(ch)) {
        while (this.peek() !== EOF && isDigit(this.peek()!)) name += this.next();
        return name;
      }
      if (name === '' && isSpecialParam(ch)) return this.next()!;
      if (!isLetter(ch) && !isDigit(ch) && ch !== '_') break;
      name += this.next();
    }
    return name;
  }

  private getEnv(name: string): [string, boolean] {
    const v = lookup(this.env, name);
    if (v !== undefined) {
      if (this.capture) this.matches.add(name);
      return [v, true];
    }
    if (this.capture) this.nonmatches.add(name);
    return ['', false];
  }
}

function isSpecialParam(ch: string): boolean {
  return '@*#?-$!0'.includes(ch);
}

/**
 * Shell pattern (`*` any run, `?` one character, `\*` `\?` `\\` literal; no bracket
 * expressions) to a RegExp. `\}` and `\/` only protect the ${...} delimiters.
 * Go's `.` does not match a newline; neither does ours.
 */
function patternRegExp(pattern: string, greedy: boolean, anchored: boolean): RegExp {
  const chars = scannerChars(pattern);
  let out = anchored ? '^' : '';
  const star = greedy ? '[^\\n]*' : '[^\\n]*?';
  for (let i = 0; i < chars.length; i++) {
    const tok = chars[i]!;
    switch (tok) {
      case '*':
        out += star;
        continue;
      case '?':
        out += '[^\\n]';
        continue;
      case '\\': {
        const nx = chars[i + 1];
        if (nx === '}' || nx === '/') continue;
        i++;
        if (nx !== '*' && nx !== '?' && nx !== '\\') {
          throw new ShellLexError(`invalid pattern (${pattern}) in substitution: invalid escape '\\${nx ?? '\ufffd'}'`);
        }
        out += '\\' + nx;
        continue;
      }
      case '[':
      case ']':
      case '{':
      case '}':
      case '.':
      case '+':
      case '(':
      case ')':
      case '|':
      case '^':
      case '$':
        out += '\\' + tok;
        continue;
      default:
        out += tok;
    }
  }
  return new RegExp(out, 'gu');
}

function trimPrefix(pattern: string, value: string, greedy: boolean): string {
  const re = patternRegExp(pattern, greedy, true);
  re.lastIndex = 0;
  const m = re.exec(value);
  return m ? value.slice(m.index + m[0].length) : value;
}

// Reverse a pattern but keep each escape before the character it escapes: a\*c -> c\*a.
function reversePattern(pattern: string): string {
  const runes = Array.from(pattern);
  const out: string[] = new Array<string>(runes.length);
  const last = runes.length - 1;
  for (let i = 0; i <= last; ) {
    const tok = runes[i]!;
    const outIdx = last - i;
    if (tok === '\\' && i !== last) {
      out[outIdx - 1] = tok;
      out[outIdx] = runes[i + 1]!;
      i += 2;
    } else {
      out[outIdx] = tok;
      i++;
    }
  }
  return out.join('');
}

function reverseString(s: string): string {
  return Array.from(s).reverse().join('');
}

// A regexp cannot find the shortest rightmost match, so both sides are reversed and the
// suffix is removed as a prefix.
function trimSuffix(pattern: string, value: string, greedy: boolean): string {
  return reverseString(trimPrefix(reversePattern(pattern), reverseString(value), greedy));
}

/** Go's Regexp.ReplaceAllString, including its handling of empty matches and `$` templates. */
function goReplaceAll(re: RegExp, src: string, template: string): string {
  let out = '';
  let lastMatchEnd = 0;
  let searchPos = 0;
  while (searchPos <= src.length) {
    re.lastIndex = searchPos;
    const m = re.exec(src);
    if (!m) break;
    const start = m.index;
    const end = start + m[0].length;
    out += src.slice(lastMatchEnd, start);
    // No replacement for an empty match right after the previous match.
    if (end > lastMatchEnd || start === 0) out += goExpandTemplate(template, m[0]);
    lastMatchEnd = end;
    const cp = src.codePointAt(searchPos);
    const width = cp === undefined ? 0 : cp > 0xffff ? 2 : 1;
    if (searchPos + width > end) searchPos += width;
    else if (searchPos + 1 > end) searchPos++;
    else searchPos = end;
  }
  return out + src.slice(lastMatchEnd);
}

// Go's Regexp.Expand for a pattern without capture groups: $0 / ${0} is the whole match,
// $$ is a dollar, any other valid reference is empty and a malformed one stays literal.
function goExpandTemplate(template: string, match: string): string {
  let out = '';
  let t = template;
  for (;;) {
    const i = t.indexOf('$');
    if (i < 0) break;
    out += t.slice(0, i);
    t = t.slice(i + 1);
    if (t.startsWith('$')) {
      out += '$';
      t = t.slice(1);
      continue;
    }
    let s = t;
    const brace = s.startsWith('{');
    if (brace) s = s.slice(1);
    let n = 0;
    const runes = Array.from(s);
    let name = '';
    while (n < runes.length && (isLetter(runes[n]!) || isDigit(runes[n]!) || runes[n] === '_')) name += runes[n++];
    let rest = runes.slice(n).join('');
    if (name === '' || (brace && !rest.startsWith('}'))) {
      out += '$';
      continue;
    }
    if (brace) rest = rest.slice(1);
    t = rest;
    const num = /^(0|[1-9][0-9]{0,7})$/.test(name) ? Number(name) : -1;
    if (num === 0) out += match;
  }
  return out + t;
}
