// `kiln build` end to end through the CLI: real overlayfs, real runc. Each assertion looks at what
// a user would: files inside the built image, exit codes, output lines, image IDs.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, appendFileSync, readFileSync, statSync } from 'node:fs';
import { chainIds } from '../../src/image/digest.js';
import type { Digest } from '../../src/image/types.js';
import { packLayer } from '../../src/layers/pack.js';
import { RACY_MS } from '../../src/build/context.js';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { Kiln, kilnBin, makeContext } from '../helpers/kiln.js';

const context = makeContext;

/** Runs `cmd` in a throwaway container of `image` and returns its stdout. */
function inImage(k: Kiln, image: string, script: string): string {
  return k.ok(['run', '--rm', '--network', 'none', image, 'sh', '-c', script]).stdout;
}

describe('kiln build', () => {
  const k = new Kiln();
  const dirs: string[] = [];
  before(() => k.busybox());
  after(() => {
    k.cleanup();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('builds the example app, caches every step on rebuild, keeps the image ID', () => {
    const ctx = context({
      Dockerfile: 'FROM busybox\nWORKDIR /app\nCOPY . .\nRUN echo built > /app/out.txt && cat /app/hello.txt\nENV GREETING=hi\nCMD ["cat", "/app/out.txt"]\n',
      'hello.txt': 'hello from the context\n',
      '.dockerignore': 'secret.txt\n',
      'secret.txt': 'must not be copied\n',
    });
    dirs.push(ctx);
    const first = k.ok(['build', '--progress', 'plain', '-t', 'app', ctx]);
    assert.match(first.stdout, /Step 1\/6 : FROM busybox/);
    assert.match(first.stdout, /Step 4\/6 : RUN echo built/);
    assert.match(first.stdout, /hello from the context/);
    assert.match(first.stdout, /Successfully tagged app:latest/);
    const id1 = /Successfully built ([0-9a-f]{12})/.exec(first.stdout)![1];

    const second = k.ok(['build', '--progress', 'plain', '-t', 'app', ctx]);
    assert.equal((second.stdout.match(/---> Using cache/g) ?? []).length, 5, second.stdout);
    assert.doesNotMatch(second.stdout, /Running in/);
    assert.equal(/Successfully built ([0-9a-f]{12})/.exec(second.stdout)![1], id1);

    assert.equal(k.ok(['run', '--rm', '--network', 'none', 'app']).stdout, 'built\n');
    assert.equal(inImage(k, 'app', 'ls -A /app | sort | tr "\\n" " "'), '.dockerignore Dockerfile hello.txt out.txt ');
    assert.equal(inImage(k, 'app', 'echo $GREETING; pwd'), 'hi\n/app\n');
  });

  it('a changed COPY source re-runs that step and every later one, not the earlier ones', () => {
    const ctx = context({
      Dockerfile: 'FROM busybox\nRUN echo one > /one\nCOPY a.txt /a.txt\nRUN cat /a.txt > /b.txt\n',
      'a.txt': 'v1\n',
    });
    dirs.push(ctx);
    k.ok(['build', '-t', 'chain', ctx]);
    appendFileSync(join(ctx, 'a.txt'), 'v2\n');
    const r = k.ok(['build', '--progress', 'plain', '--explain-cache', '-t', 'chain', ctx]);
    const steps = r.stdout.split(/^Step /m).slice(1);
    assert.match(steps[1]!, /Using cache/, 'RUN before the COPY stays cached');
    assert.doesNotMatch(steps[2]!, /Using cache/);
    assert.match(steps[2]!, /changed a\.txt/, 'explain names the changed file');
    assert.doesNotMatch(steps[3]!, /Using cache/);
    assert.equal(inImage(k, 'chain', 'cat /b.txt'), 'v1\nv2\n');
  });

  it('a failing RUN stops the build with file, line, exit code, and tags nothing', () => {
    const ctx = context({ Dockerfile: 'FROM busybox\n\nRUN echo about to fail && exit 3\nRUN echo never\n' });
    dirs.push(ctx);
    const r = k.run(['build', '--progress', 'plain', '-t', 'broken', ctx]);
    assert.equal(r.code, 1, 'docker build exits 1 whatever the step returned');
    assert.match(r.stderr, /> about to fail/, 'the last lines of the step are repeated with the error');
    assert.match(r.stderr, /Dockerfile:3/);
    assert.match(r.stderr, /did not complete successfully: exit code: 3/);
    assert.doesNotMatch(r.stdout, /echo never/);
    assert.notEqual(k.run(['image', 'inspect', 'broken']).code, 0);
  });

  it('a syntax error names file, line and instruction', () => {
    const ctx = context({ Dockerfile: 'FROM busybox\nCOPY onlyone\n' });
    dirs.push(ctx);
    const r = k.run(['build', ctx]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Dockerfile:2/);
    assert.match(r.stderr, /COPY requires at least two arguments/);
  });

  it('multi-stage with --target builds only the needed stages; COPY --from keeps files', () => {
    const ctx = context({
      Dockerfile: [
        'FROM busybox AS builder',
        'RUN mkdir -p /out && echo artifact > /out/a',
        'FROM busybox AS unused',
        'RUN exit 1',
        'FROM busybox AS final',
        'ARG NAME=default',
        'COPY --from=builder /out/a /a',
        'RUN echo "$NAME" > /name',
        'FROM final AS after',
        'RUN exit 1',
      ].join('\n'),
    });
    dirs.push(ctx);
    k.ok(['build', '--target', 'final', '--build-arg', 'NAME=given', '-t', 'ms', ctx]);
    assert.equal(inImage(k, 'ms', 'cat /a /name'), 'artifact\ngiven\n');
  });

  it('RUN sees its own PID namespace, hostname and no extra capabilities; files it deletes are whited out', () => {
    const ctx = context({
      Dockerfile: 'FROM busybox\nRUN echo $$ > /pid && rm /bin/vi && mkdir -p /d && touch /d/x\nRUN rm -rf /d && mkdir /d && touch /d/y\n',
    });
    dirs.push(ctx);
    k.ok(['build', '-t', 'iso', ctx]);
    assert.equal(inImage(k, 'iso', 'cat /pid'), '1\n');
    assert.equal(inImage(k, 'iso', 'ls /bin/vi 2>&1 >/dev/null; ls /d'), 'ls: /bin/vi: No such file or directory\ny\n');
  });

  it('SOURCE_DATE_EPOCH with --no-cache gives the same image ID twice', () => {
    const ctx = context({ Dockerfile: 'FROM busybox\nCOPY f /f\nRUN echo x > /x\n', f: 'data\n' });
    dirs.push(ctx);
    const env = { SOURCE_DATE_EPOCH: '1700000000' };
    const a = k.ok(['build', '-q', '--no-cache', ctx], { env }).stdout.trim();
    const b = k.ok(['build', '-q', '--no-cache', ctx], { env }).stdout.trim();
    assert.match(a, /^sha256:[0-9a-f]{64}$/);
    assert.equal(a, b);
  });

  it('COPY and WORKDIR layers (written without an overlay) are byte for byte what they were when written through one', () => {
    const ctx = context({
      Dockerfile: [
        'FROM busybox',
        'RUN mkdir -p /srv/real/sub && ln -s /srv/real /srv/link && echo old > /srv/real/existing && chmod 750 /srv/real && chown 5:6 /srv/real/sub',
        'COPY files/ /srv/link/app/', // through a symlink of a lower layer: /srv/real is copied up as it was
        'COPY one.txt /srv/real/existing', // onto a file of a lower layer
        'COPY one.txt /srv/real/sub/', // into a lower directory with its own owner
        'COPY --chown=1:2 --chmod=600 files/ /srv/new/',
        'WORKDIR /srv/real/work',
      ].join('\n') + '\n',
      'files/a.txt': 'a\n',
      'files/d/b.txt': 'b\n',
      'one.txt': '1\n',
    });
    dirs.push(ctx);
    spawnSync('sh', ['-c', 'chmod 644 files/a.txt files/d/b.txt one.txt && chmod 755 files files/d'], { cwd: ctx });
    k.ok(['build', '-q', '--no-cache', '-t', 'copylayers', ctx], { env: { SOURCE_DATE_EPOCH: '1' } });
    const layers = JSON.parse(k.ok(['inspect', '--format', '{{json .RootFS.Layers}}', 'copylayers']).stdout) as string[];
    // Computed by the overlay route (kiln before COPY wrote upper dirs itself).
    assert.deepEqual(layers.slice(2), [
      'sha256:fc6b811ef8a587e9a50dd21a52810a62df520da71245544a273053e6f3cc59dc',
      'sha256:6908c03648ba88cc064f44f3d25c81dfe4049374430e86178cee49cf1af04114',
      'sha256:1b1ee11a5145d373a9fc93e42adc3276e1564644b9cabe5fc2fd144406293a37',
      'sha256:81ae5bba3609fb89b1a6dca272c08221184ebd83741c07db1e935e2726aa0333',
      'sha256:37dec393fe4715e0fba73a7830a66e81f776f857359c28cebdca08a6d53206f0',
    ]);
    assert.equal(inImage(k, 'copylayers', 'cat /srv/link/app/a.txt /srv/real/app/d/b.txt /srv/real/existing /srv/real/sub/one.txt; pwd'), 'a\nb\n1\n1\n/srv/real/work\n');
  });

  it('a rebuild hard-links what an earlier COPY made from unchanged files at the same path; the layers stay what they would be', async () => {
    const ctx = context({
      Dockerfile: 'FROM busybox\nCOPY files/ /files/\nCOPY files/a.txt /elsewhere/a.txt\nCOPY --chmod=600 files/ /private/\n',
      'files/a.txt': 'a\n',
      'files/b.txt': 'b\n',
    });
    dirs.push(ctx);
    const layerDirs = (image: string) => {
      const diffIds = JSON.parse(k.ok(['inspect', '--format', '{{json .RootFS.Layers}}', image]).stdout) as Digest[];
      return chainIds(diffIds).map((c) => join(k.root, 'layers', c.slice('sha256:'.length), 'diff'));
    };
    const ino = (dir: string, p: string) => statSync(join(dir, p)).ino;
    // Files written just before a build are not remembered (their stat could survive one more
    // write: context.ts RACY_MS): let the clock move past them first, as it has in real use.
    await new Promise((r) => setTimeout(r, 4 * RACY_MS));
    k.ok(['build', '-q', '-t', 'reuse1', ctx]);
    appendFileSync(join(ctx, 'files/b.txt'), 'changed\n');
    k.ok(['build', '-q', '-t', 'reuse2', ctx]);
    const [one, two] = [layerDirs('reuse1'), layerDirs('reuse2')];
    // Unchanged: the same file, in every COPY of it (each at its own path); changed: a new one.
    assert.equal(ino(two[1]!, 'files/a.txt'), ino(one[1]!, 'files/a.txt'));
    assert.ok(statSync(join(two[1]!, 'files/a.txt')).nlink >= 2);
    assert.notEqual(ino(two[1]!, 'files/b.txt'), ino(one[1]!, 'files/b.txt'));
    assert.equal(readFileSync(join(two[1]!, 'files/b.txt'), 'utf8'), 'b\nchanged\n');
    assert.equal(ino(two[2]!, 'elsewhere/a.txt'), ino(one[2]!, 'elsewhere/a.txt'));
    assert.notEqual(ino(two[2]!, 'elsewhere/a.txt'), ino(two[1]!, 'files/a.txt'));
    assert.equal(ino(two[3]!, 'private/a.txt'), ino(one[3]!, 'private/a.txt'));
    assert.equal(statSync(join(two[3]!, 'private/a.txt')).mode & 0o777, 0o600);
    assert.notEqual(ino(two[3]!, 'private/a.txt'), ino(two[1]!, 'files/a.txt'));
    // A layer that shares files packs to its diffID like any other.
    const diffIds = JSON.parse(k.ok(['inspect', '--format', '{{json .RootFS.Layers}}', 'reuse2']).stdout) as Digest[];
    for (let i = 1; i < 4; i++) assert.equal((await packLayer(two[i]!, null)).diffId, diffIds[i]);
    // --no-cache takes nothing from earlier builds (its layer may still turn out to be reuse2's,
    // made within the same second: then the new one was thrown away).
    const links = statSync(join(two[1]!, 'files/a.txt')).nlink;
    k.ok(['build', '-q', '--no-cache', '-t', 'reuse3', ctx]);
    assert.equal(statSync(join(two[1]!, 'files/a.txt')).nlink, links);
    assert.equal(inImage(k, 'reuse2', 'cat /files/a.txt /files/b.txt /elsewhere/a.txt'), 'a\nb\nchanged\na\n');
  });

  it('ADD of several local files copies the plain ones and unpacks only archives', () => {
    const ctx = context({ Dockerfile: 'FROM busybox\nADD a.txt b.txt /d/\nADD a.txt t.tar /e/\n', 'a.txt': 'a\n', 'b.txt': 'b\n', 'in/x': 'x\n' });
    dirs.push(ctx);
    spawnSync('tar', ['-cf', 't.tar', '-C', 'in', 'x'], { cwd: ctx });
    k.ok(['build', '-q', '-t', 'addplain', ctx]);
    assert.equal(inImage(k, 'addplain', 'cat /d/a.txt /d/b.txt /e/a.txt /e/x; ls /e'), 'a\nb\na\nx\na.txt\nx\n');
  });

  it('kiln dockerfile parse explains stages, the target and line numbers without building', () => {
    const ctx = context({ Dockerfile: 'ARG V=1\nFROM busybox AS a\nRUN echo $V\nFROM scratch AS b\nCOPY --from=a /x /x\nFROM busybox\n' });
    dirs.push(ctx);
    const r = k.ok(['dockerfile', 'parse', '--target', 'b', join(ctx, 'Dockerfile')]);
    assert.match(r.stdout, /target b; building a -> b/);
    assert.match(r.stdout, /^\s+5\s+COPY --from=a \/x \/x\s+<- stage a$/m);
    assert.match(r.stdout, /stage 2 stage-2: from image busybox\s+\[not needed for the target\]/);
    const json = JSON.parse(k.ok(['dockerfile', 'parse', '--format', 'json', join(ctx, 'Dockerfile')]).stdout);
    assert.equal(json.allStages.length, 3);
    assert.deepEqual(json.stages.map((s: { index: number }) => s.index), [2], 'the last stage needs no other');
  });

  it('a RUN step appears in `kiln ps` while it runs, and is gone afterwards', async () => {
    const ctx = context({ Dockerfile: 'FROM busybox\nRUN sleep 2\n' });
    dirs.push(ctx);
    const child = k.spawn(['build', '--no-cache', '-q', ctx]);
    const done = new Promise<number>((r) => child.on('close', (code) => r(code ?? -1)));
    let seen = '';
    for (let i = 0; i < 40 && !seen; i++) {
      await new Promise((r) => setTimeout(r, 100));
      seen = k.ok(['ps', '--format', '{{.Names}} {{.Command}}']).stdout.split('\n').find((l) => l.startsWith('kiln-build-')) ?? '';
    }
    assert.match(seen, /^kiln-build-[0-9a-f]{12} .*sleep 2/);
    assert.equal(await done, 0);
    assert.doesNotMatch(k.ok(['ps', '-a']).stdout, /kiln-build-/);
  });

  it('`kiln build -` reads a Dockerfile, or a compressed context tar, from stdin', () => {
    k.ok(['build', '-q', '-t', 'fromstdin', '-'], { input: 'FROM busybox\nRUN echo no-context > /s\n' });
    assert.equal(inImage(k, 'fromstdin', 'cat /s'), 'no-context\n');
    const ctx = context({ Dockerfile: 'FROM busybox\nCOPY p.txt /p.txt\n', 'p.txt': 'from the tar\n' });
    dirs.push(ctx);
    const tgz = spawnSync('tar', ['-czf', '-', '-C', ctx, '.']).stdout;
    // Binary stdin: spawn directly (the helper passes text).
    const built = spawnSync(kilnBin, ['--root', k.root, 'build', '-q', '-t', 'fromtar', '-'], { input: tgz, encoding: 'utf8' });
    assert.equal(built.status, 0, built.stderr);
    assert.equal(inImage(k, 'fromtar', 'cat /p.txt'), 'from the tar\n');
  });
});
