// `kiln pull` and the pull behind `FROM`/`run` of a missing image: resolve the reference (index →
// platform manifest), skip layers the store already has ("Already exists"), download the others in
// parallel (verified while streaming, resumable), extract each into staging as soon as it is
// there (in parallel, in worker threads), install them in order, keep each blob as it arrived and
// record diffID → blob, then store the config and the manifest, record the image and tag it. Any
// failure aborts the rest; whatever was fully installed stays valid, partial downloads stay for
// the next attempt, staged extractions are removed, and no image row is written.
import { setMaxListeners } from 'node:events';
import path from 'node:path';
import fs from 'node:fs';
import { chainIds, shortId } from '../image/digest.js';
import { familiarName, familiarString, formatReference, parseReference, repositoryName, type Reference } from '../image/reference.js';
import { recordEvent } from '../store/event-log.js';
import type { Descriptor, Digest, ImageConfig, Manifest } from '../image/types.js';
import { RegistryClient } from './client.js';
import { BlobSources } from './blob-sources.js';
import { fetchBlob } from './blob-fetch.js';
import { NotFoundError, RegistryError, RegistryUnreachableError } from './errors.js';
import { fetchManifest, type FetchedManifest } from './manifests.js';
import { defaultPlatform, formatPlatform, parsePlatform, platformRank, selectManifest } from './platform.js';
import { toSink, type Progress, type ProgressSink } from './progress.js';
import { openRegistryStore, type RegistryStore, type StoreEngine } from './store.js';
import type { StagedLayer } from '../layers/layer-store.js';
import { ExtractPool } from './extract-pool.js';

export interface PullOptions {
  /** os/arch[/variant]; default linux on the host's architecture. */
  platform?: string;
  /** Where progress goes: a line callback or a sink (see progress.ts). */
  progress?: Progress;
  /** Parallel layer downloads (default 4, or $KILN_MAX_CONCURRENT_DOWNLOADS). */
  concurrency?: number;
  /** Extra attempts per blob after an interrupted transfer (default 2). */
  retries?: number;
  signal?: AbortSignal;
}

export interface PullResult {
  /** Image ID: the config digest. */
  id: Digest;
  /** The digest the registry serves for the reference (an index's when there is one). */
  digest: Digest;
  /** The manifest digest of the platform image. */
  manifestDigest: Digest;
  /** Normalized reference (docker.io/library/busybox:latest). */
  ref: string;
  /** False when everything was already present and the tag did not move. */
  downloaded: boolean;
}

const LAYER_TYPES = /^application\/vnd\.(oci\.image\.layer\.v1\.tar(\+gzip|\+zstd)?|docker\.image\.rootfs\.(foreign\.)?diff\.tar\.gzip)$/;

/** Resolves `ref` on the registry to a platform manifest, trying mirrors first. */
async function resolveManifest(
  clients: RegistryClient[],
  ref: Reference,
  platform: ReturnType<typeof parsePlatform>,
): Promise<{ client: RegistryClient; top: FetchedManifest; image: FetchedManifest }> {
  const target = ref.digest ?? ref.tag ?? 'latest';
  let lastErr: unknown;
  for (const client of clients) {
    try {
      const top = await fetchManifest(client, ref.path, target);
      let image = top;
      if (top.parsed.kind === 'index') {
        const desc = selectManifest(top.parsed.index, platform);
        image = await fetchManifest(client, ref.path, desc.digest);
        if (image.parsed.kind !== 'manifest') throw new RegistryError(`${formatReference(ref)}: nested image indexes are not supported`);
      }
      return { client, top, image };
    } catch (e) {
      lastErr = e;
      // A mirror that fails for any reason falls back to the next endpoint; the registry itself is last.
      if (!client.endpoint.mirror) throw e;
    }
  }
  throw lastErr;
}

function isLayer(d: Descriptor): boolean {
  return LAYER_TYPES.test(d.mediaType);
}

/**
 * Runs `fn` over `items` with at most `limit` at once; one promise per item. After the first
 * failure nothing new starts, `onFail` runs once, and every pending item rejects with that error.
 */
function limited<T, R>(items: T[], limit: number, fn: (item: T, i: number) => Promise<R>, onFail: () => void): Promise<R>[] {
  let running = 0;
  let failure: { e: unknown } | undefined;
  const queue: (() => void)[] = [];
  return items.map(
    (item, i) =>
      new Promise<R>((resolve, reject) => {
        const start = () => {
          if (failure) return reject(failure.e);
          running++;
          fn(item, i)
            .then(resolve, (e) => {
              if (!failure) {
                failure = { e };
                onFail();
              }
              reject(failure.e);
            })
            .finally(() => {
              running--;
              queue.shift()?.();
            });
        };
        if (running < limit) start();
        else queue.push(start);
      }),
  );
}

export async function pullImage(engine: StoreEngine, refInput: string, opts: PullOptions = {}): Promise<PullResult> {
  const store = openRegistryStore(engine);
  return pullInto(store, refInput, opts);
}

export async function pullInto(store: RegistryStore, refInput: string, opts: PullOptions = {}): Promise<PullResult> {
  const ref = parseReference(refInput);
  const normalized = formatReference(ref);
  const progress = toSink(opts.progress);
  try {
    return await doPull(store, ref, refInput, normalized, progress, opts);
  } finally {
    progress.close?.();
  }
}

async function doPull(
  store: RegistryStore,
  ref: Reference,
  refInput: string,
  normalized: string,
  progress: ProgressSink,
  opts: PullOptions,
): Promise<PullResult> {
  const platform = opts.platform ? parsePlatform(opts.platform) : defaultPlatform();
  const explicitTag = /:[\w][\w.-]*$/.test(refInput.replace(/@.*$/, '').split('/').pop() ?? '') || !!ref.digest;
  if (!explicitTag) progress.event({ status: `Using default tag: ${ref.tag}` });
  progress.event({ status: `${ref.digest ?? ref.tag}: Pulling from ${ref.path}` });

  const clients = RegistryClient.forRegistry(ref.domain, { root: store.root, pull: true });
  const { client, top, image } = await resolveManifest(clients, ref, platform);
  const manifest = (image.parsed as { manifest: Manifest }).manifest;
  const manifestType = image.parsed.mediaType;
  const repo = ref.path;
  const downloadsDir = path.join(store.tmpDir, 'downloads');
  const concurrency = opts.concurrency ?? (Number(process.env.KILN_MAX_CONCURRENT_DOWNLOADS) || 4);

  // The config first: it names the diffIDs, which name the layers we may already have.
  const configDesc = manifest.config;
  if (!store.hasBlob(configDesc.digest)) {
    const f = await fetchBlob(client, repo, configDesc, { dir: downloadsDir, retries: opts.retries, signal: opts.signal });
    try {
      store.putBlob(fs.readFileSync(f.path), configDesc.digest);
    } finally {
      f.release();
    }
  }
  const config = JSON.parse(store.readBlob(configDesc.digest).toString('utf8')) as ImageConfig;
  const diffIds = config.rootfs?.diff_ids ?? [];
  const layers = manifest.layers.filter(isLayer);
  if (layers.length !== manifest.layers.length) {
    const odd = manifest.layers.find((d) => !isLayer(d))!;
    throw new RegistryError(`${normalized}: unsupported layer media type ${odd.mediaType}`);
  }
  if (diffIds.length !== layers.length)
    throw new RegistryError(`${normalized}: the image config lists ${diffIds.length} layers but the manifest has ${layers.length}`);
  if (opts.platform && config.architecture && platformRank(platform, { os: config.os, architecture: config.architecture, variant: config.variant }) < 0)
    throw new RegistryError(
      `${normalized}: image is for ${formatPlatform({ os: config.os, architecture: config.architecture, variant: config.variant })}, not ${formatPlatform(platform)}`,
    );
  const chains = chainIds(diffIds);

  // Leading layers already unpacked: "Already exists". (A chain ID covers its parents.)
  let present = 0;
  for (let i = chains.length - 1; i >= 0; i--)
    if (store.hasLayer(chains[i]!)) {
      present = i + 1;
      break;
    }
  const ids = layers.map((l) => shortId(l.digest));
  for (let i = 0; i < layers.length; i++) progress.event({ id: ids[i], status: i < present ? 'Already exists' : 'Pulling fs layer' });

  const todo = layers.slice(present);
  // Worker threads for the extractions (for pulls big enough to be worth one), started now so they
  // are up when the first blob lands.
  const unpack = todo.filter((_, j) => !store.hasLayer(chains[present + j]!));
  const pool = unpack.length ? ExtractPool.create(unpack.reduce((n, d) => n + d.size, 0)) : null;
  const abort = new AbortController();
  // One listener per layer download and per extraction: not a leak.
  setMaxListeners(2 * todo.length + 10, abort.signal);
  const onOuterAbort = () => abort.abort();
  opts.signal?.addEventListener('abort', onOuterAbort);
  let downloadedAny = false;
  // Downloads run `concurrency` at a time; each verified download is adopted into the content
  // store (fsync + rename, no copy) and extracted into staging right away, in parallel with the
  // other downloads and extractions (a layer directory does not depend on its parents). The
  // install loop below then puts the layers in place strictly in order.
  const downloads = limited(todo, concurrency, async (desc, j) => {
    const id = ids[present + j]!;
    if (store.hasBlob(desc.digest)) {
      progress.event({ id, status: 'Download complete' });
      return;
    }
    downloadedAny = true;
    const f = await fetchBlob(client, repo, desc, {
      dir: downloadsDir,
      retries: opts.retries,
      signal: abort.signal,
      onProgress: (have, total) => progress.event({ id, status: 'Downloading', current: have, total }),
      onRetry: (err, attempt, delay) =>
        progress.event({ id, status: `Retrying in ${Math.ceil(delay / 1000)} second${delay > 1000 ? 's' : ''} (${attempt}: ${err.message.replace(/; run the command again to resume$/, '')})` }),
    });
    try {
      progress.event({ id, status: 'Verifying Checksum' });
      await store.adoptFile(f.path, desc);
    } finally {
      f.release();
    }
    progress.event({ id, status: 'Download complete' });
  }, () => abort.abort());
  // The first failure (a download or an extraction) aborts the rest, and every layer that fails
  // after it (aborted) reports that first error instead of its own abort.
  let failure: { e: unknown } | undefined;
  const extractions: Promise<StagedLayer | null>[] = downloads.map((d, j) =>
    d
      .then(() => {
        const i = present + j;
        if (store.hasLayer(chains[i]!)) return null;
        const desc = todo[j]!;
        progress.event({ id: ids[i], status: 'Extracting', current: 0, total: desc.size });
        return store.extractLayer(desc, diffIds[i]!, (n) => progress.event({ id: ids[i], status: 'Extracting', current: n, total: desc.size }), abort.signal, pool);
      })
      .catch((e: unknown) => {
        failure ??= { e };
        abort.abort();
        throw failure.e;
      }),
  );
  // Keep every rejection handled; the install loop reports the failure.
  for (const p of extractions) p.catch(() => {});

  let appliedAny = false;
  try {
    for (let j = 0; j < todo.length; j++) {
      const desc = todo[j]!;
      const i = present + j;
      const staged = await extractions[j];
      if (staged) {
        store.installLayer(staged, diffIds.slice(0, i), desc);
        appliedAny = true;
      } else store.recordLayerBlob(diffIds[i]!, desc);
      progress.event({ id: ids[i], status: 'Pull complete' });
    }
  } catch (e) {
    abort.abort();
    // Extractions that finished but were not installed leave nothing behind.
    for (const r of await Promise.allSettled(extractions)) if (r.status === 'fulfilled') r.value?.discard();
    throw explain(e, normalized);
  } finally {
    opts.signal?.removeEventListener('abort', onOuterAbort);
    await pool?.close();
  }
  // Blobs that arrived earlier but whose layers were present (Already exists) keep their records.
  for (let i = 0; i < present; i++) if (store.hasBlob(layers[i]!.digest)) store.recordLayerBlob(diffIds[i]!, layers[i]!);

  store.putBlob(image.bytes, image.digest);
  if (top !== image) store.putBlob(top.bytes, top.digest);
  const id = configDesc.digest;
  // What this reference named before: a tag, or the repository's digest (pulled by digest).
  const before = store.taggedImage(ref.tag ? normalized : `${repositoryName(ref)}@${top.digest}`);
  // The digest the user can pull by again: the index's for a multi-platform image, as Docker keeps.
  store.recordImage({ id, manifestDigest: image.digest, manifestMediaType: manifestType, ref: ref.tag ? normalized : undefined, repoDigest: { repo: repositoryName(ref), digest: top.digest } });
  new BlobSources(store.root).add(ref.domain, repo, [configDesc.digest, ...layers.map((l) => l.digest)]);
  const downloaded = downloadedAny || appliedAny || before !== id;
  progress.event({ status: `Digest: ${top.digest}` });
  const shown = familiarString(ref);
  progress.event({ status: downloaded ? `Status: Downloaded newer image for ${shown}` : `Status: Image is up to date for ${shown}` });
  recordEvent(store.root, 'image', 'pull', shown, { name: familiarName(ref) });
  return { id, digest: top.digest, manifestDigest: image.digest, ref: normalized, downloaded };
}

function explain(e: unknown, ref: string): Error {
  if (e instanceof NotFoundError || e instanceof RegistryUnreachableError) return e;
  if (e instanceof Error) {
    if (!e.message.includes(ref)) e.message = `pulling ${ref}: ${e.message}`;
    return e;
  }
  return new Error(String(e));
}
