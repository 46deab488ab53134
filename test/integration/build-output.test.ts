// `kiln build -o`: the final stage's filesystem written out as files or a tar (BuildKit's local
// and tar exporters), with lower layers' deletions applied. Root, overlayfs and runc.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { Kiln, kilnBin, makeContext } from '../helpers/kiln.js';
import { hasRunc, isRoot } from '../unit/runtime/fixtures.js';

const skip = !isRoot || !hasRunc ? 'needs root and runc' : false;

describe('build --output (CLI)', { skip }, () => {
  let k: Kiln;
  let ctx: string;
  before(() => {
    k = new Kiln();
    k.busybox();
    ctx = makeContext({
      'Dockerfile': 'FROM busybox AS b\nRUN mkdir /out && echo artifact > /out/a.txt && rm /bin/ls\nFROM scratch\nCOPY --from=b /out/ /\n',
      'Dockerfile.rootfs': 'FROM busybox\nRUN rm /bin/ls && echo x > /x\n',
    });
  });
  after(() => k.cleanup());

  test('-o DIR writes the files of the final stage', () => {
    const dest = join(ctx, 'out');
    k.ok(['build', '-q', '-o', dest, ctx]);
    assert.deepEqual(readdirSync(dest), ['a.txt']);
    assert.equal(readFileSync(join(dest, 'a.txt'), 'utf8'), 'artifact\n');
  });

  test('type=local applies the whiteouts of every layer', () => {
    const dest = join(ctx, 'rootfs');
    k.ok(['build', '-q', '-f', join(ctx, 'Dockerfile.rootfs'), '--output', `type=local,dest=${dest}`, ctx]);
    assert.equal(existsSync(join(dest, 'bin', 'ls')), false, 'deleted in the RUN layer');
    assert.equal(existsSync(join(dest, 'bin', 'cat')), true);
    assert.equal(readFileSync(join(dest, 'x'), 'utf8'), 'x\n');
  });

  test('type=tar writes a tar file; -o - streams it on stdout with progress on stderr', () => {
    const tarFile = join(ctx, 'o.tar');
    k.ok(['build', '-q', '-o', `type=tar,dest=${tarFile}`, ctx]);
    const list = (input: Buffer | string) =>
      spawnSync('tar', ['-tf', typeof input === 'string' ? input : '-'], { input: typeof input === 'string' ? undefined : input, encoding: 'utf8' })
        .stdout.split('\n').filter(Boolean).sort();
    assert.deepEqual(list(tarFile), ['./', './a.txt']);
    const r = spawnSync(kilnBin, ['--root', k.root, 'build', '--progress', 'plain', '-o', '-', ctx], { maxBuffer: 1 << 26 });
    assert.equal(r.status, 0, r.stderr.toString());
    assert.deepEqual(list(r.stdout), ['./', './a.txt']);
    assert.match(r.stderr.toString(), /Step 1\/4 : FROM busybox AS b/);
  });

  test('type=docker and type=oci write the image as an archive: -t names it (name= overrides), skopeo reads it, kiln loads it back', () => {
    const docker = join(ctx, 'img-docker.tar');
    const oci = join(ctx, 'img-oci.tar');
    const id = k.ok(['build', '-q', '-f', join(ctx, 'Dockerfile.rootfs'), '-t', 'exported:1', '-o', `type=docker,dest=${docker}`, ctx]).stdout.trim();
    k.ok(['build', '-q', '-f', join(ctx, 'Dockerfile.rootfs'), '-t', 'exported:1', '-o', `type=oci,dest=${oci},name=other/name:2`, ctx]);
    const manifest = JSON.parse(spawnSync('tar', ['-xOf', docker, 'manifest.json'], { encoding: 'utf8' }).stdout) as { Config: string; RepoTags: string[] }[];
    assert.deepEqual(manifest.map((m) => m.RepoTags), [['docker.io/library/exported:1']]); // as `save` writes them
    const index = JSON.parse(spawnSync('tar', ['-xOf', oci, 'index.json'], { encoding: 'utf8' }).stdout) as { manifests: { annotations?: Record<string, string> }[] };
    assert.equal(index.manifests[0]!.annotations?.['io.containerd.image.name'], 'docker.io/other/name:2');
    // The config skopeo reads from each archive is the built image's, byte for byte.
    for (const ref of [`docker-archive:${docker}`, `oci-archive:${oci}`]) {
      const r = spawnSync('skopeo', ['inspect', '--raw', '--config', ref]);
      assert.equal(r.status, 0, r.stderr.toString());
      assert.equal(`sha256:${createHash('sha256').update(r.stdout).digest('hex')}`, id);
    }
    k.ok(['rmi', 'exported:1']);
    assert.match(k.ok(['load', '-i', docker]).stdout, /Loaded image: exported:1/);
    assert.equal(k.ok(['image', 'inspect', '--format', '{{.Id}}', 'exported:1']).stdout.trim(), id);
  });

  test('an unsupported exporter is refused before anything is built', () => {
    const r = k.run(['build', '-o', 'type=bogus,dest=x', ctx]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /output type "bogus" is not supported/);
  });
});
