// `load`, steps 2 and 3: read a staged archive's layout into a plan (which images, which names,
// which files are their config and layers), then verify every byte of it before anything is
// stored: config digests, blob digests and sizes, each layer's diffID, and that no layer entry
// would land outside the layer. Formats:
//   - docker-archive: manifest.json (Docker < 25, Docker ≥ 25 which adds an OCI layout, Podman,
//     skopeo); layers plain or compressed, possibly reached through links.
//   - OCI image layout: oci-layout + index.json (kiln, Podman, skopeo, BuildKit); nested
//     indexes pick the host platform.
import { createReadStream } from 'node:fs';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { isDigest, sha256 } from '../image/digest.js';
import { normalize, parseReference } from '../image/reference.js';
import { MediaType, type Descriptor, type Digest, type DockerArchiveEntry, type ImageConfig, type Index, type Manifest } from '../image/types.js';
import { DigestStream, decompress, type Compression } from '../layers/compress.js';
import { ANNOTATION_CONTAINERD_NAME, ANNOTATION_REF_NAME } from './save.js';
import { ArchiveError, type StagedArchive } from './stage.js';

export interface PlannedLayer {
  /** Archive name of the layer file. */
  name: string;
  /** diffID the config says this layer has. */
  diffId: Digest;
  /** The descriptor it was listed under (OCI layouts): its digest and size are checked. */
  blob?: { digest: Digest; size: number; mediaType: string };
}

export interface PlannedImage {
  id: Digest;
  configBytes: Buffer;
  config: ImageConfig;
  /** Normalized names (docker.io/library/app:latest). */
  names: string[];
  layers: PlannedLayer[];
  /** The manifest it came with (OCI layouts), kept so its digest stays the image's repo digest. */
  manifest?: { bytes: Buffer; digest: Digest; mediaType: string };
}

export interface LoadPlan {
  format: 'docker-archive' | 'oci-archive';
  images: PlannedImage[];
}

export interface PlanOptions {
  /** Platform to pick from multi-platform indexes (default: this machine's). */
  os?: string;
  architecture?: string;
}

function hostArch(): string {
  const map: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };
  return map[process.arch] ?? process.arch;
}

function parseJson<T>(bytes: Buffer, what: string): T {
  try {
    return JSON.parse(bytes.toString('utf8')) as T;
  } catch (e) {
    throw new ArchiveError(`invalid ${what}: ${(e as Error).message}`);
  }
}

function checkConfig(cfg: ImageConfig, what: string): void {
  if (!cfg || typeof cfg !== 'object' || !cfg.rootfs || !Array.isArray(cfg.rootfs.diff_ids)) throw new ArchiveError(`invalid ${what}: no rootfs.diff_ids`);
  for (const d of cfg.rootfs.diff_ids) if (!isDigest(d)) throw new ArchiveError(`invalid ${what}: bad diffID ${JSON.stringify(d)}`);
}

/** A name from an archive, normalized; undefined for a bare tag or something unparsable. */
function archiveName(n: unknown): string | undefined {
  if (typeof n !== 'string' || !n) return undefined;
  // an OCI ref.name may be just a tag ("latest"): that names no repository
  if (!n.includes(':') && !n.includes('/')) return undefined;
  try {
    const r = parseReference(n);
    if (!r.tag) return undefined;
    return normalize(n);
  } catch {
    return undefined;
  }
}

/** Reads the layout of a staged archive; checks digests of the small JSON documents on the way. */
export function planLoad(st: StagedArchive, opts: PlanOptions = {}): LoadPlan {
  if (st.has('manifest.json')) return planDocker(st);
  if (st.has('index.json')) return planOci(st, opts);
  if (st.has('repositories')) throw new ArchiveError('this is a pre-1.10 Docker archive (no manifest.json): not supported');
  throw new ArchiveError('not an image archive: no manifest.json (docker-archive) or index.json (OCI layout)');
}

function planDocker(st: StagedArchive): LoadPlan {
  const entries = parseJson<DockerArchiveEntry[]>(st.read('manifest.json'), 'manifest.json');
  if (!Array.isArray(entries) || entries.length === 0) throw new ArchiveError('invalid manifest.json: expected a non-empty array');
  const byId = new Map<Digest, PlannedImage>();
  for (const e of entries) {
    if (!e || typeof e.Config !== 'string' || !Array.isArray(e.Layers)) throw new ArchiveError('invalid manifest.json entry: needs Config and Layers');
    const configBytes = st.read(e.Config);
    const id = sha256(configBytes);
    // configs are named by their digest (<hex>.json, blobs/sha256/<hex>): a different name is tampering
    const m = /(?:^|\/)([a-f0-9]{64})(?:\.json)?$/.exec(e.Config);
    if (m && `sha256:${m[1]}` !== id) throw new ArchiveError(`config ${e.Config}: digest mismatch: expected sha256:${m[1]}, got ${id}`);
    const config = parseJson<ImageConfig>(configBytes, `config ${e.Config}`);
    checkConfig(config, `config ${e.Config}`);
    if (config.rootfs.diff_ids.length !== e.Layers.length) {
      throw new ArchiveError(`image ${id}: config lists ${config.rootfs.diff_ids.length} layers, manifest.json ${e.Layers.length}`);
    }
    const names: string[] = [];
    for (const t of e.RepoTags ?? []) {
      try {
        names.push(normalize(t));
      } catch {
        throw new ArchiveError(`invalid tag ${JSON.stringify(t)} in manifest.json`);
      }
    }
    const layers = e.Layers.map((name, i) => {
      if (typeof name !== 'string') throw new ArchiveError('invalid manifest.json: layer paths must be strings');
      if (!st.has(name)) throw new ArchiveError(`archive has no layer file ${JSON.stringify(name)}`);
      return { name, diffId: config.rootfs.diff_ids[i]! };
    });
    const prev = byId.get(id);
    if (prev) {
      for (const n of names) if (!prev.names.includes(n)) prev.names.push(n);
      continue;
    }
    byId.set(id, { id, configBytes, config, names, layers });
  }
  return { format: 'docker-archive', images: [...byId.values()] };
}

function blobName(d: Descriptor): string {
  if (typeof d?.digest !== 'string' || !isDigest(d.digest)) throw new ArchiveError(`invalid descriptor digest ${JSON.stringify(d?.digest)}`);
  if (typeof d.size !== 'number' || !Number.isInteger(d.size) || d.size < 0) throw new ArchiveError(`invalid descriptor size for ${d.digest}`);
  return `blobs/sha256/${d.digest.slice(7)}`;
}

/** Reads a small blob and checks its digest and size against the descriptor. */
function readBlob(st: StagedArchive, d: Descriptor, what: string): Buffer {
  const name = blobName(d);
  if (!st.has(name)) throw new ArchiveError(`${what} ${d.digest} is missing from the archive`);
  const bytes = st.read(name);
  const got = sha256(bytes);
  if (got !== d.digest) throw new ArchiveError(`${what} ${name}: digest mismatch: expected ${d.digest}, got ${got}`);
  if (bytes.length !== d.size) throw new ArchiveError(`${what} ${name}: size mismatch: expected ${d.size}, got ${bytes.length}`);
  return bytes;
}

const INDEX_TYPES: readonly string[] = [MediaType.OciIndex, MediaType.DockerManifestList];
const MANIFEST_TYPES: readonly string[] = [MediaType.OciManifest, MediaType.DockerManifest];

function planOci(st: StagedArchive, opts: PlanOptions): LoadPlan {
  if (st.has('oci-layout')) {
    const layout = parseJson<{ imageLayoutVersion?: string }>(st.read('oci-layout'), 'oci-layout');
    if (typeof layout.imageLayoutVersion !== 'string') throw new ArchiveError('invalid oci-layout: no imageLayoutVersion');
  }
  const index = parseJson<Index>(st.read('index.json'), 'index.json');
  if (!index || !Array.isArray(index.manifests)) throw new ArchiveError('invalid index.json: no manifests');
  const os = opts.os ?? 'linux';
  const arch = opts.architecture ?? hostArch();
  const byId = new Map<Digest, PlannedImage>();

  const visit = (d: Descriptor, names: string[], depth: number): void => {
    if (depth > 4) throw new ArchiveError('index nesting too deep');
    const mt = d.mediaType ?? '';
    if (INDEX_TYPES.includes(mt)) {
      const sub = parseJson<Index>(readBlob(st, d, 'index'), `index ${d.digest}`);
      if (!Array.isArray(sub.manifests) || sub.manifests.length === 0) throw new ArchiveError(`index ${d.digest} lists no manifests`);
      const candidates = sub.manifests.filter((m) => MANIFEST_TYPES.includes(m.mediaType) || INDEX_TYPES.includes(m.mediaType));
      const match =
        candidates.find((m) => m.platform?.os === os && m.platform?.architecture === arch) ??
        (candidates.length === 1 || candidates.every((m) => !m.platform) ? candidates[0] : undefined);
      if (!match) throw new ArchiveError(`index ${d.digest} has no image for ${os}/${arch}`);
      const inner = names.length ? names : namesOf(match);
      visit(match, inner, depth + 1);
      return;
    }
    if (!MANIFEST_TYPES.includes(mt)) {
      if (mt === '' && depth === 0) {
        // some writers omit the media type in index.json; read and decide
        const bytes = readBlob(st, d, 'manifest');
        const doc = parseJson<{ mediaType?: string; manifests?: unknown; config?: unknown }>(bytes, `manifest ${d.digest}`);
        const guessed = doc.mediaType ?? (doc.manifests ? MediaType.OciIndex : MediaType.OciManifest);
        visit({ ...d, mediaType: guessed }, names, depth);
        return;
      }
      return; // attestation manifests, signatures, …: not images
    }
    const mbytes = readBlob(st, d, 'manifest');
    const m = parseJson<Manifest>(mbytes, `manifest ${d.digest}`);
    if (!m.config || !Array.isArray(m.layers)) throw new ArchiveError(`manifest ${d.digest}: no config or layers`);
    const configBytes = readBlob(st, m.config, 'config');
    const id = sha256(configBytes);
    const config = parseJson<ImageConfig>(configBytes, `config ${id}`);
    checkConfig(config, `config ${id}`);
    if (config.rootfs.diff_ids.length !== m.layers.length) {
      throw new ArchiveError(`image ${id}: config lists ${config.rootfs.diff_ids.length} layers, manifest ${m.layers.length}`);
    }
    const layers = m.layers.map((l, i) => {
      const name = blobName(l);
      if (!st.has(name)) throw new ArchiveError(`layer ${l.digest} is missing from the archive`);
      return { name, diffId: config.rootfs.diff_ids[i]!, blob: { digest: l.digest, size: l.size, mediaType: l.mediaType } };
    });
    const prev = byId.get(id);
    if (prev) {
      for (const n of names) if (!prev.names.includes(n)) prev.names.push(n);
      return;
    }
    byId.set(id, { id, configBytes, config, names: [...names], layers, manifest: { bytes: mbytes, digest: d.digest, mediaType: mt } });
  };

  for (const d of index.manifests) visit(d, namesOf(d), 0);
  if (byId.size === 0) throw new ArchiveError('index.json lists no images');
  return { format: 'oci-archive', images: [...byId.values()] };
}

function namesOf(d: Descriptor): string[] {
  const a = d.annotations ?? {};
  const n = archiveName(a[ANNOTATION_CONTAINERD_NAME]) ?? archiveName(a[ANNOTATION_REF_NAME]);
  return n ? [n] : [];
}

// ---------------------------------------------------------------- verification

export interface VerifiedLayer {
  compression: Compression;
  /** sha256 and size of the file as stored in the archive. */
  digest: Digest;
  size: number;
  /** sha256 and size of the uncompressed tar. */
  diffId: Digest;
  tarSize: number;
}

function tarEntryProblem(name: string, type: string, linkname: string | null | undefined, symlinks: Set<string>): string | undefined {
  const clean = name.replace(/^(\.\/)+/, '');
  if (clean.startsWith('/')) return 'absolute path';
  const parts = clean.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) return 'path contains ".."';
  for (let i = 1; i < parts.length; i++) {
    if (symlinks.has(parts.slice(0, i).join('/'))) return `path goes through the symlink ${parts.slice(0, i).join('/')}`;
  }
  if (type === 'link' && linkname) {
    const t = linkname.replace(/^(\.\/)+/, '');
    if (t.startsWith('/')) return `hard link to absolute path ${linkname}`;
    if (t.split('/').includes('..')) return `hard link target ${linkname} contains ".."`;
  }
  if (type === 'symlink') symlinks.add(parts.join('/'));
  else symlinks.delete(parts.join('/'));
  return undefined;
}

/**
 * Reads a layer file once: checks the blob digest/size (when a descriptor gave them), that the
 * uncompressed tar hashes to `expectDiffId`, and that every entry stays inside the layer.
 */
export async function verifyLayerFile(path: string, layer: PlannedLayer): Promise<VerifiedLayer> {
  const src = createReadStream(path);
  const raw = new DigestStream();
  src.on('error', (e) => raw.destroy(e));
  src.pipe(raw);
  const { stream, compression } = await decompress(raw);
  const tarD = new DigestStream();
  const ex = tar.extract();
  const symlinks = new Set<string>();
  let problem: string | undefined;
  const consume = (async () => {
    for await (const entry of ex) {
      const h = entry.header;
      problem ??= tarEntryProblem(h.name, h.type, h.linkname, symlinks);
      if (problem) problem = `refusing layer entry ${JSON.stringify(h.name)}: ${problem}`;
      for await (const _chunk of entry as unknown as AsyncIterable<Buffer>) {
        /* hashed on the way in */
      }
      if (problem) break;
    }
  })();
  try {
    await Promise.all([pipeline(stream, tarD, ex as unknown as Writable), consume]);
  } catch (e) {
    if (!problem) throw new ArchiveError(`layer ${layer.name}: cannot read the layer tar: ${(e as Error).message}`);
  }
  if (problem) throw new ArchiveError(`layer ${layer.name}: ${problem}`);
  const digest = raw.digest;
  const rawSize = raw.size;
  const diffId = tarD.digest;
  const tarSize = tarD.size;
  if (layer.blob) {
    if (digest !== layer.blob.digest) throw new ArchiveError(`layer ${layer.name}: digest mismatch: expected ${layer.blob.digest}, got ${digest}`);
    if (rawSize !== layer.blob.size) throw new ArchiveError(`layer ${layer.name}: size mismatch: expected ${layer.blob.size}, got ${rawSize}`);
  }
  if (diffId !== layer.diffId) throw new ArchiveError(`layer ${layer.name}: diffID mismatch: config says ${layer.diffId}, the layer tar hashes to ${diffId}`);
  return { compression, digest, size: rawSize, diffId, tarSize };
}
