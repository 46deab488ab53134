// Build cache keys (DESIGN.md, Identities): key(step) = sha256(parent key, the instruction after
// expansion, the build args it sees, and for COPY/ADD the content hash of every selected source
// with its path and mode). Mtimes are deliberately not part of it: touching a file is not a change.
// The inputs are kept beside the key so that a miss can be explained (`--explain-cache`).
import { createHash } from 'node:crypto';

export interface SourceHash {
  path: string;
  mode: number;
  hash: string;
}

export interface CacheInputs {
  parent: string;
  /** The instruction as it will run, after expansion (e.g. `RUN /bin/sh -c make`). */
  instruction: string;
  /** Build args visible to the step (RUN sees them as environment variables). */
  args: Record<string, string>;
  /** COPY/ADD sources, sorted by path. */
  sources?: SourceHash[];
  /** A platform or other context that changes the result (kept generic on purpose). */
  extra?: string;
}

export function cacheKey(i: CacheInputs): string {
  const h = createHash('sha256');
  h.update(`parent ${i.parent}\n`);
  h.update(`instr ${i.instruction}\n`);
  for (const k of Object.keys(i.args).sort()) h.update(`arg ${k}=${i.args[k]}\n`);
  if (i.sources) h.update(`sources ${sourcesDigest(i.sources)}\n`);
  if (i.extra) h.update(`extra ${i.extra}\n`);
  return `sha256:${h.digest('hex')}`;
}

export function sourcesDigest(sources: SourceHash[]): string {
  const h = createHash('sha256');
  for (const s of sources) h.update(`${s.path}\0${s.mode.toString(8)}\0${s.hash}\n`);
  return h.digest('hex');
}

/** Compact form of the inputs to keep beside a cache entry: per-file hashes only for small sets. */
export interface StoredInputs {
  parent: string;
  instruction: string;
  args: Record<string, string>;
  sourcesDigest?: string;
  sources?: SourceHash[];
}

export const MAX_STORED_SOURCES = 5000;

export function storedInputs(i: CacheInputs): StoredInputs {
  const s: StoredInputs = { parent: i.parent, instruction: i.instruction, args: i.args };
  if (i.sources) {
    s.sourcesDigest = sourcesDigest(i.sources);
    if (i.sources.length <= MAX_STORED_SOURCES) s.sources = i.sources;
  }
  return s;
}

/**
 * Why did this step miss? Compares its inputs with the entries recorded earlier for the same
 * parent (the most useful neighbour) and names the first difference a user can act on.
 */
export function explainMiss(now: CacheInputs, previous: StoredInputs[], parentWasHit: boolean): string {
  if (!parentWasHit) return 'a previous step changed, so every step after it runs again';
  if (previous.length === 0) return 'no earlier build of this step';
  const same = previous.filter((p) => p.instruction === now.instruction);
  if (same.length === 0) {
    return `instruction changed (before: ${previous[previous.length - 1]!.instruction})`;
  }
  const p = same[same.length - 1]!;
  const argDiffs: string[] = [];
  for (const k of new Set([...Object.keys(p.args), ...Object.keys(now.args)])) {
    if (p.args[k] !== now.args[k]) argDiffs.push(`build arg ${k} changed: ${fmt(p.args[k])} -> ${fmt(now.args[k])}`);
  }
  if (argDiffs.length) return argDiffs.join('; ');
  if (now.sources && p.sourcesDigest !== sourcesDigest(now.sources)) {
    if (!p.sources) return 'source files changed';
    const before = new Map(p.sources.map((s) => [s.path, s]));
    const after = new Map(now.sources.map((s) => [s.path, s]));
    const changes: string[] = [];
    for (const [path, s] of after) {
      const b = before.get(path);
      if (!b) changes.push(`added ${path}`);
      else if (b.hash !== s.hash) changes.push(`changed ${path}`);
      else if (b.mode !== s.mode) changes.push(`mode of ${path} ${b.mode.toString(8)} -> ${s.mode.toString(8)}`);
    }
    for (const path of before.keys()) if (!after.has(path)) changes.push(`removed ${path}`);
    const shown = changes.slice(0, 5).join(', ');
    return `source files: ${shown}${changes.length > 5 ? ` and ${changes.length - 5} more` : ''}`;
  }
  return 'the cached result is no longer in the store';
}

const fmt = (v: string | undefined) => (v === undefined ? '(unset)' : JSON.stringify(v));
