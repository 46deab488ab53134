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
