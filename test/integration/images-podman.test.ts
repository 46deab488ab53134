// Interop with Podman, both ways (skipped where podman is missing): kiln's busybox, saved as a
// docker-archive and as an OCI archive, loads and runs in Podman (private storage in a temp dir);
// an image Podman builds FROM it, saved by Podman in both formats, loads into kiln with the same
// image ID and kiln builds FROM it, running a step on Podman's layer.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Kiln } from '../helpers/kiln.js';

const PODMAN = ['/usr/bin/podman', '/usr/local/bin/podman'].find((p) => fs.existsSync(p));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-podman-'));
const podmanConf = '/work/shared/peers/containers.conf';
let kiln: Kiln;

function podman(args: string[]) {
  const r = spawnSync(
    PODMAN!,
    // A private tmpdir too: podman's default (/run/libpod) is shared with every other podman here.
    ['--root', path.join(tmp, 'p-root'), '--runroot', path.join(tmp, 'p-run'), '--tmpdir', path.join(tmp, 'p-tmp'), '--storage-driver', 'overlay', '--cgroup-manager', 'cgroupfs', '--events-backend', 'none', ...args],
    { encoding: 'utf8', timeout: 120_000, env: { ...process.env, ...(fs.existsSync(podmanConf) ? { CONTAINERS_CONF: podmanConf } : {}) } },
  );
  assert.equal(r.status, 0, `podman ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}
const LIMITS = ['--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1024:1024'];

before(() => {
  if (!PODMAN) return;
  kiln = new Kiln(path.join(tmp, 'kiln'));
  kiln.busybox('127.0.0.1:5000/kiln/busybox:1');
});

after(() => {
  if (PODMAN) spawnSync(PODMAN, ['--root', path.join(tmp, 'p-root'), '--runroot', path.join(tmp, 'p-run'), '--storage-driver', 'overlay', 'system', 'reset', '-f'], { encoding: 'utf8' });
  kiln?.cleanup();
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('kiln → podman: both archive formats load and run', { skip: !PODMAN && 'podman not installed' }, () => {
  const id = kiln.ok(['inspect', '-f', '{{.Id}}', '127.0.0.1:5000/kiln/busybox:1']).stdout.trim();
  const dockerTar = path.join(tmp, 'bb-docker.tar');
  const ociTar = path.join(tmp, 'bb-oci.tar');
  kiln.ok(['save', '-o', dockerTar, '127.0.0.1:5000/kiln/busybox:1']);
  kiln.ok(['save', '--format', 'oci-archive', '-o', ociTar, '127.0.0.1:5000/kiln/busybox:1']);
  assert.match(podman(['load', '-i', dockerTar]), /Loaded image: 127\.0\.0\.1:5000\/kiln\/busybox:1/);
  assert.equal(podman(['image', 'inspect', '-f', '{{.Id}}', '127.0.0.1:5000/kiln/busybox:1']).trim(), id.slice(7));
  assert.equal(podman(['run', '--rm', '--network', 'none', ...LIMITS, '127.0.0.1:5000/kiln/busybox:1', 'echo', 'hello from kiln']), 'hello from kiln\n');
  podman(['rmi', '127.0.0.1:5000/kiln/busybox:1']);
  assert.match(podman(['load', '-i', ociTar]), /Loaded image: 127\.0\.0\.1:5000\/kiln\/busybox:1/);
  assert.equal(podman(['run', '--rm', '--network', 'none', ...LIMITS, '127.0.0.1:5000/kiln/busybox:1', 'sh', '-c', 'echo oci; ls /bin/busybox']), 'oci\n/bin/busybox\n');
});

test('podman → kiln: archives load with the same ID and kiln builds FROM them', { skip: !PODMAN && 'podman not installed' }, () => {
  const ctx = path.join(tmp, 'pctx');
  fs.mkdirSync(ctx, { recursive: true });
  fs.writeFileSync(path.join(ctx, 'Dockerfile'), 'FROM 127.0.0.1:5000/kiln/busybox:1\nRUN echo made-by-podman > /podman.txt\nCMD ["cat", "/podman.txt"]\n');
  podman(['build', '--network', 'none', ...LIMITS, '-t', 'localhost/pod/app:1', ctx]);
  const podId = podman(['image', 'inspect', '-f', '{{.Id}}', 'localhost/pod/app:1']).trim();
  const dockerTar = path.join(tmp, 'pod-docker.tar');
  const ociTar = path.join(tmp, 'pod-oci.tar');
  podman(['save', '-o', dockerTar, 'localhost/pod/app:1']);
  podman(['save', '--format', 'oci-archive', '-o', ociTar, 'localhost/pod/app:1']);
  for (const [file, root] of [
    [dockerTar, path.join(tmp, 'k-docker')],
    [ociTar, path.join(tmp, 'k-oci')],
  ] as const) {
    const k = new Kiln(root);
    try {
      assert.equal(k.ok(['load', '-i', file]).stdout, 'Loaded image: localhost/pod/app:1\n');
      assert.equal(k.ok(['inspect', '-f', '{{.Id}}', 'localhost/pod/app:1']).stdout.trim(), `sha256:${podId}`);
      const kctx = path.join(root + '-ctx');
      fs.mkdirSync(kctx, { recursive: true });
      fs.writeFileSync(path.join(kctx, 'Dockerfile'), 'FROM localhost/pod/app:1\nRUN cat /podman.txt > /kiln.txt && echo and-kiln >> /kiln.txt\n');
      k.ok(['build', '-q', '-t', 'kiln/on-podman', kctx]);
      const hist = k.ok(['history', '--format', '{{.CreatedBy}}', 'kiln/on-podman']).stdout;
      assert.match(hist.split('\n')[0]!, /RUN .*cat \/podman\.txt/);
      assert.match(hist, /echo made-by-podman/);
    } finally {
      k.cleanup();
      fs.rmSync(root + '-ctx', { recursive: true, force: true });
    }
  }
});
