// `run -t`/`-it` and `exec -t`/`-it`, with and without a terminal of our own: script(1) gives kiln
// a pseudo-terminal of a set size, as a user's shell would. The container's stdio is a terminal of
// that size, typed lines reach it, its exit code comes back and --rm removes it. Root, runc.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { Kiln, kilnBin } from '../helpers/kiln.js';
import { hasRunc, isRoot } from '../unit/runtime/fixtures.js';

const hasScript = spawnSync('sh', ['-c', 'command -v script']).status === 0;
const skip = !isRoot || !hasRunc ? 'needs root and runc' : !hasScript ? 'needs script(1)' : false;
const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

describe('run -it in a terminal', { skip }, () => {
  let k: Kiln;
  before(() => {
    k = new Kiln();
    k.busybox();
  });
  after(() => k?.cleanup());

  /** Runs `kiln ARGS` in a rows×cols terminal, typing `lines` one by one; stdin stays open until it ends. */
  const inTerminal = (args: string[], lines: string[] = []) => {
    const kiln = [kilnBin, '--root', k.root, ...args].map(q).join(' ');
    const typing = lines.map((l) => `sleep 0.5; printf '%s\\n' ${q(l)}; `).join('');
    const r = spawnSync('sh', ['-c', `(${typing}sleep 3) | script -qec ${q(`stty rows 30 cols 100; ${kiln}`)} /dev/null`], { encoding: 'utf8', timeout: 60_000 });
    return { code: r.status, out: r.stdout };
  };

  test('the container gets a terminal of our size; its exit code comes back', () => {
    const r = inTerminal(['run', '-it', '--rm', '--name', 'tty1', 'busybox', 'sh', '-c', 'stty size; tty; exit 3']);
    assert.equal(r.code, 3, r.out);
    // byte for byte: the container's terminal makes the \r\n, ours adds nothing (and is left as it was)
    assert.equal(r.out, '30 100\r\n/dev/pts/0\r\n');
    assert.equal(k.run(['inspect', 'tty1']).code, 1, '--rm removed it');
  });

  test('ctrl-p ctrl-q detaches from run -it and leaves the container running', () => {
    const r = inTerminal(['run', '-it', '--name', 'tty3', 'busybox', 'sh'], ['\x10\x11']);
    assert.equal(r.code, 0, r.out);
    assert.equal(k.ok(['inspect', '-f', '{{.State.Status}}', 'tty3']).stdout.trim(), 'running');
    k.ok(['rm', '-f', 'tty3']);
  });

  test('our terminal is left as it was', () => {
    const kiln = [kilnBin, '--root', k.root, 'run', '-it', '--rm', 'busybox', 'true'].map(q).join(' ');
    const r = spawnSync('sh', ['-c', `(sleep 2) | script -qec ${q(`stty -g; ${kiln}; stty -g`)} /dev/null`], { encoding: 'utf8', timeout: 60_000 });
    const [before, after] = r.stdout.split(/\r?\n/).filter(Boolean);
    assert.ok(before && before === after, r.stdout);
  });

  test('start -a of a -t container attaches to its terminal', () => {
    k.ok(['create', '-t', '--name', 'tty2', 'busybox', 'sh', '-c', 'tty; exit 4']);
    const r = k.run(['start', '-a', 'tty2']);
    assert.equal(r.code, 4, r.stderr);
    assert.equal(r.stdout, '/dev/pts/0\r\n');
    k.ok(['rm', 'tty2']);
  });

  test('typed lines reach an interactive shell', () => {
    const r = inTerminal(['run', '-it', '--rm', 'busybox', 'sh'], ['echo typed-$((6*7))', 'exit 5']);
    assert.equal(r.code, 5, r.out);
    assert.match(r.out, /^typed-42$/m);
  });

  test('exec -t: a terminal with or without ours; typed input, size, exit code; a background process does not hold it up', () => {
    k.ok(['run', '-d', '--name', 'ex1', 'busybox', 'sleep', '300']);
    const t = k.run(['exec', '-t', 'ex1', 'sh', '-c', 'tty; exit 6']);
    assert.equal(t.code, 6, t.stderr);
    assert.match(t.stdout, /^\/dev\/pts\/\d+\r\n$/);
    const r = inTerminal(['exec', '-it', 'ex1', 'sh'], ['stty size', 'echo typed-$((6*7))', 'exit 2']);
    assert.equal(r.code, 2, r.out);
    assert.match(r.out, /^30 100\r$/m);
    assert.match(r.out, /^typed-42\r$/m);
    const bg = k.run(['exec', '-t', 'ex1', 'sh', '-c', 'sleep 300 & echo started'], { timeout: 20_000 });
    assert.equal(bg.code, 0, bg.stderr);
    assert.equal(bg.stdout, 'started\r\n');
    assert.equal(k.run(['exec', '-t', 'ex1', 'nosuch']).code, 127);
    k.ok(['rm', '-f', 'ex1']);
  });

  test('-t without a terminal on stdin still gives the container one; -it refuses', () => {
    const t = k.run(['run', '-t', '--rm', 'busybox', 'tty']);
    assert.equal(t.code, 0, t.stderr);
    assert.equal(t.stdout, '/dev/pts/0\r\n');
    const it = k.run(['run', '-it', '--rm', 'busybox', 'true'], { input: '' });
    assert.equal(it.code, 1);
    assert.match(it.stderr, /the input device is not a TTY/);
  });
});
