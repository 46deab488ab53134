import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { sha256 } from '../../../src/image/digest.js';
import type { Digest } from '../../../src/image/types.js';
import { Db, SCHEMA_VERSION } from '../../../src/store/db.js';
import { AmbiguousError, ConflictError, NotFoundError } from '../../../src/store/errors.js';
import { tempDir } from '../layers/helpers.js';

const id = (s: string) => sha256(s);

describe('Db', () => {
  let t: ReturnType<typeof tempDir>;
  let db: Db;
  before(() => {
    t = tempDir();
    db = new Db(t.dir);
  });
  after(() => {
    db.close();
    t.cleanup();
  });

  it('creates the schema in WAL mode, and reopening does not migrate again', () => {
    assert.equal(db.schemaVersion(), SCHEMA_VERSION);
    assert.equal(db.sqlite.pragma('journal_mode', { simple: true }), 'wal');
    const again = new Db(t.dir);
    assert.equal(again.schemaVersion(), SCHEMA_VERSION);
    again.close();
  });

  it('the generation moves with every change a build could see, and only then', () => {
    const g = () => db.generation();
    const img = id('gen-image');
    let n = g();
    db.putImage({ id: img, manifestDigest: null, manifestMediaType: null, size: 1 });
    assert.ok(g() > n, 'a new image');
    n = g();
    db.putImage({ id: img, manifestDigest: null, manifestMediaType: null, size: 1 });
    assert.equal(g(), n, 'the same image again changes nothing');
    db.setTag('gen', img);
    assert.ok(g() > n, 'a new tag');
    n = g();
    db.setTag('gen', img);
    assert.equal(g(), n, 're-pointing a tag at its own image changes nothing');
    db.putCache('gen-key', img);
    assert.ok(g() > n, 'a cache entry');
    n = g();
    db.getCache('gen-key');
    db.touchCache(['gen-key']);
    assert.equal(g(), n, 'using a cache entry is not a change');
    db.deleteCache('gen-key');
    assert.ok(g() > n, 'a removed cache entry');
    n = g();
    db.deleteTag('gen');
    assert.ok(g() > n, 'a removed tag');
    n = g();
    db.deleteImage(img);
    assert.ok(g() > n, 'a removed image');
  });

  it('images, tags and Docker-style resolution (tag, full id, unique prefix, ambiguity)', () => {
    const a = id('config-a');
    const b = id('config-b');
    db.putImage({ id: a, manifestDigest: null, manifestMediaType: null, size: 10 });
    db.putImage({ id: b, manifestDigest: id('manifest-b'), manifestMediaType: 'application/vnd.oci.image.manifest.v1+json', size: 20 });
    assert.equal(db.getImage(a)?.size, 10);
    db.setTag('busybox', a);
    assert.equal(db.getTag('docker.io/library/busybox:latest')?.imageId, a);
    assert.equal(db.resolveImageId('busybox'), a);
    assert.equal(db.resolveImageId('busybox:latest'), a);
    assert.equal(db.resolveImageId('docker.io/library/busybox'), a);
    assert.equal(db.resolveImageId(a), a);
    assert.equal(db.resolveImageId(a.slice(7)), a);
    assert.equal(db.resolveImageId(a.slice(7, 19)), a);
    assert.equal(db.resolveImageId(`busybox@${id('manifest-b')}`), b, 'name@digest finds the image by its manifest');
    assert.throws(() => db.resolveImageId('nosuch'), (e: Error) => e instanceof NotFoundError && e.message === 'No such image: nosuch');
    // Two ids sharing a prefix: find a colliding pair among a few hashes.
    const ids = Array.from({ length: 64 }, (_, i) => id(`x${i}`));
    const byFirst = new Map<string, Digest[]>();
    for (const x of ids) byFirst.set(x[7]!, [...(byFirst.get(x[7]!) ?? []), x]);
    const pair = [...byFirst.values()].find((v) => v.length >= 2)!;
    for (const x of pair) db.putImage({ id: x, manifestDigest: null, manifestMediaType: null, size: 0 });
    const prefix = pair[0]![7]!;
    const matching = db.findImageIds(prefix);
    assert.ok(matching.length >= 2);
    assert.throws(() => db.resolveImageId(prefix), (e: Error) => e instanceof AmbiguousError);
    // Retagging moves the tag; deleting an image deletes its tags.
    db.setTag('busybox', b);
    assert.equal(db.resolveImageId('busybox'), b);
    assert.throws(() => db.setTag('x', id('not-an-image')), NotFoundError);
    assert.ok(db.deleteImage(b));
    assert.equal(db.getTag('busybox'), null);
    assert.equal(db.getImage(b), null);
  });

  it('layers and remembered blobs', () => {
    const diff = id('diff-1');
    db.putLayer({ chainId: diff, diffId: diff, parent: null, size: 2048, contentSize: 5 });
    db.putLayer({ chainId: diff, diffId: diff, parent: null, size: 9999, contentSize: 9 }); // idempotent
    assert.equal(db.getLayer(diff)?.size, 2048);
    db.putLayerBlob({ diffId: diff, digest: id('gz'), mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', size: 100 });
    assert.equal(db.getLayerBlobs(diff).length, 1);
    assert.equal(db.findLayerBlob(id('gz'))?.diffId, diff);
    assert.ok(db.deleteLayer(diff));
    assert.equal(db.getLayer(diff), null);
  });

  it('build cache with LRU timestamps and JSON info', () => {
    const rec = db.putCache('key1', id('img'), { size: 42, info: { step: 'RUN true' } });
    assert.deepEqual(rec.info, { step: 'RUN true' });
    const hit = db.getCache<{ step: string }>('key1');
    assert.equal(hit?.info?.step, 'RUN true');
    assert.ok(hit!.lastUsed >= rec.lastUsed);
    assert.equal(db.getCache('nope'), null);
    assert.ok(db.deleteCache('key1'));
  });

  it('containers: lookup by id, name, prefix; name conflicts; transactional update', () => {
    const cid = 'ab'.repeat(32);
    db.putContainer({ id: cid, name: '/web', imageId: id('img'), state: { status: 'created' }, config: { cmd: ['sh'] } });
    assert.equal(db.getContainer(cid).name, 'web');
    assert.equal(db.getContainer('web').id, cid);
    assert.equal(db.getContainer('/web').id, cid);
    assert.equal(db.getContainer('abab').id, cid);
    assert.throws(() => db.getContainer('nope'), /No such container: nope/);
    assert.throws(
      () => db.putContainer({ id: 'cd'.repeat(32), name: 'web', imageId: id('img'), state: {}, config: {} }),
      (e: Error) => e instanceof ConflictError && /name "\/web" is already in use/.test(e.message),
    );
    db.putContainer({ id: 'abcd'.repeat(16), name: 'other', imageId: id('img'), state: {}, config: {} });
    assert.throws(() => db.getContainer('ab'), AmbiguousError);
    const up = db.updateContainer<{ status: string }>('web', (c) => ({ state: { ...c.state, status: 'running' } }));
    assert.equal(up.state.status, 'running');
    assert.throws(() => db.updateContainer('web', { name: 'other' }), ConflictError);
    assert.equal(db.listContainers().length, 2);
    assert.ok(db.deleteContainer(cid));
    assert.ok(db.deleteContainer('abcd'.repeat(16)));
  });

  it('volumes', () => {
    db.putVolume({ name: 'data', labels: { a: 'b' } });
    assert.deepEqual(db.getVolume('data')?.labels, { a: 'b' });
    assert.equal(db.listVolumes().length, 1);
    assert.ok(db.deleteVolume('data'));
  });

  it('tx rolls back every row when the function throws', () => {
    assert.throws(() =>
      db.tx(() => {
        db.putVolume({ name: 'v1' });
        db.putVolume({ name: 'v2' });
        throw new Error('boom');
      }),
    );
    assert.equal(db.getVolume('v1'), null);
    assert.equal(db.getVolume('v2'), null);
  });

  const worker = fileURLToPath(new URL('./db-worker.js', import.meta.url));
  const run = (dir: string, tag: string, n: number) =>
    new Promise<string>((resolve, reject) => {
      const p = spawn(process.execPath, [worker, dir, tag, String(n)], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      p.stdout.on('data', (d) => (out += d));
      p.stderr.on('data', (d) => (err += d));
      p.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`worker ${tag} exited ${code}: ${err}`))));
    });

  it('several processes creating the same fresh database at once all succeed', async () => {
    const fresh = tempDir();
    try {
      const outs = await Promise.all(['a', 'b', 'c', 'd'].map((tag) => run(fresh.dir, tag, 0)));
      assert.deepEqual(outs, Array(4).fill('done\n'));
      const d = new Db(fresh.dir);
      assert.equal(d.schemaVersion(), SCHEMA_VERSION);
      d.close();
    } finally {
      fresh.cleanup();
    }
  });

  it('two processes writing at once: no SQLITE_BUSY, no lost update', async () => {
    db.putContainer({ id: 'ee'.repeat(32), name: 'shared', imageId: id('img'), state: { count: 0 }, config: {} });
    const n = 150;
    const outs = await Promise.all([run(t.dir, 'p1', n), run(t.dir, 'p2', n)]);
    assert.deepEqual(outs, ['done\n', 'done\n']);
    assert.equal(db.getContainer<{ count: number }>('shared').state.count, 2 * n);
    assert.equal(db.listVolumes().filter((v) => v.labels.by === 'p1').length, n);
    assert.equal(db.listVolumes().filter((v) => v.labels.by === 'p2').length, n);
    assert.equal(db.listCache().length, 2 * n);
  });
});
