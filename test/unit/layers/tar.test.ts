import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { ByteReader, readTar, type TarEntryHeader } from '../../../src/layers/tar.js';
import { makeTar, tarList, tempDir } from './helpers.js';

async function entries(buf: Buffer): Promise<{ h: TarEntryHeader; body: Buffer }[]> {
  const out: { h: TarEntryHeader; body: Buffer }[] = [];
  const r = new ByteReader(Readable.from([buf]));
  for await (const { header, body } of readTar(r)) {
    const chunks: Buffer[] = [];
    for await (const c of body) chunks.push(c);
    out.push({ h: header, body: Buffer.concat(chunks) });
  }
  await r.drain();
  return out;
}

describe('tar codec', () => {
  let t: ReturnType<typeof tempDir>;
  before(() => (t = tempDir()));
  after(() => t.cleanup());

  const longName = `${'d'.repeat(60)}/${'e'.repeat(60)}/${'f'.repeat(90)}.txt`;
  const cap = Buffer.from([0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  const sample = () =>
    makeTar([
      { name: 'dir/', type: 'dir', mode: 0o755 },
      { name: 'dir/file', body: 'hello\n', mode: 0o4755, uid: 1000, gid: 1000, xattrs: [['security.capability', cap], ['user.note', Buffer.from('é\n=x')]] },
      { name: longName, body: Buffer.alloc(1000, 1) },
      { name: 'dir/ünïcödé', body: 'u' },
      { name: 'link', type: 'symlink', linkname: `/${'t'.repeat(150)}` },
      { name: 'hard', type: 'link', linkname: 'dir/file' },
      { name: 'big-ids', uid: 5_000_000, gid: 70_000_000, body: '' },
      { name: 'dev', type: 'char', devmajor: 1, devminor: 3, mode: 0o666 },
      { name: 'fifo', type: 'fifo' },
    ]);

  it('round-trips names, long paths, binary xattrs, big ids, links and devices', async () => {
    const e = await entries(sample());
    assert.deepEqual(
      e.map((x) => x.h.name),
      ['dir/', 'dir/file', longName, 'dir/ünïcödé', 'link', 'hard', 'big-ids', 'dev', 'fifo'],
    );
    const f = e[1]!;
    assert.equal(f.body.toString(), 'hello\n');
    assert.equal(f.h.mode, 0o4755);
    assert.equal(f.h.uid, 1000);
    assert.deepEqual(f.h.xattrs, [['security.capability', cap], ['user.note', Buffer.from('é\n=x')]]);
    assert.equal(e[2]!.body.length, 1000);
    assert.equal(e[4]!.h.linkname, `/${'t'.repeat(150)}`);
    assert.equal(e[5]!.h.type, 'link');
    assert.equal(e[6]!.h.uid, 5_000_000);
    assert.equal(e[6]!.h.gid, 70_000_000);
    assert.deepEqual([e[7]!.h.type, e[7]!.h.devmajor, e[7]!.h.devminor], ['char', 1, 3]);
    assert.equal(e[8]!.h.type, 'fifo');
  });

  it('is readable by GNU tar, including the PAX xattr records', () => {
    const file = join(t.dir, 'ours.tar');
    writeFileSync(file, sample());
    const list = tarList(file);
    assert.equal(list.length, 9);
    assert.match(list[1]!, /^-rwsr-xr-x 1000\/1000\s+6 .* dir\/file$/);
    assert.ok(list.some((l) => l.endsWith(longName)));
    assert.ok(list.some((l) => /^crw-rw-rw- 0\/0\s+1,3 .* dev$/.test(l)));
    const x = execFileSync('tar', ['--xattrs', '--xattrs-include=*', '-xvvf', file, '-C', t.dir, '--to-stdout', 'dir/file'], { encoding: 'utf8' });
    assert.equal(x, 'hello\n');
  });

  it('reads what GNU tar writes (pax format, long names, xattrs)', async () => {
    const src = join(t.dir, 'gnu');
    execFileSync('sh', ['-c', `mkdir -p ${src}/${'a'.repeat(120)} && echo data > ${src}/${'a'.repeat(120)}/f && setfattr -n user.k -v v ${src}/${'a'.repeat(120)}/f 2>/dev/null || true`]);
    const file = join(t.dir, 'gnu.tar');
    execFileSync('tar', ['--format=pax', '--xattrs', '-C', src, '-cf', file, '.']);
    const e = await entries(readFileSync(file));
    const f = e.find((x) => x.h.name.endsWith('/f'))!;
    assert.equal(f.h.name, `./${'a'.repeat(120)}/f`);
    assert.equal(f.body.toString(), 'data\n');
  });

  it('refuses garbage with a clear error', async () => {
    await assert.rejects(entries(Buffer.alloc(1024, 0x41)), /not a tar stream/);
    const cut = sample().subarray(0, 1024 + 100);
    await assert.rejects(entries(cut), /unexpected end of tar stream/);
  });
});
