// Manifests on the wire: content negotiation (OCI manifest + index, Docker schema 2 manifest +
// manifest list), media-type detection, structural checks, and digest verification of what a
// registry sends (by-digest fetches must hash to the digest; by-tag fetches must agree with the
// Docker-Content-Digest header when there is one).
import { isDigest, sha256 } from '../image/digest.js';
import { MediaType, type Descriptor, type Digest, type Index, type Manifest } from '../image/types.js';
import type { RegistryClient } from './client.js';
import { DigestMismatchError, RegistryError } from './errors.js';
import { header, readBody } from './http.js';

/** What kiln accepts, most specific first (schema 1 is deliberately absent). */
export const MANIFEST_ACCEPT = [MediaType.OciIndex, MediaType.DockerManifestList, MediaType.OciManifest, MediaType.DockerManifest];

const INDEX_TYPES = new Set<string>([MediaType.OciIndex, MediaType.DockerManifestList]);
const MANIFEST_TYPES = new Set<string>([MediaType.OciManifest, MediaType.DockerManifest]);
const SCHEMA1_TYPES = new Set([
  'application/vnd.docker.distribution.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v1+prettyjws',
]);

export type ParsedManifest =
  | { kind: 'manifest'; mediaType: string; manifest: Manifest }
  | { kind: 'index'; mediaType: string; index: Index };

export function isIndexMediaType(mt: string): boolean {
  return INDEX_TYPES.has(mt);
}

function stripParams(ct: string | undefined): string | undefined {
  return ct?.split(';')[0]!.trim().toLowerCase() || undefined;
}

function checkDescriptor(d: unknown, where: string): asserts d is Descriptor {
  const x = d as Descriptor;
  if (!x || typeof x !== 'object') throw new RegistryError(`invalid manifest: ${where} is not a descriptor`);
  if (!isDigest(x.digest)) throw new RegistryError(`invalid manifest: ${where} has unsupported digest ${JSON.stringify(x.digest)}`);
  if (!Number.isSafeInteger(x.size) || x.size < 0) throw new RegistryError(`invalid manifest: ${where} has invalid size`);
  if (typeof x.mediaType !== 'string') throw new RegistryError(`invalid manifest: ${where} has no mediaType`);
}

/** Parses manifest bytes; the body's own mediaType wins over Content-Type, then the shape decides. */
export function parseManifest(bytes: Buffer, contentType?: string): ParsedManifest {
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new RegistryError(`invalid manifest: not JSON (${(e as Error).message})`);
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new RegistryError('invalid manifest: not a JSON object');
  const ct = stripParams(contentType);
  if (doc.schemaVersion === 1 || (ct && SCHEMA1_TYPES.has(ct)))
    throw new RegistryError('Docker image manifest schema 1 is not supported (the image must be re-pushed with a current client)');
  if (doc.schemaVersion !== 2) throw new RegistryError(`invalid manifest: schemaVersion ${JSON.stringify(doc.schemaVersion)}`);
  let mt = typeof doc.mediaType === 'string' ? doc.mediaType : undefined;
  if (!mt && ct && (INDEX_TYPES.has(ct) || MANIFEST_TYPES.has(ct))) mt = ct;
  if (!mt) mt = Array.isArray(doc.manifests) ? MediaType.OciIndex : MediaType.OciManifest;
  if (INDEX_TYPES.has(mt)) {
    if (!Array.isArray(doc.manifests)) throw new RegistryError('invalid index: no "manifests" list');
    doc.manifests.forEach((d, i) => checkDescriptor(d, `manifests[${i}]`));
    return { kind: 'index', mediaType: mt, index: doc as unknown as Index };
  }
  if (MANIFEST_TYPES.has(mt)) {
    checkDescriptor(doc.config, 'config');
    if (!Array.isArray(doc.layers)) throw new RegistryError('invalid manifest: no "layers" list');
    doc.layers.forEach((d, i) => checkDescriptor(d, `layers[${i}]`));
    return { kind: 'manifest', mediaType: mt, manifest: doc as unknown as Manifest };
  }
  throw new RegistryError(`unsupported manifest media type ${mt}`);
}

export interface FetchedManifest {
  bytes: Buffer;
  digest: Digest;
  parsed: ParsedManifest;
}

export function manifestPath(repo: string, ref: string): string {
  return `/v2/${repo}/manifests/${ref}`;
}

/** GET a manifest by tag or digest, negotiated, verified. */
export async function fetchManifest(client: RegistryClient, repo: string, ref: string, accept = MANIFEST_ACCEPT): Promise<FetchedManifest> {
  const what = `${client.registry}/${repo}:${ref}`.replace(/:sha256:/, '@sha256:');
  const res = await client.request({ method: 'GET', path: manifestPath(repo, ref), repo, actions: ['pull'], headers: { accept: accept.join(', ') } });
  if (res.status !== 200) return client.fail(res, `manifest for ${what}`);
  const bytes = await readBody(res, 4 * 1024 * 1024);
  const digest = sha256(bytes);
  if (isDigest(ref) && ref !== digest) throw new DigestMismatchError(`manifest ${what}`, ref, digest);
  const claimed = header(res, 'docker-content-digest');
  if (!isDigest(ref) && claimed && claimed.startsWith('sha256:') && claimed !== digest)
    throw new DigestMismatchError(`manifest ${what}`, claimed, digest);
  const parsed = parseManifest(bytes, header(res, 'content-type'));
  return { bytes, digest, parsed };
}

/** HEAD a manifest: its digest and media type, or undefined when absent. */
export async function headManifest(client: RegistryClient, repo: string, ref: string): Promise<{ digest?: Digest; mediaType?: string } | undefined> {
  const res = await client.request({ method: 'HEAD', path: manifestPath(repo, ref), repo, actions: ['pull'], headers: { accept: MANIFEST_ACCEPT.join(', ') } });
  res.body.resume();
  if (res.status === 404) return undefined;
  if (res.status !== 200) return client.fail(res, `manifest ${client.registry}/${repo}:${ref}`);
  const d = header(res, 'docker-content-digest');
  return { digest: d && isDigest(d) ? d : undefined, mediaType: stripParams(header(res, 'content-type')) };
}

/** PUT a manifest under a tag or digest; returns the digest the registry reports (checked). */
export async function putManifest(client: RegistryClient, repo: string, ref: string, bytes: Buffer, mediaType: string): Promise<Digest> {
  const digest = sha256(bytes);
  const res = await client.request({
    method: 'PUT',
    path: manifestPath(repo, ref),
    repo,
    actions: ['pull', 'push'],
    headers: { 'content-type': mediaType },
    body: bytes,
  });
  if (res.status !== 201 && res.status !== 200 && res.status !== 202) return client.fail(res, `manifest PUT ${client.registry}/${repo}:${ref}`);
  res.body.resume();
  const claimed = header(res, 'docker-content-digest');
  if (claimed && claimed.startsWith('sha256:') && claimed !== digest)
    throw new DigestMismatchError(`manifest PUT ${client.registry}/${repo}:${ref}`, digest, claimed);
  return digest;
}
