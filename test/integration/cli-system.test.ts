// Docker's housekeeping spellings through the CLI (root, runc, CNI): `--version`/`version`,
// `info`, `system df`/`system prune`, `builder prune` taking the step images with the cache,
// `rename`, `port`, top-level `pause`/`unpause`, and the management forms (`container rm`,
// `container run`, `image build`) that run the same code as the top-level commands.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Kiln, kilnBin, makeContext, projectRoot } from '../helpers/kiln.js';
import { freePort } from '../../src/runtime/network.js';
import { hasRunc, isRoot } from '../unit/runtime/fixtures.js';

const skip = !isRoot || !hasRunc ? 'needs root and runc' : false;
const version = (JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')) as { version: string }).version;

describe('system and management commands (CLI)', { skip }, () => {
  let k: Kiln;
  before(() => {
    k = new Kiln();
    k.busybox();
  });
  after(() => k.cleanup());

  const lines = (s: string) => s.split('\n').filter(Boolean);

  test('events: a follower sees a container\'s life as it happens; --since/--until replay the log with filters', async () => {
    const t0 = Math.floor(Date.now() / 1000) - 1;
    const follower = k.spawn(['events', '--filter', 'type=container', '--filter', 'container=evt', '--format', '{{.Action}} {{.Actor.Attributes.name}} {{.Actor.Attributes.exitCode}}']);
    let seen = '';
    follower.stdout.on('data', (d: Buffer) => (seen += d.toString()));
    await new Promise((r) => setTimeout(r, 300)); // the follower has found the end of the log
    assert.equal(k.run(['run', '--name', 'evt', 'busybox', 'sh', '-c', 'exit 4']).code, 4);
    k.ok(['rm', 'evt']);
    for (let i = 0; i < 50 && !seen.includes('destroy'); i++) await new Promise((r) => setTimeout(r, 100));
    follower.kill('SIGINT');
    assert.equal(seen, 'create evt <no value>\nstart evt <no value>\ndie evt 4\ndestroy evt <no value>\n'); // a missing key, as Go templates print it
    const replay = k.ok(['system', 'events', '--since', String(t0), '--until', '0s', '--filter', 'event=die', '--filter', 'event=destroy', '--format', '{{.Type}} {{.Action}} {{.Actor.Attributes.name}}']).stdout;
    assert.equal(replay, 'container die evt\ncontainer destroy evt\n');
    const line = k.ok(['events', '--since', String(t0), '--until', '0s', '--filter', 'event=die']).stdout;
    assert.match(line, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z container die [0-9a-f]{64} \(exitCode=4, image=busybox, name=evt\)\n$/);
    assert.match(k.run(['events', '--filter', 'colour=red', '--until', '0s']).stderr, /invalid filter 'colour'/);
  });

  test('ps -s: the writable layer\'s size, and with the image (virtual)', () => {
    k.ok(['run', '-d', '--name', 'sized', '--network', 'none', 'busybox', 'sh', '-c', 'head -c 2000000 /dev/zero > /blob; sleep 60']);
    let size = '';
    for (let i = 0; i < 50 && !/^2(\.\d+)?MB/.test(size); i++) {
      size = k.ok(['ps', '--filter', 'name=sized', '--format', '{{.Size}}']).stdout.trim();
    }
    const m = /^(\d+(?:\.\d+)?)MB \(virtual (\d+(?:\.\d+)?)MB\)$/.exec(size);
    assert.ok(m, size);
    assert.ok(Number(m[2]) > Number(m[1]), size);
    assert.match(k.ok(['ps', '-s', '--filter', 'name=sized']).stdout, /NAMES\s+SIZE\n.*sized\s+2(\.\d+)?MB \(virtual/);
    k.ok(['rm', '-f', 'sized']);
  });

  test('container prune --filter label= / until=: only the stopped containers that match go', () => {
    k.ok(['run', '--name', 'prune-a', '--network', 'none', '--label', 'tier=a', 'busybox', 'true']);
    k.ok(['run', '--name', 'prune-b', '--network', 'none', '--label', 'tier=b', 'busybox', 'true']);
    const a = k.ok(['inspect', '--format', '{{.Id}}', 'prune-a']).stdout.trim();
    // Made seconds ago: not older than an hour.
    assert.doesNotMatch(k.ok(['container', 'prune', '-f', '--filter', 'until=1h']).stdout, /prune/);
    assert.equal(k.run(['inspect', 'prune-a']).code, 0);
    const out = k.ok(['container', 'prune', '-f', '--filter', 'label=tier=a']).stdout;
    assert.match(out, new RegExp(`Deleted Containers:\\n${a}\\n`));
    assert.notEqual(k.run(['inspect', 'prune-a']).code, 0);
    assert.equal(k.run(['inspect', 'prune-b']).code, 0);
    assert.match(k.run(['container', 'prune', '-f', '--filter', 'colour=red']).stderr, /invalid filter 'colour'/);
    k.ok(['rm', 'prune-b']);
  });

  test('restart -s sends that signal to stop the container; volume create --name; refused driver options say why', async () => {
    k.ok(['run', '-d', '--name', 'sigrestart', '--network', 'none', 'busybox', 'sh', '-c', "trap 'echo got > /sig; exit 0' USR1; while true; do sleep 0.1; done"]);
    await new Promise((r) => setTimeout(r, 300)); // the trap is set
    k.ok(['restart', '-s', 'USR1', '-t', '5', 'sigrestart']);
    assert.equal(k.ok(['exec', 'sigrestart', 'cat', '/sig']).stdout, 'got\n');
    assert.equal(k.ok(['inspect', '--format', '{{.State.Status}} {{.RestartCount}}', 'sigrestart']).stdout.trim().split(' ')[0], 'running');
    k.ok(['rm', '-f', 'sigrestart']);
    assert.equal(k.ok(['volume', 'create', '--name', 'named-by-flag']).stdout, 'named-by-flag\n');
    k.ok(['volume', 'rm', 'named-by-flag']);
    assert.match(k.run(['volume', 'create', '-o', 'type=tmpfs', 'v']).stderr, /volume options \(type=tmpfs\) are not supported/);
    assert.match(k.run(['network', 'create', '--ipv6', 'n6']).stderr, /IPv6 networks are not supported/);
  });

  test('--version, -v and version --format print the package version', () => {
    assert.equal(k.ok(['--version']).stdout, `kiln version ${version}\n`);
    assert.equal(k.ok(['-v']).stdout, `kiln version ${version}\n`);
    assert.equal(k.ok(['version', '--format', '{{.Client.Version}} {{.Server.Version}}']).stdout, `${version} ${version}\n`);
    const v = JSON.parse(k.ok(['version', '--format', 'json']).stdout) as { Client: { Os: string; Arch: string; Runtime: string } };
    assert.equal(v.Client.Os, 'linux');
    const info = JSON.parse(k.ok(['info', '--format', 'json']).stdout) as { DefaultRuntime: string; Runtimes: Record<string, { path: string }> };
    assert.match(v.Client.Runtime, new RegExp(`^${info.DefaultRuntime} \\d`));
    assert.ok(info.Runtimes[info.DefaultRuntime], 'the default runtime is listed');
    assert.match(k.ok(['version']).stdout, new RegExp(`^ Version: +${version.replace(/\./g, '\\.')}$`, 'm'));
  });

  test('container rename, run, rm; pause and unpause; info counts what is there', () => {
    const out = k.ok(['container', 'run', '--rm', '--network', 'none', 'busybox', 'echo', 'hello from container run']).stdout;
    assert.equal(out, 'hello from container run\n');
    k.ok(['container', 'create', '--name', 'first', '--network', 'none', 'busybox', 'sleep', '60']);
    k.ok(['create', '--name', 'second', '--network', 'none', 'busybox', 'true']);
    k.ok(['container', 'rename', 'first', 'renamed']);
    const names = lines(k.ok(['ps', '-a', '--format', '{{.Names}}']).stdout).sort();
    assert.deepEqual(names, ['renamed', 'second']);
    const taken = k.run(['rename', 'renamed', 'second']);
    assert.equal(taken.code, 1);
    assert.match(taken.stderr, /Conflict\. The container name "\/second" is already in use/);
    const bad = k.run(['rename', 'renamed', 'no spaces']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /Invalid container name \(no spaces\)/);
    assert.match(k.run(['rename', 'nosuch', 'other']).stderr, /No such container: nosuch/);
    // as Docker's CLI: the error for each missing container, nothing after it, status 1
    for (const verb of ['stop', 'kill', 'rm', 'wait']) {
      const r = k.run([verb, 'nosuch']);
      assert.deepEqual([r.code, r.stdout, r.stderr], [1, '', 'Error response from daemon: No such container: nosuch\n'], verb);
    }

    const info = JSON.parse(k.ok(['info', '--format', 'json']).stdout) as Record<string, unknown>;
    assert.equal(info.Containers, 2);
    assert.equal(info.ContainersStopped, 2);
    assert.equal(info.Driver, 'overlay');
    assert.equal(info.DockerRootDir, k.root);
    assert.equal(k.ok(['system', 'info', '--format', '{{.ContainersRunning}}/{{.OSType}}']).stdout, '0/linux\n');
    // Docker keeps an image's creation time in whole seconds.
    assert.match(k.ok(['images', '--format', '{{.CreatedAt}}', 'busybox']).stdout, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0000 UTC\n$/);

    k.ok(['start', 'renamed']);
    k.ok(['pause', 'renamed']);
    assert.equal(k.ok(['inspect', '-f', '{{.State.Status}}', 'renamed']).stdout, 'paused\n');
    k.ok(['container', 'unpause', 'renamed']);
    assert.equal(k.ok(['inspect', '-f', '{{.State.Status}}', 'renamed']).stdout, 'running\n');
    assert.equal(k.ok(['container', 'rm', '-f', 'renamed', 'second']).stdout, 'renamed\nsecond\n');
    assert.equal(k.ok(['ps', '-aq']).stdout, '');
  });

  test('port lists the published mappings of a running container', async () => {
    const hostPort = await freePort('127.0.0.1');
    k.ok(['run', '-d', '--name', 'web', '-p', `127.0.0.1:${hostPort}:80`, 'busybox', 'sleep', '60']);
    try {
      assert.equal(k.ok(['port', 'web']).stdout, `80/tcp -> 127.0.0.1:${hostPort}\n`);
      assert.equal(k.ok(['container', 'port', 'web', '80/tcp']).stdout, `127.0.0.1:${hostPort}\n`);
      const none = k.run(['port', 'web', '81']);
      assert.equal(none.code, 1);
      assert.match(none.stderr, /No public port '81\/tcp' published for web/);
    } finally {
      k.ok(['rm', '-f', 'web']);
    }
  });

  test('system df (-v) and system prune; builder prune takes the step images with the cache', () => {
    const ctx = makeContext({ 'Dockerfile': 'FROM busybox\nCOPY a.txt /a.txt\nRUN echo built > /b.txt\n', 'a.txt': 'one\n' });
    k.ok(['image', 'build', '-q', '-t', 'app', ctx]);
    writeFileSync(join(ctx, 'a.txt'), 'two\n');
    k.ok(['build', '-q', '-t', 'app', ctx]); // the first app image is now only a cache entry's
    k.ok(['create', '--name', 'ctr', '--network', 'none', 'app', 'true']);
    const df = (): Record<string, string[]> =>
      Object.fromEntries(lines(k.ok(['system', 'df', '--format', '{{.Type}}\t{{.TotalCount}}\t{{.Active}}']).stdout).map((l) => [l.split('\t')[0]!, l.split('\t').slice(1)]));
    const before = df();
    assert.deepEqual(before.Containers, ['1', '0']);
    assert.deepEqual(before.Images, ['2', '1'], 'busybox and app; the container uses app');
    assert.ok(Number(before['Build Cache']![0]) >= 4, `build cache entries: ${before['Build Cache']}`);
    // -v: each image's shared and unique size (busybox's layer is app's lowest), containers, cache entries.
    const v = JSON.parse(k.ok(['system', 'df', '-v', '--format', 'json']).stdout) as Record<string, Record<string, string>[]>;
    const img = (repo: string) => v.Images!.find((r) => r.Repository === repo)!;
    assert.equal(img('busybox').SharedSize, img('busybox').Size, 'all of busybox is in app too');
    assert.equal(img('busybox').UniqueSize, '0B');
    assert.equal(img('app').SharedSize, img('busybox').Size);
    assert.notEqual(img('app').UniqueSize, '0B');
    assert.deepEqual([img('app').Containers, img('busybox').Containers], ['1', '0']);
    assert.deepEqual(v.Containers!.map((c) => c.Names), ['ctr']);
    assert.equal(v.BuildCache!.length, Number(before['Build Cache']![0]));
    const text = k.ok(['system', 'df', '-v']).stdout;
    for (const heading of ['Images space usage:', 'Containers space usage:', 'Local Volumes space usage:', 'Build cache usage: ']) assert.ok(text.includes(heading), text);
    assert.match(text, /^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE\s+SHARED SIZE\s+UNIQUE SIZE\s+CONTAINERS$/m);
    const imagesAll = () => lines(k.ok(['images', '-a', '--format', '{{.Repository}}:{{.Tag}}']).stdout).sort();

    // builder prune: the step images go with their entries; nothing <none> is left for images -a.
    k.ok(['builder', 'prune', '-f']);
    assert.deepEqual(imagesAll(), ['app:latest', 'busybox:latest']);
    assert.deepEqual(df()['Build Cache'], ['0', '0']);

    // A dangling image: the tag moves to a second commit.
    const firstSnap = k.ok(['commit', '-m', 'one', 'ctr', 'snap']).stdout.trim();
    k.ok(['commit', '-m', 'two', 'ctr', 'snap']);
    assert.deepEqual(imagesAll(), ['<none>:<none>', 'app:latest', 'busybox:latest', 'snap:latest']);

    const out = k.ok(['system', 'prune', '-f']).stdout;
    assert.match(out, /^Deleted Containers:\n[0-9a-f]{64}\n/m);
    assert.match(out, new RegExp(`^Deleted Images:\\ndeleted: ${firstSnap}$`, 'm'));
    assert.match(out, /^Total reclaimed space: /m);
    assert.deepEqual(imagesAll(), ['app:latest', 'busybox:latest', 'snap:latest']);
    const after = df();
    assert.deepEqual(after.Containers, ['0', '0']);
    assert.deepEqual(after.Images, ['3', '0']);
    assert.deepEqual(after['Build Cache'], ['0', '0']);
    // The image that stays still runs.
    assert.equal(k.ok(['run', '--rm', '--network', 'none', 'app', 'cat', '/a.txt', '/b.txt']).stdout, 'two\nbuilt\n');

    // Without -f the prompt is asked; no answer means no.
    const asked = k.run(['system', 'prune'], { input: '' });
    assert.equal(asked.code, 0);
    assert.match(asked.stdout, /WARNING! This will remove:\n {2}- all stopped containers\n/);
    assert.match(asked.stdout, /Are you sure you want to continue\? \[y\/N\] $/);
  });

  test('import: an exported filesystem (plain or gzip from stdin) becomes a one-layer image; escapes are refused', () => {
    k.ok(['run', '--name', 'src', '--network', 'none', 'busybox', 'sh', '-c', 'echo imported > /hello']);
    const dir = makeContext({});
    const tarFile = join(dir, 'fs.tar');
    k.ok(['export', '-o', tarFile, 'src']);
    k.ok(['rm', 'src']);
    const id = k.ok(['import', '-c', 'CMD ["cat", "/hello"]', tarFile, 'imported:v1']).stdout.trim();
    assert.match(id, /^sha256:[0-9a-f]{64}$/);
    assert.equal(k.ok(['run', '--rm', '--network', 'none', 'imported:v1']).stdout, 'imported\n');
    assert.equal(k.ok(['image', 'inspect', '-f', '{{len .RootFS.Layers}} {{json .Config.Cmd}}', 'imported:v1']).stdout, '1 ["cat","/hello"]\n');

    const gz = spawnSync('gzip', ['-c', tarFile]).stdout;
    const r = spawnSync(kilnBin, ['--root', k.root, 'image', 'import', '-m', 'piped', '-', 'imported:gz'], { input: gz, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(k.ok(['history', '--format', '{{.Comment}}', 'imported:gz']).stdout, /^piped$/m);
    assert.equal(k.ok(['run', '--rm', '--network', 'none', 'imported:gz', 'cat', '/hello']).stdout, 'imported\n');

    const evil = join(dir, 'evil.tar');
    spawnSync('tar', ['-cf', evil, '-C', dir, '-P', '--transform', 's,^,../../,', 'fs.tar']);
    const before = k.ok(['images', '-aq', '--no-trunc']).stdout;
    const bad = k.run(['import', evil, 'evil']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /refusing layer entry "\.\.\/\.\.\/fs\.tar"/);
    assert.equal(k.ok(['images', '-aq', '--no-trunc']).stdout, before, 'nothing was stored');
  });

  test('ps --filter: one key any value, several keys all; since/before, network', () => {
    k.ok(['create', '--name', 'pf-created', '--network', 'none', 'busybox', 'true']);
    assert.equal(k.run(['run', '--name', 'pf-exited', '--network', 'none', 'busybox', 'sh', '-c', 'exit 3']).code, 3);
    const ps = (...f: string[]) => lines(k.ok(['ps', '-a', '--format', '{{.Names}}', ...f.flatMap((x) => ['--filter', x])]).stdout).sort();
    assert.deepEqual(ps('status=created', 'status=exited'), ['pf-created', 'pf-exited']);
    assert.deepEqual(ps('status=exited', 'exited=3'), ['pf-exited']);
    assert.deepEqual(ps('status=exited', 'exited=0'), []);
    assert.deepEqual(ps('since=pf-created'), ['pf-exited']);
    assert.deepEqual(ps('before=pf-exited', 'name=^pf-'), ['pf-created']);
    assert.deepEqual(ps('network=none', 'name=pf-'), ['pf-created', 'pf-exited']);
    assert.match(k.run(['ps', '--filter', 'status=sleeping']).stderr, /invalid filter 'status=sleeping'/);
    k.ok(['rm', 'pf-created', 'pf-exited']);
  });

  test('network create --subnet/--gateway: containers get addresses from that pool; overlaps and bad gateways are refused', () => {
    k.ok(['network', 'create', '--subnet', '10.77.5.0/24', '--gateway', '10.77.5.254', 'custompool']);
    try {
      assert.equal(k.ok(['network', 'inspect', '-f', '{{range .IPAM.Config}}{{.Subnet}} {{.Gateway}}{{end}}', 'custompool']).stdout, '10.77.5.0/24 10.77.5.254\n');
      const out = k.ok(['run', '--rm', '--network', 'custompool', 'busybox', 'sh', '-c', 'ip -4 addr show eth0; ip route']).stdout;
      assert.match(out, /inet 10\.77\.5\.\d+\/24/);
      assert.match(out, /default via 10\.77\.5\.254 dev eth0/);
      assert.match(k.run(['network', 'create', '--subnet', '10.77.5.128/25', 'clash']).stderr, /Pool overlaps with other one on this address space/);
      assert.match(k.run(['network', 'create', '--subnet', '10.77.6.1/24', 'notnet']).stderr, /not the network address \(10\.77\.6\.0\/24\)/);
      assert.match(k.run(['network', 'create', '--subnet', '10.77.7.0/24', '--gateway', '10.77.8.1', 'gw']).stderr, /no matching subnet for gateway 10\.77\.8\.1/);
      assert.deepEqual(lines(k.ok(['network', 'ls', '--format', '{{.Name}}']).stdout).filter((n) => ['clash', 'notnet', 'gw'].includes(n)), []);
      // --ip: that address, reachable by name; taken, outside the subnet or on the default network: refused.
      k.ok(['run', '-d', '--name', 'fixed-ip', '--network', 'custompool', '--ip', '10.77.5.50', 'busybox', 'sleep', '60']);
      assert.equal(k.ok(['inspect', '-f', '{{.NetworkSettings.Networks.custompool.IPAddress}}', 'fixed-ip']).stdout, '10.77.5.50\n');
      assert.match(k.ok(['run', '--rm', '--network', 'custompool', 'busybox', 'ping', '-c1', '-W2', 'fixed-ip']).stdout, /from 10\.77\.5\.50/);
      assert.match(k.run(['run', '--rm', '--network', 'custompool', '--ip', '10.77.5.50', 'busybox', 'true']).stderr, /requested IP address 10\.77\.5\.50 is not available/);
      assert.match(k.run(['run', '--rm', '--network', 'custompool', '--ip', '10.77.6.5', 'busybox', 'true']).stderr, /not usable in the subnet 10\.77\.5\.0\/24/);
      assert.match(k.run(['run', '--rm', '--ip', '10.213.1.5', 'busybox', 'true']).stderr, /supported on user defined networks only/);
      k.ok(['rm', '-f', 'fixed-ip']);
    } finally {
      k.ok(['network', 'rm', 'custompool']);
    }
  });
});
