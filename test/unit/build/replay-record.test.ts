// When a build replay record applies (pure checks; the file system only through stamps of a temp dir).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, appendFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { changedStamp, racyStamps, replayFile, requestMismatch, stampOf, REPLAY_VERSION, type FileStamp, type ReplayRecord } from '../../../src/build/replay-record.js';
import { stateRoot } from '../../../src/cli/replay-build.js';

const record = (over: Partial<ReplayRecord> = {}): ReplayRecord => ({
  version: REPLAY_VERSION,
  bundle: 'b1',
  args: ['build', '-t', 'app', '.'],
  cwd: '/src',
  env: { SOURCE_DATE_EPOCH: null, V: '1' },
  generation: 7,
  stamps: [],
  output: 'sha256:x\n',
  imageId: 'sha256:x',
  tagNames: ['app:latest'],
  present: [],
  cacheKeys: [],
  touchedMs: 0,
  ...over,
});
const req = { bundle: 'b1', args: ['build', '-t', 'app', '.'], cwd: '/src', env: { V: '1' } };

test('a record applies only to the same kiln, command line, directory and environment', () => {
  assert.equal(requestMismatch(record(), req), null);
  assert.equal(requestMismatch(record({ version: REPLAY_VERSION + 1 }), req), 'record format');
  assert.equal(requestMismatch(record(), { ...req, bundle: 'b2' }), 'kiln was rebuilt');
  assert.equal(requestMismatch(record(), { ...req, args: ['build', '-t', 'app', '..'] }), 'another command');
  assert.equal(requestMismatch(record(), { ...req, args: [...req.args, '--pull'] }), 'another command');
  assert.equal(requestMismatch(record(), { ...req, cwd: '/other' }), 'another command');
  assert.equal(requestMismatch(record(), { ...req, env: { V: '2' } }), '$V changed');
  assert.equal(requestMismatch(record(), { ...req, env: {} }), '$V changed', 'unset is not the value it had');
  assert.equal(requestMismatch(record(), { ...req, env: { V: '1', SOURCE_DATE_EPOCH: '0' } }), '$SOURCE_DATE_EPOCH changed');
});

test('the record file is named by directory and command line', () => {
  assert.equal(replayFile('/r', '/src', ['build', '.']), replayFile('/r', '/src', ['build', '.']));
  assert.notEqual(replayFile('/r', '/src', ['build', '.']), replayFile('/r', '/src2', ['build', '.']));
  assert.notEqual(replayFile('/r', '/src', ['build', '.']), replayFile('/r', '/src', ['build', '-q', '.']));
  assert.match(replayFile('/r', '/src', ['build', '.']), /^\/r\/build\/replay\/[0-9a-f]{8}\.json$/);
});

test('stamps: a write, a mode change, a removal or a creation is a change', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-stamps-'));
  try {
    const f = join(dir, 'f');
    const g = join(dir, 'g');
    writeFileSync(f, 'x');
    const stamps: FileStamp[] = [stampOf(f), stampOf(g)];
    assert.deepEqual(stampOf(g), [g, null]);
    assert.equal(changedStamp(stamps), null);
    // ctime moves with any write, even one that keeps size and mtime (the fake clock shows it)
    assert.equal(changedStamp(stamps, (p) => (p === f ? [f, ...(stamps[0]!.slice(1, 4) as [number, number, number]), 1, 0o644] : stampOf(p))), f);
    appendFileSync(f, 'y');
    assert.equal(changedStamp(stamps), f);
    const again: FileStamp[] = [stampOf(f), stampOf(g)];
    chmodSync(f, 0o600);
    assert.equal(changedStamp(again), f);
    const third: FileStamp[] = [stampOf(f), stampOf(g)];
    writeFileSync(g, 'new');
    assert.equal(changedStamp(third), g);
    rmSync(f);
    assert.equal(changedStamp([stampOf(g), third[0]!]), f);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('racy: a file changed within the margin before the build started is not trusted', () => {
  const s = (ctimeMs: number): FileStamp => ['/f', 1, 1, ctimeMs, ctimeMs, 0o644];
  assert.equal(racyStamps([s(1000), ['/g', null]], 5000), false);
  assert.equal(racyStamps([s(1000), s(4500)], 5000), true);
  assert.equal(racyStamps([s(6000)], 5000), true, 'changed after the start');
  assert.equal(racyStamps([['/g', null]], 5000), false);
});

test('the state directory is found as the CLI finds it', () => {
  assert.equal(stateRoot(['--root', '/a', 'build', '.'], {}), '/a');
  assert.equal(stateRoot(['--root=/b', '--debug', 'build', '.'], {}), '/b');
  assert.equal(stateRoot(['--debug', 'build', '--root', '/not-global', '.'], { KILN_ROOT: '/env' }), '/env', 'only before the command word');
  assert.equal(stateRoot(['build', '.'], {}), '/var/lib/kiln');
});
