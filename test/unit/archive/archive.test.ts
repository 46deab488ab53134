// save/load layouts without a store: synthetic images are written with writeArchive, read back
// with stageArchive + planLoad + verifyLayerFile, and checked against the OCI schemas; hostile
// archives are refused with a clear error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { ArchiveError, normalizeEntryName, planLoad, stageArchive, verifyLayerFile, writeArchive, type ArchiveImage } from '../../../src/archive/index.js';
import { canonicalJson } from '../../../src/image/canonical.js';
import { chainIds, sha256 } from '../../../src/image/digest.js';
import type { Digest, ImageConfig, Index, Manifest } from '../../../src/image/types.js';
import { ociErrors, schemasAvailable } from './oci-schemas.js';

type Entry = { name: string; body?: string; type?: 'file' | 'directory' | 'symlink' | 'link'; linkname?: string };

async function mkTar(entries: Entry[]): Promise<Buffer> {
  const p = tar.pack();
  const chunks: Buffer[] = [];
  const r = p as unknown as Readable;
  r.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise((res) => r.on('end', res));
  for (const e of entries) {
    const header = { name: e.name, type: e.type ?? 'file', linkname: e.linkname, mode: e.type === 'directory' ? 0o755 : 0o644, mtime: new Date(0) } as const;
    if (header.type === 'file') p.entry(header, e.body ?? '');
    else p.entry(header);
  }
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}

async function collect(fn: (out: PassThrough) => Promise<void>): Promise<Buffer> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  const ended = new Promise((r) => out.on('end', r));
  await fn(out);
  await ended;
  return Buffer.concat(chunks);
}

const tmp = mkdtempSync(join(tmpdir(), 'kiln-archive-unit-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const fresh = (p: string) => join(tmp, `${p}-${n++}`);

async function syntheticImage(names: string[], layerBodies: string[]): Promise<ArchiveImage> {
  const tars = await Promise.all(layerBodies.map((b, i) => mkTar([{ name: `l${i}/`, type: 'directory' }, { name: `l${i}/f`, body: b }])));
  const diffIds = tars.map((t) => sha256(t));
  const config: ImageConfig = {
    created: '2024-03-01T10:00:00Z',
    architecture: 'amd64',
    os: 'linux',
    config: { Env: ['PATH=/bin'], Cmd: ['sh'] },
    rootfs: { type: 'layers', diff_ids: diffIds },
    history: layerBodies.map((_b, i) => ({ created: '2024-03-01T10:00:00Z', created_by: `step ${i}` })),
  };
  const configBytes = canonicalJson(config);
  const chains = chainIds(diffIds);
  return {
    id: sha256(configBytes),
    configBytes,
    config,
    names,
    layers: tars.map((t, i) => {
      const gz = gzipSync(t);
      return {
        diffId: diffIds[i]!,
        chainId: chains[i]!,
        openTar: () => Readable.from([t]),
        blob: async () => ({ digest: sha256(gz), size: gz.length, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', open: () => Readable.from([gz]) }),
      };
    }),
  };
}

async function roundTrip(images: ArchiveImage[], format: 'docker-archive' | 'oci-archive') {
  const bytes = await collect((out) => writeArchive(images, out, { format, tmpDir: tmp }));
  const st = await stageArchive(Readable.from([bytes]), fresh('stage'));
  const plan = planLoad(st);
  for (const img of plan.images) for (const l of img.layers) await verifyLayerFile(st.file(l.name), l);
  return { bytes, st, plan };
}

test('docker-archive: classic layout, names, IDs and diffIDs survive a round trip', async () => {
  const a = await syntheticImage(['docker.io/library/app:latest', 'docker.io/library/app:v2'], ['one', 'two']);
  const b = await syntheticImage(['127.0.0.1:5000/x/y:1'], ['one', 'three']);
  const { st, plan } = await roundTrip([a, b], 'docker-archive');
  try {
    const manifest = JSON.parse(st.read('manifest.json').toString()) as { Config: string; RepoTags: string[]; Layers: string[] }[];
    assert.deepEqual(manifest[0]!.RepoTags, ['docker.io/library/app:latest', 'docker.io/library/app:v2']);
    assert.deepEqual(manifest[1]!.RepoTags, ['127.0.0.1:5000/x/y:1']);
    assert.equal(manifest[0]!.Config, `${a.id.slice(7)}.json`);
    assert.equal(manifest[0]!.Layers[0], `${a.layers[0]!.chainId.slice(7)}/layer.tar`);
    // the shared bottom layer is written once
    assert.equal(manifest[1]!.Layers[0], manifest[0]!.Layers[0]);
    const repos = JSON.parse(st.read('repositories').toString()) as Record<string, Record<string, string>>;
    assert.deepEqual(Object.keys(repos), ['docker.io/library/app', '127.0.0.1:5000/x/y']);
    assert.equal(repos['docker.io/library/app']!.latest, a.layers[1]!.chainId.slice(7));
    assert.equal(plan.format, 'docker-archive');
    assert.deepEqual(
      plan.images.map((i) => [i.id, i.names]),
      [
        [a.id, ['docker.io/library/app:latest', 'docker.io/library/app:v2']],
        [b.id, ['127.0.0.1:5000/x/y:1']],
      ],
    );
    assert.deepEqual(plan.images[0]!.configBytes, a.configBytes);
  } finally {
    st.dispose();
  }
});

test('oci-archive: layout, index annotations and schema-valid documents', { skip: !schemasAvailable() && 'no OCI schemas' }, async () => {
  const a = await syntheticImage(['docker.io/library/app:latest'], ['one', 'two']);
  const u = await syntheticImage([], ['zzz']);
  const { st, plan } = await roundTrip([a, u], 'oci-archive');
  try {
    assert.deepEqual(JSON.parse(st.read('oci-layout').toString()), { imageLayoutVersion: '1.0.0' });
    assert.deepEqual(ociErrors('layout', JSON.parse(st.read('oci-layout').toString())), []);
    const index = JSON.parse(st.read('index.json').toString()) as Index;
    assert.deepEqual(ociErrors('index', index), []);
    assert.equal(index.manifests.length, 2);
    assert.deepEqual(index.manifests[0]!.annotations, {
      'io.containerd.image.name': 'docker.io/library/app:latest',
      'org.opencontainers.image.ref.name': 'docker.io/library/app:latest',
    });
    assert.equal(index.manifests[1]!.annotations, undefined);
    const m = JSON.parse(st.read(`blobs/sha256/${index.manifests[0]!.digest.slice(7)}`).toString()) as Manifest;
    assert.deepEqual(ociErrors('manifest', m), []);
    assert.equal(m.config.digest, a.id);
    assert.equal(m.layers[0]!.mediaType, 'application/vnd.oci.image.layer.v1.tar+gzip');
    assert.equal(m.layers[0]!.digest, (await a.layers[0]!.blob()).digest);
    assert.deepEqual(ociErrors('config', JSON.parse(st.read(`blobs/sha256/${a.id.slice(7)}`).toString())), []);
    assert.deepEqual(
      plan.images.map((i) => [i.id, i.names, i.layers.map((l) => l.blob?.digest)]),
      [
        [a.id, ['docker.io/library/app:latest'], [(await a.layers[0]!.blob()).digest, (await a.layers[1]!.blob()).digest]],
        [u.id, [], [(await u.layers[0]!.blob()).digest]],
      ],
    );
  } finally {
    st.dispose();
  }
});

test('saving the same images twice gives the same bytes', async () => {
  const a = await syntheticImage(['docker.io/library/app:latest'], ['one']);
  for (const f of ['docker-archive', 'oci-archive'] as const) {
    const x = await collect((out) => writeArchive([a], out, { format: f, tmpDir: tmp }));
    const y = await collect((out) => writeArchive([a], out, { format: f, tmpDir: tmp }));
    assert.equal(sha256(x), sha256(y), f);
  }
});

test('a layer that does not hash to its diffID is not saved', async () => {
  const a = await syntheticImage(['docker.io/library/app:latest'], ['one']);
  a.layers[0]!.openTar = () => Readable.from([Buffer.from('not the layer')]);
  const sink = new PassThrough();
  sink.resume();
  sink.on('error', () => undefined);
  await assert.rejects(writeArchive([a], sink, { format: 'docker-archive', tmpDir: tmp }), /no longer matches its diffID/);
});

test('entry names: normalized, and escapes refused', async () => {
  assert.equal(normalizeEntryName('./a//b/'), 'a/b');
  assert.throws(() => normalizeEntryName('/etc/passwd'), ArchiveError);
  assert.throws(() => normalizeEntryName('a/../../b'), /"\.\." component/);
  const evil = await mkTar([{ name: '../outside', body: 'x' }]);
  await assert.rejects(stageArchive(Readable.from([evil]), fresh('evil')), /invalid archive entry/);
  await assert.rejects(stageArchive(Readable.from([Buffer.alloc(0)]), fresh('empty')), /empty archive/);
});

test('links inside an archive resolve (Podman-style legacy paths); links out are refused', async () => {
  const arc = await mkTar([
    { name: 'abc.tar', body: 'layer bytes' },
    { name: 'legacy/', type: 'directory' },
    { name: 'legacy/layer.tar', type: 'symlink', linkname: '../abc.tar' },
    { name: 'hard.tar', type: 'link', linkname: 'abc.tar' },
    { name: 'dirlink', type: 'symlink', linkname: 'legacy' },
    { name: 'out', type: 'symlink', linkname: '../../etc/passwd' },
    { name: 'abs', type: 'symlink', linkname: '/etc/passwd' },
  ]);
  const st = await stageArchive(Readable.from([gzipSync(arc)]), fresh('links')); // gzip-wrapped archives work too
  try {
    assert.equal(st.read('legacy/layer.tar').toString(), 'layer bytes');
    assert.equal(st.read('./hard.tar').toString(), 'layer bytes');
    assert.equal(st.read('dirlink/layer.tar').toString(), 'layer bytes');
    assert.throws(() => st.file('out'), /points outside the archive/);
    assert.throws(() => st.file('abs'), /points outside the archive/);
    assert.equal(st.has('nope'), false);
  } finally {
    st.dispose();
  }
});

async function layerFile(entries: Entry[], gzip = false): Promise<{ path: string; diffId: Digest; digest: Digest; size: number }> {
  const t = await mkTar(entries);
  const bytes = gzip ? gzipSync(t) : t;
  const path = fresh('layer');
  const { writeFileSync } = await import('node:fs');
  writeFileSync(path, bytes);
  return { path, diffId: sha256(t), digest: sha256(bytes), size: bytes.length };
}

test('verifyLayerFile: digest, size and diffID of plain and gzip layers', async () => {
  for (const gz of [false, true]) {
    const l = await layerFile([{ name: 'a', body: 'x' }], gz);
    const v = await verifyLayerFile(l.path, { name: 'l', diffId: l.diffId, blob: { digest: l.digest, size: l.size, mediaType: 'x' } });
    assert.equal(v.compression, gz ? 'gzip' : 'none');
    assert.equal(v.diffId, l.diffId);
    await assert.rejects(verifyLayerFile(l.path, { name: 'l', diffId: sha256('other') }), /diffID mismatch/);
    await assert.rejects(verifyLayerFile(l.path, { name: 'l', diffId: l.diffId, blob: { digest: sha256('x'), size: l.size, mediaType: 'x' } }), /digest mismatch/);
    await assert.rejects(verifyLayerFile(l.path, { name: 'l', diffId: l.diffId, blob: { digest: l.digest, size: l.size + 1, mediaType: 'x' } }), /size mismatch/);
  }
});

test('verifyLayerFile: entries leaving the layer are refused', async () => {
  const cases: [Entry[], RegExp][] = [
    [[{ name: '../evil', body: 'x' }], /"\.\.\/evil".*contains "\.\."/],
    [[{ name: 'a/../../evil', body: 'x' }], /contains "\.\."/],
    [[{ name: '/etc/evil', body: 'x' }], /absolute path/],
    [[{ name: 'lnk', type: 'symlink', linkname: '/etc' }, { name: 'lnk/passwd', body: 'x' }], /through the symlink lnk/],
    [[{ name: 'h', type: 'link', linkname: '../../etc/shadow' }], /hard link target/],
    [[{ name: 'h', type: 'link', linkname: '/etc/shadow' }], /hard link to absolute path/],
  ];
  for (const [entries, re] of cases) {
    const l = await layerFile(entries);
    await assert.rejects(verifyLayerFile(l.path, { name: 'l', diffId: l.diffId }), re);
  }
  // a symlink replaced by a directory before use is fine
  const ok = await layerFile([{ name: 'd', type: 'symlink', linkname: '/x' }, { name: 'd/', type: 'directory' }, { name: 'd/f', body: 'x' }]);
  await verifyLayerFile(ok.path, { name: 'l', diffId: ok.diffId });
});

async function stageEntries(entries: Entry[]) {
  return stageArchive(Readable.from([await mkTar(entries)]), fresh('plan'));
}

test('planLoad: tampered configs, missing blobs and layer count mismatches are refused', async () => {
  const cfg = JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha256('x')] } });
  const wrongName = `${'0'.repeat(64)}.json`;
  let st = await stageEntries([
    { name: wrongName, body: cfg },
    { name: 'l.tar', body: 'x' },
    { name: 'manifest.json', body: JSON.stringify([{ Config: wrongName, RepoTags: ['a:b'], Layers: ['l.tar'] }]) },
  ]);
  assert.throws(() => planLoad(st), /digest mismatch/);
  st.dispose();
  st = await stageEntries([
    { name: 'c.json', body: cfg },
    { name: 'manifest.json', body: JSON.stringify([{ Config: 'c.json', RepoTags: null, Layers: ['missing.tar'] }]) },
  ]);
  assert.throws(() => planLoad(st), /no layer file "missing.tar"/);
  st.dispose();
  st = await stageEntries([
    { name: 'c.json', body: cfg },
    { name: 'manifest.json', body: JSON.stringify([{ Config: 'c.json', RepoTags: null, Layers: [] }]) },
  ]);
  assert.throws(() => planLoad(st), /config lists 1 layers, manifest.json 0/);
  st.dispose();
  // OCI: the manifest blob was altered after its descriptor was written
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, config: { mediaType: 'a', digest: sha256(cfg), size: cfg.length }, layers: [] }));
  st = await stageEntries([
    { name: 'oci-layout', body: '{"imageLayoutVersion":"1.0.0"}' },
    { name: `blobs/sha256/${sha256(manifest).slice(7)}`, body: manifest.toString().replace('2', '2 ') },
    { name: 'index.json', body: JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha256(manifest), size: manifest.length }] }) },
  ]);
  assert.throws(() => planLoad(st), /manifest blobs\/sha256\/[a-f0-9]+: digest mismatch/);
  st.dispose();
  st = await stageEntries([{ name: 'foo', body: 'bar' }]);
  assert.throws(() => planLoad(st), /not an image archive/);
  st.dispose();
});

test('planLoad: nested index picks the platform; names from annotations, bare tags ignored', async () => {
  const mk = (arch: string) => {
    const cfg = JSON.stringify({ architecture: arch, os: 'linux', rootfs: { type: 'layers', diff_ids: [] } });
    const m = JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(cfg), size: cfg.length }, layers: [] });
    return { cfg, m };
  };
  const amd = mk('amd64');
  const arm = mk('arm64');
  const idx = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [
      { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha256(arm.m), size: arm.m.length, platform: { os: 'linux', architecture: 'arm64' } },
      { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha256(amd.m), size: amd.m.length, platform: { os: 'linux', architecture: 'amd64' } },
    ],
  });
  const blob = (s: string): Entry => ({ name: `blobs/sha256/${sha256(s).slice(7)}`, body: s });
  const st = await stageEntries([
    { name: 'oci-layout', body: '{"imageLayoutVersion":"1.0.0"}' },
    blob(amd.cfg),
    blob(amd.m),
    blob(arm.cfg),
    blob(arm.m),
    blob(idx),
    {
      name: 'index.json',
      body: JSON.stringify({
        schemaVersion: 2,
        manifests: [
          { mediaType: 'application/vnd.oci.image.index.v1+json', digest: sha256(idx), size: idx.length, annotations: { 'org.opencontainers.image.ref.name': 'multi:1' } },
          { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha256(arm.m), size: arm.m.length, annotations: { 'org.opencontainers.image.ref.name': 'latest' } },
        ],
      }),
    },
  ]);
  try {
    const plan = planLoad(st, { os: 'linux', architecture: 'amd64' });
    assert.deepEqual(
      plan.images.map((i) => [i.config.architecture, i.names]),
      [
        ['amd64', ['docker.io/library/multi:1']],
        ['arm64', []],
      ],
    );
    assert.equal(plan.images[0]!.manifest!.digest, sha256(amd.m));
  } finally {
    st.dispose();
  }
});

test('sha256 helper sanity for the fixtures', () => {
  assert.equal(sha256(''), `sha256:${createHash('sha256').update('').digest('hex')}`);
});
