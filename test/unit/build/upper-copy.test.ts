// COPY straight into the upper dir (build/upper-copy.ts) must leave the upper dir exactly as the
// overlay route (copy-step.ts copySelection on a mounted overlay) does: same entries, modes,
// owners, xattrs, contents and (apart from the "now" of directories that got new entries) times,
// so the layer and its diffID are the same. Each case runs both routes on the same lower layers.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import type { Engine } from '../../../src/engine.js';
import { BuildContext } from '../../../src/build/build-context.js';
import { copySelection, copySelectionToUpper } from '../../../src/build/copy-step.js';
import type { CopyOptions, Ownership } from '../../../src/build/fs-copy.js';
import { MergedView } from '../../../src/build/merged-view.js';
import { NeedsOverlay, UpperWriter } from '../../../src/build/upper-copy.js';
import { mountOverlay, unmountOverlay } from '../../../src/layers/overlay.js';
import { OVERLAY_OPAQUE_XATTR, packLayer } from '../../../src/layers/pack.js';
import { ByteReader, readTar } from '../../../src/layers/tar.js';
import { lsetxattr, mkWhiteout } from '../../../src/sys/fs.js';
import { sh, tempDir } from '../layers/helpers.js';

/** A POSIX default ACL (user::rwx user:1000:r-x group::r-x mask::rwx other::r-x) in its xattr form. */
function defaultAcl(): Buffer {
  const entries: [number, number, number][] = [[0x01, 7, -1], [0x02, 5, 1000], [0x04, 5, -1], [0x10, 7, -1], [0x20, 5, -1]];
  const b = Buffer.alloc(4 + entries.length * 8);
  b.writeUInt32LE(2, 0);
  entries.forEach(([tag, perm, id], i) => {
    b.writeUInt16LE(tag, 4 + i * 8);
    b.writeUInt16LE(perm, 6 + i * 8);
    b.writeUInt32LE(id >>> 0, 8 + i * 8);
  });
  return b;
}

const T = (n: number) => 1_000_000_000 + n * 1000;

/** The upper dir's tar entries; the mtime of anything touched during the test reads "now". */
async function listing(dir: string, since: number): Promise<string[]> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  await packLayer(dir, out);
  out.end();
  const lines: string[] = [];
  for await (const { header: h, body } of readTar(new ByteReader(Readable.from([Buffer.concat(chunks)])))) {
    const hash = createHash('sha256');
    for await (const b of body) hash.update(b);
    const mtime = h.mtime >= since ? 'now' : String(h.mtime);
    const xattrs = (h.xattrs ?? []).map(([k, v]) => `${k}=${v.toString('hex')}`).join(',');
    lines.push(`${h.name} ${h.type} ${h.mode.toString(8)} ${h.uid}:${h.gid} ${mtime} ${h.linkname ?? ''} ${xattrs} ${hash.digest('hex').slice(0, 12)}`);
  }
  return lines;
}

describe('COPY into the upper dir without an overlay', () => {
  let t: ReturnType<typeof tempDir>;
  let lowers: string[];
  let ctxDir: string;
  let n = 0;
  let known: ReadonlyMap<string, unknown> = new Map();
  const since = Math.floor(Date.now() / 1000) - 1;

  before(() => {
    t = tempDir();
    const l1 = join(t.dir, 'l1');
    const l2 = join(t.dir, 'l2');
    sh(`mkdir -p ${l1}/var ${l1}/run ${l1}/opt/existing ${l1}/opt/gone ${l1}/sg ${l1}/etc ${l1}/opaque ${l1}/conflict ${l1}/conflict2/a.txt ${l1}/home`);
    sh(`mkdir -p ${l2}/opt ${l2}/opaque`);
    symlinkSync('/run', join(l1, 'var/run'));
    writeFileSync(join(l1, 'opt/existing/old.txt'), 'old');
    writeFileSync(join(l1, 'opt/gone/inner'), 'hidden');
    writeFileSync(join(l1, 'opaque/hidden.txt'), 'hidden');
    writeFileSync(join(l1, 'conflict/sub'), 'a file where COPY puts a directory');
    writeFileSync(join(l1, 'file-here'), 'x');
    writeFileSync(join(l1, 'etc/passwd'), 'root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n');
    mkWhiteout(join(l2, 'opt/gone'));
    lsetxattr(join(l2, 'opaque'), OVERLAY_OPAQUE_XATTR, 'y');
    sh(`chown 5:6 ${l1}/run && chmod 711 ${l1}/run && chown 7:8 ${l1}/opt/existing && chmod 700 ${l1}/opt/existing && chmod 600 ${l1}/opt/existing/old.txt`);
    sh(`chgrp 50 ${l1}/sg && chmod 2775 ${l1}/sg`);
    lsetxattr(join(l1, 'run'), 'user.kiln', 'lower');
    mkdirSync(join(l1, 'acl'));
    lsetxattr(join(l1, 'acl'), 'system.posix_acl_default', defaultAcl());
    let i = 0;
    for (const p of ['var', 'run', 'opt', 'opt/existing', 'opt/existing/old.txt', 'sg', 'etc', 'opaque', 'conflict', 'conflict2', 'home']) utimesSync(join(l1, p), T(i), T(i++));
    for (const p of ['opt', 'opaque']) utimesSync(join(l2, p), T(i), T(i++));
    lowers = [l2, l1];

    ctxDir = join(t.dir, 'ctx');
    mkdirSync(join(ctxDir, 'files/sub'), { recursive: true });
    mkdirSync(join(ctxDir, 'tree/sub'), { recursive: true });
    writeFileSync(join(ctxDir, 'files/a.txt'), 'a');
    writeFileSync(join(ctxDir, 'files/b.sh'), '#!/bin/sh\n', { mode: 0o755 });
    writeFileSync(join(ctxDir, 'files/sub/c.txt'), 'c');
    symlinkSync('a.txt', join(ctxDir, 'files/link'));
    writeFileSync(join(ctxDir, 'tree/sub/x'), 'x');
    writeFileSync(join(ctxDir, 'tree/t.txt'), 't');
    writeFileSync(join(ctxDir, 'old.txt'), 'new');
    writeFileSync(join(ctxDir, 'single.txt'), 'single');
    writeFileSync(join(ctxDir, 'Dockerfile'), 'FROM scratch\n');
    let j = 0;
    for (const p of ['files/a.txt', 'files/b.sh', 'files/sub/c.txt', 'files/sub', 'files', 'tree/sub/x', 'tree/sub', 'tree/t.txt', 'tree', 'old.txt', 'single.txt']) utimesSync(join(ctxDir, p), T(100 + j), T(100 + j++));
    sh(`touch -h -d @${T(200)} ${ctxDir}/files/link`);
  });
  after(() => t.cleanup());

  const fresh = (name: string) => {
    const d = join(t.dir, `${name}-${n++}`);
    mkdirSync(d);
    return d;
  };

  async function onOverlay<T>(upper: string, fn: (merged: string) => Promise<T>): Promise<T> {
    const merged = fresh('merged');
    mountOverlay({ lower: lowers, upper, work: fresh('work'), target: merged });
    try {
      return await fn(merged);
    } finally {
      // A failed copy may still have files open (the other workers of mapLimit).
      unmountOverlay(merged, { detach: true });
    }
  }

  /** Runs COPY `sources` `dest` both ways and compares; resolves to whether the upper route gave up. */
  async function both(sources: string[], dest: string, o: { owner?: Ownership; chmod?: CopyOptions['chmod'] } = {}): Promise<boolean> {
    const ctx = new BuildContext({ root: t.dir, layers: { layersDir: join(t.dir, 'layers') } } as Engine, ctxDir, join(ctxDir, 'Dockerfile'));
    const sel = await ctx.selectForCopy(sources, { exclude: [], parents: false });
    const destIsDir = dest.endsWith('/') || sel.tops.length > 1;
    const opts: CopyOptions = { chown: o.owner, zeroOwner: true, chmod: o.chmod };

    const viaOverlay = fresh('upper-ovl');
    const ovlResult = await onOverlay(viaOverlay, (m) => copySelection(m, sel, dest, destIsDir, opts, o.owner, false)).then(
      () => null,
      (e: Error) => e,
    );

    const direct = fresh('upper-direct');
    const w = new UpperWriter(new MergedView(lowers), direct);
    let fellBack = false;
    const directResult = await copySelectionToUpper(w, sel, dest, destIsDir, opts, o.owner).then(
      () => null,
      async (e: Error) => {
        if (!(e instanceof NeedsOverlay)) return e;
        fellBack = true;
        return onOverlay(direct, (m) => copySelection(m, sel, dest, destIsDir, opts, o.owner, false)).then(
          () => null,
          (e2: Error) => e2,
        );
      },
    );
    const msg = (e: Error | null) => e?.message.replace(/merged-\d+/, 'merged');
    assert.equal(msg(directResult), msg(ovlResult));
    // After an error the step is thrown away (and what other workers had written is racy).
    if (!ovlResult) assert.deepEqual(await listing(direct, since), await listing(viaOverlay, since));
    if (!fellBack && !directResult) {
      // What the step recorded is what is on disk: packing with it gives the same diffID.
      assert.equal((await packLayer(direct, null, { known: w.known })).diffId, (await packLayer(direct, null)).diffId);
    }
    known = w.known;
    return fellBack;
  }

  it('copies through a symlinked directory of a lower layer, copying the target up with its owner, mode and xattrs', async () => {
    assert.equal(await both(['files/'], '/var/run/app/'), false);
  });
  it('replaces a lower file in a lower directory, keeping the directories it copies up as they were', async () => {
    assert.equal(await both(['old.txt'], '/opt/existing/'), false);
    assert.equal(await both(['old.txt'], '/opt/existing/old.txt'), false);
  });
  it('puts a single file into an existing lower directory, or makes the missing directories', async () => {
    assert.equal(await both(['single.txt'], '/opt/existing'), false);
    assert.equal(await both(['single.txt'], '/newdir/deep/x.txt'), false);
  });
  it('gives files in a setgid directory the owner COPY asks for', async () => {
    assert.equal(await both(['single.txt'], '/sg/'), false);
    assert.equal(await both(['files/'], '/sg/x/'), false);
  });
  it('applies --chown and --chmod', async () => {
    const chmod = (_m: number, isDir: boolean) => (isDir ? 0o750 : 0o640);
    assert.equal(await both(['files/', 'tree/'], '/home/app/', { owner: { uid: 1000, gid: 1000 }, chmod }), false);
  });
  it('makes a directory where a lower layer whited one out, and copies into an opaque lower directory', async () => {
    assert.equal(await both(['files/'], '/opt/gone/'), false);
    assert.equal(await both(['tree/'], '/opaque/'), false);
  });
  it('leaves a directory replacing a lower file to the overlay (an opaque directory)', async () => {
    assert.equal(await both(['files/'], '/conflict/'), true);
  });
  it('fails as the overlay route does on a file over a lower directory or a directory below a file', async () => {
    assert.equal(await both(['files/'], '/conflict2/'), true);
    assert.equal(await both(['files/'], '/file-here/sub/'), true);
  });
  it('leaves files to packing to look at where a default ACL may have given them xattrs', async () => {
    assert.equal(await both(['files/'], '/acl/sub/'), false);
    assert.equal(known.size, 0);
    assert.equal(await both(['files/'], '/opt/existing/'), false);
    assert.equal(known.size, 4);
  });
  it('reads /etc/passwd (for --chown) from the layers', () => {
    const v = new MergedView(lowers);
    assert.equal(v.hostPath('/etc/passwd', fresh('u')), join(lowers[1]!, 'etc/passwd'));
    assert.equal(v.hostPath('/opt/gone/inner', fresh('u')), null);
    assert.equal(v.hostPath('/opaque/hidden.txt', fresh('u')), null);
    assert.equal(v.resolve('/var/run/x'), 'run/x');
  });
});
