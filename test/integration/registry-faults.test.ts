// Faults between kiln and a real registry, injected by a proxy in front of it: a corrupted blob,
// a truncated response, a registry that dies mid-pull. kiln must report each clearly, keep the
// store consistent (no image recorded, no bad blob stored, every recorded layer complete), and the
// next pull must complete — resuming interrupted downloads with HTTP Range.
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Engine } from '../../src/engine.js';
import { pullImage } from '../../src/registry/pull.js';
import type { Digest } from '../../src/image/types.js';
import {
  craftOciLayout,
  randomBytes,
  skopeoPushLayout,
  startFaultProxy,
  startRegistry,
  type CraftedImage,
  type FaultProxy,
  type TestRegistry,
  missingRegistryTools,
} from '../helpers/registry.js';


const skip = missingRegistryTools();
let reg: TestRegistry;
let proxy: FaultProxy;
let img: CraftedImage;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-reg-faults-'));
let n = 0;
const open: Engine[] = [];

function engine(): Engine {
  const e = Engine.open(path.join(tmp, `store-${n++}`));
  open.push(e);
  return e;
}

const BIG = 3; // index of the large layer

before(async () => {
  if (skip) return;
  reg = await startRegistry();
  proxy = await startFaultProxy(reg);
  img = craftOciLayout(path.join(tmp, 'layout'), [
    { 'a.txt': 'a\n' },
    { 'b.bin': randomBytes(300_000, 'b') },
    { 'c.txt': 'c\n' },
    { 'big.bin': randomBytes(2_000_000, 'big') },
    { 'd.txt': 'd\n' },
  ]);
  await skopeoPushLayout(img, reg.host, 'faulty/app:1');
});

after(async () => {
  for (const e of open) e.close();
  await proxy?.close();
  await reg?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

beforeEach(async () => {
  if (skip) return;
  await proxy.revive();
  proxy.fault = undefined;
  proxy.log.length = 0;
});

const ref = () => `${proxy.host}/faulty/app:1`;
const isBig = (req: { url?: string }) => (req.url ?? '').includes(img.layerDigests[BIG]!.slice(7));

/** The invariants after a failed pull: no image, no tag, no stored blob that does not verify. */
async function assertConsistent(e: Engine) {
  assert.equal(e.db.getTag(ref()), null, 'no tag after a failed pull');
  assert.equal(e.db.listImages().length, 0, 'no image row after a failed pull');
  for (const d of e.content.list()) assert.ok(await e.content.verify(d), `blob ${d} verifies`);
  for (const l of e.db.listLayers()) assert.ok(e.layers.has(l.chainId), `layer ${l.chainId} is complete`);
  // The store can be opened again by another command.
  const again = Engine.open(e.root);
  again.close();
}

function partials(e: Engine): string[] {
  const dir = path.join(e.root, 'tmp', 'downloads');
  return fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.partial')) : [];
}

test('a corrupted blob: digest mismatch reported, nothing of it stored; the next pull completes', { skip }, async () => {
  const e = engine();
  proxy.fault = { kind: 'corrupt', match: isBig, times: 1 };
  await assert.rejects(pullImage(e, ref(), { retries: 0 }), (err: Error) => {
    assert.match(err.message, /digest mismatch/);
    assert.match(err.message, new RegExp(img.layerDigests[BIG]!.slice(7, 19)));
    return true;
  });
  await assertConsistent(e);
  assert.equal(e.content.has(img.layerDigests[BIG] as Digest), false, 'the corrupted blob is not stored');
  assert.deepEqual(partials(e), [], 'the corrupted download is discarded');
  const r = await pullImage(e, ref());
  assert.equal(r.id, img.configDigest);
});

test('a truncated response is retried with a Range request within the same pull', { skip }, async () => {
  const e = engine();
  proxy.fault = { kind: 'truncate', afterBytes: 700_000, match: isBig, times: 1 };
  const lines: string[] = [];
  const r = await pullImage(e, ref(), { progress: (l) => lines.push(l) });
  assert.equal(r.id, img.configDigest);
  assert.ok(lines.some((l) => /Retrying in 1 second \(1: .*interrupted after \d+ of \d+ bytes/.test(l)), lines.join('\n'));
  const ranged = proxy.log.filter((x) => isBig({ url: x.path }) && x.range);
  assert.equal(ranged.length, 1);
  assert.match(ranged[0]!.range!, /^bytes=\d{6}-$/);
  assert.equal(ranged[0]!.status, 206);
});

test('truncated every time: reported, partial download kept, the next pull resumes from it', { skip }, async () => {
  const e = engine();
  proxy.fault = { kind: 'truncate', afterBytes: 500_000, match: isBig, times: 100 };
  await assert.rejects(pullImage(e, ref(), { retries: 1 }), /download interrupted after \d+ of 2\d{6} bytes.*run the command again to resume/);
  await assertConsistent(e);
  assert.equal(partials(e).length, 1);
  const kept = fs.statSync(path.join(e.root, 'tmp', 'downloads', partials(e)[0]!)).size;
  assert.ok(kept >= 500_000, `kept ${kept} bytes`);
  // Layers below the big one were applied and stay; the pull did not record the image.
  proxy.fault = undefined;
  proxy.log.length = 0;
  const r = await pullImage(e, ref());
  assert.equal(r.id, img.configDigest);
  const big = proxy.log.filter((x) => isBig({ url: x.path }));
  assert.deepEqual(big.map((x) => [x.range, x.status]), [[`bytes=${kept}-`, 206]]);
  assert.deepEqual(partials(e), []);
});

test('the registry dies mid-pull: reported, store consistent; the next pull resumes and completes', { skip }, async () => {
  const e = engine();
  proxy.fault = { kind: 'die', afterBytes: 1_200_000 };
  await assert.rejects(pullImage(e, ref(), { retries: 1 }), (err: Error) => {
    assert.match(err.message, /interrupted|cannot reach/);
    return true;
  });
  assert.ok(proxy.dead);
  await assertConsistent(e);
  await proxy.revive();
  proxy.log.length = 0;
  const lines: string[] = [];
  const r = await pullImage(e, ref(), { progress: (l) => lines.push(l) });
  assert.equal(r.id, img.configDigest);
  assert.ok(proxy.log.some((x) => x.range && x.status === 206), 'at least one download resumed');
  assert.equal(e.resolveImage(ref()).id, img.configDigest);
});

// ---- push: a layer compressed and uploaded in one pass (streamed PATCH) ---------------------------
// A proxy in front of the registry that breaks streamed uploads (PATCH without Content-Range) in
// one of two ways; everything else passes through.
async function startUploadBreaker(target: { port: number }, mode: 'refuse' | 'cut') {
  const { createServer, request } = await import('node:http');
  let broken = 0;
  const server = createServer((req, res) => {
    const streamed = req.method === 'PATCH' && !req.headers['content-range'];
    if (streamed && broken === 0) {
      broken++;
      let got = 0;
      req.on('data', (c: Buffer) => {
        got += c.length;
        if (mode === 'cut' && got > 100_000) req.socket.destroy();
      });
      if (mode === 'refuse') {
        req.once('data', () => {
          res.writeHead(500, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ errors: [{ code: 'UNKNOWN', message: 'storage is having a bad day' }] }));
        });
      }
      return;
    }
    const up = request({ host: '127.0.0.1', port: target.port, method: req.method, path: req.url, headers: req.headers }, (ures) => {
      res.writeHead(ures.statusCode ?? 502, ures.headers);
      ures.pipe(res);
    });
    up.on('error', () => res.socket?.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as import('node:net').AddressInfo).port;
  return {
    host: `127.0.0.1:${port}`,
    get broken() {
      return broken;
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

for (const mode of ['refuse', 'cut'] as const) {
  test(`push of a never-compressed layer: a streamed upload that the registry ${mode === 'refuse' ? 'refuses' : 'cuts off'} falls back to an ordinary upload`, { skip }, async () => {
    const breaker = await startUploadBreaker(reg, mode);
    try {
      const e = engine();
      const { layerTar } = await import('../helpers/registry.js');
      const { Readable } = await import('node:stream');
      const { pushImage } = await import('../../src/registry/push.js');
      const tar = layerTar({ 'app/data.bin': randomBytes(1_500_000, `streamed-${mode}`), 'app/note.txt': 'built here\n' });
      const applied = await e.layers.applyTar(Readable.from([tar]), [], undefined, { keepBlob: false });
      const rec = e.putImage({ architecture: 'amd64', os: 'linux', config: { Cmd: ['/bin/true'] }, rootfs: { type: 'layers', diff_ids: [applied.diffId] } });
      const ref = `${breaker.host}/streamed/${mode}:1`;
      e.tagImage(ref, rec.id);
      const lines: string[] = [];
      const pushed = await pushImage(e, ref, { progress: (l) => lines.push(l) });
      assert.equal(breaker.broken, 1, 'the streamed upload was tried and broken');
      assert.ok(lines.includes(`${applied.diffId.slice(7, 19)}: Pushed`), lines.join('\n'));
      const blob = e.layers.blobs(applied.diffId)[0]!;
      assert.ok(blob, 'the compressed blob is stored and remembered');
      // What the registry holds pulls back (verified) into a fresh store.
      const fresh = engine();
      const back = await pullImage(fresh, `${reg.host}/streamed/${mode}:1`);
      assert.equal(back.digest, pushed.digest);
      assert.equal(fs.readFileSync(path.join(fresh.layers.dir(applied.chainId), 'app/note.txt'), 'utf8'), 'built here\n');
      assert.equal(fresh.layers.blobs(applied.diffId)[0]?.digest, blob.digest);
    } finally {
      await breaker.close();
    }
  });
}

/** Pushes an image whose config names the wrong diffID for its middle layer (a broken or lying image). */
async function pushLyingImage(name: string): Promise<{ wrongDiffId: string }> {
  const { createHash } = await import('node:crypto');
  const dir = path.join(tmp, `lying-${name}`);
  const lying = craftOciLayout(dir, [{ 'a.txt': 'a\n' }, { 'b.bin': randomBytes(400_000, 'lie-b') }, { 'c.txt': 'c\n' }]);
  const blobs = path.join(dir, 'blobs', 'sha256');
  const put = (b: Buffer) => {
    const d = `sha256:${createHash('sha256').update(b).digest('hex')}`;
    fs.writeFileSync(path.join(blobs, d.slice(7)), b);
    return { digest: d, size: b.length };
  };
  const config = JSON.parse(fs.readFileSync(path.join(blobs, lying.configDigest.slice(7)), 'utf8'));
  const wrongDiffId = `sha256:${'0'.repeat(64)}`;
  config.rootfs.diff_ids[1] = wrongDiffId;
  const c = put(Buffer.from(JSON.stringify(config)));
  const manifest = JSON.parse(fs.readFileSync(path.join(blobs, lying.manifestDigest.slice(7)), 'utf8'));
  manifest.config = { ...manifest.config, ...c };
  const m = put(Buffer.from(JSON.stringify(manifest)));
  const index = JSON.parse(fs.readFileSync(path.join(dir, 'index.json'), 'utf8'));
  index.manifests[0] = { ...index.manifests[0], ...m };
  fs.writeFileSync(path.join(dir, 'index.json'), JSON.stringify(index));
  await skopeoPushLayout(lying, reg.host, `faulty/${name}:1`);
  return { wrongDiffId };
}

for (const workers of ['0', '1']) {
  const where = workers === '0' ? 'main thread' : 'worker thread';
  test(`a layer that does not unpack to the diffID its config lists (${where}): reported, nothing half-made left behind`, { skip }, async () => {
    const old = process.env.KILN_EXTRACT_WORKERS;
    process.env.KILN_EXTRACT_WORKERS = workers;
    try {
      const { wrongDiffId } = await pushLyingImage(`lying-${workers}`);
      const e = engine();
      await assert.rejects(pullImage(e, `${reg.host}/faulty/lying-${workers}:1`), /layer diffID mismatch: expected sha256:0{64}/);
      assert.equal(e.db.listImages().length, 0);
      for (const d of e.content.list()) assert.ok(await e.content.verify(d), `blob ${d} verifies`);
      for (const l of e.db.listLayers()) assert.ok(e.layers.has(l.chainId), `layer ${l.chainId} is complete`);
      assert.ok(!e.db.listLayers().some((l) => l.diffId === wrongDiffId));
      const leftovers = fs.readdirSync(path.join(e.root, 'tmp')).filter((n) => n !== 'downloads');
      assert.deepEqual(leftovers, [], 'no staging left behind');
      // A good image pulls through the same path.
      const good = await pullImage(e, ref());
      assert.equal(good.id, img.configDigest);
    } finally {
      if (old === undefined) delete process.env.KILN_EXTRACT_WORKERS;
      else process.env.KILN_EXTRACT_WORKERS = old;
    }
  });
}
