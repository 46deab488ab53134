import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { sha256 } from '../../../src/image/digest.js';
import type { Digest } from '../../../src/image/types.js';
import { ContentStore } from '../../../src/store/content-store.js';
import { collect, tempDir } from '../layers/helpers.js';

describe('ContentStore', () => {
  let t: ReturnType<typeof tempDir>;
  let cs: ContentStore;
  before(() => {
    t = tempDir();
    cs = new ContentStore(t.dir);
  });
  after(() => t.cleanup());

  it('ingests a stream, names it by its sha256 and reads it back', async () => {
    const data = Buffer.alloc(3 << 20, 7);
    const r = await cs.ingest(Readable.from([data.subarray(0, 1000), data.subarray(1000)]));
    assert.equal(r.digest, sha256(data));
    assert.equal(r.size, data.length);
    assert.ok(cs.has(r.digest));
    assert.deepEqual(cs.stat(r.digest), { size: data.length });
    assert.ok(cs.read(r.digest).equals(data));
    assert.ok((await collect(cs.createReadStream(r.digest))).equals(data));
    assert.equal(cs.path(r.digest), join(t.dir, 'blobs', 'sha256', r.digest.slice(7)));
    assert.ok(await cs.verify(r.digest));
    assert.deepEqual(readdirSync(join(t.dir, 'tmp')), [], 'no staging left behind');
  });

  it('verifies an expected digest and size', async () => {
    const data = Buffer.from('hello world');
    const d = sha256(data);
    assert.deepEqual(await cs.ingest(Readable.from([data]), { digest: d, size: data.length }), { digest: d, size: 11 });
  });

  it('rejects a digest mismatch, stores nothing and leaves no temp file', async () => {
    const wrong = sha256('something else');
    const before = cs.list();
    await assert.rejects(cs.ingest(Readable.from([Buffer.from('payload')]), { digest: wrong }), (e: Error) => {
      assert.match(e.message, new RegExp(`^digest mismatch: expected ${wrong}, got ${sha256('payload')}$`));
      return true;
    });
    assert.deepEqual(cs.list(), before);
    assert.equal(cs.has(sha256('payload')), false);
    assert.deepEqual(readdirSync(join(t.dir, 'tmp')), []);
  });

  it('rejects a size mismatch (short and long)', async () => {
    await assert.rejects(cs.ingest(Buffer.from('abc'), { size: 4 }), /size mismatch: expected 4, got 3/);
    await assert.rejects(cs.ingest(Buffer.from('abcde'), { size: 4 }), /size mismatch/);
    assert.deepEqual(readdirSync(join(t.dir, 'tmp')), []);
  });

  it('propagates a source error and cleans up', async () => {
    const src = new Readable({
      read() {
        this.push(Buffer.alloc(1000));
        this.destroy(new Error('network went away'));
      },
    });
    await assert.rejects(cs.ingest(src), /network went away/);
    assert.deepEqual(readdirSync(join(t.dir, 'tmp')), []);
  });

  it('never trusts a name: invalid digests are refused before touching the disk', () => {
    for (const bad of ['sha256:../../etc/passwd', 'sha256:ABC', '../x', `sha512:${'a'.repeat(128)}`, `sha256:${'a'.repeat(63)}/`]) {
      assert.throws(() => cs.path(bad as Digest), /invalid digest/);
      assert.throws(() => cs.has(bad as Digest), /invalid digest/);
      assert.throws(() => cs.read(bad as Digest), /invalid digest/);
      assert.throws(() => cs.remove(bad as Digest), /invalid digest/);
    }
    // A stray file that is not a digest is ignored by list().
    writeFileSync(join(t.dir, 'blobs', 'sha256', 'not-a-digest'), 'x');
    assert.ok(cs.list().every((d) => /^sha256:[a-f0-9]{64}$/.test(d)));
  });

  it('putJson writes canonical bytes and is deterministic', () => {
    const v = { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, config: { Env: ['A=1'] } };
    const a = cs.putJson(v);
    const b = cs.putJson(JSON.parse(JSON.stringify(v)));
    assert.equal(a.digest, b.digest);
    assert.ok(a.bytes.equals(b.bytes));
    assert.equal(a.bytes.toString(), JSON.stringify(v));
    assert.equal(a.digest, `sha256:${createHash('sha256').update(a.bytes).digest('hex')}`);
    assert.equal(a.size, a.bytes.length);
    assert.deepEqual(cs.readJson(a.digest), v);
  });

  it('ingests many small chunks (batched writes) and large ones alike', async () => {
    const data = Buffer.alloc((5 << 20) + 3, 0);
    for (let i = 0; i < data.length; i += 4093) data[i] = i & 0xff;
    const pieces: Buffer[] = [];
    for (let o = 0; o < data.length; o += 1000) pieces.push(data.subarray(o, o + 1000));
    const a = await cs.ingest(Readable.from(pieces), { size: data.length });
    const b = await cs.ingest(data, { digest: sha256(data) });
    assert.equal(a.digest, sha256(data));
    assert.deepEqual(a, b);
    assert.ok(cs.read(a.digest).equals(data));
    assert.deepEqual(readdirSync(join(t.dir, 'tmp')), []);
  });

  it('adoptFile renames a verified file into place without copying it', async () => {
    const data = Buffer.from('downloaded and verified elsewhere');
    const file = join(t.dir, 'tmp', 'download.partial');
    writeFileSync(file, data, { mode: 0o600 });
    const ino = statSync(file).ino;
    const r = await cs.adoptFile(file, { digest: sha256(data), size: data.length });
    assert.deepEqual(r, { digest: sha256(data), size: data.length });
    assert.equal(existsSync(file), false, 'the file moved');
    assert.equal(statSync(cs.path(r.digest)).ino, ino, 'same inode: renamed, not copied');
    assert.equal(statSync(cs.path(r.digest)).mode & 0o777, 0o644);
    assert.ok(cs.read(r.digest).equals(data));
  });

  it('adoptFile refuses a size mismatch and keeps the file; refuses a bad digest before touching it', async () => {
    const file = join(t.dir, 'tmp', 'short.partial');
    writeFileSync(file, 'abc');
    await assert.rejects(cs.adoptFile(file, { digest: sha256('abcd'), size: 4 }), /size mismatch: expected 4, got 3/);
    assert.ok(existsSync(file));
    assert.equal(cs.has(sha256('abcd')), false);
    await assert.rejects(cs.adoptFile(file, { digest: 'sha256:../x' as Digest, size: 3 }), /invalid digest/);
    assert.ok(existsSync(file));
    unlinkSync(file);
  });

  it('remove deletes a blob; removing twice is fine', async () => {
    const { digest } = await cs.ingest(Buffer.from('to be removed'));
    cs.remove(digest);
    assert.equal(cs.has(digest), false);
    assert.equal(existsSync(cs.path(digest)), false);
    cs.remove(digest);
    assert.throws(() => cs.read(digest), /not found/);
  });
});
