// Pull and push against a real registry (Debian's docker-registry), with skopeo on the other side:
// an image pushed by skopeo is pulled by kiln, kiln pushes it on (mounting blobs across
// repositories), skopeo reads and copies what kiln pushed, and a fresh store pulls it back with the
// same IDs. Re-pulls say "Already exists", re-pushes "Layer already exists".
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { Engine } from '../../src/engine.js';
import { pullImage } from '../../src/registry/pull.js';
import { pushImage } from '../../src/registry/push.js';
import { chainIds } from '../../src/image/digest.js';
import type { Digest } from '../../src/image/types.js';
import { craftOciIndex, craftOciLayout, randomBytes, skopeo, skopeoPushLayout, startFaultProxy, startRegistry, type CraftedImage, type TestRegistry, missingRegistryTools } from '../helpers/registry.js';


const skip = missingRegistryTools();
let reg: TestRegistry;
let img: CraftedImage;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-reg-it-'));
const engines: Engine[] = [];

function freshEngine(name: string): Engine {
  const e = Engine.open(path.join(tmp, name));
  engines.push(e);
  return e;
}

function sha(b: Buffer): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}

before(async () => {
  if (skip) return;
  reg = await startRegistry();
  img = craftOciLayout(path.join(tmp, 'layout'), [
    { 'bin/hello': '#!/bin/sh\necho hello\n', 'etc/os-release': 'ID=kiln-test\n' },
    { 'data/big.bin': randomBytes(1_500_000, 'big') },
    { 'etc/motd': 'welcome\n' },
  ]);
  await skopeoPushLayout(img, reg.host, 'src/app:v1');
});

after(async () => {
  for (const e of engines) e.close();
  await reg?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('pull of an image pushed by skopeo: Docker output, IDs, layers and blobs as they arrived', { skip }, async () => {
  const engine = freshEngine('a');
  const lines: string[] = [];
  const r = await pullImage(engine, `${reg.host}/src/app:v1`, { progress: (l) => lines.push(l) });
  assert.equal(r.id, img.configDigest);
  assert.equal(r.digest, img.manifestDigest);
  assert.equal(r.ref, `${reg.host}/src/app:v1`);
  assert.equal(lines[0], 'v1: Pulling from src/app');
  for (const d of img.layerDigests) {
    const s = d.slice(7, 19);
    for (const status of ['Pulling fs layer', 'Download complete', 'Pull complete']) assert.ok(lines.includes(`${s}: ${status}`), `${s}: ${status} in\n${lines.join('\n')}`);
  }
  assert.ok(lines.includes(`Digest: ${img.manifestDigest}`));
  assert.equal(lines.at(-1), `Status: Downloaded newer image for ${reg.host}/src/app:v1`);
  assert.equal(engine.resolveImage(`${reg.host}/src/app:v1`).id, img.configDigest);
  for (const c of chainIds(img.diffIds as Digest[])) assert.ok(engine.layers.has(c));
  // The blobs are kept as they arrived and remembered as the layers' compressed forms.
  img.diffIds.forEach((diffId, i) => {
    const blobs = engine.layers.blobs(diffId as Digest);
    assert.deepEqual(blobs.map((b) => b.digest), [img.layerDigests[i]]);
  });
  assert.equal(fs.readFileSync(path.join(engine.layers.dir(chainIds(img.diffIds as Digest[])[0]!), 'bin/hello'), 'utf8'), '#!/bin/sh\necho hello\n');
  // Nothing left in staging.
  assert.deepEqual(fs.readdirSync(path.join(engine.root, 'tmp', 'downloads')).filter((n) => !n.startsWith('.')), []);

  const again: string[] = [];
  const r2 = await pullImage(engine, `${reg.host}/src/app:v1`, { progress: (l) => again.push(l) });
  assert.equal(r2.id, r.id);
  assert.equal(r2.downloaded, false);
  for (const d of img.layerDigests) assert.ok(again.includes(`${d.slice(7, 19)}: Already exists`), again.join('\n'));
  assert.equal(again.at(-1), `Status: Image is up to date for ${reg.host}/src/app:v1`);
});

test('push: mount from the source repository, HEAD-skip on re-push, OCI format, skopeo reads it, a fresh store pulls it back', { skip }, async () => {
  const engine = freshEngine('b');
  await pullImage(engine, `${reg.host}/src/app:v1`);
  const lines: string[] = [];
  const digestFile = path.join(tmp, 'digest');
  const pushed = await pushImage(engine, `${reg.host}/src/app:v1`, { progress: (l) => lines.push(l), digestFile }, `${reg.host}/dst/app:v2`);
  assert.equal(lines[0], `The push refers to repository [${reg.host}/dst/app]`);
  for (const d of img.diffIds) assert.ok(lines.includes(`${d.slice(7, 19)}: Mounted from src/app`), lines.join('\n'));
  assert.match(lines.at(-1)!, new RegExp(`^v2: digest: ${pushed.digest} size: ${pushed.size}$`));
  assert.equal(fs.readFileSync(digestFile, 'utf8'), pushed.digest);

  // skopeo sees what kiln pushed: a Docker schema 2 manifest with the blobs as they arrived.
  const raw = await skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${reg.host}/dst/app:v2`]);
  assert.equal(sha(Buffer.from(raw)), pushed.digest);
  const m = JSON.parse(raw);
  assert.equal(m.mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
  assert.equal(m.config.mediaType, 'application/vnd.docker.container.image.v1+json');
  assert.equal(m.config.digest, img.configDigest);
  assert.deepEqual(m.layers.map((l: { digest: string }) => l.digest), img.layerDigests);
  assert.ok(m.layers.every((l: { mediaType: string }) => l.mediaType === 'application/vnd.docker.image.rootfs.diff.tar.gzip'));
  const info = JSON.parse(await skopeo(['inspect', '--tls-verify=false', `docker://${reg.host}/dst/app:v2`]));
  assert.equal(info.Digest, pushed.digest);
  assert.equal(info.Architecture, 'amd64');

  // Re-push: every layer is already there (HEAD).
  const again: string[] = [];
  const p2 = await pushImage(engine, `${reg.host}/src/app:v1`, { progress: (l) => again.push(l) }, `${reg.host}/dst/app:v2`);
  assert.equal(p2.digest, pushed.digest);
  for (const d of img.diffIds) assert.ok(again.includes(`${d.slice(7, 19)}: Layer already exists`), again.join('\n'));

  // OCI format.
  const oci = await pushImage(engine, `${reg.host}/src/app:v1`, { format: 'oci' }, `${reg.host}/dst/app:oci`);
  const ociRaw = JSON.parse(await skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${reg.host}/dst/app:oci`]));
  assert.equal(ociRaw.mediaType, 'application/vnd.oci.image.manifest.v1+json');
  assert.equal(ociRaw.config.mediaType, 'application/vnd.oci.image.config.v1+json');
  assert.ok(ociRaw.layers.every((l: { mediaType: string }) => l.mediaType === 'application/vnd.oci.image.layer.v1.tar+gzip'));
  assert.notEqual(oci.digest, pushed.digest);

  // skopeo copies kiln's image to another repository; a fresh kiln store pulls that copy.
  await skopeo(['copy', '--quiet', '--src-tls-verify=false', '--dest-tls-verify=false', `docker://${reg.host}/dst/app:v2`, `docker://${reg.host}/copied/app:v3`]);
  const fresh = freshEngine('c');
  const back = await pullImage(fresh, `${reg.host}/copied/app:v3`);
  assert.equal(back.id, img.configDigest);
  assert.equal(back.digest, pushed.digest);
  assert.deepEqual(fresh.resolveImage(back.id).config.rootfs.diff_ids, img.diffIds);
});

test('a layer built locally is compressed lazily on push and pulls back to the same diffID', { skip }, async () => {
  const engine = freshEngine('d');
  // Unpack a layer from a plain tar (no compressed blob kept), as a build would have it.
  const { layerTar } = await import('../helpers/registry.js');
  const tar = layerTar({ 'app/built.txt': 'built here\n', 'app/blob': randomBytes(200_000, 'built') });
  const { Readable } = await import('node:stream');
  const applied = await engine.layers.applyTar(Readable.from([tar]), [], undefined, { keepBlob: false });
  const rec = engine.putImage({
    architecture: 'amd64',
    os: 'linux',
    config: { Cmd: ['/bin/true'] },
    rootfs: { type: 'layers', diff_ids: [applied.diffId] },
  });
  engine.tagImage(`${reg.host}/built/app:1`, rec.id);
  assert.equal(engine.layers.blobs(applied.diffId).length, 0);
  const lines: string[] = [];
  const pushed = await pushImage(engine, `${reg.host}/built/app:1`, { progress: (l) => lines.push(l) });
  assert.ok(lines.includes(`${applied.diffId.slice(7, 19)}: Pushed`), lines.join('\n'));
  assert.equal(engine.layers.blobs(applied.diffId).length, 1, 'the compressed blob is remembered');
  const fresh = freshEngine('e');
  const back = await pullImage(fresh, `${reg.host}/built/app:1`);
  assert.equal(back.id, rec.id);
  assert.equal(back.digest, pushed.digest);
  assert.equal(fs.readFileSync(path.join(fresh.layers.dir(applied.chainId), 'app/built.txt'), 'utf8'), 'built here\n');
});

test('multi-platform index: linux/amd64 by default, --platform picks another, a missing platform is named', { skip }, async () => {
  const idx = craftOciIndex(path.join(tmp, 'multi'), {
    'linux/amd64': [{ 'arch.txt': 'amd64\n' }],
    'linux/arm64/v8': [{ 'arch.txt': 'arm64\n' }],
    'linux/arm/v7': [{ 'arch.txt': 'armv7\n' }],
  });
  await skopeoPushLayout(idx, reg.host, 'multi/app:1', ['--all']);
  const e = freshEngine('multi');
  const lines: string[] = [];
  const amd = await pullImage(e, `${reg.host}/multi/app:1`, { progress: (l) => lines.push(l) });
  assert.equal(amd.id, idx.images['linux/amd64']!.configDigest);
  assert.equal(amd.digest, idx.indexDigest, 'Digest: is the index digest, as Docker prints it');
  assert.equal(amd.manifestDigest, idx.images['linux/amd64']!.manifestDigest);
  assert.ok(lines.includes(`Digest: ${idx.indexDigest}`));
  // The repository knows the image by the index digest (what the user can pull by again).
  assert.deepEqual(e.db.listRepoDigests(amd.id), [`${reg.host}/multi/app@${idx.indexDigest}`]);
  assert.equal(e.resolveImage(`${reg.host}/multi/app@${idx.indexDigest}`).id, amd.id);
  const again: string[] = [];
  await pullImage(e, `${reg.host}/multi/app@${idx.indexDigest}`, { progress: (l) => again.push(l) });
  assert.ok(again.includes(`Status: Image is up to date for ${reg.host}/multi/app@${idx.indexDigest}`), again.join('\n'));
  const arm = await pullImage(e, `${reg.host}/multi/app:1`, { platform: 'linux/arm64' });
  assert.equal(arm.id, idx.images['linux/arm64/v8']!.configDigest);
  assert.equal(e.resolveImage(`${reg.host}/multi/app:1`).id, arm.id, 'the tag follows the last pull');
  const v7 = await pullImage(e, `${reg.host}/multi/app:1`, { platform: 'linux/arm' });
  assert.equal(v7.id, idx.images['linux/arm/v7']!.configDigest);
  await assert.rejects(pullImage(e, `${reg.host}/multi/app:1`, { platform: 'linux/s390x' }), /no matching manifest for linux\/s390x.*available: linux\/amd64, linux\/arm64, linux\/arm\/v7/);
});

test('pull by digest: verified against the digest, no tag recorded', { skip }, async () => {
  const e = freshEngine('by-digest');
  const r = await pullImage(e, `${reg.host}/src/app@${img.manifestDigest}`);
  assert.equal(r.id, img.configDigest);
  assert.equal(e.db.listTags().length, 0);
  assert.equal(e.resolveImage(`${reg.host}/src/app@${img.manifestDigest}`).id, img.configDigest);
  assert.deepEqual(e.db.listRepoDigests(img.configDigest as Digest), [`${reg.host}/src/app@${img.manifestDigest}`]);
  // Pushed under another name: that repository's digest is recorded too; a local tag gets none.
  e.tagImage('local/only:1', img.configDigest as Digest);
  const pushed = await pushImage(e, `${reg.host}/src/app@${img.manifestDigest}`, { format: 'oci' }, `${reg.host}/copy/app:2`);
  assert.deepEqual(e.db.listRepoDigests(img.configDigest as Digest), [`${reg.host}/copy/app@${pushed.digest}`, `${reg.host}/src/app@${img.manifestDigest}`]);
  await assert.rejects(pullImage(e, `${reg.host}/src/app@sha256:${'0'.repeat(64)}`), /not found/);
});

test('mirrors from registries.json are tried first and fall back to the registry', { skip }, async () => {
  const proxy = await startFaultProxy(reg);
  try {
    const root = path.join(tmp, 'mirrored');
    fs.mkdirSync(root, { recursive: true });
    fs.writeFileSync(path.join(root, 'registries.json'), JSON.stringify({ registries: { [reg.host]: { mirrors: [proxy.host] } } }));
    const e = freshEngine('mirrored');
    await pullImage(e, `${reg.host}/src/app:v1`);
    assert.ok(proxy.log.some((x) => x.path === '/v2/src/app/manifests/v1'), 'manifest asked from the mirror');
    assert.ok(proxy.log.some((x) => x.path.includes('/blobs/')), 'blobs fetched from the mirror');
    // The mirror goes away: the registry itself answers.
    proxy.fault = { kind: 'die', afterBytes: 0 };
    proxy.log.length = 0;
    await proxy.close();
    const again = await pullImage(e, `${reg.host}/src/app:v1`);
    assert.equal(again.id, img.configDigest);
  } finally {
    await proxy.close();
  }
});

test('blob upload: chunked PATCH uploads and streamed monolithic PUT both verify; HEAD sees them', { skip }, async () => {
  const { RegistryClient } = await import('../../src/registry/client.js');
  const { pushBlob, blobExists } = await import('../../src/registry/blob-upload.js');
  const { fetchBlob } = await import('../../src/registry/blob-fetch.js');
  const { Readable } = await import('node:stream');
  const client = RegistryClient.primary(reg.host, { credential: null });
  const data = randomBytes(700_000, 'chunked');
  const desc = { mediaType: 'application/octet-stream', digest: sha(data) as Digest, size: data.length };
  assert.equal(await blobExists(client, 'blobs/test', desc.digest), false);
  const sent: number[] = [];
  const r = await pushBlob(client, 'blobs/test', desc, () => Readable.from([data.subarray(0, 100_000), data.subarray(100_000)]), {
    chunkSize: 256 * 1024,
    onProgress: (n) => sent.push(n),
  });
  assert.deepEqual(r, { result: 'pushed' });
  assert.deepEqual(sent, [262_144, 524_288, 700_000]);
  assert.equal(await blobExists(client, 'blobs/test', desc.digest), true);
  const f = await fetchBlob(client, 'blobs/test', desc, { dir: path.join(tmp, 'dl') });
  assert.ok(fs.readFileSync(f.path).equals(data));
  f.release();
  // A wrong digest is refused by the registry on the closing PUT.
  const bad = { ...desc, digest: sha(Buffer.from('other')) as Digest };
  await assert.rejects(pushBlob(client, 'blobs/test', bad, () => Readable.from([data])), /DIGEST_INVALID|digest/i);
});

test('a registry listed insecure: HTTPS without verification, then plain HTTP; not listed: a clear TLS error', async (t) => {
  // Needs a host name that is not recognisably loopback but resolves to it: the machine's own name.
  const { lookup } = await import('node:dns/promises');
  const name = os.hostname();
  const addr = await lookup(name).catch(() => undefined);
  if (!addr || !addr.address.startsWith('127.') || name === 'localhost') return t.skip(`${name} does not resolve to loopback`);
  const { execFileSync } = await import('node:child_process');
  const https = await import('node:https');
  const http = await import('node:http');
  const port = Number(reg.host.split(':')[1]);
  // A TLS-terminating front end with a self-signed certificate, in front of the plain-HTTP registry.
  const keyFile = path.join(tmp, 'tls.key');
  const certFile = path.join(tmp, 'tls.crt');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyFile, '-out', certFile, '-subj', `/CN=${name}`, '-days', '1'], { stdio: 'ignore' });
  const front = https.createServer({ key: fs.readFileSync(keyFile), cert: fs.readFileSync(certFile) }, (req, res) => {
    const up = http.request({ host: '127.0.0.1', port, method: req.method, path: req.url, headers: req.headers }, (ures) => {
      res.writeHead(ures.statusCode ?? 502, ures.headers);
      ures.pipe(res);
    });
    req.pipe(up);
  });
  await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
  const tlsPort = (front.address() as import('node:net').AddressInfo).port;
  try {
    const e = freshEngine('insecure');
    const plainRef = `${name}:${port}/src/app:v1`;
    const tlsRef = `${name}:${tlsPort}/src/app:v1`;
    await assert.rejects(pullImage(e, plainRef), /cannot reach https:\/\/.*:\d+/);
    await assert.rejects(pullImage(e, tlsRef), /cannot reach https:\/\/.*(self[- ]signed|certificate)/i);
    fs.writeFileSync(
      path.join(e.root, 'registries.json'),
      JSON.stringify({ registries: { [`${name}:${port}`]: { insecure: true }, [`${name}:${tlsPort}`]: { insecure: true } } }),
    );
    assert.equal((await pullImage(e, plainRef)).id, img.configDigest, 'plain HTTP after HTTPS failed');
    assert.equal((await pullImage(e, tlsRef)).id, img.configDigest, 'HTTPS without certificate verification');
  } finally {
    front.closeAllConnections();
    await new Promise<void>((r) => front.close(() => r()));
  }
});
