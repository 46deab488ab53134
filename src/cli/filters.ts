// `--filter KEY=VALUE` as Docker's commands take it: the KEY=VALUE lists of the listing commands
// (network ls, events), and the prune commands' until=/label= filter.
import { CliError } from './context.js';
import { toTime } from './format/index.js';

/** Go duration (`24h`, `1h30m`, `90s`) or a timestamp → a cut-off time in ms. */
function untilTime(v: string, now: number): number {
  const dur = /^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m(?!s))?(?:(\d+(?:\.\d+)?)s)?$/.exec(v);
  if (dur && v) return now - ((Number(dur[1] ?? 0) * 60 + Number(dur[2] ?? 0)) * 60 + Number(dur[3] ?? 0)) * 1000;
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v) * 1000;
  const t = Date.parse(v);
  if (!Number.isFinite(t)) throw new CliError(`invalid filter 'until=${v}'`);
  return t;
}

/**
 * The prune commands' `--filter`: `until=` (a Go duration before now, or a time) and `label=K[=V]`
 * / `label!=K[=V]`, as one test of an object's creation time and labels (all must hold).
 */
export function pruneFilter(list: readonly string[], now = Date.now()): (created: string | undefined, labels: Record<string, string>) => boolean {
  let until: number | undefined;
  const labels: { key: string; value?: string; neg: boolean }[] = [];
  for (const f of list) {
    const m = /^(until|label!?)=(.*)$/.exec(f);
    if (!m) throw new CliError(`invalid filter '${f.split('=')[0]}'`);
    if (m[1] === 'until') until = untilTime(m[2]!, now);
    else {
      const [key, value] = m[2]!.split(/=(.*)/s);
      labels.push({ key: key!, value, neg: m[1] === 'label!' });
    }
  }
  return (created, l) =>
    (until === undefined || (toTime(created) ?? 0) < until) &&
    labels.every((x) => (x.value === undefined ? x.key in l : l[x.key] === x.value) !== x.neg);
}

/**
 * `--filter` values grouped by key (keys lower-cased): the listing commands then match Docker's
 * way, a key's values if any does, and every key.
 */
export function groupFilters(specs: readonly string[]): Map<string, string[]> {
  const byKey = new Map<string, string[]>();
  for (const f of specs) {
    const i = f.indexOf('=');
    if (i <= 0) throw new CliError(`bad format of filter (expected name=value): ${f}`);
    const k = f.slice(0, i).toLowerCase();
    byKey.set(k, [...(byKey.get(k) ?? []), f.slice(i + 1)]);
  }
  return byKey;
}
