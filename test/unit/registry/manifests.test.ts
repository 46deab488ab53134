import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MANIFEST_ACCEPT, parseManifest } from '../../../src/registry/manifests.js';
import { MediaType } from '../../../src/image/types.js';

const d = (n: number) => ({ mediaType: MediaType.OciLayerGzip, digest: `sha256:${String(n).repeat(64).slice(0, 64)}`, size: 10 });
const buf = (o: unknown) => Buffer.from(JSON.stringify(o));

test('Accept lists OCI and Docker manifests and indexes, not schema 1', () => {
  for (const mt of [MediaType.OciManifest, MediaType.OciIndex, MediaType.DockerManifest, MediaType.DockerManifestList])
    assert.ok(MANIFEST_ACCEPT.includes(mt as never), mt);
  assert.ok(!MANIFEST_ACCEPT.some((m) => m.includes('distribution.manifest.v1')));
});

test('the body mediaType wins over Content-Type', () => {
  const p = parseManifest(buf({ schemaVersion: 2, mediaType: MediaType.DockerManifest, config: d(1), layers: [d(2)] }), 'application/json');
  assert.equal(p.kind, 'manifest');
  assert.equal(p.mediaType, MediaType.DockerManifest);
});

test('without a body mediaType the Content-Type decides', () => {
  const p = parseManifest(buf({ schemaVersion: 2, manifests: [{ ...d(1), platform: { os: 'linux', architecture: 'amd64' } }] }), `${MediaType.DockerManifestList}; charset=utf-8`);
  assert.equal(p.kind, 'index');
  assert.equal(p.mediaType, MediaType.DockerManifestList);
});

test('without either, the shape decides (OCI types)', () => {
  assert.equal(parseManifest(buf({ schemaVersion: 2, manifests: [] })).mediaType, MediaType.OciIndex);
  const m = parseManifest(buf({ schemaVersion: 2, config: d(1), layers: [] }), 'application/octet-stream');
  assert.equal(m.kind, 'manifest');
  assert.equal(m.mediaType, MediaType.OciManifest);
});

test('schema 1 is refused with a clear message', () => {
  assert.throws(() => parseManifest(buf({ schemaVersion: 1, name: 'x', fsLayers: [] })), /schema 1 is not supported/);
  assert.throws(
    () => parseManifest(buf({ schemaVersion: 2 }), 'application/vnd.docker.distribution.manifest.v1+prettyjws'),
    /schema 1/,
  );
});

test('malformed manifests are refused', () => {
  assert.throws(() => parseManifest(Buffer.from('{nope')), /not JSON/);
  assert.throws(() => parseManifest(buf({ schemaVersion: 2, mediaType: MediaType.OciManifest, layers: [] })), /config/);
  assert.throws(() => parseManifest(buf({ schemaVersion: 2, mediaType: MediaType.OciManifest, config: d(1), layers: [{ ...d(2), digest: 'sha256:../../etc' }] })), /digest/);
  assert.throws(() => parseManifest(buf({ schemaVersion: 2, mediaType: MediaType.OciManifest, config: d(1), layers: [{ ...d(2), size: -1 }] })), /size/);
  assert.throws(() => parseManifest(buf({ schemaVersion: 2, mediaType: 'application/vnd.example+json', config: d(1), layers: [] })), /unsupported manifest media type/);
});
