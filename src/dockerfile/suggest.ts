// "did you mean X?" hints, as BuildKit's util/suggest adds them to unknown instructions,
// flags and mount options: the closest candidate at Levenshtein distance < 3 wins.

export function levenshtein(a: string, b: string): number {
  const s = Array.from(a);
  const t = Array.from(b);
  if (s.length === 0) return t.length;
  if (t.length === 0) return s.length;
  let prev = Array.from({ length: t.length + 1 }, (_, i) => i);
  for (let i = 1; i <= s.length; i++) {
    const cur = [i];
    for (let j = 1; j <= t.length; j++) {
      const cost = s[i - 1] === t[j - 1] ? 0 : 1;
      cur.push(Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + cost));
    }
    prev = cur;
  }
  return prev[t.length]!;
}

/** The closest option, or undefined if none is close or `value` is itself an option. */
export function suggest(value: string, options: readonly string[], caseSensitive: boolean): string | undefined {
  const v = caseSensitive ? value : value.toLowerCase();
  let match: string | undefined;
  let min = 3;
  for (const opt of options) {
    const o = caseSensitive ? opt : opt.toLowerCase();
    if (o === v) return undefined; // an exact match means the error is about something else
    const d = levenshtein(v, o);
    if (d < min) {
      min = d;
      match = caseSensitive ? opt : matchCase(o, value);
    }
  }
  return match;
}

function matchCase(val: string, orig: string): string {
  if (orig === orig.toLowerCase()) return val.toLowerCase();
  if (orig === orig.toUpperCase()) return val.toUpperCase();
  return val;
}

/** Append " (did you mean X?)" to a message when a close option exists. */
export function withSuggestion(message: string, value: string, options: readonly string[], caseSensitive: boolean): string {
  const m = suggest(value, options, caseSensitive);
  return m === undefined ? message : `${message} (did you mean ${m}?)`;
}
