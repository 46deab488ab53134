// save/load against an Engine's store.
//   saveImages(engine, refs, out, format)  - docker-archive or oci-archive, streamed to `out`
//   loadArchive(engine, src)               - stage, plan, verify everything, then store
import type { Readable, Writable } from 'node:stream';
import { createReadStream, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Engine } from '../engine.js';
import { chainIds, sha256 } from '../image/digest.js';
import { familiarString, formatReference, parseReference, repositoryName } from '../image/reference.js';
import { recordEvent } from '../store/event-log.js';
import type { Digest, ImageConfig } from '../image/types.js';
import { MediaType } from '../image/types.js';
import { stagingName } from '../store/staging.js';
import { planLoad, verifyLayerFile, type LoadPlan, type PlannedImage, type VerifiedLayer } from './load.js';
import { writeArchive } from './save.js';
import { ArchiveError, stageArchive } from './stage.js';
import type { ArchiveFormat, ArchiveImage } from './types.js';

export { ArchiveError } from './stage.js';
export type { ArchiveFormat, ArchiveImage, ArchiveLayer } from './types.js';
export { writeArchive, ociManifestFor, ANNOTATION_REF_NAME, ANNOTATION_CONTAINERD_NAME } from './save.js';
export { planLoad, verifyLayerFile, type LoadPlan, type PlannedImage, type PlannedLayer } from './load.js';
export { stageArchive, normalizeEntryName, type StagedArchive } from './stage.js';

/** `busybox` (no tag, no digest) names a whole repository: Docker saves all its tags. */
function isNameOnly(s: string): boolean {
  if (s.includes('@')) return false;
  const slash = s.lastIndexOf('/');
  return s.lastIndexOf(':') <= slash;
}

/** The images `docker save` would write for these arguments, with the names to record. */
export function resolveSaveSet(engine: Engine, args: readonly string[]): { id: Digest; names: string[] }[] {
  const order: Digest[] = [];
  const names = new Map<Digest, string[]>();
  const add = (id: Digest, name?: string) => {
    if (!names.has(id)) {
      names.set(id, []);
      order.push(id);
    }
    if (name && !names.get(id)!.includes(name)) names.get(id)!.push(name);
  };
  for (const a of args) {
    const id = engine.db.resolveImageId(a);
    let ref: ReturnType<typeof parseReference> | undefined;
    try {
      ref = parseReference(a);
    } catch {
      ref = undefined;
    }
    const tag = ref ? engine.db.getTag(formatReference(ref)) : null;
    if (!tag || tag.imageId !== id) {
      add(id); // by ID (or digest): saved without a name
      continue;
    }
    if (isNameOnly(a)) {
      const repo = repositoryName(ref!);
      for (const t of engine.db.listTags()) {
        if (repositoryName(parseReference(t.ref)) === repo) add(t.imageId, t.ref);
      }
    } else add(id, tag.ref);
  }
  return order.map((id) => ({ id, names: names.get(id)! }));
}

/** ArchiveImage views of stored images (configs read as stored bytes). */
export function archiveImages(engine: Engine, set: readonly { id: Digest; names: string[] }[]): ArchiveImage[] {
  return set.map(({ id, names }) => {
    const configBytes = engine.content.read(id);
    const config = JSON.parse(configBytes.toString('utf8')) as ImageConfig;
    const diffIds = config.rootfs?.diff_ids ?? [];
    const chains = chainIds(diffIds);
    const rec = engine.db.getImage(id);
    let manifest: ArchiveImage['manifest'] = null;
    if (rec?.manifestDigest && engine.content.has(rec.manifestDigest)) {
      manifest = { bytes: engine.content.read(rec.manifestDigest), digest: rec.manifestDigest, mediaType: rec.manifestMediaType ?? MediaType.OciManifest };
    }
    return {
      id,
      configBytes,
      config,
      names,
      manifest,
      layers: diffIds.map((diffId, i) => ({
        diffId,
        chainId: chains[i]!,
        openTar: () => engine.layers.openTar(chains[i]!),
        blob: async () => {
          const b = await engine.layers.compressed(chains[i]!, MediaType.OciLayerGzip);
          return { ...b, open: () => engine.content.createReadStream(b.digest) };
        },
      })),
    };
  });
}

export async function saveImages(engine: Engine, args: readonly string[], out: Writable, format: ArchiveFormat): Promise<void> {
  const set = resolveSaveSet(engine, args);
  const images = archiveImages(engine, set);
  const tmpDir = join(engine.root, 'tmp');
  await writeArchive(images, out, { format, tmpDir });
}

export interface LoadedImage {
  id: Digest;
  /** Normalized names now pointing at it. */
  names: string[];
  /** Tags that pointed at another image before (Docker prints a rename notice for these). */
  moved: { ref: string; previous: Digest }[];
}

export interface LoadResult {
  format: LoadPlan['format'];
  images: LoadedImage[];
}

/**
 * Loads an archive: stages it under <root>/tmp, reads its layout, verifies every config, blob,
 * diffID and layer entry, and only then stores layers, blobs, configs, images and tags. A bad
 * archive is refused before anything is written to the store.
 */
export async function loadArchive(engine: Engine, src: Readable): Promise<LoadResult> {
  const tmpRoot = join(engine.root, 'tmp');
  if (!existsSync(tmpRoot)) mkdirSync(tmpRoot, { recursive: true });
  const staged = await stageArchive(src, join(tmpRoot, stagingName('load')));
  try {
    const plan = planLoad(staged);
    // 1. verify everything (each distinct layer file once)
    const verified = new Map<string, VerifiedLayer>();
    for (const img of plan.images) {
      for (const l of img.layers) {
        const key = `${l.name}\0${l.diffId}\0${l.blob?.digest ?? ''}`;
        if (verified.has(key)) continue;
        verified.set(key, await verifyLayerFile(staged.file(l.name), l));
      }
    }
    // 2. store, image by image; if one still fails, take back what it added (images stored
    //    before it stay, as with Docker)
    const out: LoadedImage[] = [];
    for (const img of plan.images) {
      const added = { layers: [] as Digest[], blobs: [] as Digest[] };
      try {
        out.push(await storeImage(engine, img, (n) => staged.file(n), verified, added));
      } catch (e) {
        for (const c of added.layers.reverse()) {
          try {
            engine.layers.remove(c);
          } catch {
            /* best effort */
          }
        }
        for (const b of added.blobs) engine.content.remove(b);
        throw e;
      }
    }
    return { format: plan.format, images: out };
  } finally {
    staged.dispose();
  }
}

async function storeImage(
  engine: Engine,
  img: PlannedImage,
  file: (name: string) => string,
  verified: Map<string, VerifiedLayer>,
  added: { layers: Digest[]; blobs: Digest[] },
): Promise<LoadedImage> {
  const diffIds = img.config.rootfs.diff_ids;
  const chains = chainIds(diffIds);
  for (const [i, l] of img.layers.entries()) {
    const chain = chains[i]!;
    const v = verified.get(`${l.name}\0${l.diffId}\0${l.blob?.digest ?? ''}`)!;
    if (engine.layers.has(chain)) {
      // already unpacked; still remember the blob it came as if the store has it
      continue;
    }
    const blobWasThere = engine.content.has(v.digest);
    const r = await engine.layers.applyTar(createReadStream(file(l.name)), diffIds.slice(0, i), l.diffId, {
      expectDigest: l.blob?.digest,
      mediaType: l.blob ? l.blob.mediaType : undefined,
    });
    added.layers.push(r.chainId);
    if (!blobWasThere) added.blobs.push(r.blob.digest);
  }
  // config bytes exactly as they came: their digest is the image ID
  if (sha256(img.configBytes) !== img.id) throw new ArchiveError(`config of ${img.id} changed while loading`);
  if (!engine.content.has(img.id)) {
    engine.content.putBytes(img.configBytes, { digest: img.id });
    added.blobs.push(img.id);
  }
  if (img.manifest && !engine.content.has(img.manifest.digest)) {
    engine.content.putBytes(img.manifest.bytes, { digest: img.manifest.digest });
    added.blobs.push(img.manifest.digest);
  }
  const moved: { ref: string; previous: Digest }[] = [];
  engine.db.tx(() => {
    engine.db.putImage({
      id: img.id,
      manifestDigest: img.manifest?.digest ?? null,
      manifestMediaType: img.manifest?.mediaType ?? null,
      size: engine.layers.sizeOf(diffIds),
    });
    for (const n of img.names) {
      const prev = engine.db.getTag(n);
      if (prev && prev.imageId !== img.id) moved.push({ ref: prev.ref, previous: prev.imageId });
      engine.db.setTag(n, img.id);
      // The archive's manifest is the image's digest under the names it carries (as Podman shows).
      if (img.manifest) engine.db.addRepoDigest(repositoryName(parseReference(n)), img.manifest.digest, img.id);
    }
  });
  recordEvent(engine.root, 'image', 'load', img.id, { name: img.names[0] ? familiarString(parseReference(img.names[0])) : img.id });
  return { id: img.id, names: [...img.names], moved };
}
