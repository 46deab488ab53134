// `kiln attach` through conmon's SOCK_SEQPACKET attach socket, with real conmon and runc (root
// only): stdin reaches a `run -d -i` container and attach exits with its code; new output of a
// running container streams (stdout and stderr apart); the detach keys leave it running; a
// stopped container is refused.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { Kiln, kilnBin } from '../helpers/kiln.js';
import { hasRunc, isRoot } from '../unit/runtime/fixtures.js';

const skip = !isRoot || !hasRunc ? 'needs root, runc and conmon' : false;

describe('kiln attach (conmon attach socket)', { skip }, () => {
  let k: Kiln;

  before(() => {
    k = new Kiln();
    k.busybox();
  });

  after(() => k?.cleanup());

  test('stdin reaches a -d -i container; attach exits with its exit code', () => {
    const id = k.ok(['run', '-d', '-i', 'busybox', 'sh', '-c', 'read x; echo got:$x; exit 7']).stdout.trim();
    const r = k.run(['attach', id], { input: 'hello\n', timeout: 30_000 });
    assert.equal(r.stdout.trim(), 'got:hello', r.stderr);
    assert.equal(r.code, 7, r.stderr);
    assert.equal(k.ok(['inspect', '-f', '{{.State.ExitCode}}', id]).stdout.trim(), '7');
  });

  test('new output of a running container streams, stdout and stderr apart', async () => {
    const id = k.ok(['run', '-d', 'busybox', 'sh', '-c', 'i=0; while true; do i=$((i+1)); echo out$i; echo err$i >&2; sleep 0.1; done']).stdout.trim();
    const child = spawn(kilnBin, ['--root', k.root, 'attach', '--no-stdin', '--sig-proxy=false', id], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    const deadline = Date.now() + 10_000;
    while ((out.match(/out\d+\n/g) ?? []).length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    child.kill('SIGTERM'); // --sig-proxy=false: attach itself ends, the container does not
    await exited;
    const outs = (out.match(/out(\d+)\n/g) ?? []).map((l) => Number(l.slice(3)));
    assert.ok(outs.length >= 3, `stdout: ${JSON.stringify(out)} stderr: ${JSON.stringify(err)}`);
    for (let i = 1; i < outs.length; i++) assert.equal(outs[i], outs[i - 1]! + 1, out);
    assert.match(err, /err\d+\n/);
    assert.doesNotMatch(out, /err/);
    assert.equal(k.ok(['inspect', '-f', '{{.State.Status}}', id]).stdout.trim(), 'running');
    k.ok(['rm', '-f', id]);
  });

  test('ctrl-p ctrl-q detaches and leaves the container running', () => {
    const id = k.ok(['run', '-d', '-i', 'busybox', 'sh', '-c', 'while read x; do echo r:$x; done']).stdout.trim();
    const r = k.run(['attach', id], { input: '\x10\x11', timeout: 30_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(k.ok(['inspect', '-f', '{{.State.Status}}', id]).stdout.trim(), 'running');
    k.ok(['rm', '-f', id]);
  });

  test('a stopped container is refused', () => {
    const id = k.ok(['run', '-d', 'busybox', 'true']).stdout.trim();
    k.ok(['wait', id]);
    const r = k.run(['attach', id]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /cannot attach to a stopped container/);
  });
});
