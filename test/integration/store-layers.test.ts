// Layers on a real kernel: overlay mounts (whiteouts, opaque dirs, 130 and 500 layers), the layer
// store (commit by rename, apply, lazy compression), the engine and garbage collection.
import assert from 'node:assert/strict';
import { createReadStream, createWriteStream, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { after, before, describe, it } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import { Engine } from '../../src/engine.js';
import { chainIds, sha256 } from '../../src/image/digest.js';
import { MediaType, type Digest, type ImageConfig } from '../../src/image/types.js';
import { applyLayer } from '../../src/layers/apply.js';
import { legacyMount, mountOverlay, unmountOverlay } from '../../src/layers/overlay.js';
import { packLayer } from '../../src/layers/pack.js';
import { DigestMismatchError } from '../../src/store/content-store.js';
import { NotFoundError } from '../../src/store/errors.js';
import { stagingName } from '../../src/store/staging.js';
import { lgetxattr } from '../../src/sys/fs.js';
import { mount, MS_BIND } from '../../src/sys/mount.js';
import { collect, makeTar, sh, tarList, tempDir } from '../unit/layers/helpers.js';

describe('layers on overlayfs', () => {
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

  /** A step: overlay of `parents`, `fn` changes the merged view, the upper is committed. */
  async function step(parents: Digest[], fn: (merged: string) => void, epoch?: number) {
    const base = e.tmpDir('step-');
    const [upper, work, merged] = ['upper', 'work', 'merged'].map((d) => join(base, d));
    for (const d of [upper, work, merged]) mkdirSync(d);
    let lower = e.layers.lowerDirs(parents);
    if (lower.length === 0) {
      mkdirSync(join(base, 'empty'));
      lower = [join(base, 'empty')];
    }
    mountOverlay({ lower, upper: upper!, work: work!, target: merged! });
    try {
      fn(merged!);
    } finally {
      unmountOverlay(merged!);
    }
    const r = await e.layers.commitDir(upper!, parents, { sourceDateEpoch: epoch });
    rmSync(base, { recursive: true, force: true });
    return r;
  }

  it('whiteouts and opaque dirs round trip: overlay upper → tar → overlay form → same merged view', async () => {
    const l1 = await step([], (m) => {
      sh('mkdir -p etc dir/sub && echo a > etc/a && echo b > etc/b && echo y > dir/sub/y && echo x > dir/x', m);
    });
    const l2 = await step([l1.diffId], (m) => {
      sh('rm etc/a && rm -rf dir && mkdir dir && echo new > dir/new', m);
    });
    const upper = e.layers.dir(l2.chainId);
    assert.ok(lstatSync(join(upper, 'etc/a')).isCharacterDevice(), 'overlayfs left a whiteout');
    assert.equal(lgetxattr(join(upper, 'dir'), 'trusted.overlay.opaque')?.toString(), 'y', 'overlayfs made dir opaque');

    const file = join(t.dir, 'l2.tar');
    const out = createWriteStream(file);
    const packed = await packLayer(upper, out);
    out.end();
    await finished(out);
    assert.equal(packed.diffId, l2.diffId);
    const names = tarList(file).map((l) => l.replace(/^.* \d\d:\d\d /, ''));
    assert.ok(names.includes('etc/.wh.a'), names.join('\n'));
    assert.ok(names.includes('dir/.wh..wh..opq'), names.join('\n'));
    assert.ok(names.includes('dir/new'));
    assert.ok(!names.some((n) => n.startsWith('etc/b') || n.includes('dir/x')), 'unchanged lower files are not in the diff');
    assert.match(tarList(file).find((l) => l.endsWith('etc/.wh.a'))!, /^-rw------- 0\/0\s+0 /);

    const dest = join(t.dir, 'applied');
    mkdirSync(dest);
    const applied = await applyLayer(createReadStream(file), dest);
    assert.equal(applied.diffId, l2.diffId);
    const wh = lstatSync(join(dest, 'etc/a'));
    assert.ok(wh.isCharacterDevice() && wh.rdev === 0);
    assert.equal(lgetxattr(join(dest, 'dir'), 'trusted.overlay.opaque')?.toString(), 'y');

    // The applied layer on top of l1 shows what the build saw.
    const merged = join(t.dir, 'view');
    mkdirSync(merged);
    mountOverlay({ lower: [dest, e.layers.dir(l1.chainId)], target: merged });
    try {
      assert.deepEqual(readdirSync(join(merged, 'etc')), ['b']);
      assert.deepEqual(readdirSync(join(merged, 'dir')), ['new']);
      assert.throws(() => writeFileSync(join(merged, 'x'), 'x'), /EROFS/);
    } finally {
      unmountOverlay(merged);
    }
  });

  it('commitDir renames the upper dir (no copy) and discards a duplicate', async () => {
    const mk = () => {
      const d = join(e.tmpDir('up-'), 'upper');
      mkdirSync(d);
      writeFileSync(join(d, 'f'), 'same');
      utimesSync(join(d, 'f'), 1_700_000_000, 1_700_000_000);
      return d;
    };
    const up = mk();
    const ino = statSync(join(up, 'f')).ino;
    const r = await e.layers.commitDir(up, []);
    assert.equal(r.chainId, r.diffId, 'a bottom layer: chainID = diffID');
    assert.equal(statSync(join(e.layers.dir(r.chainId), 'f')).ino, ino, 'same inode: renamed, not copied');
    assert.ok(!existsSync(up));
    assert.equal(e.db.getLayer(r.chainId)?.contentSize, 4);
    const up2 = mk();
    const r2 = await e.layers.commitDir(up2, []);
    assert.deepEqual(r2, r);
    assert.ok(!existsSync(up2), 'the duplicate upper is discarded');
    assert.equal(statSync(join(e.layers.dir(r.chainId), 'f')).ino, ino, 'the first one stays');
    await assert.rejects(e.layers.commitDir(mk(), [sha256('no such parent')]), NotFoundError);
  });

  it('130 layers (and 500) mount with full-length lowerdir paths', async () => {
    const diffIds: Digest[] = [];
    for (let i = 0; i < 130; i++) {
      const d = join(e.tmpDir('l-'), 'upper');
      mkdirSync(d);
      writeFileSync(join(d, `f${i}`), String(i));
      writeFileSync(join(d, 'top'), String(i));
      diffIds.push((await e.layers.commitDir(d, diffIds)).diffId);
    }
    const lower = e.layers.lowerDirs(diffIds);
    assert.equal(lower.length, 130);
    assert.equal(lower[0], e.layers.dir(chainIds(diffIds).at(-1)!), 'top first');
    assert.ok(lower.join(':').length > 4096, 'would not fit a legacy mount option string');
    const base = e.tmpDir('m-');
    const [upper, work, merged] = ['upper', 'work', 'merged'].map((d) => join(base, d));
    for (const d of [upper, work, merged]) mkdirSync(d!);
    mountOverlay({ lower, upper, work, target: merged! });
    try {
      assert.equal(readdirSync(merged!).length, 131);
      assert.equal(readFileSync(join(merged!, 'top'), 'utf8'), '129');
      assert.equal(readFileSync(join(merged!, 'f0'), 'utf8'), '0');
      writeFileSync(join(merged!, 'f0'), 'changed');
      assert.equal(readFileSync(join(upper!, 'f0'), 'utf8'), 'changed', 'writes land in the upper dir');
    } finally {
      unmountOverlay(merged!);
    }
    // 500 plain directories: the kernel's maximum.
    const many: string[] = [];
    for (let i = 0; i < 501; i++) {
      const d = join(base, `${'x'.repeat(80)}-${i}`);
      mkdirSync(d);
      writeFileSync(join(d, `g${i}`), '');
      many.push(d);
    }
    mountOverlay({ lower: many.slice(0, 500), target: merged! });
    try {
      assert.equal(readdirSync(merged!).length, 500);
    } finally {
      unmountOverlay(merged!);
    }
    assert.throws(() => mountOverlay({ lower: many, target: merged! }), /exceed the kernel's maximum/);
  });

  it('legacy mount(2) fallback (older kernels) mounts a small stack and refuses an oversized one', () => {
    const base = join(t.dir, 'legacy');
    const dirs = ['l1', 'l2', 'upper', 'work', 'merged'].map((d) => join(base, d));
    for (const d of dirs) mkdirSync(d, { recursive: true });
    const [l1, l2, upper, work, merged] = dirs as [string, string, string, string, string];
    writeFileSync(join(l1, 'a'), 'l1');
    writeFileSync(join(l2, 'a'), 'l2');
    legacyMount({ lower: [l2, l1], upper, work, target: merged });
    try {
      assert.equal(readFileSync(join(merged, 'a'), 'utf8'), 'l2');
      writeFileSync(join(merged, 'b'), 'b');
      assert.ok(existsSync(join(upper, 'b')));
    } finally {
      unmountOverlay(merged);
    }
    assert.throws(() => legacyMount({ lower: Array(60).fill(join(base, 'x'.repeat(90))), target: merged }), /exceed one page/);
  });

  it('one lower and no upper is a read-only bind', () => {
    const d = join(t.dir, 'single');
    const m = join(t.dir, 'single-m');
    mkdirSync(d);
    mkdirSync(m);
    writeFileSync(join(d, 'a'), 'a');
    mountOverlay({ lower: [d], target: m });
    try {
      assert.equal(readFileSync(join(m, 'a'), 'utf8'), 'a');
      assert.throws(() => writeFileSync(join(m, 'b'), 'b'), /EROFS/);
    } finally {
      unmountOverlay(m);
    }
    assert.throws(() => mountOverlay({ lower: [join(t.dir, 'nonexistent')], upper: d, work: m, target: m }), /cannot mount overlay.*ENOENT|lowerdir/);
  });

  it('applyTar: verified, renamed into place, blob kept as it arrived; compressed() reuses it', async () => {
    const tar = makeTar([{ name: 'app/', type: 'dir' }, { name: 'app/main', body: 'print(1)' }]);
    const gz = gzipSync(tar);
    await assert.rejects(e.layers.applyTar(Readable.from([gz]), [], sha256('wrong')), (err: Error) => err instanceof DigestMismatchError && /layer diffID mismatch/.test(err.message));
    assert.equal(e.layers.has(sha256(tar)), false);
    assert.equal(e.content.has(sha256(gz)), true, 'the blob itself was fine and may stay (GC collects it)');
    const r = await e.layers.applyTar(Readable.from([gz]), [], sha256(tar), { mediaType: MediaType.DockerLayerGzip });
    assert.equal(r.diffId, sha256(tar));
    assert.deepEqual(r.blob, { digest: sha256(gz), size: gz.length, mediaType: MediaType.DockerLayerGzip, compression: 'gzip' });
    assert.equal(readFileSync(join(e.layers.dir(r.chainId), 'app/main'), 'utf8'), 'print(1)');
    const blobsBefore = e.content.list().length;
    const c = await e.layers.compressed(r.chainId, MediaType.OciLayerGzip);
    assert.deepEqual(c, { digest: sha256(gz), size: gz.length, mediaType: MediaType.OciLayerGzip }, 'the blob that arrived is what leaves');
    assert.equal(e.content.list().length, blobsBefore);
    // openTar serves the original bytes.
    assert.ok((await collect(e.layers.openTar(r.chainId))).equals(tar));
    assert.ok(!readdirSync(join(e.root, 'tmp')).some((n) => n.startsWith('apply.')), 'no staging left');
    await assert.rejects(e.layers.applyTar(Readable.from([tar]), [sha256('missing')]), NotFoundError);
  });

  it('compressed() gzips a built layer once, remembers it, and the blob unpacks to the diffID', async () => {
    const r = await step([], (m) => sh('mkdir -p srv && head -c 300000 /dev/urandom > srv/data && echo hi > srv/hi', m));
    assert.deepEqual(e.layers.blobs(r.diffId), []);
    const c1 = await e.layers.compressed(r.chainId);
    assert.equal(c1.mediaType, MediaType.OciLayerGzip);
    assert.equal(sha256(e.content.read(c1.digest)), c1.digest);
    assert.equal(sha256(gunzipSync(e.content.read(c1.digest))), r.diffId);
    const c2 = await e.layers.compressed(r.chainId, MediaType.DockerLayerGzip);
    assert.equal(c2.digest, c1.digest, 'remembered, not recompressed');
    assert.equal(e.db.getLayerBlobs(r.diffId).length, 1);
    const z = await e.layers.compressed(r.chainId, MediaType.OciLayerZstd);
    assert.notEqual(z.digest, c1.digest);
    assert.equal(`sha256:${sh(`zstd -d -c ${e.content.path(z.digest)} | sha256sum`).split(' ')[0]}`, r.diffId);
    // openTar of a built layer without a blob re-packs it; one that changed on disk is caught.
    const r2 = await step([], (m) => sh('echo other > other', m));
    assert.equal(sha256(await collect(e.layers.openTar(r2.chainId))), r2.diffId);
    writeFileSync(join(e.layers.dir(r2.chainId), 'other'), 'tampered');
    await assert.rejects(collect(e.layers.openTar(r2.chainId)), /mismatch/);
  });

  it('engine: tmpDir, putImage, tagImage, resolveImage; prune removes what nothing reaches', async () => {
    assert.ok(e.tmpDir('x-').startsWith(join(e.root, 'tmp') + '/'));
    const keep = await step([], (m) => sh('echo keep > keep', m));
    const drop1 = await step([], (m) => sh('echo drop > drop', m));
    const drop2 = await step([drop1.diffId], (m) => sh('echo more > more', m));
    const cfg = (ids: Digest[]): ImageConfig => ({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: ids } });
    const kept = e.putImage(cfg([keep.diffId]));
    const dropped = e.putImage(cfg([drop1.diffId, drop2.diffId]));
    await e.layers.compressed(drop2.chainId);
    assert.equal(e.tagImage('app:v1', kept.id), 'docker.io/library/app:v1');
    assert.equal(e.resolveImage('app:v1').id, kept.id);
    assert.deepEqual(e.resolveImage(kept.id.slice(7, 19)).config.rootfs.diff_ids, [keep.diffId]);
    assert.equal(e.db.getImage(kept.id)?.size, 5);
    assert.throws(() => e.putImage(cfg([sha256('nope')])), NotFoundError);

    // Another command holding the store: prune only takes what is old.
    const other = Engine.open(e.root);
    try {
      e.db.deleteImage(dropped.id);
      const shared = e.prune();
      assert.equal(shared.mode, 'shared');
      assert.ok(e.layers.has(drop2.chainId), 'fresh layers survive while others run');
    } finally {
      other.close();
    }
    // An orphan layer dir (crash between rename and row) and a dead process's staging dir with a
    // bind mount inside: prune and the sweep must clean both without touching the mount's source.
    const orphan = sha256('orphan');
    mkdirSync(e.layers.dir(orphan), { recursive: true });
    const precious = join(t.dir, 'precious');
    mkdirSync(precious);
    writeFileSync(join(precious, 'file'), 'do not delete');
    const dead = join(e.root, 'tmp', stagingName('step').replace(/\.\d+_\d+\./, '.999999999_1.'));
    mkdirSync(join(dead, 'mnt'), { recursive: true });
    mount(precious, join(dead, 'mnt'), null, MS_BIND);

    const r = e.prune();
    assert.equal(r.mode, 'exclusive');
    assert.ok(r.layers.includes(drop1.chainId) && r.layers.includes(drop2.chainId));
    assert.ok(!r.layers.includes(keep.chainId));
    assert.deepEqual(r.orphanLayerDirs, [orphan]);
    assert.ok(r.blobs.includes(dropped.id), 'config of the deleted image');
    assert.ok(!existsSync(e.layers.dir(drop1.chainId)) && !existsSync(e.layers.dir(orphan)));
    assert.ok(e.layers.has(keep.chainId) && e.content.has(kept.id));
    assert.equal(e.db.getLayerBlobs(drop2.diffId).length, 0);
    assert.ok(!existsSync(dead), 'dead staging swept');
    assert.equal(readFileSync(join(precious, 'file'), 'utf8'), 'do not delete');
    assert.equal(e.resolveImage('app:v1').id, kept.id);
    // Layers reached through a build cache entry or a container are kept.
    const cached = await step([], (m) => sh('echo c > c', m));
    const cachedCfg = e.content.putJson(cfg([cached.diffId])).digest;
    e.db.putCache('k', cachedCfg);
    const used = await step([], (m) => sh('echo u > u', m));
    const usedImg = e.putImage(cfg([used.diffId]));
    e.db.putContainer({ id: 'ab'.repeat(32), name: 'c1', imageId: usedImg.id, state: {}, config: {} });
    e.db.deleteImage(usedImg.id); // rmi -f: the container keeps what it runs on
    const r2 = e.prune();
    assert.deepEqual(r2.layers, []);
    assert.deepEqual(r2.blobs, []);
    assert.ok(e.layers.has(cached.chainId) && e.content.has(cachedCfg));
    assert.ok(e.layers.has(used.chainId) && e.content.has(usedImg.id));
    e.db.deleteContainer('ab'.repeat(32));
    e.db.deleteCache('k');
    const r3 = e.prune();
    assert.deepEqual(new Set(r3.layers), new Set([cached.chainId, used.chainId]));
    assert.deepEqual(new Set(r3.blobs), new Set([cachedCfg, usedImg.id]));
  });
});
