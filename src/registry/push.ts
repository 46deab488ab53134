// `kiln push`: every layer becomes a compressed blob (made lazily by the layer store and
// remembered; a pulled layer is pushed as the blob it arrived as), blobs the registry has are
// skipped (HEAD), blobs known to live in another repository of the registry are mounted, the rest
// are uploaded streamed and in parallel; then the config and the manifest (Docker schema 2 media
// types by default, as `docker push` does; OCI with format 'oci'). A layer that has never been
// compressed is compressed and uploaded in the same pass (see compressAndUpload).
import fs from 'node:fs';
import type { Readable } from 'node:stream';
import { chainIds, shortId } from '../image/digest.js';
import { familiarName, familiarString, formatReference, parseReference } from '../image/reference.js';
import { recordEvent } from '../store/event-log.js';
import { MediaType, type Descriptor, type Digest, type Manifest } from '../image/types.js';
import { BlobSources } from './blob-sources.js';
import { pushBlob, StreamedUpload } from './blob-upload.js';
import { RegistryClient } from './client.js';
import { putManifest } from './manifests.js';
import { toSink, type Progress } from './progress.js';
import { openRegistryStore, type CompressedBlob, type RegistryStore, type StoreEngine } from './store.js';

export type ManifestFormat = 'docker' | 'oci';

export interface PushOptions {
  /** Manifest and media types: 'docker' (default, like `docker push`) or 'oci'. */
  format?: ManifestFormat;
  progress?: Progress;
  /** Write the pushed manifest's digest to this file. */
  digestFile?: string;
  /** Parallel blob uploads (default 5, as Docker). */
  concurrency?: number;
  /** Upload in PATCH chunks of this size instead of one streamed PUT per blob. */
  chunkSize?: number;
}

export interface PushResult {
  digest: Digest;
  size: number;
  /** Normalized destination reference. */
  ref: string;
  mediaType: string;
}

type Compression = 'gzip' | 'zstd' | 'none';

export function compressionOf(mediaType: string): Compression {
  if (mediaType.endsWith('+zstd') || mediaType.endsWith('.zstd')) return 'zstd';
  if (mediaType.endsWith('gzip')) return 'gzip';
  return 'none';
}

/** The layer media type for a compression in a manifest format (Docker has gzip only). */
export function layerMediaType(format: ManifestFormat, c: Compression): string {
  if (format === 'docker') return MediaType.DockerLayerGzip;
  return c === 'zstd' ? MediaType.OciLayerZstd : c === 'none' ? MediaType.OciLayer : MediaType.OciLayerGzip;
}

/**
 * Compresses a layer into the store while streaming the compressed bytes into an upload session,
 * so compression and upload overlap (the push takes about as long as the compression alone).
 * `pushed` is false when the streamed upload could not be completed (the blob is stored anyway,
 * and the caller pushes it the ordinary way: HEAD, mount, upload).
 */
async function compressAndUpload(
  store: RegistryStore,
  client: RegistryClient,
  repo: string,
  chainId: Digest,
  mediaType: string,
  onProgress: (sent: number) => void,
): Promise<{ pushed: boolean; blob: CompressedBlob }> {
  let upload: StreamedUpload | undefined;
  try {
    upload = await StreamedUpload.start(client, repo);
  } catch {
    // Cannot even open an upload (no push access, unreachable…): the ordinary path reports it.
  }
  const up = upload;
  // The tap sends the bytes as they are made, then closes the upload as soon as their digest is
  // known — while the local copy is still being fsynced.
  const tap = async (s: Readable, digest: Promise<{ digest: Digest; size: number }>) => {
    await up!.send(s, onProgress);
    const d = await digest;
    await up!.finish({ mediaType, digest: d.digest, size: d.size });
  };
  const blob = await store.compressedLayer(chainId, mediaType, up ? { tap } : {});
  const plain = { digest: blob.digest, size: blob.size, mediaType: blob.mediaType };
  if (!up) return { pushed: false, blob: plain };
  if (blob.tapError === undefined) return { pushed: true, blob: plain };
  await up.cancel();
  return { pushed: false, blob: plain };
}

export async function pushImage(engine: StoreEngine, source: string, opts: PushOptions = {}, destination?: string): Promise<PushResult> {
  return pushFrom(openRegistryStore(engine), source, opts, destination);
}

export async function pushFrom(store: RegistryStore, source: string, opts: PushOptions = {}, destination?: string): Promise<PushResult> {
  const progress = toSink(opts.progress);
  try {
    const format = opts.format ?? 'docker';
    if (format !== 'docker' && format !== 'oci') throw new Error(`unknown manifest format ${JSON.stringify(format)}: use docker or oci`);
    const image = store.resolveImage(source);
    if (!image) throw new Error(`An image does not exist locally with the tag: ${source}`);
    const dest = parseReference(destination ?? source);
    if (dest.digest) throw new Error(`cannot push to a digest reference (${formatReference(dest)}): use a tag`);
    const tag = dest.tag ?? 'latest';
    const repo = dest.path;
    const registry = dest.domain;
    progress.event({ status: `The push refers to repository [${registry}/${repo}]` });

    const diffIds = image.config.rootfs?.diff_ids ?? [];
    const chains = chainIds(diffIds);
    const client = RegistryClient.primary(registry, { root: store.root });
    const sources = new BlobSources(store.root);
    const ids = diffIds.map((d) => shortId(d));
    // Docker lists the top layer first.
    for (let i = diffIds.length - 1; i >= 0; i--) progress.event({ id: ids[i], status: 'Preparing' });

    const want = (c: Compression) => layerMediaType(format, format === 'docker' ? 'gzip' : c);
    const layerDescs: Descriptor[] = new Array(diffIds.length);
    const concurrency = opts.concurrency ?? 5;
    let next = diffIds.length - 1;
    let failure: unknown;
    const worker = async () => {
      while (next >= 0 && !failure) {
        const i = next--;
        const id = ids[i]!;
        try {
          let blob: CompressedBlob | undefined = store.knownCompressedLayer(chains[i]!, want('gzip'));
          if (!blob && !opts.chunkSize) {
            // Never compressed before: compress and upload in one pass (the registry cannot have
            // bytes we have not made yet, unless someone made the very same ones).
            const r = await compressAndUpload(store, client, repo, chains[i]!, want('gzip'), (sent) =>
              progress.event({ id, status: 'Pushing', current: sent, total: 0 }),
            );
            if (r.pushed) {
              layerDescs[i] = { mediaType: want('gzip'), digest: r.blob.digest, size: r.blob.size };
              progress.event({ id, status: 'Pushed' });
              continue;
            }
            blob = r.blob;
          }
          blob ??= await store.compressedLayer(chains[i]!, want('gzip'));
          if (format === 'docker' && compressionOf(blob.mediaType) !== 'gzip')
            blob = await store.compressedLayer(chains[i]!, MediaType.DockerLayerGzip);
          const desc: Descriptor = { mediaType: want(compressionOf(blob.mediaType)), digest: blob.digest, size: blob.size };
          layerDescs[i] = desc;
          const r = await pushBlob(client, repo, desc, () => store.blobStream(desc.digest), {
            mountFrom: sources.get(registry, desc.digest),
            chunkSize: opts.chunkSize,
            onProgress: (sent, total) => progress.event({ id, status: 'Pushing', current: sent, total }),
          });
          progress.event({
            id,
            status: r.result === 'exists' ? 'Layer already exists' : r.result === 'mounted' ? `Mounted from ${r.from}` : 'Pushed',
          });
        } catch (e) {
          failure ??= e;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, Math.max(1, diffIds.length)) }, worker));
    if (failure) throw failure;

    const configDesc: Descriptor = {
      mediaType: format === 'docker' ? MediaType.DockerConfig : MediaType.OciConfig,
      digest: image.id,
      size: image.configBytes.length,
    };
    await pushBlob(client, repo, configDesc, () => store.blobStream(image.id), { mountFrom: sources.get(registry, image.id) });

    const manifestType = format === 'docker' ? MediaType.DockerManifest : MediaType.OciManifest;
    const manifest: Manifest = { schemaVersion: 2, mediaType: manifestType, config: configDesc, layers: layerDescs };
    const bytes = Buffer.from(JSON.stringify(manifest));
    const digest = await putManifest(client, repo, tag, bytes, manifestType);
    store.putBlob(bytes, digest);
    store.recordRepoDigest(`${registry}/${repo}`, digest, image.id);
    sources.add(registry, repo, [image.id, ...layerDescs.map((d) => d.digest)]);
    if (opts.digestFile) fs.writeFileSync(opts.digestFile, digest);
    progress.event({ status: `${tag}: digest: ${digest} size: ${bytes.length}` });
    const pushed = formatReference({ ...dest, tag });
    recordEvent(store.root, 'image', 'push', familiarString(parseReference(pushed)), { name: familiarName(parseReference(pushed)) });
    return { digest, size: bytes.length, ref: pushed, mediaType: manifestType };
  } finally {
    progress.close?.();
  }
}
