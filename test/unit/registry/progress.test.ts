import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { humanSize, PlainProgress, progressBar, toSink, TtyProgress } from '../../../src/registry/progress.js';

test("humanSize follows Docker's decimal units", () => {
  assert.equal(humanSize(512), '512B');
  assert.equal(humanSize(12_345), '12.3kB');
  assert.equal(humanSize(1_570_000), '1.57MB');
  assert.equal(humanSize(5_000_000), '5.00MB');
});

test('progress bar shape', () => {
  assert.equal(progressBar(0, 10, 10), `[${' '.repeat(10)}]`);
  assert.equal(progressBar(5, 10, 10), '[====>     ]');
  assert.equal(progressBar(10, 10, 10), '[==========]');
});

test('plain progress prints status changes, not byte counters', () => {
  const lines: string[] = [];
  const p = toSink((l) => lines.push(l));
  assert.ok(p instanceof PlainProgress);
  p.event({ status: 'latest: Pulling from library/x' });
  p.event({ id: 'abc', status: 'Pulling fs layer' });
  p.event({ id: 'abc', status: 'Downloading', current: 5, total: 10 });
  p.event({ id: 'abc', status: 'Verifying Checksum' });
  p.event({ id: 'abc', status: 'Download complete' });
  p.event({ id: 'abc', status: 'Extracting', current: 5, total: 10 });
  p.event({ id: 'abc', status: 'Pull complete' });
  assert.deepEqual(lines, ['latest: Pulling from library/x', 'abc: Pulling fs layer', 'abc: Verifying Checksum', 'abc: Download complete', 'abc: Pull complete']);
});

test('the TTY view rewrites a layer line in place and keeps order', () => {
  let out = '';
  const w = Object.assign(
    new Writable({
      write(c, _e, cb) {
        out += c.toString();
        cb();
      },
    }),
    { columns: 100, rows: 30 },
  );
  const p = new TtyProgress(w, 0);
  p.event({ status: 'v1: Pulling from app' });
  p.event({ id: 'aaa', status: 'Pulling fs layer' });
  p.event({ id: 'bbb', status: 'Pulling fs layer' });
  p.event({ id: 'aaa', status: 'Pull complete' });
  p.event({ status: 'Digest: sha256:x' });
  p.close();
  // The last frame: cursor up over what was drawn, then every line in order.
  const frames = out.split(/\x1b\[\d+A/);
  const last = frames.at(-1)!.replace(/\x1b\[2K/g, '');
  assert.equal(last, 'v1: Pulling from app\naaa: Pull complete\nbbb: Pulling fs layer\nDigest: sha256:x\n');
});
