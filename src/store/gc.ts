// Garbage collection (`prune`): deletes blobs and layer directories that nothing reaches from
// images, tags, build cache entries or containers, and sweeps staging left by crashed commands.
//
// Interlock with other kiln commands: every open Engine has a row in `sessions`. When prune finds
// no other live session, it decides and detaches everything inside one write transaction, so a
// command starting meanwhile waits (busy timeout) until the store is consistent again; slow
// deletion of detached directories happens after the commit. When other commands are running,
// it only takes what has been unreachable for a grace period, since a concurrent pull or build
// may be about to reference a fresh blob or layer.
import { statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { chainIds, isDigest } from '../image/digest.js';
import type { Digest, ImageConfig } from '../image/types.js';
import type { LayerStore } from '../layers/layer-store.js';
import type { ContentStore } from './content-store.js';
import type { Db } from './db.js';
import { ownerAlive, removeTree, stage, sweepStaging } from './staging.js';

export interface GcTarget {
  root: string;
  db: Db;
  content: ContentStore;
  layers: LayerStore;
  /** The caller's own session token (Engine), not counted as "another command". */
  session?: string;
}

export interface PruneOptions {
  /** Report what would go, delete nothing. */
  dryRun?: boolean;
  /** When other kiln commands run: only delete things unreachable and older than this (default 1 h). */
  graceMs?: number;
}

export interface PruneReport {
  /** exclusive: no other kiln command was running; shared: the grace period applied. */
  mode: 'exclusive' | 'shared';
  blobs: Digest[];
  layers: Digest[];
  /** Layer directories without a database row (a crash between rename and insert). */
  orphanLayerDirs: Digest[];
  /** Staging entries of crashed commands. */
  staging: string[];
  reclaimedBytes: number;
}

interface ManifestLike {
  config?: { digest?: string };
  layers?: { digest?: string }[];
  manifests?: { digest?: string }[];
}

/** Everything reachable: blob digests and layer chain IDs. */
export function reachable(t: Pick<GcTarget, 'db' | 'content'>): { blobs: Set<string>; chains: Set<string> } {
  const blobs = new Set<string>();
  const chains = new Set<string>();
  const diffIds = new Set<string>();
  const seenManifests = new Set<string>();
  const seenImages = new Set<string>();

  const markManifest = (d: string): void => {
    if (!isDigest(d) || seenManifests.has(d)) return;
    seenManifests.add(d);
    blobs.add(d);
    if (!t.content.has(d)) return;
    let m: ManifestLike;
    try {
      m = t.content.readJson<ManifestLike>(d);
    } catch {
      return;
    }
    if (m.config?.digest) markImage(m.config.digest);
    for (const l of m.layers ?? []) if (l.digest) blobs.add(l.digest);
    for (const c of m.manifests ?? []) if (c.digest) markManifest(c.digest);
  };
  const markImage = (id: string): void => {
    if (!isDigest(id) || seenImages.has(id)) return;
    seenImages.add(id);
    blobs.add(id);
    if (!t.content.has(id)) return;
    let cfg: Partial<ImageConfig>;
    try {
      cfg = t.content.readJson<ImageConfig>(id);
    } catch {
      return;
    }
    const ids = (cfg.rootfs?.diff_ids ?? []).filter(isDigest);
    for (const d of ids) diffIds.add(d);
    for (const c of chainIds(ids)) chains.add(c);
  };

  for (const img of t.db.listImages()) {
    markImage(img.id);
    if (img.manifestDigest) markManifest(img.manifestDigest);
  }
  for (const tag of t.db.listTags()) markImage(tag.imageId);
  for (const c of t.db.listCache()) markImage(c.imageId);
  for (const c of t.db.listContainers()) markImage(c.imageId);
  for (const b of t.db.listLayerBlobs()) if (diffIds.has(b.diffId)) blobs.add(b.digest);
  return { blobs, chains };
}

function mtimeMs(p: string): number {
  try {
    return statSync(p).mtimeMs;
  } catch {
    return 0;
  }
}

/** Other live kiln commands on this store (sessions of dead processes are dropped). */
export function otherSessions(db: Db, mine?: string): string[] {
  const live: string[] = [];
  for (const s of db.listSessions()) {
    if (s.token === mine) continue;
    if (ownerAlive(s.token)) live.push(s.token);
    else db.unregisterSession(s.token);
  }
  return live;
}

export function prune(t: GcTarget, opts: PruneOptions = {}): PruneReport {
  const graceMs = opts.graceMs ?? 3600_000;
  const tmpDir = join(t.root, 'tmp');
  const detached: string[] = [];
  const report: PruneReport = { mode: 'shared', blobs: [], layers: [], orphanLayerDirs: [], staging: [], reclaimedBytes: 0 };
  report.staging = opts.dryRun ? [] : sweepStaging(tmpDir);

  const collect = (exclusive: boolean): void => {
    const now = Date.now();
    const old = (ms: number) => exclusive || now - ms > graceMs;
    const { blobs, chains } = reachable(t);

    // Layers: rows first (a row must never point at a half-deleted directory), then directories.
    for (const l of t.db.listLayers()) {
      if (chains.has(l.chainId) || !old(Date.parse(l.created))) continue;
      report.layers.push(l.chainId);
      report.reclaimedBytes += l.contentSize;
      if (!opts.dryRun) {
        const p = t.layers.detach(l.chainId);
        if (p) detached.push(p);
      }
    }
    for (const c of t.layers.listDirs()) {
      if (t.db.getLayer(c)) continue;
      const home = join(t.layers.layersDir, c.slice(7));
      if (!old(mtimeMs(home))) continue;
      report.orphanLayerDirs.push(c);
      if (!opts.dryRun) {
        const p = stage(home, tmpDir, 'rmlayer');
        if (p) detached.push(p);
      }
    }

    // Remembered compressed forms of layers that are gone.
    const liveDiffIds = new Set(t.db.listLayers().map((l) => l.diffId));
    for (const b of t.db.listLayerBlobs()) {
      if (liveDiffIds.has(b.diffId) || blobs.has(b.digest)) continue;
      if (!opts.dryRun && old(mtimeMs(t.content.path(b.digest)))) t.db.deleteLayerBlob(b.diffId, b.digest);
    }
    const remembered = new Set(t.db.listLayerBlobs().filter((b) => liveDiffIds.has(b.diffId)).map((b) => b.digest));

    for (const d of t.content.list()) {
      if (blobs.has(d) || remembered.has(d)) continue;
      const p = t.content.path(d);
      if (!old(mtimeMs(p))) continue;
      report.blobs.push(d);
      report.reclaimedBytes += t.content.stat(d)?.size ?? 0;
      if (!opts.dryRun) {
        try {
          unlinkSync(p);
        } catch {
          /* gone already */
        }
      }
    }
  };

  t.db.tx(() => {
    if (otherSessions(t.db, t.session).length > 0) return;
    report.mode = 'exclusive';
    collect(true);
  });
  if (report.mode === 'shared') collect(false);
  for (const p of detached) {
    try {
      removeTree(p);
    } catch {
      /* left in staging: the next sweep retries */
    }
  }
  return report;
}

/**
 * Deletes build cache entries: all of them, or, with `keepBytes`, all but the most recently used
 * that fit (each weighs its own top layer). The step images that only those entries held go with
 * them; a tag, a container or a kept entry keeps one. Run prune() afterwards to reclaim layers
 * and blobs. Returns the deleted keys.
 */
export function pruneBuildCache(t: Pick<GcTarget, 'db' | 'content' | 'layers'>, opts: { keepBytes?: number } = {}): string[] {
  const keep = opts.keepBytes ?? 0;
  const entries = t.db.listCache(); // least recently used first
  const weight = (imageId: Digest): number => {
    try {
      return t.layers.sizeOf(t.content.readJson<ImageConfig>(imageId).rootfs.diff_ids.slice(-1));
    } catch {
      return 0; // config or layer already gone: the entry is useless anyway
    }
  };
  const doomed = new Set<string>();
  let kept = 0;
  for (const e of [...entries].reverse()) {
    const size = keep > 0 ? weight(e.imageId) : 0;
    if (keep > 0 && kept + size <= keep) kept += size;
    else doomed.add(e.key);
  }
  t.db.tx(() => {
    for (const k of doomed) t.db.deleteCache(k);
    const held = new Set<string>([...t.db.listCache().map((e) => e.imageId), ...t.db.listContainers().map((c) => c.imageId)]);
    for (const e of entries) {
      if (!doomed.has(e.key) || held.has(e.imageId) || t.db.listTags(e.imageId).length) continue;
      held.add(e.imageId);
      t.db.deleteImage(e.imageId);
    }
  });
  return [...doomed];
}
