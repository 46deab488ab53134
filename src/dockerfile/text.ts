// Character classes and string helpers that mirror Go's standard library, so that the
// front end splits, trims and quotes text exactly like BuildKit (which is written in Go).
// JavaScript's own notions differ in small ways (e.g. String.prototype.trim also strips
// U+FEFF, JSON.stringify is not strconv.Quote), and those differences show up in dumps
// and error messages.

/** Go's unicode.IsSpace: ASCII whitespace plus U+0085, U+00A0 and the Unicode Z* spaces. */
export function isSpace(ch: string): boolean {
  const c = ch.codePointAt(0);
  if (c === undefined) return false;
  if (c <= 0xff) {
    return c === 0x20 || (c >= 0x09 && c <= 0x0d) || c === 0x85 || c === 0xa0;
  }
  return (
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000
  );
}

const letterRe = /^\p{L}$/u;
const digitRe = /^\p{Nd}$/u;

/** Go's unicode.IsLetter. */
export function isLetter(ch: string): boolean {
  return letterRe.test(ch);
}

/** Go's unicode.IsDigit (decimal digits, category Nd). */
export function isDigit(ch: string): boolean {
  return digitRe.test(ch);
}

/** strings.TrimSpace. */
export function trimSpace(s: string): string {
  return trimRightSpace(trimLeftSpace(s));
}

/** strings.TrimLeftFunc(s, unicode.IsSpace). */
export function trimLeftSpace(s: string): string {
  let i = 0;
  while (i < s.length) {
    const ch = String.fromCodePoint(s.codePointAt(i)!);
    if (!isSpace(ch)) break;
    i += ch.length;
  }
  return s.slice(i);
}

/** strings.TrimRightFunc(s, unicode.IsSpace). */
export function trimRightSpace(s: string): string {
  let end = s.length;
  while (end > 0) {
    // Every Go space is in the BMP, so a single code unit is enough.
    if (!isSpace(s[end - 1]!)) break;
    end--;
  }
  return s.slice(0, end);
}

/** Number of bytes of s once UTF-8 encoded (Go strings are bytes). */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}

const printableRe = /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u;

/**
 * Go's strconv.Quote (what `%q` prints), used in error messages so they read like Docker's.
 * Lone surrogates cannot come from valid UTF-8; they are written as \ufffd like Go would.
 */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    switch (c) {
      case 0x22:
        out += '\\"';
        continue;
      case 0x5c:
        out += '\\\\';
        continue;
      case 0x07:
        out += '\\a';
        continue;
      case 0x08:
        out += '\\b';
        continue;
      case 0x0c:
        out += '\\f';
        continue;
      case 0x0a:
        out += '\\n';
        continue;
      case 0x0d:
        out += '\\r';
        continue;
      case 0x09:
        out += '\\t';
        continue;
      case 0x0b:
        out += '\\v';
        continue;
    }
    if (c >= 0xd800 && c <= 0xdfff) out += '\\ufffd';
    else if (c < 0x20 || c === 0x7f) out += '\\x' + c.toString(16).padStart(2, '0');
    else if (c === 0x20 || printableRe.test(ch)) out += ch;
    else if (c < 0x10000) out += '\\u' + c.toString(16).padStart(4, '0');
    else out += '\\U' + c.toString(16).padStart(8, '0');
  }
  return out + '"';
}

/** Escape a string for literal use inside a JavaScript RegExp (u flag). */
export function escapeRegExp(s: string): string {
  return s.replace(/[\\^$.*+?()[\]{}|/-]/g, (m) => (m === '-' ? '\\x2d' : '\\' + m));
}
