// gzip engines: BlockGzip (parallel blocks, incompressible blocks stored), pigz, zlib. Whatever
// makes it, the output must be one standard gzip member that any gunzip reads back exactly.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { constants as zc, gunzipSync, inflateRawSync } from 'node:zlib';
import { sha256 } from '../../../src/image/digest.js';
import { BlockGzip, compressStream, createCompressor, pigzBinary, sampledEntropy, storedBlocks, type GzipEngine } from '../../../src/layers/compress.js';
import { collect, tempDir } from './helpers.js';

/** Text-like, compressible bytes (deterministic). */
function text(n: number): Buffer {
  const words = ['layer', 'image', 'kiln', 'registry', 'blob', 'digest', 'overlay', 'tar', '\n', 'config'];
  const parts: string[] = [];
  let len = 0;
  for (let i = 0; len < n; i++) {
    const w = words[(i * 7 + (i >> 3)) % words.length]! + ' ';
    parts.push(w);
    len += w.length;
  }
  return Buffer.from(parts.join('')).subarray(0, n);
}

async function gz(input: Buffer, make: () => NodeJS.ReadWriteStream, pieces = 1): Promise<Buffer> {
  const c = make() as unknown as import('node:stream').Duplex;
  const step = Math.max(1, Math.ceil(input.length / pieces));
  const out = collect(c);
  for (let o = 0; o < input.length; o += step) c.write(input.subarray(o, o + step));
  c.end();
  return out;
}

describe('gzip compression', () => {
  let t: ReturnType<typeof tempDir>;
  before(() => (t = tempDir()));
  after(() => t.cleanup());

  const rnd = randomBytes((3 << 20) + 12345);
  const txt = text((2 << 20) + 777);
  // Compressible, then incompressible, then compressible again, across block boundaries.
  const mixed = Buffer.concat([txt.subarray(0, 1_500_000), rnd.subarray(0, 2_200_000), txt.subarray(0, 900_000)]);

  it('BlockGzip round-trips any input (empty, tiny, exactly one block, random, text, mixed)', async () => {
    for (const input of [Buffer.alloc(0), Buffer.from('x'), Buffer.alloc(BlockGzip.BLOCK, 0x61), rnd, txt, mixed]) {
      const out = await gz(input, () => new BlockGzip(6));
      assert.deepEqual(out.subarray(0, 4), Buffer.from([0x1f, 0x8b, 8, 0]), 'gzip magic, deflate, no flags');
      assert.ok(gunzipSync(out).equals(input), `round trip of ${input.length} bytes`);
    }
  });

  it('BlockGzip output does not depend on how the input is chunked', async () => {
    const a = await gz(mixed, () => new BlockGzip(6), 1);
    const b = await gz(mixed, () => new BlockGzip(6), 997);
    const c = await gz(mixed, () => new BlockGzip(6, 1), 13);
    assert.ok(a.equals(b) && a.equals(c));
  });

  it('BlockGzip stores incompressible blocks and deflates compressible ones', async () => {
    const r = new BlockGzip(6);
    const outR = await gz(rnd, () => r);
    assert.equal(r.stored, r.blocks, 'random data: every block stored');
    assert.ok(outR.length < rnd.length + rnd.length / 1000 + 100, 'stored costs 5 bytes per 64 KiB');
    const x = new BlockGzip(6);
    const outX = await gz(txt, () => x);
    assert.equal(x.stored, 0);
    assert.ok(outX.length < txt.length / 5, `text compresses (${outX.length} of ${txt.length})`);
    const m = new BlockGzip(6);
    await gz(mixed, () => m);
    assert.ok(m.stored > 0 && m.stored < m.blocks, `mixed: ${m.stored} of ${m.blocks} stored`);
  });

  it('BlockGzip compresses about as well as one zlib stream (blocks are primed with the previous 32 KiB)', async () => {
    const blocks = await gz(txt, () => new BlockGzip(6));
    const one = await gz(txt, () => createCompressor('gzip', 6, { gzip: 'zlib' }) as unknown as NodeJS.ReadWriteStream);
    assert.ok(blocks.length <= one.length * 1.02, `${blocks.length} vs ${one.length}`);
  });

  it('GNU gzip accepts BlockGzip output', async (tc) => {
    if (spawnSync('gzip', ['--version']).status !== 0) return tc.skip('gzip not installed');
    const file = join(t.dir, 'mixed.gz');
    writeFileSync(file, await gz(mixed, () => new BlockGzip(6)));
    const r = spawnSync('gzip', ['-dc', file], { maxBuffer: 64 << 20 });
    assert.equal(r.status, 0, String(r.stderr));
    assert.ok(r.stdout.equals(mixed));
  });

  it('storedBlocks is valid raw deflate, split at 65535 bytes', () => {
    for (const n of [0, 1, 65535, 65536, 200_000]) {
      const b = rnd.subarray(0, n);
      const s = storedBlocks(b);
      assert.equal(s.length, n + 5 * Math.max(1, Math.ceil(n / 65535)));
      const back = inflateRawSync(Buffer.concat([s, Buffer.from([0x03, 0x00])]), { finishFlush: zc.Z_SYNC_FLUSH });
      assert.ok(back.equals(b), `n=${n}`);
    }
  });

  it('sampledEntropy tells random from text', () => {
    assert.ok(sampledEntropy(rnd) > 7.9);
    assert.ok(sampledEntropy(txt) < 5);
    assert.equal(sampledEntropy(Buffer.alloc(10_000)), 0);
  });

  it('every engine makes gzip that unpacks to the input; compressStream hashes what it makes', async () => {
    const engines: GzipEngine[] = ['blocks', 'zlib', ...(pigzBinary() ? (['pigz'] as const) : [])];
    for (const engine of engines) {
      const chunks: Buffer[] = [];
      const sink = new (await import('node:stream')).Writable({
        write(c: Buffer, _e, cb) {
          chunks.push(c);
          cb();
        },
      });
      const r = await compressStream(Readable.from([mixed]), sink, 'gzip', 6, { gzip: engine });
      const out = Buffer.concat(chunks);
      assert.equal(r.digest, sha256(out), engine);
      assert.equal(r.size, out.length, engine);
      assert.ok(gunzipSync(out).equals(mixed), engine);
    }
  });

  it('KILN_GZIP picks the engine when none is asked for', async () => {
    const old = process.env.KILN_GZIP;
    try {
      process.env.KILN_GZIP = 'zlib';
      assert.ok(!(createCompressor('gzip') instanceof BlockGzip));
      delete process.env.KILN_GZIP;
      assert.ok(createCompressor('gzip') instanceof BlockGzip);
      assert.ok(!(createCompressor('gzip', 6, { gzip: 'zlib' }) instanceof BlockGzip));
    } finally {
      if (old === undefined) delete process.env.KILN_GZIP;
      else process.env.KILN_GZIP = old;
    }
  });
});
