// The build cache in the metadata database: step key → the intermediate image the step produced.
// A hit is only a hit if that image can still be used: its config and every layer still present.
import type { Engine } from '../engine.js';
import { chainIds } from '../image/digest.js';
import type { Digest, ImageConfig } from '../image/types.js';
import type { StoredInputs } from './cache-key.js';

export function lookupCache(engine: Engine, key: string): { id: Digest; config: ImageConfig } | null {
  const rec = engine.db.getCache<StoredInputs>(key);
  if (!rec || !engine.content.has(rec.imageId)) return null;
  const config = engine.content.readJson<ImageConfig>(rec.imageId);
  for (const c of chainIds(config.rootfs.diff_ids)) if (!engine.layers.has(c)) return null;
  return { id: rec.imageId, config };
}

export function recordCache(engine: Engine, key: string, imageId: Digest, info: StoredInputs): void {
  engine.db.putCache(key, imageId, { info });
}

/** Earlier entries made on the same parent step, oldest first: what --explain-cache compares with. */
export function cacheEntriesFor(engine: Engine, parent: string): StoredInputs[] {
  return engine.db
    .listCache<StoredInputs>()
    .filter((r) => r.info?.parent === parent)
    .sort((a, b) => a.created.localeCompare(b.created))
    .map((r) => r.info!);
}
