// The build cache across machines, through a real registry: one state directory builds with
// `--cache-to type=inline` and pushes; a fresh one builds `--cache-from` that image and re-runs
// nothing whose inputs are unchanged (the RUN's random output is the first build's), then re-runs
// exactly the steps after a changed file. Root, overlayfs, runc, docker-registry.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Kiln, makeContext } from '../helpers/kiln.js';
import { missingRegistryTools, startRegistry, type TestRegistry } from '../helpers/registry.js';
import { hasRunc, isRoot } from '../unit/runtime/fixtures.js';

const skip = !isRoot || !hasRunc ? 'needs root and runc' : missingRegistryTools();

describe('build --cache-to type=inline / --cache-from (CLI, registry)', { skip }, () => {
  let reg: TestRegistry;
  let a: Kiln;
  let b: Kiln;
  let ctx: string;
  before(async () => {
    reg = await startRegistry();
    a = new Kiln();
    b = new Kiln();
    a.busybox();
    // Both builders must start from the same base image: it comes from the registry.
    a.ok(['tag', 'busybox', `${reg.host}/ic/busybox`]);
    a.ok(['push', '-q', `${reg.host}/ic/busybox`]);
    ctx = makeContext({
      'Dockerfile': `FROM ${reg.host}/ic/busybox\nCOPY a.txt /a.txt\nRUN cat /proc/sys/kernel/random/uuid > /stamp\nWORKDIR /tmp\nENV X=1\nRUN echo more > /more\n`,
      'a.txt': 'one\n',
    });
  });
  after(async () => {
    a?.cleanup();
    b?.cleanup();
    await reg?.stop();
  });

  test('a fresh store reuses every step from the pushed image; a changed file re-runs from its COPY on', () => {
    a.ok(['build', '-q', '--cache-to', 'type=inline', '-t', `${reg.host}/ic/app:1`, ctx]);
    a.ok(['push', '-q', `${reg.host}/ic/app:1`]);
    const stamp = a.ok(['run', '--rm', '--network', 'none', `${reg.host}/ic/app:1`, 'cat', '/stamp']).stdout;

    const out = b.ok(['build', '--progress', 'plain', '--cache-from', `type=registry,ref=${reg.host}/ic/app:1`, '-t', 'app', ctx]).stdout;
    assert.doesNotMatch(out, /Running in/, out);
    assert.equal(out.match(/---> Using cache/g)?.length, 4, 'COPY, RUN, WORKDIR, RUN');
    assert.equal(b.ok(['run', '--rm', '--network', 'none', 'app', 'cat', '/stamp', '/more']).stdout, `${stamp}more\n`);

    writeFileSync(join(ctx, 'a.txt'), 'two\n');
    const changed = b.ok(['build', '--progress', 'plain', '--cache-from', `${reg.host}/ic/app:1`, '-t', 'app', ctx]).stdout;
    assert.equal(changed.match(/Running in/g)?.length, 2, 'both RUN steps after the changed COPY ran');
    assert.notEqual(b.ok(['run', '--rm', '--network', 'none', 'app', 'cat', '/stamp']).stdout, stamp);
  });

  test('an image without an inline cache or one that cannot be had is a warning; other cache exporters are refused', () => {
    const r = b.run(['build', '--progress', 'plain', '--cache-from', `${reg.host}/ic/nothing:here`, ctx]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout + r.stderr, /importing cache from .*ic\/nothing:here/);
    const bad = b.run(['build', '--cache-to', 'type=registry,ref=x', ctx]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /only type=inline is supported/);
  });
  test('build --push: every -t name is pushed after the build; --metadata-file names the config and the pushed manifest', () => {
    const meta = join(ctx, '..', `meta-${process.pid}.json`);
    const ref1 = `${reg.host}/ic/pushed:1`;
    const ref2 = `${reg.host}/ic/pushed:latest`;
    a.ok(['build', '-q', '--push', '--provenance=false', '--metadata-file', meta, '-t', ref1, '-t', ref2, ctx]);
    const m = JSON.parse(readFileSync(meta, 'utf8')) as Record<string, string>;
    const id = a.ok(['image', 'inspect', '--format', '{{.Id}}', ref1]).stdout.trim();
    assert.equal(m['containerimage.config.digest'], id);
    assert.equal(m['image.name'], `${ref1},${ref2}`);
    assert.match(m['containerimage.digest']!, /^sha256:[0-9a-f]{64}$/);
    // What the registry has is that image: a fresh store pulls it by the pushed digest.
    b.ok(['pull', '-q', `${reg.host}/ic/pushed@${m['containerimage.digest']}`]);
    assert.equal(b.ok(['image', 'inspect', '--format', '{{.Id}}', `${reg.host}/ic/pushed@${m['containerimage.digest']}`]).stdout.trim(), id);
    b.ok(['pull', '-q', ref2]);
    assert.match(a.run(['build', '--push', ctx]).stderr, /tag is needed when pushing to registry/);
    assert.match(a.run(['build', '--provenance=true', ctx]).stderr, /kiln makes no attestations/);
  });
  test('-o type=registry,name=REF builds, tags and pushes (BuildKit\'s image exporter); type=image,name=REF only tags', () => {
    const ref = `${reg.host}/ic/exported:1`;
    const id = a.ok(['build', '-q', '-o', `type=registry,name=${ref}`, ctx]).stdout.trim();
    assert.equal(a.ok(['image', 'inspect', '--format', '{{.Id}}', ref]).stdout.trim(), id);
    b.ok(['pull', '-q', ref]);
    assert.equal(b.ok(['image', 'inspect', '--format', '{{.Id}}', ref]).stdout.trim(), id);
    a.ok(['build', '-q', '-o', 'type=image,name=local-only:2', ctx]);
    assert.equal(a.ok(['image', 'inspect', '--format', '{{.Id}}', 'local-only:2']).stdout.trim(), id);
    assert.match(a.run(['build', '-o', 'type=registry', ctx]).stderr, /name= is needed to push/);
  });
});
