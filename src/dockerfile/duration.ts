// Go's time.ParseDuration, for HEALTHCHECK --interval/--timeout/--start-period/--start-interval.
// Results are nanoseconds (what the image config stores). Values beyond 2^53 ns (~104 days)
// lose precision in a JavaScript number; Go caps at 2^63-1 ns and so do we.

import { FrontendError } from './errors.js';
import { goQuote } from './text.js';

const UNITS: Record<string, number> = {
  ns: 1,
  us: 1e3,
  '\u00b5s': 1e3, // micro sign
  '\u03bcs': 1e3, // Greek mu
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

const MAX_NS = 9223372036854775807n;

export class DurationError extends FrontendError {
  override readonly name = 'DurationError';
}

/** Parse "1h30m", "1.5s", "300ms", "-2m" ... into nanoseconds. */
export function parseDuration(input: string): number {
  const invalid = () => new DurationError(`time: invalid duration ${goQuote(input)}`);
  let s = input;
  let neg = false;
  if (s !== '' && (s[0] === '-' || s[0] === '+')) {
    neg = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') throw invalid();
  let total = 0n;
  while (s !== '') {
    // integer part
    const intM = /^[0-9]*/.exec(s)![0];
    s = s.slice(intM.length);
    let frac = '';
    if (s.startsWith('.')) {
      s = s.slice(1);
      frac = /^[0-9]*/.exec(s)![0];
      s = s.slice(frac.length);
    }
    if (intM === '' && frac === '') throw invalid(); // no digits at all, e.g. ".s"
    const unitM = /^[^0-9.]*/u.exec(s)![0];
    s = s.slice(unitM.length);
    if (unitM === '') throw new DurationError(`time: missing unit in duration ${goQuote(input)}`);
    const unit = UNITS[unitM];
    if (unit === undefined) throw new DurationError(`time: unknown unit ${goQuote(unitM)} in duration ${goQuote(input)}`);
    const u = BigInt(unit);
    let v = BigInt(intM === '' ? '0' : intM) * u;
    if (frac !== '') {
      // Truncate like Go: the fraction contributes floor(frac * unit).
      const scale = 10n ** BigInt(frac.length);
      v += (BigInt(frac) * u) / scale;
    }
    total += v;
    if (total > MAX_NS) throw invalid();
  }
  return Number(neg ? -total : total);
}

/** Format nanoseconds the way Go's Duration.String does ("1m30s", "500ms", "0s"). */
export function formatDuration(ns: number): string {
  if (ns === 0) return '0s';
  const neg = ns < 0;
  let v = Math.abs(ns);
  let out: string;
  if (v < 1e9) {
    if (v < 1e3) out = `${v}ns`;
    else if (v < 1e6) out = `${trimZeros(v / 1e3)}µs`;
    else out = `${trimZeros(v / 1e6)}ms`;
  } else {
    const h = Math.floor(v / 3600e9);
    v -= h * 3600e9;
    const m = Math.floor(v / 60e9);
    v -= m * 60e9;
    const sec = `${trimZeros(v / 1e9)}s`;
    out = h > 0 ? `${h}h${m}m${sec}` : m > 0 ? `${m}m${sec}` : sec;
  }
  return neg ? '-' + out : out;
}

function trimZeros(n: number): string {
  return String(Number(n.toFixed(9)));
}
