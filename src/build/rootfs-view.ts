// A read-only view of an image's root filesystem (COPY --from, RUN --mount from=): an overlay of
// its layers with no upper dir, mounted for the duration of `fn`.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Engine } from '../engine.js';
import { removeTree } from '../store/staging.js';
import type { Digest } from '../image/types.js';
import { mountOverlay, unmountOverlay } from '../layers/overlay.js';

export async function withReadonlyRootfs<T>(engine: Engine, diffIds: Digest[], fn: (root: string) => Promise<T>): Promise<T> {
  const base = engine.tmpDir('view-');
  const target = join(base, 'root');
  mkdirSync(target, { recursive: true });
  const lower = engine.layers.lowerDirs(diffIds);
  if (lower.length === 0) {
    try {
      return await fn(target); // scratch: an empty directory
    } finally {
      removeTree(base); // never follows a mount that failed to come off
    }
  }
  mountOverlay({ lower, target });
  try {
    return await fn(target);
  } finally {
    unmountOverlay(target);
    removeTree(base); // never follows a mount that failed to come off
  }
}
