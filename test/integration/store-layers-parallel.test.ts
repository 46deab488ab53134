// The layer store's pieces for fast pulls and pushes: layers extracted into staging in parallel
// (in any order, in worker threads or not) and installed in order; compression with a tap that
// sees the compressed bytes as they are made (for uploading while compressing).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import { Engine } from '../../src/engine.js';
import { chainIds, sha256 } from '../../src/image/digest.js';
import { MediaType } from '../../src/image/types.js';
import { ExtractPool, WorkerGoneError } from '../../src/registry/extract-pool.js';
import { openRegistryStore } from '../../src/registry/store.js';
import { collect, makeTar, tempDir } from '../unit/layers/helpers.js';

describe('staged extraction and tapped compression', () => {
  let t: ReturnType<typeof tempDir>;
  let e: Engine;
  before(() => {
    t = tempDir();
    e = Engine.open(join(t.dir, 'state'));
  });
  after(() => {
    e.close();
    t.cleanup();
  });

  const tars = [0, 1, 2, 3].map((i) =>
    makeTar([
      { name: 'shared/', type: 'dir', mode: 0o755 },
      { name: `shared/f${i}.txt`, body: `layer ${i}\n` },
      { name: 'blob.bin', body: randomBytes(100_000 + i) },
      ...(i === 2 ? [{ name: 'shared/.wh.f0.txt', body: '' }] : []),
    ]),
  );
  const diffIds = tars.map((b) => sha256(b));
  const stagingLeft = () => readdirSync(join(e.root, 'tmp')).filter((n) => n.startsWith('extract.'));

  it('extracts in any order, in parallel, and installs in order to the same layers applyTar makes', async () => {
    // Top layer first, all at once.
    const order = [3, 1, 0, 2];
    const staged = await Promise.all(order.map((i) => e.layers.extractTar(Readable.from([gzipSync(tars[i]!)]), diffIds[i])));
    const byIndex = new Map(order.map((i, k) => [i, staged[k]!]));
    // Installing layer 1 before layer 0 is refused (its parent is missing); the staging is consumed.
    assert.throws(() => e.layers.installStaged(byIndex.get(1)!, [diffIds[0]!]), /parent of the new layer/);
    byIndex.set(1, await e.layers.extractTar(Readable.from([tars[1]!]), diffIds[1]));
    for (let i = 0; i < 4; i++) {
      const r = e.layers.installStaged(byIndex.get(i)!, diffIds.slice(0, i));
      assert.equal(r.chainId, chainIds(diffIds.slice(0, i + 1)).at(-1));
      assert.equal(r.diffId, diffIds[i]);
    }
    assert.deepEqual(stagingLeft(), [], 'no staging left behind');
    assert.equal(readFileSync(join(e.layers.dir(chainIds(diffIds)[3]!), 'shared', 'f3.txt'), 'utf8'), 'layer 3\n');
    // The whiteout of layer 2 is in overlay form (a 0/0 character device).
    const wh = join(e.layers.dir(chainIds(diffIds)[2]!), 'shared', 'f0.txt');
    assert.ok(existsSync(wh));
    // Installing a layer that exists already discards the staged copy.
    const again = await e.layers.extractTar(Readable.from([tars[0]!]), diffIds[0]);
    assert.equal(e.layers.installStaged(again, []).chainId, chainIds(diffIds)[0]);
    assert.deepEqual(stagingLeft(), []);
    assert.throws(() => e.layers.installStaged(again, []), /already installed or discarded/);
  });

  it('a diffID mismatch or a broken stream leaves no staging; discard() removes a staged layer', async () => {
    await assert.rejects(e.layers.extractTar(Readable.from([tars[0]!]), diffIds[1]), /layer diffID mismatch/);
    await assert.rejects(e.layers.extractTar(Readable.from([gzipSync(tars[0]!).subarray(0, 200)]), diffIds[0]), /unexpected end/);
    const s = await e.layers.extractTar(Readable.from([tars[0]!]), diffIds[0]);
    assert.equal(stagingLeft().length, 1);
    s.discard();
    s.discard();
    assert.deepEqual(stagingLeft(), []);
  });

  it('extraction in a worker thread gives the same layer; aborted and closed pools fail cleanly', async () => {
    const pool = ExtractPool.create();
    if (!pool) return;
    try {
      const file = join(t.dir, 'l3.tar.gz');
      writeFileSync(file, gzipSync(tars[3]!));
      let progress = 0;
      const s = await e.layers.extractTar((dir) => pool.extract(file, dir, { onProgress: (n) => (progress = n) }), diffIds[3]);
      assert.equal(s.diffId, diffIds[3]);
      assert.equal(s.compression, 'gzip');
      assert.ok(progress >= 0);
      s.discard();
      // A hostile tar fails with applyLayer's own message, from the worker.
      const bad = join(t.dir, 'bad.tar');
      writeFileSync(bad, makeTar([{ name: '../escape', body: 'x' }]));
      await assert.rejects(e.layers.extractTar((dir) => pool.extract(bad, dir), undefined), /refusing layer entry "..\/escape"/);
      const ac = new AbortController();
      ac.abort();
      await assert.rejects(e.layers.extractTar((dir) => pool.extract(file, dir, { signal: ac.signal }), diffIds[3]), /aborted/);
      assert.deepEqual(stagingLeft(), []);
    } finally {
      await pool.close();
    }
    await assert.rejects(pool.extract('/nonexistent', t.dir), WorkerGoneError);
  });

  it('the registry store falls back to extracting in this thread when the pool is gone', async () => {
    const store = openRegistryStore(e);
    const gz = gzipSync(tars[1]!);
    const { digest, size } = await e.content.ingest(gz);
    const pool = ExtractPool.create();
    await pool?.close();
    const desc = { mediaType: MediaType.OciLayerGzip, digest, size };
    const s = await store.extractLayer(desc, diffIds[1]!, undefined, undefined, pool);
    assert.equal(s.diffId, diffIds[1]);
    s.discard();
  });

  it('compressed() with a tap: the tap sees exactly the stored bytes; a failing tap does not stop the store', async () => {
    const tar = makeTar([{ name: 'big.bin', body: randomBytes(3 << 20) }, { name: 'text.txt', body: 'hello\n'.repeat(100_000) }]);
    const layer = e.layers.installStaged(await e.layers.extractTar(Readable.from([tar]), sha256(tar)), []);
    let seen: Buffer | undefined;
    let early: { digest: string; size: number } | undefined;
    const blob = await e.layers.compressed(layer.chainId, MediaType.DockerLayerGzip, {
      tap: async (s, digest) => {
        seen = await collect(s);
        early = await digest;
      },
    });
    assert.equal(blob.tapError, undefined);
    assert.ok(seen && sha256(seen) === blob.digest && seen.length === blob.size);
    assert.deepEqual(early, { digest: blob.digest, size: blob.size }, 'the tap learns the digest');
    assert.ok(gunzipSync(e.content.read(blob.digest)).equals(tar));
    // Remembered: the next call neither compresses nor taps.
    let tapped = false;
    const again = await e.layers.compressed(layer.chainId, MediaType.OciLayerGzip, { tap: async () => void (tapped = true) });
    assert.equal(again.digest, blob.digest);
    assert.equal(tapped, false);
    assert.deepEqual(e.layers.knownCompressed(layer.chainId, MediaType.OciLayerGzip)?.digest, blob.digest);

    // A tap that reads a little and then fails: the blob is still stored and remembered.
    e.content.remove(blob.digest);
    assert.equal(e.layers.knownCompressed(layer.chainId, MediaType.OciLayerGzip), undefined);
    const failing = await e.layers.compressed(layer.chainId, MediaType.OciLayerGzip, {
      tap: async (s) => {
        for await (const _ of s) throw new Error('upload refused');
      },
    });
    assert.match(String(failing.tapError), /upload refused/);
    assert.equal(failing.digest, blob.digest, 'same engine, same bytes');
    assert.ok(e.content.has(failing.digest));
    assert.equal(e.layers.knownCompressed(layer.chainId)?.digest, failing.digest);
  });
});
