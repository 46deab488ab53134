// `kiln commit` and the Buildah-style imperative builder, through the CLI: the new layer holds
// exactly the container's changes (files added, files deleted as whiteouts), the config carries
// --change and `builder config`, and nothing of the runtime's mount points leaks into the layer.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, writeFileSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { Kiln } from '../helpers/kiln.js';

/** Entries of the image's top layer, from `kiln save` (docker-archive). */
function topLayerEntries(k: Kiln, image: string): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-save-'));
  try {
    k.ok(['save', '-o', join(dir, 'img.tar'), image]);
    spawnSync('tar', ['-xf', join(dir, 'img.tar'), '-C', dir]);
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { Layers: string[] }[];
    const top = manifest[0]!.Layers.at(-1)!;
    return spawnSync('tar', ['-tf', join(dir, top)], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean).map((s) => s.replace(/^\.\//, '').replace(/\/$/, '')).sort();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('commit and the imperative builder', () => {
  const k = new Kiln();
  before(() => k.busybox());
  after(() => k.cleanup());

  it('kiln commit: the new layer is exactly the container changes, with --change and -m', () => {
    k.ok(['run', '--name', 'c1', '--network', 'none', 'busybox', 'sh', '-c', 'mkdir /data && echo hi > /data/hello && rm /bin/vi']);
    const id = k.ok(['commit', '-c', 'CMD ["cat", "/data/hello"]', '-c', 'ENV MODE=committed', '-m', 'snapshot', 'c1', 'snap:1']).stdout.trim();
    assert.match(id, /^sha256:[0-9a-f]{64}$/);
    assert.deepEqual(topLayerEntries(k, 'snap:1'), ['bin', 'bin/.wh.vi', 'data', 'data/hello']);
    assert.equal(k.ok(['run', '--rm', '--network', 'none', 'snap:1']).stdout, 'hi\n');
    assert.equal(k.ok(['run', '--rm', '--network', 'none', 'snap:1', 'sh', '-c', 'echo $MODE; test -e /bin/vi || echo gone']).stdout, 'committed\ngone\n');
    const inspect = JSON.parse(k.ok(['image', 'inspect', 'snap:1']).stdout)[0];
    assert.equal(inspect.Comment, 'snapshot');
    k.ok(['rm', 'c1']);
  });

  it('a bad --change is refused and leaves no image', () => {
    k.ok(['create', '--name', 'c2', 'busybox']);
    const r = k.run(['commit', '-c', 'RUN echo no', 'c2', 'bad:1']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /RUN is not a valid change command/);
    assert.notEqual(k.run(['image', 'inspect', 'bad:1']).code, 0);
    k.ok(['rm', 'c2']);
  });

  it('builder from / run / copy / config / commit, step for step like Buildah', () => {
    const host = mkdtempSync(join(tmpdir(), 'kiln-host-'));
    writeFileSync(join(host, 'app.txt'), 'from the host\n');
    const w = k.ok(['builder', 'from', 'busybox']).stdout.trim();
    assert.equal(w, 'busybox-working-container');
    k.ok(['builder', 'run', '--network', 'none', w, '--', 'sh', '-c', 'mkdir -p /srv && echo built > /srv/built']);
    k.ok(['builder', 'copy', w, join(host, 'app.txt'), '/srv/']);
    // -t without a terminal of ours (a pipe here): the process still gets one, its output comes back
    const t = k.run(['builder', 'run', '-t', '--network', 'none', w, '--', 'sh', '-c', 'tty; echo to-err >&2; exit 4']);
    assert.equal(t.code, 4, t.stderr);
    assert.match(t.stdout, /^\/dev\/pts\/\d+\r\nto-err\r\n$/);
    k.ok(['builder', 'config', '--cmd', '["cat", "/srv/built", "/srv/app.txt"]', '--env', 'TIER=web', '--workingdir', '/srv', '--label', 'team=kiln', w]);
    assert.match(k.ok(['builder', 'ls']).stdout, /busybox-working-container/);
    k.ok(['builder', 'commit', w, 'imperative:1']);
    assert.equal(k.ok(['run', '--rm', '--network', 'none', 'imperative:1']).stdout, 'built\nfrom the host\n');
    assert.equal(k.ok(['run', '--rm', '--network', 'none', 'imperative:1', 'sh', '-c', 'echo $TIER; pwd']).stdout, 'web\n/srv\n');
    assert.deepEqual(topLayerEntries(k, 'imperative:1'), ['srv', 'srv/app.txt', 'srv/built']);
    k.ok(['builder', 'rm', w]);
    assert.doesNotMatch(k.ok(['builder', 'ls']).stdout, /working-container/);
    rmSync(host, { recursive: true, force: true });
  });

  it('builder mount / umount: edit the root filesystem from the host, then commit', () => {
    const w = k.ok(['builder', 'from', '--name', 'mnt', 'busybox']).stdout.trim();
    const path = k.ok(['builder', 'mount', w]).stdout.trim();
    assert.ok(existsSync(join(path, 'bin', 'busybox')), `the image's files are at ${path}`);
    assert.ok(readFileSync('/proc/self/mountinfo', 'utf8').includes(` ${path} `), 'mounted after kiln exited');
    writeFileSync(join(path, 'from-host.txt'), 'written on the host\n');
    assert.equal(k.ok(['builder', 'mount']).stdout, `mnt ${path}\n`);
    // run and commit use the mounted filesystem as it is.
    assert.equal(k.ok(['builder', 'run', '--network', 'none', w, '--', 'cat', '/from-host.txt']).stdout, 'written on the host\n');
    k.ok(['builder', 'commit', w, 'mounted:1']);
    assert.deepEqual(topLayerEntries(k, 'mounted:1'), ['from-host.txt']);
    k.ok(['builder', 'umount', w]);
    assert.ok(!readFileSync('/proc/self/mountinfo', 'utf8').includes(` ${path} `));
    assert.equal(k.ok(['builder', 'mount']).stdout, '');
    assert.equal(k.ok(['run', '--rm', '--network', 'none', 'mounted:1', 'cat', '/from-host.txt']).stdout, 'written on the host\n');
    // rm of a mounted working container unmounts it.
    const again = k.ok(['builder', 'mount', w]).stdout.trim();
    k.ok(['builder', 'rm', w]);
    assert.ok(!readFileSync('/proc/self/mountinfo', 'utf8').includes(` ${again} `));
    assert.match(k.run(['builder', 'umount']).stderr, /at least one container name or --all/);
  });
});
