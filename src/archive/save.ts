// `save`: images → a tar stream, in one of two layouts.
//
// docker-archive (what `docker save` wrote before Docker 25, and what `docker load`,
// `podman load` and skopeo's docker-archive: transport read):
//   <chainID-hex>/layer.tar  <chainID-hex>/VERSION  <chainID-hex>/json   uncompressed layers
//   <config-hex>.json                                                    the config, byte for byte
//   manifest.json   [{"Config":…,"RepoTags":["docker.io/library/app:latest"],"Layers":[…]}]
//   repositories    {"docker.io/library/app":{"latest":"<top layer dir>"}}
//
// oci-archive (an OCI image layout in a tar, what `podman save --format oci-archive` and
// skopeo's oci-archive: transport use):
//   oci-layout  index.json  blobs/sha256/<hex> (config, gzip layers, manifest)
// index.json has one manifest descriptor per name, annotated with
// org.opencontainers.image.ref.name and io.containerd.image.name (both the full name), so
// Podman, skopeo and Docker/containerd all find the name.
//
// Entries are written in a fixed order with fixed metadata, so saving the same images twice gives
// the same bytes.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { canonicalJson } from '../image/canonical.js';
import { hexOf, sha256 } from '../image/digest.js';
import { parseReference, repositoryName } from '../image/reference.js';
import { MediaType, type Descriptor, type DockerArchiveEntry, type Index, type Manifest, type Digest } from '../image/types.js';
import { stagingName } from '../store/staging.js';
import type { ArchiveFormat, ArchiveImage } from './types.js';

export const ANNOTATION_REF_NAME = 'org.opencontainers.image.ref.name';
export const ANNOTATION_CONTAINERD_NAME = 'io.containerd.image.name';

export interface SaveOptions {
  format: ArchiveFormat;
  /** Where uncompressed layer tars are spooled (to learn their size and check their diffID). */
  tmpDir: string;
  /** mtime of every entry (default: the newest image's created time, or the epoch). */
  mtime?: Date;
}

/** Writes `images` as an archive to `out` and resolves when the last byte is written. */
export async function writeArchive(images: readonly ArchiveImage[], out: Writable, opts: SaveOptions): Promise<void> {
  if (images.length === 0) throw new Error('no images to save');
  const pack = tar.pack();
  const done = pipeline(pack as unknown as Readable, out);
  done.catch(() => {
    /* reported below */
  });
  const mtime = opts.mtime ?? defaultMtime(images);
  const spooled: string[] = [];
  try {
    if (opts.format === 'docker-archive') await writeDocker(pack, images, mtime, opts.tmpDir, spooled);
    else await writeOci(pack, images, mtime);
    pack.finalize();
    await done;
  } catch (e) {
    pack.destroy(e as Error);
    await done.catch(() => undefined);
    throw e;
  } finally {
    for (const f of spooled) rmSync(f, { force: true });
  }
}

function defaultMtime(images: readonly ArchiveImage[]): Date {
  let t = 0;
  for (const i of images) {
    const c = Date.parse(i.config.created ?? '');
    if (Number.isFinite(c) && c > t) t = c;
  }
  return new Date(Math.floor(t / 1000) * 1000);
}

type Pack = ReturnType<typeof tar.pack>;

function addBuffer(pack: Pack, name: string, data: Buffer, mtime: Date): Promise<void> {
  return new Promise((resolve, reject) => {
    pack.entry({ name, size: data.length, mode: 0o644, mtime, uid: 0, gid: 0, type: 'file' }, data, (err) => (err ? reject(err) : resolve()));
  });
}

function addDir(pack: Pack, name: string, mtime: Date): Promise<void> {
  return new Promise((resolve, reject) => {
    pack.entry({ name, type: 'directory', mode: 0o755, mtime, uid: 0, gid: 0 }, (err) => (err ? reject(err) : resolve()));
  });
}

async function addStream(pack: Pack, name: string, size: number, src: Readable, mtime: Date): Promise<void> {
  let cbErr: Error | null | undefined;
  let finished!: () => void;
  const cbDone = new Promise<void>((r) => (finished = r));
  const sink = pack.entry({ name, size, mode: 0o644, mtime, uid: 0, gid: 0, type: 'file' }, (err) => {
    cbErr = err;
    finished();
  });
  await pipeline(src, sink as unknown as Writable);
  await cbDone;
  if (cbErr) throw cbErr;
}

/** Spools a layer tar to a temp file, checking it hashes to its diffID. */
async function spoolLayer(src: Readable, diffId: Digest, tmpDir: string): Promise<{ path: string; size: number }> {
  const path = join(tmpDir, stagingName('save-layer'));
  const h = createHash('sha256');
  src.on('data', (c: Buffer) => h.update(c));
  await pipeline(src, createWriteStream(path, { mode: 0o600 }));
  const got: Digest = `sha256:${h.digest('hex')}`;
  if (got !== diffId) {
    rmSync(path, { force: true });
    throw new Error(`layer ${diffId} re-packs to ${got}: the stored layer no longer matches its diffID`);
  }
  return { path, size: statSync(path).size };
}

async function writeDocker(pack: Pack, images: readonly ArchiveImage[], mtime: Date, tmpDir: string, spooled: string[]): Promise<void> {
  const manifest: DockerArchiveEntry[] = [];
  const repositories: Record<string, Record<string, string>> = {};
  const written = new Set<string>();
  for (const img of images) {
    const diffIds = img.config.rootfs?.diff_ids ?? [];
    if (diffIds.length !== img.layers.length) throw new Error(`image ${img.id}: config lists ${diffIds.length} layers, store has ${img.layers.length}`);
    const layerPaths: string[] = [];
    let parentDir = '';
    for (const [i, layer] of img.layers.entries()) {
      const dir = hexOf(layer.chainId);
      layerPaths.push(`${dir}/layer.tar`);
      if (!written.has(dir)) {
        written.add(dir);
        const spool = await spoolLayer(await layer.openTar(), layer.diffId, tmpDir);
        spooled.push(spool.path);
        await addDir(pack, `${dir}/`, mtime);
        await addBuffer(pack, `${dir}/VERSION`, Buffer.from('1.0'), mtime);
        await addBuffer(pack, `${dir}/json`, legacyLayerJson(img, i, dir, parentDir), mtime);
        await addStream(pack, `${dir}/layer.tar`, spool.size, createReadStream(spool.path), mtime);
        rmSync(spool.path, { force: true });
      }
      parentDir = dir;
    }
    const configName = `${hexOf(img.id)}.json`;
    if (!written.has(configName)) {
      written.add(configName);
      if (sha256(img.configBytes) !== img.id) throw new Error(`image ${img.id}: stored config does not match its ID`);
      await addBuffer(pack, configName, img.configBytes, mtime);
    }
    // Names fully qualified (docker.io/library/app:latest), as containers/image writes them:
    // Docker normalizes them on load (`Loaded image: app:latest`), and Podman then keeps the
    // registry instead of filing a short name under localhost/.
    const tags: string[] = [];
    for (const n of img.names) {
      const ref = parseReference(n);
      if (!ref.tag) continue; // digest-only references are not tags
      const repo = repositoryName(ref);
      tags.push(`${repo}:${ref.tag}`);
      (repositories[repo] ??= {})[ref.tag] = parentDir;
    }
    manifest.push({ Config: configName, RepoTags: tags.length ? tags : null, Layers: layerPaths });
  }
  await addBuffer(pack, 'manifest.json', Buffer.from(JSON.stringify(manifest)), mtime);
  if (Object.keys(repositories).length) await addBuffer(pack, 'repositories', Buffer.from(JSON.stringify(repositories)), mtime);
}

/** The legacy v1 `json` next to each layer.tar (only pre-1.10 loaders read it). */
function legacyLayerJson(img: ArchiveImage, index: number, id: string, parent: string): Buffer {
  const top = index === img.layers.length - 1;
  const v1: Record<string, unknown> = { id };
  if (parent) v1.parent = parent;
  v1.created = top ? img.config.created ?? '1970-01-01T00:00:00Z' : '1970-01-01T00:00:00Z';
  v1.container_config = { Hostname: '', Domainname: '', User: '', AttachStdin: false, AttachStdout: false, AttachStderr: false, Tty: false, OpenStdin: false, StdinOnce: false, Env: null, Cmd: null, Image: '', Volumes: null, WorkingDir: '', Entrypoint: null, OnBuild: null, Labels: null };
  if (top) {
    if (img.config.config) v1.config = img.config.config;
    v1.architecture = img.config.architecture;
    v1.os = img.config.os;
  }
  return Buffer.from(JSON.stringify(v1));
}

/** The OCI manifest for an image whose layers are the given blobs (or its stored one, if it matches). */
export function ociManifestFor(img: ArchiveImage, blobs: readonly { digest: Digest; size: number; mediaType: string }[]): { bytes: Buffer; digest: Digest; mediaType: string } {
  if (img.manifest) {
    try {
      const m = JSON.parse(img.manifest.bytes.toString('utf8')) as Manifest;
      const same =
        m.config?.digest === img.id &&
        Array.isArray(m.layers) &&
        m.layers.length === blobs.length &&
        m.layers.every((l, i) => l.digest === blobs[i]!.digest && l.size === blobs[i]!.size);
      if (same && sha256(img.manifest.bytes) === img.manifest.digest) return img.manifest;
    } catch {
      /* make a fresh one */
    }
  }
  const manifest: Manifest = {
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    config: { mediaType: MediaType.OciConfig, digest: img.id, size: img.configBytes.length },
    layers: blobs.map((b) => ({ mediaType: toOciLayerType(b.mediaType), digest: b.digest, size: b.size })),
  };
  const bytes = canonicalJson(manifest);
  return { bytes, digest: sha256(bytes), mediaType: MediaType.OciManifest };
}

function toOciLayerType(mt: string): string {
  if (mt === MediaType.DockerLayerGzip) return MediaType.OciLayerGzip;
  return mt;
}

async function writeOci(pack: Pack, images: readonly ArchiveImage[], mtime: Date): Promise<void> {
  const written = new Set<string>();
  const index: Index = { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [] };
  await addBuffer(pack, 'oci-layout', Buffer.from(JSON.stringify({ imageLayoutVersion: '1.0.0' })), mtime);
  await addDir(pack, 'blobs/', mtime);
  await addDir(pack, 'blobs/sha256/', mtime);
  const putBlob = async (digest: Digest, data: Buffer): Promise<void> => {
    if (written.has(digest)) return;
    written.add(digest);
    await addBuffer(pack, `blobs/sha256/${hexOf(digest)}`, data, mtime);
  };
  for (const img of images) {
    if (sha256(img.configBytes) !== img.id) throw new Error(`image ${img.id}: stored config does not match its ID`);
    const blobs: { digest: Digest; size: number; mediaType: string }[] = [];
    for (const layer of img.layers) {
      const b = await layer.blob();
      blobs.push({ digest: b.digest, size: b.size, mediaType: b.mediaType });
      if (!written.has(b.digest)) {
        written.add(b.digest);
        await addStream(pack, `blobs/sha256/${hexOf(b.digest)}`, b.size, b.open(), mtime);
      }
    }
    await putBlob(img.id, img.configBytes);
    const m = ociManifestFor(img, blobs);
    await putBlob(m.digest, m.bytes);
    const desc = (annotations?: Record<string, string>): Descriptor => {
      const d: Descriptor = { mediaType: m.mediaType, digest: m.digest, size: m.bytes.length };
      if (annotations) d.annotations = annotations;
      return d;
    };
    const names = img.names.filter((n) => parseReference(n).tag);
    if (names.length === 0) index.manifests.push(desc());
    for (const n of names) index.manifests.push(desc({ [ANNOTATION_CONTAINERD_NAME]: n, [ANNOTATION_REF_NAME]: n }));
  }
  await addBuffer(pack, 'index.json', canonicalJson(index), mtime);
}
