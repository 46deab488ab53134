// Translate a Go (RE2) regular expression into an equivalent JavaScript RegExp.
//
// moby/patternmatcher turns each .dockerignore pattern into a Go regexp, copying the user's
// `[...]` classes and `\x` escapes into it verbatim, so their meaning is Go's (e.g. `\a` is
// BEL, `\s` is [\t\n\f\r ], `[]a]` is a class, `.` does not match "\n", a reversed range is a
// compile error). JavaScript differs in all of these, so the Go syntax is parsed and
// re-emitted. Supported: literals, . ^ $ | ( ) groups, * + ? (lazy too), classes with ranges,
// negation, POSIX [:name:] and Perl \d\s\w classes, \p{..} Unicode classes, \A \z \b \B,
// \Q..\E, octal/hex/control escapes. `{n,m}` repetitions are not produced by patternmatcher
// and are treated as literals; flag groups `(?i)` are rejected.

export class GoRegexpError extends Error {
  override readonly name = 'GoRegexpError';
}

const MAX = 0x10ffff;

type Range = [number, number];

const PERL: Record<string, Range[]> = {
  d: [[0x30, 0x39]],
  s: [[0x09, 0x0a], [0x0c, 0x0d], [0x20, 0x20]],
  w: [[0x30, 0x39], [0x41, 0x5a], [0x5f, 0x5f], [0x61, 0x7a]],
};

const POSIX: Record<string, Range[]> = {
  alnum: [[0x30, 0x39], [0x41, 0x5a], [0x61, 0x7a]],
  alpha: [[0x41, 0x5a], [0x61, 0x7a]],
  ascii: [[0x00, 0x7f]],
  blank: [[0x09, 0x09], [0x20, 0x20]],
  cntrl: [[0x00, 0x1f], [0x7f, 0x7f]],
  digit: [[0x30, 0x39]],
  graph: [[0x21, 0x7e]],
  lower: [[0x61, 0x7a]],
  print: [[0x20, 0x7e]],
  punct: [[0x21, 0x2f], [0x3a, 0x40], [0x5b, 0x60], [0x7b, 0x7e]],
  space: [[0x09, 0x0d], [0x20, 0x20]],
  upper: [[0x41, 0x5a]],
  word: [[0x30, 0x39], [0x41, 0x5a], [0x5f, 0x5f], [0x61, 0x7a]],
  xdigit: [[0x30, 0x39], [0x41, 0x46], [0x61, 0x66]],
};

function complement(ranges: Range[]): Range[] {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const out: Range[] = [];
  let next = 0;
  for (const [lo, hi] of sorted) {
    if (lo > next) out.push([next, lo - 1]);
    next = Math.max(next, hi + 1);
  }
  if (next <= MAX) out.push([next, MAX]);
  return out;
}

function cp(c: number): string {
  return `\\u{${c.toString(16)}}`;
}

function rangesToClassBody(ranges: Range[]): string {
  return ranges.map(([lo, hi]) => (lo === hi ? cp(lo) : `${cp(lo)}-${cp(hi)}`)).join('');
}

const isOctal = (c: string | undefined) => c !== undefined && c >= '0' && c <= '7';
const isHex = (c: string | undefined) => c !== undefined && /^[0-9a-fA-F]$/u.test(c);
const isAlnum = (c: string) => /^[0-9A-Za-z]$/u.test(c);

class Translator {
  private readonly s: string[];
  private i = 0;
  constructor(source: string) {
    this.s = Array.from(source);
  }

  private peek(off = 0): string | undefined {
    return this.s[this.i + off];
  }

  translate(): string {
    let out = '';
    while (this.i < this.s.length) {
      const c = this.s[this.i]!;
      switch (c) {
        case '\\':
          out += this.escapeOutside();
          break;
        case '[':
          out += this.klass();
          break;
        case '.':
          this.i++;
          out += '[^\\n]';
          break;
        case '^':
        case '$':
        case '|':
        case ')':
          this.i++;
          out += c;
          break;
        case '(':
          this.i++;
          if (this.peek() === '?') throw new GoRegexpError('flag groups are not supported');
          out += '(';
          break;
        case '*':
        case '+':
        case '?':
          this.i++;
          out += c;
          if (this.peek() === '?') {
            this.i++;
            out += '?';
          }
          break;
        default:
          this.i++;
          out += cp(c.codePointAt(0)!);
      }
    }
    return out;
  }

  /** Escape outside a class; the backslash is at this.i. */
  private escapeOutside(): string {
    const c = this.peek(1);
    if (c === undefined) throw new GoRegexpError('trailing backslash at end of expression');
    switch (c) {
      case 'A':
        this.i += 2;
        return '^';
      case 'z':
        this.i += 2;
        return '$';
      case 'b':
      case 'B':
        this.i += 2;
        return '\\' + c;
      case 'Q': {
        this.i += 2;
        let lit = '';
        while (this.i < this.s.length && !(this.s[this.i] === '\\' && this.s[this.i + 1] === 'E')) {
          lit += cp(this.s[this.i]!.codePointAt(0)!);
          this.i++;
        }
        if (this.i < this.s.length) this.i += 2;
        return lit;
      }
      case 'd':
      case 's':
      case 'w':
        this.i += 2;
        return `[${rangesToClassBody(PERL[c]!)}]`;
      case 'D':
      case 'S':
      case 'W':
        this.i += 2;
        return `[${rangesToClassBody(complement(PERL[c.toLowerCase()]!))}]`;
      case 'p':
      case 'P':
        return this.unicodeClass(false);
    }
    return cp(this.escapeChar());
  }

  /** \pL, \p{Greek}, \PL, \p{^Greek}: emitted as a JS \p{..} escape. */
  private unicodeClass(inClass: boolean): string {
    let negate = this.peek(1) === 'P';
    this.i += 2;
    let name: string;
    if (this.peek() === '{') {
      const end = this.s.indexOf('}', this.i);
      if (end < 0) throw new GoRegexpError('invalid character class range');
      name = this.s.slice(this.i + 1, end).join('');
      this.i = end + 1;
    } else {
      const n = this.peek();
      if (n === undefined) throw new GoRegexpError('invalid character class range');
      name = n;
      this.i++;
    }
    if (name.startsWith('^')) {
      negate = !negate;
      name = name.slice(1);
    }
    let body: string;
    if (name === 'Any') {
      return negate ? (inClass ? '' : '[^\\u{0}-\\u{10ffff}]') : inClass ? '\\u{0}-\\u{10ffff}' : '[\\u{0}-\\u{10ffff}]';
    } else if (/^(?:[A-Z][a-z]?)$/u.test(name)) body = name;
    else body = `Script=${name}`;
    return `\\${negate ? 'P' : 'p'}{${body}}`;
  }

  /** A single-character escape (Go's parseEscape); the backslash is at this.i. */
  private escapeChar(): number {
    this.i++;
    const c = this.s[this.i]!;
    this.i++;
    if (c >= '1' && c <= '7') {
      // A single non-zero digit would be a backreference, which RE2 does not support.
      if (!isOctal(this.peek())) throw new GoRegexpError(`invalid escape sequence: \\${c}`);
    }
    if (c >= '0' && c <= '7') {
      let r = c.charCodeAt(0) - 48;
      for (let k = 1; k < 3 && isOctal(this.peek()); k++) r = r * 8 + (this.s[this.i++]!.charCodeAt(0) - 48);
      return r;
    }
    switch (c) {
      case 'x': {
        if (this.peek() === '{') {
          const end = this.s.indexOf('}', this.i);
          const hex = end < 0 ? '' : this.s.slice(this.i + 1, end).join('');
          if (!/^[0-9a-fA-F]+$/u.test(hex) || Number.parseInt(hex, 16) > MAX) {
            throw new GoRegexpError('invalid escape sequence: \\x');
          }
          this.i = end + 1;
          return Number.parseInt(hex, 16);
        }
        const h1 = this.peek();
        const h2 = this.peek(1);
        if (!isHex(h1) || !isHex(h2)) throw new GoRegexpError('invalid escape sequence: \\x');
        this.i += 2;
        return Number.parseInt(h1! + h2!, 16);
      }
      case 'a':
        return 7;
      case 'f':
        return 12;
      case 'n':
        return 10;
      case 'r':
        return 13;
      case 't':
        return 9;
      case 'v':
        return 11;
    }
    const code = c.codePointAt(0)!;
    if (code < 0x80 && !isAlnum(c)) return code; // escaped punctuation is itself
    throw new GoRegexpError(`invalid escape sequence: \\${c}`);
  }

  /** A bracket expression; this.i is at '['. */
  private klass(): string {
    this.i++;
    let negate = false;
    if (this.peek() === '^') {
      negate = true;
      this.i++;
    }
    const parts: string[] = [];
    let first = true;
    for (;;) {
      const c = this.peek();
      if (c === undefined) throw new GoRegexpError('missing closing ]');
      if (c === ']' && !first) {
        this.i++;
        break;
      }
      first = false;
      // POSIX class [:name:] / [:^name:]
      if (c === '[' && this.peek(1) === ':') {
        const end = this.s.indexOf(']', this.i + 2);
        const inner = end >= 0 ? this.s.slice(this.i + 2, end).join('') : '';
        if (end >= 0 && inner.endsWith(':')) {
          let name = inner.slice(0, -1);
          let neg = false;
          if (name.startsWith('^')) {
            neg = true;
            name = name.slice(1);
          }
          const ranges = POSIX[name];
          if (!ranges) throw new GoRegexpError(`invalid character class range: [:${inner}]`);
          parts.push(rangesToClassBody(neg ? complement(ranges) : ranges));
          this.i = end + 1;
          continue;
        }
      }
      if (c === '\\') {
        const e = this.peek(1);
        if (e === 'p' || e === 'P') {
          parts.push(this.unicodeClass(true));
          continue;
        }
        if (e === 'd' || e === 's' || e === 'w') {
          this.i += 2;
          parts.push(rangesToClassBody(PERL[e]!));
          continue;
        }
        if (e === 'D' || e === 'S' || e === 'W') {
          this.i += 2;
          parts.push(rangesToClassBody(complement(PERL[e.toLowerCase()]!)));
          continue;
        }
      }
      const lo = this.classChar();
      let hi = lo;
      if (this.peek() === '-' && this.peek(1) !== undefined && this.peek(1) !== ']') {
        this.i++;
        hi = this.classChar();
        if (hi < lo) throw new GoRegexpError('invalid character class range');
      }
      parts.push(lo === hi ? cp(lo) : `${cp(lo)}-${cp(hi)}`);
    }
    return `[${negate ? '^' : ''}${parts.join('')}]`;
  }

  private classChar(): number {
    const c = this.peek();
    if (c === undefined) throw new GoRegexpError('missing closing ]');
    if (c === '\\') {
      if (this.peek(1) === undefined) throw new GoRegexpError('trailing backslash at end of expression');
      return this.escapeChar();
    }
    this.i++;
    return c.codePointAt(0)!;
  }
}

/** Compile Go regexp syntax into a JS RegExp with the same meaning. Throws GoRegexpError. */
export function compileGoRegexp(source: string): RegExp {
  const js = new Translator(source).translate();
  try {
    return new RegExp(js, 'u');
  } catch (e) {
    throw new GoRegexpError(`invalid regexp ${source}: ${(e as Error).message}`);
  }
}
