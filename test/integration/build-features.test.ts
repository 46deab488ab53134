// The less common Dockerfile features, each checked inside the built image: heredocs, RUN
// --mount (secret, cache, bind, tmpfs), ONBUILD, ENTRYPOINT resetting an inherited CMD, USER and
// COPY --chown by name, --chmod, ADD of a local tar and of a URL with --checksum, .dockerignore
// exceptions, build args, labels.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { Kiln, makeContext } from '../helpers/kiln.js';
import { ociErrors, schemasAvailable } from '../unit/archive/oci-schemas.js';
import { readFileSync } from 'node:fs';

const context = makeContext;

describe('kiln build: Dockerfile features', () => {
  const k = new Kiln();
  const dirs: string[] = [];
  // The file server runs in its own process: the test process blocks in spawnSync while kiln runs.
  let server: ChildProcess;
  let port = 0;
  const payload = 'downloaded payload\n';
  const sh = (image: string, script: string) => k.ok(['run', '--rm', '--network', 'none', image, 'sh', '-c', script]).stdout;

  before(async () => {
    k.busybox();
    const script = `const s=require('http').createServer((q,r)=>q.url==='/files/payload.txt'?r.end(${JSON.stringify(payload)}):r.writeHead(404).end());s.listen(0,'127.0.0.1',()=>console.log(s.address().port))`;
    server = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    port = await new Promise<number>((r) => server.stdout!.once('data', (d: Buffer) => r(Number(d.toString().trim()))));
  });
  after(() => {
    server.kill();
    k.cleanup();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('heredocs: RUN script, COPY file, RUN with a command reading a heredoc', () => {
    const ctx = context({
      Dockerfile: [
        'FROM busybox',
        'ARG WHO=world',
        'RUN <<EOF',
        'echo "hello $WHO" > /greeting',
        'echo second line >> /greeting',
        'EOF',
        'COPY <<EOT /etc/app.conf',
        'name=${WHO}',
        'EOT',
        "RUN cat > /quoted <<'EOF'",
        'literal $WHO',
        'EOF',
      ].join('\n') + '\n',
    });
    dirs.push(ctx);
    k.ok(['build', '-t', 'heredoc', ctx]);
    assert.equal(sh('heredoc', 'cat /greeting /etc/app.conf /quoted'), 'hello world\nsecond line\nname=world\nliteral $WHO\n');
  });

  it('RUN --mount: secret (not left in the image), cache (kept across builds), bind, tmpfs', () => {
    const secret = join(mkdtempSync(join(tmpdir(), 'kiln-secret-')), 's.txt');
    writeFileSync(secret, 'top-secret-value');
    const ctx = context({
      Dockerfile: [
        'FROM busybox',
        'RUN --mount=type=secret,id=tok cat /run/secrets/tok > /secret-len-check && wc -c < /run/secrets/tok > /len && rm /secret-len-check',
        'RUN --mount=type=cache,target=/cache echo x >> /cache/runs && wc -l < /cache/runs > /cache-count',
        'RUN --mount=type=bind,source=data,target=/mnt/data cat /mnt/data/f > /from-bind',
        'RUN --mount=type=tmpfs,target=/scratch touch /scratch/t && mount | grep -c " /scratch " > /tmpfs-mounted',
      ].join('\n') + '\n',
      'data/f': 'bound file\n',
    });
    dirs.push(ctx, join(secret, '..'));
    k.ok(['build', '--secret', `id=tok,src=${secret}`, '-t', 'mounts', ctx]);
    assert.equal(sh('mounts', 'cat /len /cache-count /from-bind /tmpfs-mounted; ls /run/secrets 2>&1; ls /cache 2>&1; ls /scratch 2>&1 | wc -l').replace(/\s+$/, ''),
      '16\n1\nbound file\n1\nls: /run/secrets: No such file or directory\nls: /cache: No such file or directory\n1');
    // The cache mount outlives the build: a --no-cache rebuild sees the first run's line.
    k.ok(['build', '--no-cache', '--secret', `id=tok,src=${secret}`, '-t', 'mounts2', ctx]);
    assert.equal(sh('mounts2', 'cat /cache-count'), '2\n');
    // As in BuildKit, a secret is optional unless required=true: then its absence fails the step.
    const strict = context({ Dockerfile: 'FROM busybox\nRUN --mount=type=secret,id=tok,required=true true\n' });
    dirs.push(strict);
    const r = k.run(['build', strict]);
    assert.notEqual(r.code, 0, 'a missing required secret fails the build');
    assert.match(r.stderr, /Dockerfile:2: .*secret tok: not found/);
  });

  it('RUN --mount=type=bind of the context shows what .dockerignore lets through; rw writes stay out of the context', () => {
    const ctx = context({
      Dockerfile: [
        'FROM busybox',
        'RUN --mount=type=bind,target=/ctx cd /ctx && find . | sort > /seen',
        'RUN --mount=type=bind,target=/ctx,rw sh -c "echo x > /ctx/new && rm /ctx/a.txt && ls /ctx > /rw-seen"',
        'RUN --mount=type=bind,source=logs,target=/logs ls /logs > /logs-seen',
      ].join('\n') + '\n',
      '.dockerignore': 'secret.txt\nlogs/\n!logs/keep.log\n',
      'a.txt': 'a\n',
      'secret.txt': 'do not send\n',
      'logs/keep.log': 'kept\n',
      'logs/drop.log': 'dropped\n',
      'sub/b.txt': 'b\n',
    });
    dirs.push(ctx);
    k.ok(['build', '-t', 'bindview', ctx]);
    assert.equal(sh('bindview', 'cat /seen'), '.\n./.dockerignore\n./Dockerfile\n./a.txt\n./logs\n./logs/keep.log\n./sub\n./sub/b.txt\n');
    assert.equal(sh('bindview', 'cat /rw-seen'), 'Dockerfile\nlogs\nnew\nsub\n');
    assert.equal(sh('bindview', 'cat /logs-seen'), 'keep.log\n');
    assert.equal(readFileSync(join(ctx, 'a.txt'), 'utf8'), 'a\n', 'the context file is untouched');
    assert.throws(() => readFileSync(join(ctx, 'new')), /ENOENT/);
  });

  it('--add-host reaches RUN steps and keys them; --no-cache-filter re-runs the named stage only', () => {
    const ctx = context({
      Dockerfile: [
        'FROM busybox AS base',
        'RUN cat /proc/sys/kernel/random/uuid > /base-stamp',
        'FROM base AS app',
        'RUN grep -h registry.internal /etc/hosts > /hosts-line; cat /proc/sys/kernel/random/uuid > /app-stamp',
      ].join('\n') + '\n',
    });
    dirs.push(ctx);
    k.ok(['build', '-q', '--add-host', 'registry.internal:10.1.2.3', '-t', 'hosts1', ctx]);
    assert.equal(sh('hosts1', 'cat /hosts-line'), '10.1.2.3\tregistry.internal\n');
    const stamps = (img: string) => sh(img, 'cat /base-stamp /app-stamp');
    const first = stamps('hosts1');
    // Same flags: all cached. Another host address: the RUN that saw /etc/hosts runs again.
    k.ok(['build', '-q', '--add-host', 'registry.internal:10.1.2.3', '-t', 'hosts2', ctx]);
    assert.equal(stamps('hosts2'), first);
    k.ok(['build', '-q', '--add-host', 'registry.internal:10.9.9.9', '-t', 'hosts3', ctx]);
    assert.equal(sh('hosts3', 'cat /hosts-line'), '10.9.9.9\tregistry.internal\n');
    assert.notEqual(stamps('hosts3'), first);
    // --no-cache-filter app: the base stage stays cached, the app stage runs again.
    k.ok(['build', '-q', '--add-host', 'registry.internal:10.1.2.3', '--no-cache-filter', 'app', '-t', 'hosts4', ctx]);
    const [base4, app4] = stamps('hosts4').split('\n');
    const [base1, app1] = first.split('\n');
    assert.equal(base4, base1);
    assert.notEqual(app4, app1);
  });

  it('RUN --mount=type=ssh: the agent given with --ssh, relayed at SSH_AUTH_SOCK with the mount\'s owner and mode', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kiln-ssh-'));
    dirs.push(dir);
    const agentSock = join(dir, 'agent.sock');
    // An agent stand-in in its own process (the test blocks in spawnSync while kiln runs).
    const agent = spawn(process.execPath, ['-e', `require('net').createServer(c=>c.end('x')).listen(${JSON.stringify(agentSock)},()=>console.log('up'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise((r) => agent.stdout!.once('data', r));
    try {
      const ctx = context({
        Dockerfile: [
          'FROM busybox',
          'RUN --mount=type=ssh test -S "$SSH_AUTH_SOCK" && echo "$SSH_AUTH_SOCK" > /sock-path',
          'RUN --mount=type=ssh,id=deploy,target=/tmp/deploy.sock,uid=7,mode=0640 stat -c "%u %a %F" /tmp/deploy.sock > /deploy && echo "$SSH_AUTH_SOCK" >> /deploy',
        ].join('\n') + '\n',
      });
      dirs.push(ctx);
      k.ok(['build', '--ssh', `default=${agentSock}`, '--ssh', `deploy=${agentSock}`, '-t', 'sshbuild', ctx]);
      assert.equal(sh('sshbuild', 'cat /sock-path /deploy; ls /run/buildkit 2>&1 | wc -l'), '/run/buildkit/ssh_agent.0\n7 640 socket\n/tmp/deploy.sock\n1\n');
      const strict = context({ Dockerfile: 'FROM busybox\nRUN --mount=type=ssh,required=true true\n' });
      dirs.push(strict);
      const r = k.run(['build', strict]);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /Dockerfile:2: .*no SSH key "default" forwarded from the client/);
      assert.match(k.run(['build', '--ssh', 'default=/etc/passwd', strict]).stderr, /is not an agent socket/);
    } finally {
      agent.kill();
    }
  });

  it('WORKDIR made after USER belongs to that user (BuildKit), an existing one keeps its owner', () => {
    const ctx = context({
      Dockerfile: [
        'FROM busybox',
        'RUN echo "app:x:1234:1234::/home/app:/bin/sh" >> /etc/passwd && echo "app:x:1234:" >> /etc/group && mkdir -p /home/app',
        'USER app',
        'WORKDIR /home/app/work/deep',
        'RUN touch mine && id -u > uid',
        'WORKDIR /tmp',
        'USER 1500:1600',
        'WORKDIR /numeric',
      ].join('\n') + '\n',
    });
    dirs.push(ctx);
    k.ok(['build', '-t', 'wduser', ctx]);
    assert.equal(
      sh('wduser', 'stat -c "%u:%g %n" /home/app /home/app/work /home/app/work/deep /home/app/work/deep/mine /tmp /numeric; cat /home/app/work/deep/uid'),
      '0:0 /home/app\n1234:1234 /home/app/work\n1234:1234 /home/app/work/deep\n1234:1234 /home/app/work/deep/mine\n0:0 /tmp\n1500:1600 /numeric\n1234\n',
    );
  });

  it('--build-context: FROM an image by another name, COPY --from and RUN --mount from= a directory (its .dockerignore applies to COPY)', () => {
    const other = context({ 'sub/o.txt': 'other-file\n', 'skip.txt': 'ignored\n', '.dockerignore': 'skip.txt\n' });
    const ctx = context({
      Dockerfile: [
        'FROM base AS b',
        'RUN echo from-base > /b',
        'FROM b',
        'COPY --from=extra sub/ /extra/',
        'COPY --from=extra . /all/',
        'RUN --mount=from=extra,target=/mnt cat /mnt/sub/o.txt > /mounted',
      ].join('\n') + '\n',
    });
    dirs.push(other, ctx);
    k.ok(['build', '-t', 'named', '--build-context', 'base=docker-image://busybox', '--build-context', `extra=${other}`, ctx]);
    assert.equal(sh('named', 'cat /b /extra/o.txt /mounted; ls -A /all'), 'from-base\nother-file\nother-file\n.dockerignore\nsub\n');
    // A change in the named directory re-runs the COPY from it.
    writeFileSync(join(other, 'sub', 'o.txt'), 'changed\n');
    const again = k.ok(['build', '--progress', 'plain', '-t', 'named', '--build-context', 'base=docker-image://busybox', '--build-context', `extra=${other}`, ctx]).stdout;
    assert.match(again, /Step 4\/6 : COPY --from=extra sub\/ \/extra\/\n(?! ---> Using cache)/);
    assert.equal(sh('named', 'cat /extra/o.txt'), 'changed\n');
    const fromDir = k.run(['build', '--build-context', `base=${other}`, '--build-context', `extra=${other}`, ctx]);
    assert.match(fromDir.stderr, /Dockerfile:1: .*the build context base is a local directory/);
    assert.match(k.run(['build', '--build-context', 'base=git://example/x', ctx]).stderr, /git:\/\/ contexts are not supported/);
  });

  it('ONBUILD triggers run in the child build; ENTRYPOINT resets an inherited CMD', () => {
    const parent = context({ Dockerfile: 'FROM busybox\nONBUILD RUN echo triggered > /onbuild\nCMD ["echo", "parent-cmd"]\n' });
    const child = context({ Dockerfile: 'FROM onbuild-parent\nENTRYPOINT ["echo", "ep"]\n' });
    dirs.push(parent, child);
    k.ok(['build', '-t', 'onbuild-parent', parent]);
    k.ok(['build', '-t', 'onbuild-child', child]);
    assert.equal(k.ok(['run', '--rm', '--network', 'none', '--entrypoint', 'cat', 'onbuild-child', '/onbuild']).stdout, 'triggered\n');
    assert.equal(k.ok(['run', '--rm', '--network', 'none', 'onbuild-child']).stdout, 'ep\n', 'CMD from the base image is reset by ENTRYPOINT');
  });

  it('USER and COPY --chown by name, --chmod octal and symbolic, WORKDIR relative', () => {
    const ctx = context({
      Dockerfile: [
        'FROM busybox',
        'WORKDIR /srv',
        'WORKDIR app',
        'COPY --chown=www-data:users a.sh ./',
        'COPY --chmod=0640 b.txt ./',
        'COPY --chmod=u+x,g-r c.txt ./',
        'USER www-data',
        'RUN id -u > /tmp/uid && touch mine 2>/dev/null; echo $? > /tmp/touch-rc',
      ].join('\n') + '\n',
      'a.sh': 'echo a\n',
      'b.txt': 'b\n',
      'c.txt': 'c\n',
    });
    dirs.push(ctx);
    k.ok(['build', '-t', 'owners', ctx]);
    assert.equal(sh('owners', 'pwd; stat -c "%U:%G %a %n" a.sh b.txt c.txt; cat /tmp/uid /tmp/touch-rc'),
      '/srv/app\nwww-data:users 644 a.sh\nroot:root 640 b.txt\nroot:root 704 c.txt\n33\n1\n');
  });

  it('ADD: a local tar is extracted, a URL is downloaded and its --checksum verified', () => {
    const ctx = context({ Dockerfile: '' });
    mkdirSync(join(ctx, 'tree/sub'), { recursive: true });
    writeFileSync(join(ctx, 'tree/sub/inner.txt'), 'inside the tar\n');
    spawnSync('tar', ['-czf', join(ctx, 'tree.tgz'), '-C', join(ctx, 'tree'), '.']);
    const sum = createHash('sha256').update(payload).digest('hex');
    writeFileSync(join(ctx, 'Dockerfile'), `FROM busybox\nADD tree.tgz /x/\nADD --checksum=sha256:${sum} http://127.0.0.1:${port}/files/payload.txt /dl/\n`);
    dirs.push(ctx);
    k.ok(['build', '--network', 'host', '-t', 'adds', ctx]);
    assert.equal(sh('adds', 'cat /x/sub/inner.txt /dl/payload.txt'), `inside the tar\n${payload}`);
    writeFileSync(join(ctx, 'Dockerfile'), `FROM busybox\nADD --checksum=sha256:${'0'.repeat(64)} http://127.0.0.1:${port}/files/payload.txt /dl/\n`);
    const r = k.run(['build', ctx]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Dockerfile:2: .*digest mismatch/);
    // A server that is not there: the error says why, not just "fetch failed".
    writeFileSync(join(ctx, 'Dockerfile'), `FROM busybox\nADD http://127.0.0.1:${port}/files/payload.txt /dl/\nADD http://127.0.0.1:9/nothing /dl/\n`);
    const down = k.run(['build', ctx]);
    assert.notEqual(down.code, 0);
    assert.match(down.stderr, /Dockerfile:3: ADD http:\/\/127\.0\.0\.1:9\/nothing \/dl\/: failed to load http:\/\/127\.0\.0\.1:9\/nothing: \S+/);
    assert.doesNotMatch(down.stderr, /fetch failed/);
  });

  it('.dockerignore with exceptions; --label and --build-arg reach the image', () => {
    const ctx = context({
      Dockerfile: 'FROM busybox\nARG VERSION\nLABEL version=$VERSION\nCOPY . /ctx/\n',
      '.dockerignore': 'logs\n!logs/keep.log\n*.tmp\n',
      'logs/a.log': 'a', 'logs/keep.log': 'keep', 'x.tmp': 'x', 'main.txt': 'main',
    });
    dirs.push(ctx);
    k.ok(['build', '--build-arg', 'VERSION=1.2.3', '--label', 'team=kiln', '-t', 'ignored', ctx]);
    assert.equal(sh('ignored', 'cd /ctx && find . -type f | sort'), './.dockerignore\n./Dockerfile\n./logs/keep.log\n./main.txt\n');
    const labels = JSON.parse(k.ok(['image', 'inspect', '--format', '{{json .Config.Labels}}', 'ignored']).stdout);
    assert.deepEqual(labels, { version: '1.2.3', team: 'kiln' });
  });

  it('a built image saved as an OCI layout validates against the image-spec schemas', { skip: !schemasAvailable() && 'OCI schemas not found' }, () => {
    const ctx = context({
      Dockerfile: 'FROM busybox\nENV A=1\nEXPOSE 80/tcp 53/udp\nVOLUME /data\nLABEL x=y\nHEALTHCHECK --interval=5s CMD true\nUSER nobody\nSTOPSIGNAL SIGINT\nRUN true\n',
    });
    dirs.push(ctx);
    k.ok(['build', '-t', 'schema', ctx]);
    const out = mkdtempSync(join(tmpdir(), 'kiln-oci-'));
    dirs.push(out);
    k.ok(['save', '--format', 'oci-archive', '-o', join(out, 'img.tar'), 'schema']);
    spawnSync('tar', ['-xf', join(out, 'img.tar'), '-C', out]);
    const blob = (d: string) => JSON.parse(readFileSync(join(out, 'blobs', ...d.split(':')), 'utf8'));
    const index = JSON.parse(readFileSync(join(out, 'index.json'), 'utf8'));
    assert.deepEqual(ociErrors('index', index), []);
    const manifest = blob(index.manifests[0].digest);
    assert.deepEqual(ociErrors('manifest', manifest), []);
    const config = blob(manifest.config.digest);
    assert.deepEqual(ociErrors('config', config), []);
    assert.equal(config.rootfs.diff_ids.length, manifest.layers.length);
    assert.deepEqual(Object.keys(config.config.ExposedPorts).sort(), ['53/udp', '80/tcp']);
    assert.equal(config.config.Healthcheck.Interval, 5_000_000_000);
    assert.equal(config.history.filter((h: { empty_layer?: boolean }) => !h.empty_layer).length, manifest.layers.length);
  });
});
