import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultPlatform, formatPlatform, parsePlatform, selectManifest } from '../../../src/registry/platform.js';
import type { Descriptor, Index } from '../../../src/image/types.js';

const desc = (n: number, platform?: Descriptor['platform'], annotations?: Record<string, string>): Descriptor => ({
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  digest: `sha256:${String(n).repeat(64).slice(0, 64)}`,
  size: 100,
  ...(platform ? { platform } : {}),
  ...(annotations ? { annotations } : {}),
});

const index: Index = {
  schemaVersion: 2,
  manifests: [
    desc(1, { os: 'linux', architecture: 'arm', variant: 'v6' }),
    desc(2, { os: 'linux', architecture: 'amd64' }),
    desc(3, { os: 'linux', architecture: 'arm64', variant: 'v8' }),
    desc(4, { os: 'linux', architecture: 'arm', variant: 'v7' }),
    desc(5, { os: 'windows', architecture: 'amd64', 'os.version': '10.0.17763.1' }),
    desc(6, { os: 'unknown', architecture: 'unknown' }, { 'vnd.docker.reference.type': 'attestation-manifest' }),
  ],
};

test('parsePlatform normalizes aliases and default variants', () => {
  assert.deepEqual(parsePlatform('linux/amd64'), { os: 'linux', architecture: 'amd64' });
  assert.deepEqual(parsePlatform('linux/x86_64'), { os: 'linux', architecture: 'amd64' });
  assert.deepEqual(parsePlatform('linux/aarch64'), { os: 'linux', architecture: 'arm64' });
  assert.deepEqual(parsePlatform('linux/arm64/v8'), { os: 'linux', architecture: 'arm64' });
  assert.deepEqual(parsePlatform('linux/arm'), { os: 'linux', architecture: 'arm', variant: 'v7' });
  assert.deepEqual(parsePlatform('arm64'), { os: 'linux', architecture: 'arm64' });
  assert.throws(() => parsePlatform('linux//'), /invalid platform/);
  assert.throws(() => parsePlatform('a/b/c/d'), /invalid platform/);
  assert.equal(formatPlatform({ os: 'linux', architecture: 'arm' }), 'linux/arm/v7');
});

test('the default is linux on the host architecture', () => {
  const p = defaultPlatform();
  assert.equal(p.os, 'linux');
  if (process.arch === 'x64') assert.equal(p.architecture, 'amd64');
});

test('selects the exact platform', () => {
  assert.equal(selectManifest(index, parsePlatform('linux/amd64')).digest, desc(2).digest);
  assert.equal(selectManifest(index, parsePlatform('linux/arm64')).digest, desc(3).digest);
  assert.equal(selectManifest(index, parsePlatform('linux/arm64/v8')).digest, desc(3).digest);
  assert.equal(selectManifest(index, parsePlatform('linux/arm/v7')).digest, desc(4).digest);
  assert.equal(selectManifest(index, parsePlatform('windows/amd64')).digest, desc(5).digest);
});

test('arm variants fall back to older compatible ones, never newer', () => {
  assert.equal(selectManifest(index, parsePlatform('linux/arm/v6')).digest, desc(1).digest);
  const onlyV6: Index = { schemaVersion: 2, manifests: [desc(1, { os: 'linux', architecture: 'arm', variant: 'v6' })] };
  assert.equal(selectManifest(onlyV6, parsePlatform('linux/arm/v7')).digest, desc(1).digest);
  const onlyV7: Index = { schemaVersion: 2, manifests: [desc(4, { os: 'linux', architecture: 'arm', variant: 'v7' })] };
  assert.throws(() => selectManifest(onlyV7, parsePlatform('linux/arm/v5')), /no matching manifest/);
});

test('attestation manifests are never chosen; the error lists what is available', () => {
  assert.throws(
    () => selectManifest(index, parsePlatform('linux/s390x')),
    (e: Error) => /no matching manifest for linux\/s390x/.test(e.message) && /linux\/amd64/.test(e.message) && !/unknown/.test(e.message),
  );
});

test('aliases in the index itself are normalized', () => {
  const idx: Index = { schemaVersion: 2, manifests: [desc(7, { os: 'linux', architecture: 'x86_64' })] };
  assert.equal(selectManifest(idx, parsePlatform('linux/amd64')).digest, desc(7).digest);
});
