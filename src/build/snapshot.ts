// One filesystem-changing build step = a fresh overlay of the parent's layers with an empty upper
// dir, a mutation of the merged view (a RUN in a container, a COPY, a mkdir), and the upper dir
// committed as the new layer (DESIGN.md, idea 2). The upper dir is renamed into the layer store,
// so it serves as is as a lower dir for the next step: nothing is copied or re-extracted.
// The overlay is mounted only when a step asks for it: COPY and WORKDIR usually write the upper
// dir themselves (upper-copy.ts), which spares the mount, the unmount and overlayfs on every write.
import { mkdirSync, rmSync, readdirSync, lstatSync, rmdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import type { Engine } from '../engine.js';
import { removeTree } from '../store/staging.js';
import type { Digest } from '../image/types.js';
import { mountOverlay, unmountOverlay } from '../layers/overlay.js';
import type { KnownEntry } from '../layers/pack.js';

export interface Snapshot {
  /** Mounts the writable merged root filesystem (once) and returns its path; changes land in `upper`. */
  mount(): string;
  upper: string;
  /** The parent's layer directories, top first (an empty one for FROM scratch). */
  lower: string[];
  /** Set by a step that wrote `upper` itself: what it knows of the files (see PackOptions.known). */
  known?: ReadonlyMap<string, KnownEntry>;
  /** Private scratch space next to the snapshot (bundle dirs, secrets) on the same filesystem. */
  scratch: string;
}

export interface CommitResult {
  diffId: Digest;
  chainId: Digest;
  size: number;
  /** False when the step changed nothing (e.g. WORKDIR of an existing directory). */
  changed: boolean;
}

/**
 * Mounts a snapshot on `diffIds`, runs `fn` on it and commits what it wrote as a layer.
 * With `keepEmpty`, an unchanged upper still becomes an (empty) layer, as Docker does for RUN.
 */
export async function withSnapshot<T>(
  engine: Engine,
  diffIds: Digest[],
  fn: (s: Snapshot) => Promise<T>,
  opts: { keepEmpty: boolean; sourceDateEpoch?: number },
): Promise<{ value: T; layer: CommitResult | null }> {
  const base = engine.tmpDir('step-');
  const merged = join(base, 'merged');
  const work = join(base, 'work');
  const upper = join(base, 'upper');
  const scratch = join(base, 'scratch');
  for (const d of [upper, scratch]) mkdirSync(d, { recursive: true });
  let lower = engine.layers.lowerDirs(diffIds);
  if (lower.length === 0) {
    // overlayfs needs at least one lower dir; FROM scratch gets an empty one.
    const empty = join(base, 'empty');
    mkdirSync(empty);
    lower = [empty];
  }
  let mounted = false;
  const s: Snapshot = {
    upper,
    scratch,
    lower,
    mount: () => {
      if (!mounted) {
        for (const d of [merged, work]) mkdirSync(d, { recursive: true });
        mountOverlay({ lower, upper, work, target: merged });
        mounted = true;
      }
      return merged;
    },
  };
  try {
    const value = await fn(s);
    if (mounted) {
      unmountOverlay(merged);
      mounted = false;
      s.known = undefined; // files written through the overlay are not what the step recorded
    }
    const changed = readdirSync(upper).length > 0;
    if (!changed && !opts.keepEmpty) return { value, layer: null };
    const c = await engine.layers.commitDir(upper, diffIds, { sourceDateEpoch: opts.sourceDateEpoch, known: s.known });
    return { value, layer: { ...c, changed } };
  } finally {
    if (mounted) {
      try {
        unmountOverlay(merged);
      } catch {
        /* best effort: the tmp sweep retries */
      }
    }
    removeTree(base); // never follows a mount that failed to come off
  }
}

/** Before a step runs: which of the runtime's mount points (and their parents) already exist. */
export function recordStubs(merged: string, mountPoints: string[]): { path: string; existed: boolean }[] {
  const seen = new Map<string, boolean>();
  for (const m of mountPoints) {
    for (let p = m; p !== '/' && p !== '.' && !seen.has(p); p = dirname(p)) {
      let existed = true;
      try {
        lstatSync(join(merged, p));
      } catch {
        existed = false;
      }
      seen.set(p, existed);
    }
  }
  return [...seen].map(([path, existed]) => ({ path, existed }));
}

/**
 * After a step ran: removes the mount-point stubs the runtime created in the upper dir (an empty
 * /etc/hosts, /proc, /dev/…, with the parents it had to make): artefacts of running the step, not
 * changes the step made. Paths that existed before, or that the step filled, are left alone.
 */
export function removeMountStubs(upper: string, stubs: { path: string; existed: boolean }[]): void {
  // Deepest first, so a stub directory emptied by removing its children can go too.
  for (const { path, existed } of [...stubs].sort((a, b) => b.path.length - a.path.length)) {
    if (existed) continue;
    const p = join(upper, path);
    let st;
    try {
      st = lstatSync(p);
    } catch {
      continue;
    }
    try {
      if (st.isDirectory()) rmdirSync(p); // only succeeds if empty
      else if (st.isFile() && st.size === 0) rmSync(p);
    } catch {
      /* the step put something there: keep it */
    }
  }
}
