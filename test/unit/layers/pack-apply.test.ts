import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, statSync, symlinkSync, utimesSync, writeFileSync, linkSync } from 'node:fs';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { applyLayer, LayerPathError } from '../../../src/layers/apply.js';
import { packLayer } from '../../../src/layers/pack.js';
import { lgetxattr, lsetxattr, makedev, mknod, mkWhiteout, S_IFCHR, S_IFIFO } from '../../../src/sys/fs.js';
import { makeTar, sh, streamOf, tarList, tempDir } from './helpers.js';

// CAP_NET_RAW permitted+effective, VFS_CAP_REVISION_2.
const CAP = Buffer.from([0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);

async function packToFile(dir: string, file: string, opts = {}) {
  const out = createWriteStream(file);
  const r = await packLayer(dir, out, opts);
  out.end();
  await finished(out);
  return r;
}

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

describe('packLayer / applyLayer', () => {
  let t: ReturnType<typeof tempDir>;
  let n = 0;
  const fresh = (name: string) => {
    const d = join(t.dir, `${name}-${n++}`);
    mkdirSync(d);
    return d;
  };
  before(() => (t = tempDir()));
  after(() => t.cleanup());

  /** A layer dir with one of everything. */
  function sampleDir(): string {
    const d = fresh('sample');
    mkdirSync(join(d, 'etc/conf.d'), { recursive: true });
    writeFileSync(join(d, 'etc/hostname'), 'kiln\n');
    writeFileSync(join(d, 'etc/conf.d/a'), 'a');
    mkdirSync(join(d, 'bin'));
    writeFileSync(join(d, 'bin/ping'), Buffer.alloc(5000, 0xcc), { mode: 0o755 });
    lsetxattr(join(d, 'bin/ping'), 'security.capability', CAP);
    lsetxattr(join(d, 'etc/hostname'), 'user.origin', 'test');
    linkSync(join(d, 'bin/ping'), join(d, 'bin/ping6'));
    symlinkSync('../etc/hostname', join(d, 'bin/host-link'));
    mknod(join(d, 'null'), S_IFCHR | 0o666, makedev(1, 3));
    mknod(join(d, 'pipe'), S_IFIFO | 0o644);
    sh(`chmod 666 ${d}/null`);
    sh(`chown 1000:1001 ${d}/etc/conf.d/a && chmod 4755 ${d}/bin/ping`);
    lsetxattr(join(d, 'bin/ping'), 'security.capability', CAP); // chown/chmod clear it
    for (const p of ['etc/hostname', 'etc/conf.d/a', 'bin/ping', 'etc/conf.d', 'etc', 'bin', 'null', 'pipe']) utimesSync(join(d, p), 1_600_000_000, 1_600_000_000);
    return d;
  }

  it('packing is deterministic: the same dir gives the same diffID twice, and the bytes hash to it', async () => {
    const d = sampleDir();
    const a = await packLayer(d, null);
    const b = await packLayer(d, null);
    assert.equal(a.diffId, b.diffId);
    const file = join(t.dir, 'sample.tar');
    const c = await packToFile(d, file);
    assert.equal(c.diffId, a.diffId);
    assert.equal(sha(readFileSync(file)), a.diffId);
    assert.equal(statSync(file).size, a.size);
    assert.equal(a.contentSize, 5000 + 5 + 1);
    // A copy of the tree elsewhere (same metadata) packs to the same diffID too.
    const copy = fresh('copy');
    await applyLayer(createReadStream(file), copy);
    assert.equal((await packLayer(copy, null)).diffId, a.diffId, 'pack(apply(pack(dir))) == pack(dir)');
    const list = tarList(file);
    const names = list.map((l) => l.replace(/^.* \d\d:\d\d /, ''));
    assert.deepEqual(names, [
      'bin/',
      'bin/host-link -> ../etc/hostname',
      'bin/ping',
      'bin/ping6 link to bin/ping',
      'etc/',
      'etc/conf.d/',
      'etc/conf.d/a',
      'etc/hostname',
      'null',
      'pipe',
    ]);
    assert.match(list.find((l) => l.endsWith('etc/conf.d/a'))!, /^-rw-r--r-- 1000\/1001/);
    assert.match(list.find((l) => l.endsWith(' null'))!, /^crw-rw-rw- 0\/0\s+1,3 /);
    assert.match(list.find((l) => l.endsWith(' pipe'))!, /^prw-r--r-- /);
    assert.match(list.find((l) => l.endsWith(' bin/ping'))!, /^-rwsr-xr-x 0\/0\s+5000 2020-09-13 /);
    // A metadata change changes the diffID.
    utimesSync(join(d, 'etc/hostname'), 1_600_000_001, 1_600_000_001);
    assert.notEqual((await packLayer(d, null)).diffId, a.diffId);
  });

  it('files of one, several and exactly one read-size pieces pack as GNU tar reads them back', async () => {
    const d = fresh('sizes');
    const sizes = { empty: 0, small: 100, exact: 1 << 20, big: (5 << 19) + 7 };
    for (const [name, n] of Object.entries(sizes)) writeFileSync(join(d, name), Buffer.alloc(n, name.charCodeAt(0)));
    const file = join(t.dir, `sizes-${n++}.tar`);
    const r = await packToFile(d, file);
    assert.equal(r.diffId, sha(readFileSync(file)));
    assert.equal((await packLayer(d, null)).diffId, r.diffId);
    const x = fresh('sizes-x');
    sh(`tar -xf ${file} -C ${x}`);
    for (const [name, n] of Object.entries(sizes)) assert.deepEqual(readFileSync(join(x, name)), Buffer.alloc(n, name.charCodeAt(0)));
  });

  it('trusts what the caller knows of a file, but not its size: a file that grew or shrank fails the pack', async () => {
    const d = fresh('known');
    writeFileSync(join(d, 'f'), 'twelve bytes');
    utimesSync(join(d, 'f'), 1_600_000_000, 1_600_000_000);
    sh(`chmod 640 ${d}/f`);
    const known = (size: number) => new Map([['f', { type: 'file' as const, mode: 0o640, uid: 0, gid: 0, mtimeMs: 1_600_000_000_000, size }]]);
    assert.equal((await packLayer(d, null, { known: known(12) })).diffId, (await packLayer(d, null)).diffId);
    await assert.rejects(packLayer(d, null, { known: known(11) }), /grew/);
    await assert.rejects(packLayer(d, null, { known: known(13) }), /shrank/);
  });

  it('SOURCE_DATE_EPOCH clamps mtimes (and stays deterministic)', async () => {
    const d = sampleDir();
    const plain = await packLayer(d, null);
    const e1 = await packLayer(d, null, { sourceDateEpoch: 1_000_000_000 });
    const e2 = await packLayer(d, null, { sourceDateEpoch: 1_000_000_000 });
    assert.equal(e1.diffId, e2.diffId);
    assert.notEqual(e1.diffId, plain.diffId);
    const later = await packLayer(d, null, { sourceDateEpoch: 2_000_000_000 });
    assert.equal(later.diffId, plain.diffId, 'an epoch after every mtime changes nothing');
    const file = join(t.dir, 'epoch.tar');
    await packToFile(d, file, { sourceDateEpoch: 1_000_000_000 });
    const times = sh(`TZ=UTC tar --full-time -tvf ${file}`).trim().split('\n');
    assert.ok(times.every((l) => l.includes('2001-09-09 01:46:40')), times.join('\n'));
  });

  it('security.capability, user.* xattrs, setuid, hardlinks, devices survive pack → apply', async () => {
    const d = sampleDir();
    const file = join(t.dir, 'rt.tar');
    const packed = await packToFile(d, file);
    const dest = fresh('rt');
    const applied = await applyLayer(createReadStream(file), dest);
    assert.equal(applied.diffId, packed.diffId);
    assert.equal(applied.size, packed.size);
    assert.deepEqual(lgetxattr(join(dest, 'bin/ping'), 'security.capability'), CAP);
    assert.equal(lgetxattr(join(dest, 'etc/hostname'), 'user.origin')?.toString(), 'test');
    const ping = statSync(join(dest, 'bin/ping'));
    assert.equal(ping.mode & 0o7777, 0o4755);
    assert.equal(statSync(join(dest, 'bin/ping6')).ino, ping.ino, 'hard link kept');
    assert.equal(ping.nlink, 2);
    assert.equal(readlinkSync(join(dest, 'bin/host-link')), '../etc/hostname');
    const a = statSync(join(dest, 'etc/conf.d/a'));
    assert.deepEqual([a.uid, a.gid], [1000, 1001]);
    const nul = lstatSync(join(dest, 'null'));
    assert.ok(nul.isCharacterDevice());
    assert.equal(nul.rdev, Number(makedev(1, 3)));
    assert.ok(lstatSync(join(dest, 'pipe')).isFIFO());
    assert.equal(statSync(join(dest, 'etc')).mtimeMs, 1_600_000_000_000, 'directory mtimes set after their contents');
  });

  it('whiteouts and opaque dirs: overlay form → .wh. entries → overlay form', async () => {
    const upper = fresh('upper');
    mkdirSync(join(upper, 'etc'));
    mkWhiteout(join(upper, 'etc/removed'));
    mkdirSync(join(upper, 'var'));
    lsetxattr(join(upper, 'var'), 'trusted.overlay.opaque', 'y');
    lsetxattr(join(upper, 'var'), 'trusted.overlay.origin', Buffer.from([1, 2, 3])); // overlay bookkeeping: not packed
    writeFileSync(join(upper, 'var/new'), 'n');
    const file = join(t.dir, 'wh.tar');
    const packed = await packToFile(upper, file);
    const names = tarList(file).map((l) => l.replace(/^.* \d\d:\d\d /, ''));
    assert.deepEqual(names, ['etc/', 'etc/.wh.removed', 'var/', 'var/.wh..wh..opq', 'var/new']);
    assert.ok(!readFileSync(file).includes('trusted.overlay'), 'no trusted.overlay.* in the tar');
    const dest = fresh('wh-dest');
    const applied = await applyLayer(createReadStream(file), dest);
    assert.equal(applied.diffId, packed.diffId);
    const wh = lstatSync(join(dest, 'etc/removed'));
    assert.ok(wh.isCharacterDevice() && wh.rdev === 0, 'whiteout is a 0/0 char device');
    assert.ok(!existsSync(join(dest, 'etc/.wh.removed')));
    assert.equal(lgetxattr(join(dest, 'var'), 'trusted.overlay.opaque')?.toString(), 'y');
    assert.equal(lgetxattr(join(dest, 'var'), 'trusted.overlay.origin'), null);
    assert.ok(!existsSync(join(dest, 'var/.wh..wh..opq')));
    assert.equal((await packLayer(dest, null)).diffId, packed.diffId);
  });

  it('accepts gzip and zstd input; the diffID is the hash of the uncompressed tar', async () => {
    const tar = makeTar([{ name: 'a.txt', body: 'compressed' }, { name: 'b/', type: 'dir' }]);
    const diffId = sha(tar);
    const gz = await applyLayer(streamOf(gzipSync(tar)), fresh('gz'));
    assert.deepEqual([gz.diffId, gz.compression, gz.size], [diffId, 'gzip', tar.length]);
    const zstFile = join(t.dir, 'in.tar');
    writeFileSync(zstFile, tar);
    sh(`zstd -q -f ${zstFile} -o ${zstFile}.zst`);
    const zd = fresh('zst');
    const zs = await applyLayer(createReadStream(`${zstFile}.zst`), zd);
    assert.deepEqual([zs.diffId, zs.compression], [diffId, 'zstd']);
    assert.equal(readFileSync(join(zd, 'a.txt'), 'utf8'), 'compressed');
    const plain = await applyLayer(streamOf(tar), fresh('plain'));
    assert.deepEqual([plain.diffId, plain.compression], [diffId, 'none']);
    await assert.rejects(applyLayer(streamOf(gzipSync(tar).subarray(0, 30)), fresh('trunc')), /unexpected end|incorrect header|unexpected end of file/);
  });

  it('applies a tar made by GNU tar (./ prefixes, root entry)', async () => {
    const src = sampleDir();
    const file = join(t.dir, 'gnu.tar');
    sh(`tar --xattrs --xattrs-include='*' --numeric-owner -C ${src} -cf ${file} .`);
    const dest = fresh('gnu');
    const r = await applyLayer(createReadStream(file), dest);
    assert.equal(r.diffId, sha(readFileSync(file)));
    assert.equal(readFileSync(join(dest, 'etc/hostname'), 'utf8'), 'kiln\n');
    assert.deepEqual(lgetxattr(join(dest, 'bin/ping'), 'security.capability'), CAP);
    assert.equal(statSync(join(dest, 'bin/ping6')).ino, statSync(join(dest, 'bin/ping')).ino);
  });

  describe('refuses entries that escape the layer root, writing nothing outside', () => {
    const marker = `kiln-escape-${process.pid}-${Date.now()}`;
    const cases: { what: string; entries: Parameters<typeof makeTar>[0]; entry: string; reason: RegExp }[] = [
      { what: '../x', entries: [{ name: `../${marker}`, body: 'pwned' }], entry: `../${marker}`, reason: /"\.\." component/ },
      { what: 'a/../../x', entries: [{ name: 'a/', type: 'dir' }, { name: `a/../../${marker}`, body: 'pwned' }], entry: `a/../../${marker}`, reason: /"\.\." component/ },
      { what: '/abs', entries: [{ name: `/tmp/${marker}`, body: 'pwned' }], entry: `/tmp/${marker}`, reason: /absolute path/ },
      {
        what: 'symlink a -> / then a/tmp/x',
        entries: [{ name: 'a', type: 'symlink', linkname: '/' }, { name: `a/tmp/${marker}`, body: 'pwned' }],
        entry: `a/tmp/${marker}`,
        reason: /goes through the symlink "a" -> "\/"/,
      },
      {
        what: 'symlink to .. then through it',
        entries: [{ name: 'up', type: 'symlink', linkname: '../..' }, { name: `up/${marker}`, body: 'pwned' }],
        entry: `up/${marker}`,
        reason: /goes through the symlink "up"/,
      },
      { what: 'hardlink to ../../x', entries: [{ name: 'h', type: 'link', linkname: `../../${marker}` }], entry: 'h', reason: /hard link target .* "\.\." component/ },
      { what: 'hardlink to /etc/passwd', entries: [{ name: 'h', type: 'link', linkname: '/etc/passwd' }], entry: 'h', reason: /absolute hard link target/ },
      {
        what: 'hardlink through a symlink',
        entries: [{ name: 's', type: 'symlink', linkname: '/etc' }, { name: 'h', type: 'link', linkname: 's/passwd' }],
        entry: 'h',
        reason: /goes through the symlink "s"/,
      },
      { what: 'whiteout through a symlink', entries: [{ name: 's', type: 'symlink', linkname: '/tmp' }, { name: `s/.wh.${marker}` }], entry: `s/.wh.${marker}`, reason: /symlink/ },
    ];
    for (const c of cases) {
      it(c.what, async () => {
        const box = fresh('box');
        const dest = join(box, 'dest');
        mkdirSync(dest);
        await assert.rejects(applyLayer(streamOf(makeTar(c.entries)), dest), (e: Error) => {
          assert.ok(e instanceof LayerPathError, `${e}`);
          assert.equal(e.entry, c.entry);
          assert.ok(e.message.startsWith(`refusing layer entry ${JSON.stringify(c.entry)}: `), e.message);
          assert.match(e.message, c.reason);
          return true;
        });
        assert.deepEqual(readdirSync(box), ['dest'], 'nothing next to the layer dir');
        assert.ok(!existsSync(`/tmp/${marker}`) && !existsSync(`/${marker}`) && !existsSync(join(t.dir, marker)));
        assert.notEqual(statSync('/etc/passwd').nlink, 2);
      });
    }
  });

  it('a later entry replaces an earlier one without following symlinks', async () => {
    const box = fresh('replace');
    const dest = join(box, 'dest');
    mkdirSync(dest);
    const victim = join(box, 'victim');
    writeFileSync(victim, 'keep');
    await applyLayer(
      streamOf(
        makeTar([
          { name: 'f', type: 'symlink', linkname: victim },
          { name: 'f', body: 'replaced' },
        ]),
      ),
      dest,
    );
    assert.equal(readFileSync(victim, 'utf8'), 'keep');
    assert.ok(lstatSync(join(dest, 'f')).isFile());
    assert.equal(readFileSync(join(dest, 'f'), 'utf8'), 'replaced');
  });
});
