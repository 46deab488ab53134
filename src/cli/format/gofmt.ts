// Go's ways of turning values into text, as Docker's CLI prints them: fmt's %v (what a template
// action prints), %g, printf, units.HumanSize / HumanDuration, and encoding/json's escaping.
// Pure functions; no I/O.

/**
 * A Go nil slice, map or pointer: JSON-encodes as `null` (like Go), but prints in a template the
 * way Go prints a typed nil (`[]`, `map[]`, `<nil>`), so `{{.Config.Entrypoint}}` shows `[]` as
 * Docker does. Use the shared constants below.
 */
export class GoNil {
  constructor(readonly kind: 'slice' | 'map' | 'ptr') {}
  toJSON(): null {
    return null;
  }
}
export const NIL_SLICE = new GoNil('slice');
export const NIL_MAP = new GoNil('map');
export const NIL_PTR = new GoNil('ptr');

/** An object can provide its own JSON text (like a Go MarshalJSON method) under this key. */
export const MARSHAL_JSON: unique symbol = Symbol.for('kiln.marshalJSON');
export interface GoMarshaler {
  [MARSHAL_JSON](): string;
}

export function isNil(v: unknown): boolean {
  return v === null || v === undefined || v instanceof GoNil;
}

/** Go's `%v`: what `{{.X}}` prints. `undefined` is Go's invalid value (`<no value>`). */
export function goString(v: unknown): string {
  return fmtV(v, true);
}

function fmtV(v: unknown, top: boolean): string {
  if (v === undefined) return top ? '<no value>' : '<nil>';
  if (v === null) return '<nil>';
  if (v instanceof GoNil) return v.kind === 'slice' ? '[]' : v.kind === 'map' ? 'map[]' : '<nil>';
  switch (typeof v) {
    case 'string':
      return v;
    case 'number':
      return goNumber(v);
    case 'bigint':
      return v.toString();
    case 'boolean':
      return v ? 'true' : 'false';
    case 'function':
      return '<func>';
    case 'symbol':
      return String(v);
  }
  if (Array.isArray(v)) return `[${v.map((e) => fmtV(e, false)).join(' ')}]`;
  if (v instanceof Date) return goTimeString(v);
  if (v instanceof Map) {
    const keys = [...v.keys()].sort(compareKeys);
    return `map[${keys.map((k) => `${fmtV(k, false)}:${fmtV(v.get(k), false)}`).join(' ')}]`;
  }
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o).sort(compareKeys);
  // An empty object inside a map is, in Docker's data, a struct{} (ExposedPorts, Volumes): `{}`.
  if (keys.length === 0 && !top) return '{}';
  return `map[${keys.map((k) => `${k}:${fmtV(o[k], false)}`).join(' ')}]`;
}

function compareKeys(a: unknown, b: unknown): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  const x = String(a);
  const y = String(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Integers print as integers (Docker's typed fields are int64); other numbers as Go's %v of a float64. */
export function goNumber(n: number): string {
  if (Number.isInteger(n)) {
    return Math.abs(n) < 1e21 ? n.toFixed(0) : BigInt(n).toString();
  }
  return formatG(n, -1);
}

/** Go's strconv.FormatFloat(n, 'g', prec, 64) (prec -1 = shortest), as fmt's %g and %v use it. */
export function formatG(n: number, prec: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (!Number.isFinite(n)) return n > 0 ? '+Inf' : '-Inf';
  if (n === 0) return Object.is(n, -0) ? '-0' : '0';
  const shortest = prec < 0;
  if (prec === 0) prec = 1;
  // significant digits (trailing zeros dropped, as Go's decimal type does) and decimal exponent
  const m = /^(-?)(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(shortest ? n.toExponential() : n.toExponential(prec - 1))!;
  const sign = m[1]!;
  const digits = (m[2]! + (m[3] ?? '')).replace(/(?<=.)0+$/, '');
  const exp = Number(m[4]);
  let eprec = prec;
  if (eprec > digits.length && digits.length >= exp + 1) eprec = digits.length;
  if (shortest) eprec = 6;
  if (exp < -4 || exp >= eprec) {
    const frac = digits.slice(1);
    const ae = Math.abs(exp);
    return `${sign}${digits[0]}${frac ? '.' + frac : ''}e${exp < 0 ? '-' : '+'}${ae < 10 ? '0' : ''}${ae}`;
  }
  // fixed form
  let s: string;
  if (exp < 0) s = '0.' + '0'.repeat(-exp - 1) + digits;
  else if (digits.length <= exp + 1) s = digits + '0'.repeat(exp + 1 - digits.length);
  else s = digits.slice(0, exp + 1) + '.' + digits.slice(exp + 1);
  return sign + s;
}

/** Go's time.Time.String() for a UTC time: `2023-05-19 20:19:27 +0000 UTC`. */
export function goTimeString(d: Date): string {
  if (Number.isNaN(d.getTime())) return '0001-01-01 00:00:00 +0000 UTC';
  const iso = d.toISOString(); // 2023-05-19T20:19:27.123Z
  let frac = iso.slice(20, 23).replace(/0+$/, '');
  frac = frac ? '.' + frac : '';
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${frac} +0000 UTC`;
}

/** RFC 3339 in UTC without fractional seconds, as Go's time.RFC3339 layout prints it. */
export function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d+Z$/, 'Z');
}

const DECIMAL_UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];

/** go-units HumanSizeWithPrecision(size, 3): `4.26MB`, `0B`, `1e+03kB` (sic, as Docker prints). */
export function humanSize(bytes: number, precision = 3): string {
  let size = bytes;
  let i = 0;
  while (size >= 1000 && i < DECIMAL_UNITS.length - 1) {
    size /= 1000;
    i++;
  }
  return formatG(size, precision) + DECIMAL_UNITS[i];
}

/** go-units HumanDuration: `Less than a second`, `About a minute`, `3 days`, `2 years`. */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.trunc(ms / 60000);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.trunc(ms / 3600000 + 0.5);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.trunc(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.trunc(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24 / 30)} months`;
  return `${Math.trunc(ms / 3600000 / 24 / 365)} years`;
}

/** `3 weeks ago`, Docker's CREATED column; `N/A` for an unknown time. */
export function createdSince(created: Date | string | number | undefined, now = Date.now()): string {
  const t = toTime(created);
  if (t === undefined || t <= 0) return 'N/A';
  return `${humanDuration(Math.max(0, now - t))} ago`;
}

/** Milliseconds since the epoch, or undefined for a missing/invalid time. */
export function toTime(v: Date | string | number | undefined | null): number | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  const t = v instanceof Date ? v.getTime() : typeof v === 'number' ? v : Date.parse(v);
  return Number.isFinite(t) ? t : undefined;
}

export interface GoJsonOptions {
  /** Indentation unit (Docker's inspect uses four spaces); none = compact. */
  indent?: string;
  /** Escape <, > and & as \u003c… (encoding/json's default; Docker's `json` template function turns it off). */
  escapeHTML?: boolean;
  /** Sort object keys (Go sorts map keys; struct fields keep their order). */
  sortKeys?: boolean;
}

/** encoding/json's output: like JSON.stringify, plus Go's escaping and MARSHAL_JSON support. */
export function goJson(v: unknown, opts: GoJsonOptions = {}): string {
  const out = encode(v, opts, '');
  return out ?? 'null';
}

function encode(v: unknown, opts: GoJsonOptions, cur: string): string | undefined {
  if (v !== null && typeof v === 'object') {
    const m = (v as Partial<GoMarshaler>)[MARSHAL_JSON];
    if (typeof m === 'function') return reindent(m.call(v), opts, cur);
    const tj = (v as { toJSON?: () => unknown }).toJSON;
    if (typeof tj === 'function') return encode(tj.call(v), opts, cur);
  }
  if (v === undefined || typeof v === 'function' || typeof v === 'symbol') return undefined;
  if (v === null) return 'null';
  if (typeof v === 'string') return quoteJson(v, opts.escapeHTML ?? true);
  if (typeof v === 'number') return Number.isFinite(v) ? JSON.stringify(v) : 'null';
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  const ind = opts.indent;
  const inner = ind ? cur + ind : cur;
  const nl = ind ? '\n' : '';
  if (Array.isArray(v)) {
    if (v.length === 0) return '[]';
    const parts = v.map((e) => encode(e, opts, inner) ?? 'null');
    return `[${nl}${parts.map((p) => inner + p).join(',' + nl)}${nl}${cur}]`;
  }
  const entries: [string, unknown][] = v instanceof Map ? [...v.entries()].map(([k, x]) => [String(k), x]) : Object.entries(v as object);
  if (opts.sortKeys || v instanceof Map) entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const parts: string[] = [];
  for (const [k, x] of entries) {
    const e = encode(x, opts, inner);
    if (e === undefined) continue;
    parts.push(`${inner}${quoteJson(k, opts.escapeHTML ?? true)}:${ind ? ' ' : ''}${e}`);
  }
  if (parts.length === 0) return '{}';
  return `{${nl}${parts.join(',' + nl)}${nl}${cur}}`;
}

function reindent(raw: string, opts: GoJsonOptions, cur: string): string {
  if (!opts.indent) return raw;
  // re-encode the raw text so it nests with the surrounding indentation; keep its escapes
  return encode(JSON.parse(raw), { ...opts, sortKeys: false }, cur) ?? 'null';
}

export function quoteJson(s: string, escapeHTML = true): string {
  let q = JSON.stringify(s);
  if (escapeHTML) q = q.replace(/[<>&]/g, (c) => `\\u00${c.charCodeAt(0).toString(16)}`);
  return q.replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

/** strconv.Quote, close enough: a double-quoted Go string literal. */
export function goQuote(s: string): string {
  return JSON.stringify(s).replace(/\\u00([0-9a-f]{2})/g, '\\x$1');
}

function goTypeName(v: unknown): string {
  if (v === undefined || v === null || v instanceof GoNil) return '<nil>';
  if (typeof v === 'string') return 'string';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float64';
  if (typeof v === 'boolean') return 'bool';
  if (Array.isArray(v)) return '[]interface {}';
  return 'map[string]interface {}';
}

/** fmt.Sprintf for the verbs templates use: %v %s %d %q %t %x %X %o %b %c %f %F %e %E %g %G %T %%. */
export function goSprintf(format: string, args: readonly unknown[]): string {
  let out = '';
  let ai = 0;
  const re = /%([-+# 0]*)(\*|\d+)?(?:\.(\*|\d*))?([a-zA-Z%])/g;
  let last = 0;
  for (let m = re.exec(format); m; m = re.exec(format)) {
    out += format.slice(last, m.index);
    last = re.lastIndex;
    const flags = m[1]!;
    const verb = m[4]!;
    if (verb === '%') {
      out += '%';
      continue;
    }
    let width: number | undefined;
    let prec: number | undefined;
    if (m[2] === '*') width = Number(args[ai++]);
    else if (m[2] !== undefined) width = Number(m[2]);
    if (m[3] === '*') prec = Number(args[ai++]);
    else if (m[3] !== undefined) prec = m[3] === '' ? 0 : Number(m[3]);
    if (ai >= args.length) {
      out += `%!${verb}(MISSING)`;
      continue;
    }
    const a = args[ai++];
    out += pad(fmtVerb(verb, a, flags, prec), width, flags);
  }
  out += format.slice(last);
  if (ai < args.length) {
    out += `%!(EXTRA ${args.slice(ai).map((a) => `${goTypeName(a)}=${goString(a)}`).join(', ')})`;
  }
  return out;
}

function pad(s: string, width: number | undefined, flags: string): string {
  if (width === undefined) return s;
  const len = [...s].length;
  if (len >= width) return s;
  if (flags.includes('-')) return s + ' '.repeat(width - len);
  if (flags.includes('0') && /^[+-]?\d/.test(s)) {
    const sign = /^[+-]/.test(s) ? s[0]! : '';
    return sign + '0'.repeat(width - len) + s.slice(sign.length);
  }
  return ' '.repeat(width - len) + s;
}

function fmtVerb(verb: string, a: unknown, flags: string, prec: number | undefined): string {
  const plus = flags.includes('+');
  switch (verb) {
    case 'v':
    case 's': {
      const s = goString(a === undefined ? null : a);
      return prec !== undefined && typeof a === 'string' ? [...s].slice(0, prec).join('') : s;
    }
    case 'q':
      if (typeof a === 'string') return goQuote(a);
      if (Array.isArray(a)) return `[${a.map((e) => (typeof e === 'string' ? goQuote(e) : goString(e))).join(' ')}]`;
      break;
    case 't':
      if (typeof a === 'boolean') return String(a);
      break;
    case 'T':
      return goTypeName(a);
    case 'd':
      if (typeof a === 'number' && Number.isInteger(a)) return (plus && a >= 0 ? '+' : '') + goNumber(a);
      if (typeof a === 'bigint') return a.toString();
      break;
    case 'x':
    case 'X': {
      let s: string | undefined;
      if (typeof a === 'string') s = Buffer.from(a, 'utf8').toString('hex');
      else if (typeof a === 'number' && Number.isInteger(a)) s = (a < 0 ? '-' : '') + Math.abs(a).toString(16);
      if (s !== undefined) return verb === 'X' ? s.toUpperCase() : s;
      break;
    }
    case 'o':
      if (typeof a === 'number' && Number.isInteger(a)) return a.toString(8);
      break;
    case 'b':
      if (typeof a === 'number' && Number.isInteger(a)) return a.toString(2);
      break;
    case 'c':
      if (typeof a === 'number' && Number.isInteger(a)) return String.fromCodePoint(a);
      break;
    case 'f':
    case 'F':
      if (typeof a === 'number') return (plus && a >= 0 ? '+' : '') + a.toFixed(prec ?? 6);
      break;
    case 'e':
    case 'E':
      if (typeof a === 'number') {
        const s = a.toExponential(prec ?? 6).replace(/e([+-])(\d)$/, 'e$10$2');
        return verb === 'E' ? s.toUpperCase() : s;
      }
      break;
    case 'g':
    case 'G':
      if (typeof a === 'number') {
        const s = formatG(a, prec ?? -1);
        return verb === 'G' ? s.toUpperCase() : s;
      }
      break;
  }
  return `%!${verb}(${goTypeName(a)}=${goString(a)})`;
}
