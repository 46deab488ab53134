// Containers through kiln's command line, with real runc, conmon and CNI plugins (root only):
// the outcomes issue 4 asks for — PID 1, exit codes, limits, OOM, published ports, --network none,
// volumes surviving rm, the writable layer gone after rm, detached logs, exec, stop within the
// timeout, truthful state after the container, conmon or kiln die — and nothing left behind.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:net';
import { kilnBin } from '../helpers/kiln.js';
import { Engine } from '../../src/engine.js';
import { freePort } from '../../src/runtime/network.js';
import { defaultRuntimeName, RUNTIME_NAMES, runtimeUnavailable } from '../../src/runtime/runtime-select.js';
import { fetchText, hasRunc, isRoot, makeBusyboxImage, tempDir } from '../unit/runtime/fixtures.js';

const skip = !isRoot || !hasRunc ? 'needs root, runc and conmon' : false;
const main = kilnBin;

let dir = '';
let root = '';
let cleanupDir = () => {};

function kiln(args: string[], opts: { input?: string; timeout?: number } = {}) {
  const r = spawnSync(main, ['--root', root, ...args], {
    encoding: 'utf8',
    input: opts.input,
    timeout: opts.timeout ?? 60_000,
  });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

function ok(args: string[], opts: { input?: string } = {}): string {
  const r = kiln(args, opts);
  assert.equal(r.code, 0, `kiln ${args.join(' ')} → ${r.code}\n${r.out}\n${r.err}`);
  return r.out;
}

function inspect(name: string, tpl: string): string {
  return ok(['container', 'inspect', '-f', tpl, name]).trim();
}

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('containers (CLI, runc, conmon, CNI)', { skip }, () => {
  before(async () => {
    ({ dir, cleanup: cleanupDir } = tempDir());
    root = join(dir, 'state');
    const engine = Engine.open(root);
    try {
      await makeBusyboxImage(engine, 'busybox', { Volumes: { '/anon': {} }, ExposedPorts: { '80/tcp': {} } });
    } finally {
      engine.close();
    }
  });

  const ipamDir = '/run/kiln/ipam/kiln';
  const ipamBefore = new Set<string>();
  before(() => {
    for (const f of existsSync(ipamDir) ? readdirSync(ipamDir) : []) ipamBefore.add(f);
  });

  after(() => {
    const ids = kiln(['ps', '-aq', '--no-trunc']).out.split(/\s+/).filter(Boolean);
    if (ids.length) kiln(['rm', '-f', '-v', ...ids]);
    kiln(['network', 'rm', 'ktnet']);
    // Nothing of ours left on the host: netns, runc state, cgroups, mounts, iptables rules.
    const leftovers: string[] = [];
    for (const id of ids) {
      if (existsSync(`/run/netns/kiln-${id}`)) leftovers.push(`netns ${id}`);
      for (const rt of RUNTIME_NAMES) if (existsSync(`/run/kiln/${rt}/${id}`)) leftovers.push(`${rt} ${id}`);
      for (const c of readdirSync('/sys/fs/cgroup')) if (existsSync(`/sys/fs/cgroup/${c}/kiln/${id}`)) leftovers.push(`cgroup ${c} ${id}`);
      if (execFileSync('iptables-save', { encoding: 'utf8' }).includes(id)) leftovers.push(`iptables ${id}`);
    }
    if (readFileSync('/proc/self/mountinfo', 'utf8').includes(root)) leftovers.push('mounts');
    // Every address this suite leased went back to the pool (bridge DEL ran for every container).
    for (const f of existsSync(ipamDir) ? readdirSync(ipamDir) : []) {
      if (/^10\./.test(f) && !ipamBefore.has(f) && /^[0-9a-f]{64}\b/.test(readFileSync(join(ipamDir, f), 'utf8'))) leftovers.push(`ip ${f}`);
    }
    cleanupDir();
    assert.deepEqual(leftovers, []);
  });

  test('run: PID 1, exit code passed through, output, --rm removes the container', () => {
    const r = kiln(['run', '--name', 'first', 'busybox', 'sh', '-c', 'echo pid=$$; echo to-err >&2; exit 3']);
    assert.equal(r.code, 3);
    assert.equal(r.out, 'pid=1\n');
    assert.equal(r.err, 'to-err\n');
    assert.equal(inspect('first', '{{.State.Status}} {{.State.ExitCode}}'), 'exited 3');
    assert.equal(ok(['logs', 'first']), 'pid=1\n');
    const rm = kiln(['run', '--rm', '--name', 'gone', 'busybox', 'true']);
    assert.equal(rm.code, 0, rm.err);
    assert.equal(kiln(['container', 'inspect', 'gone']).code, 1);
    assert.equal(kiln(['run', '--rm', 'busybox', 'no-such-cmd']).code, 127);
    assert.equal(kiln(['run', '--rm', 'no-such-image-here']).code, 125);
    // a start the runtime refuses: Docker's 125, with the runtime's reason, and no container left
    const bad = kiln(['run', '--rm', '--name', 'badcwd', '-w', '/etc/passwd', 'busybox', 'true']);
    assert.equal(bad.code, 125, bad.err);
    assert.match(bad.err, /passwd.*[Nn]ot a directory/);
    assert.equal(kiln(['container', 'inspect', 'badcwd']).code, 1);
  });

  test('run --rm in the foreground: listed while it runs, signals forwarded, exit codes, nothing left behind', async () => {
    const fg = spawn(main, ['--root', root, 'run', '--rm', '--name', 'rmfg', 'busybox', 'sh', '-c',
      'trap "echo got-term; exit 7" TERM; echo ready; while true; do sleep 0.1; done'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    fg.stdout.on('data', (b: Buffer) => (out += b.toString()));
    const exited = new Promise<number | null>((resolve) => fg.on('close', (code) => resolve(code)));
    await until(() => out.includes('ready'), 10_000);
    assert.match(ok(['ps', '--filter', 'name=rmfg', '--format', '{{.Status}}']), /^Up /);
    const id = ok(['ps', '-q', '--no-trunc', '--filter', 'name=rmfg']).trim();
    const ip = inspect('rmfg', '{{.NetworkSettings.IPAddress}}');
    assert.match(ip, /^10\.213\.0\.\d+$/);
    fg.kill('SIGTERM');
    assert.equal(await exited, 7);
    assert.match(out, /got-term/);
    assert.equal(kiln(['container', 'inspect', 'rmfg']).code, 1, 'removed');
    assert.ok(!existsSync(join(root, 'containers', id)), 'container dir removed');
    assert.ok(!existsSync(`/run/netns/kiln-${id}`), 'netns removed');
    assert.ok(!readFileSync('/proc/self/mountinfo', 'utf8').includes(id), 'rootfs unmounted');
    assert.ok(!existsSync(join(ipamDir, ip)), 'IP released');
    // rm -f (or stop) from elsewhere: the foreground kiln ends with 137 and removes it; rm succeeds
    const fg2 = spawn(main, ['--root', root, 'run', '--rm', '--name', 'rmfg2', 'busybox', 'sh', '-c', 'echo ready; sleep 100'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out2 = '';
    fg2.stdout.on('data', (b: Buffer) => (out2 += b.toString()));
    const exited2 = new Promise<number | null>((resolve) => fg2.on('close', (code) => resolve(code)));
    await until(() => out2.includes('ready'), 10_000);
    ok(['rm', '-f', 'rmfg2']);
    assert.equal(await exited2, 137);
    assert.equal(kiln(['container', 'inspect', 'rmfg2']).code, 1);
    assert.equal(kiln(['run', '--rm', 'busybox', 'sh', '-c', 'sleep 30 & kill -9 $!; wait $!']).code, 137);
    assert.equal(kiln(['run', '--rm', '--network', 'none', 'busybox', 'sh', '-c', 'exit 3']).code, 3);
    // a layer that is thrown away is mounted without syncs; one that is kept is not
    assert.match(ok(['run', '--rm', '--network', 'none', 'busybox', 'grep', ' / ', '/proc/mounts']), /volatile/);
    assert.doesNotMatch(ok(['run', '--name', 'durable', '--network', 'none', 'busybox', 'grep', ' / ', '/proc/mounts']), /volatile/);
    ok(['rm', 'durable']);
    assert.equal(kiln(['run', '--rm', '-m', '16m', 'busybox', 'sh', '-c', 'tail /dev/zero']).code, 137);
    // --sig-proxy=false: a signal to kiln is not passed on; kiln goes, the container keeps running.
    const fg3 = spawn(main, ['--root', root, 'run', '--name', 'noproxy', '--network', 'none', '--sig-proxy=false', 'busybox', 'sh', '-c', 'echo ready; sleep 100'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out3 = '';
    fg3.stdout.on('data', (b: Buffer) => (out3 += b.toString()));
    const exited3 = new Promise<NodeJS.Signals | null>((resolve) => fg3.on('close', (_code, signal) => resolve(signal)));
    await until(() => out3.includes('ready'), 10_000);
    fg3.kill('SIGINT');
    assert.equal(await exited3, 'SIGINT');
    assert.match(ok(['ps', '--filter', 'name=noproxy', '--format', '{{.Status}}']), /^Up /);
    ok(['rm', '-f', 'noproxy']);
  });

  test('a network that cannot be set up fails the start: the process never runs, nothing is left', () => {
    ok(['network', 'create', 'ktbad']);
    const conf = join(root, 'networks', 'ktbad.conflist');
    const list = JSON.parse(readFileSync(conf, 'utf8'));
    list.plugins[0].ipam.type = 'no-such-ipam';
    writeFileSync(conf, JSON.stringify(list));
    const r = kiln(['run', '--name', 'nonet', '--network', 'ktbad', 'busybox', 'sh', '-c', 'echo ran']);
    assert.equal(r.code, 125);
    assert.match(r.err, /CNI bridge ADD: .*no-such-ipam/);
    assert.equal(r.out, '', 'the container process was held back');
    assert.match(inspect('nonet', '{{.State.Status}} {{.State.Error}}'), /^exited CNI bridge ADD: /);
    assert.ok(!existsSync(`/run/netns/kiln-${inspect('nonet', '{{.Id}}')}`), 'namespace removed');
    ok(['rm', 'nonet']);
    assert.equal(kiln(['run', '--rm', '--network', 'ktbad', 'busybox', 'true']).code, 125);
    ok(['network', 'rm', 'ktbad']);
  });

  test('image config and flags: env, workdir, user, hostname, entrypoint, /etc files, read-only', () => {
    const out = ok([
      'run', '--rm', '-e', 'FOO=bar', '-w', '/tmp/wd', '-u', 'user', '--hostname', 'box', '--entrypoint', 'sh', '--add-host', 'db:10.1.2.3',
      'busybox', '-c', 'echo $FOO; pwd; id -u; hostname; cat /etc/hostname; grep db /etc/hosts; echo $HOME',
    ]);
    assert.equal(out, 'bar\n/tmp/wd\n1000\nbox\nbox\n10.1.2.3\tdb\n/home/user\n');
    const ro = kiln(['run', '--rm', '--read-only', '--tmpfs', '/scratch', 'busybox', 'sh', '-c', 'touch /x; touch /scratch/y && echo ok']);
    assert.match(ro.err, /Read-only file system/);
    assert.equal(ro.out, 'ok\n');
    assert.match(kiln(['run', '--rm', '-u', 'nobody-here', 'busybox', 'true']).err, /unable to find user nobody-here: no matching entries in passwd file/);
  });

  test('limits: memory OOM → 137 + OOMKilled; pids and cpu limits in the cgroup', () => {
    const r = kiln(['run', '--name', 'oom', '-m', '16m', 'busybox', 'sh', '-c', 'tail /dev/zero']);
    assert.equal(r.code, 137);
    assert.equal(inspect('oom', '{{.State.ExitCode}} {{.State.OOMKilled}}'), '137 true');
    // detached, under conmon, with the default runtime asked for by name: conmon reports the OOM
    ok(['run', '-d', '--name', 'oomd', '--runtime', defaultRuntimeName(), '-m', '16m', 'busybox', 'sh', '-c', 'tail /dev/zero']);
    assert.equal(ok(['wait', 'oomd']), '137\n');
    assert.equal(inspect('oomd', '{{.State.ExitCode}} {{.State.OOMKilled}} {{.HostConfig.Runtime}}'), `137 true ${defaultRuntimeName()}`);
    const lim = kiln([
      'run', '--rm', '--pids-limit', '10', '--cpus', '0.5', 'busybox', 'sh', '-c',
      'cat /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/cpu/cpu.cfs_quota_us; for i in $(seq 20); do sleep 1 & done; echo all-forked',
    ]);
    assert.match(lim.out, /^10\n50000\n/);
    assert.match(lim.err, /can't fork/);
    assert.doesNotMatch(lim.out, /all-forked/);
  });

  test('detached: ID at once, logs, exec, top, stop within the timeout', async () => {
    const id = ok(['run', '-d', '--name', 'det', 'busybox', 'sh', '-c', 'trap "echo got-term; exit 0" TERM; echo started; while true; do sleep 0.1; done']).trim();
    assert.match(id, /^[0-9a-f]{64}$/);
    await until(() => ok(['logs', 'det']).includes('started'));
    assert.equal(inspect('det', '{{.State.Status}} {{.State.Running}}'), 'running true');
    assert.ok(Number(inspect('det', '{{.State.Pid}}')) > 0);
    assert.match(ok(['ps']), /det/);
    const ex = kiln(['exec', '-e', 'X=1', '-w', '/etc', 'det', 'sh', '-c', 'echo $X $(pwd); exit 5']);
    assert.equal(ex.code, 5);
    assert.equal(ex.out, '1 /etc\n');
    assert.match(ok(['top', 'det']), /sleep|sh -c/);
    // exec -d: back at once, with none of our stdio (a pipe of ours would be held until it exits)
    const t0 = Date.now();
    const bg = spawnSync(main, ['--root', root, 'exec', '-d', 'det', 'sh', '-c', 'sleep 3; echo late'], { encoding: 'utf8', timeout: 20_000 });
    assert.deepEqual([bg.status, bg.stdout], [0, '']);
    assert.ok(Date.now() - t0 < 2500, 'exec -d returned before its process ended');
    // a command that is not there: 127 and the runtime's reason, once
    const missing = kiln(['exec', 'det', 'no-such-cmd']);
    assert.equal(missing.code, 127);
    assert.equal(missing.err.match(/no-such-cmd/g)?.length, 1, missing.err);
    const t = Date.now();
    ok(['stop', '-t', '5', 'det']);
    assert.ok(Date.now() - t < 4000, 'stopped by the signal, before the timeout');
    assert.equal(inspect('det', '{{.State.Status}} {{.State.ExitCode}}'), 'exited 0');
    assert.match(ok(['logs', '-t', 'det']), /^\d{4}-\d\d-\d\dT[\d:.]+Z started\n.*got-term\n$/s);
    // a process that ignores TERM is killed after the timeout: 137
    ok(['run', '-d', '--name', 'stubborn', 'busybox', 'sleep', '100']);
    const t2 = Date.now();
    ok(['stop', '-t', '1', 'stubborn']);
    assert.ok(Date.now() - t2 >= 900);
    assert.equal(inspect('stubborn', '{{.State.ExitCode}}'), '137');
    assert.equal(ok(['wait', 'stubborn']), '137\n');
    ok(['start', 'stubborn']);
    assert.equal(inspect('stubborn', '{{.State.Status}}'), 'running');
    ok(['kill', 'stubborn']);
    await until(() => inspect('stubborn', '{{.State.Status}}') === 'exited');
    assert.equal(inspect('stubborn', '{{.State.ExitCode}}'), '137');
  });

  for (const rt of RUNTIME_NAMES) {
    test(`--runtime ${rt}: foreground and detached, exec with supplementary groups, top, pause, update, stop`, { skip: runtimeUnavailable(rt) ?? false }, async () => {
      const fg = kiln(['run', '--rm', '--runtime', rt, 'busybox', 'sh', '-c', 'echo fg; exit 4']);
      assert.deepEqual([fg.code, fg.out], [4, 'fg\n']);
      const name = `rt-${rt}`;
      ok(['run', '-d', '--name', name, '--runtime', rt, '--group-add', '10', 'busybox', 'sleep', '100']);
      assert.equal(inspect(name, '{{.HostConfig.Runtime}} {{.State.Status}}'), `${rt} running`);
      assert.ok(existsSync(`/run/kiln/${rt}/${inspect(name, '{{.Id}}')}`), `${rt} holds the container`);
      const ex = kiln(['exec', '-u', '1000:1000', name, 'sh', '-c', 'id; exit 6']);
      assert.deepEqual([ex.code, ex.out], [6, 'uid=1000(user) gid=1000(user) groups=10(wheel)\n']);
      // exec -d -t: the process has a terminal, which outlives this kiln (a detached holder keeps it)
      assert.equal(ok(['exec', '-d', '-t', name, 'sh', '-c', 'tty > /tmp/t; sleep 1; tty > /tmp/t2']), '');
      await until(() => kiln(['exec', name, 'cat', '/tmp/t2']).code === 0);
      assert.match(ok(['exec', name, 'cat', '/tmp/t', '/tmp/t2']), /^\/dev\/pts\/\d+\n\/dev\/pts\/\d+\n$/);
      assert.match(ok(['top', name]), /^UID +PID .*\n.*sleep 100\n$/s);
      assert.match(ok(['top', name, '-o', 'pid,args']), /^ *PID COMMAND\n *\d+ sleep 100\n$/);
      ok(['pause', name]);
      assert.equal(inspect(name, '{{.State.Status}}'), 'paused');
      ok(['unpause', name]);
      ok(['update', '--cpus', '0.5', name]);
      assert.equal(ok(['exec', name, 'cat', '/sys/fs/cgroup/cpu/cpu.cfs_quota_us']), '50000\n');
      ok(['stop', '-t', '1', name]);
      assert.equal(inspect(name, '{{.State.Status}} {{.State.ExitCode}}'), 'exited 137');
      ok(['rm', name]);
    });
  }

  test('--privileged: every host device node (but the console and ptys), all capabilities, no seccomp; without it, the default set', () => {
    const hostDevs = readdirSync('/dev').filter((n) => n !== 'console' && (() => {
      const st = lstatSync(join('/dev', n));
      return st.isCharacterDevice() || st.isBlockDevice();
    })());
    const inside = ok(['run', '--rm', '--privileged', 'busybox', 'sh', '-c', 'ls /dev; grep -E "^(CapEff|Seccomp):" /proc/self/status']).split('\n');
    for (const d of hostDevs) assert.ok(inside.includes(d), `/dev/${d} in the privileged container`);
    assert.ok(inside.includes('Seccomp:\t0'));
    const plain = ok(['run', '--rm', 'busybox', 'ls', '/dev']).split('\n').filter(Boolean);
    assert.deepEqual(plain.filter((d) => !['core', 'fd', 'full', 'mqueue', 'null', 'ptmx', 'pts', 'random', 'shm', 'stderr', 'stdin', 'stdout', 'tty', 'urandom', 'zero'].includes(d)), []);
  });

  test('--runtime: an unknown name is refused; a memory limit gets runc, which can report the OOM kill in the foreground', () => {
    const bad = kiln(['run', '--rm', '--runtime', 'kata', 'busybox', 'true']);
    assert.equal(bad.code, 125);
    assert.match(bad.err, /unknown or invalid runtime name: kata/);
    // Where crun cannot run (here: its wrapper's directory mounted noexec, in a namespace of our
    // own), new containers get runc, and asking for crun says why.
    // (Only on a hybrid cgroup layout, where crun needs the wrapper: then it has been written.)
    if (existsSync('/run/kiln/crun-hybrid') && runtimeUnavailable('crun') === undefined && runtimeUnavailable('runc') === undefined) {
      const inner = `mount -t tmpfs -o noexec tmpfs /run/kiln && ${main} --root ${root} info --format '{{.DefaultRuntime}}' && ${main} --root ${root} run --rm --network none busybox echo ran; ${main} --root ${root} run --rm --network none --runtime crun busybox true`;
      const r = spawnSync('unshare', ['-m', 'sh', '-c', inner], { encoding: 'utf8', timeout: 60_000 });
      assert.equal(r.stdout, 'runc\nran\n', r.stderr);
      assert.equal(r.status, 125);
      assert.match(r.stderr, /OCI runtime crun: crun's wrapper .* cannot run from \/run\/kiln/);
    }
    ok(['create', '--name', 'rt-mem', '-m', '32m', 'busybox', 'true']);
    assert.equal(inspect('rt-mem', '{{.HostConfig.Runtime}}'), 'runc');
    ok(['rm', 'rt-mem']);
  });

  test('state stays truthful: the container dies on its own, conmon is killed, kiln is killed', async () => {
    ok(['run', '-d', '--name', 'short', 'busybox', 'sh', '-c', 'sleep 0.2; exit 4']);
    await until(() => ok(['ps', '-a', '--filter', 'name=short', '--format', '{{.Status}}']).startsWith('Exited (4)'));
    const id = ok(['run', '-d', '--name', 'orphan', 'busybox', 'sleep', '100']).trim();
    const conmonPid = Number(readFileSync(join(root, 'containers', id, 'bundle', 'conmon.pid'), 'utf8'));
    process.kill(conmonPid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(inspect('orphan', '{{.State.Status}}'), 'running', 'the container outlives its monitor');
    ok(['kill', 'orphan']);
    await until(() => inspect('orphan', '{{.State.Status}}') === 'exited');
    assert.equal(inspect('orphan', '{{.State.ExitCode}}'), '255');
    assert.match(inspect('orphan', '{{.State.Error}}'), /exit status was lost/);
    // kiln itself killed while a foreground container runs: the container goes on, then ends
    const fg = spawn(main, ['--root', root, 'run', '--name', 'fg', 'busybox', 'sh', '-c', 'sleep 3; exit 6'], { stdio: 'ignore' });
    // running by the runtime's account (a pid), not only by the record kiln writes before runc starts
    await until(() => Number(kiln(['inspect', '-f', '{{.State.Pid}}', 'fg']).out.trim()) > 0);
    fg.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(inspect('fg', '{{.State.Status}}'), 'running');
    await until(() => ok(['ps', '-a', '--filter', 'name=fg', '--format', '{{.State}}']).trim() === 'exited', 10_000);
  });

  test('networking: a published port on 127.0.0.1, --network none cannot reach the bridge, names on a network', async () => {
    const port = await freePort();
    ok(['run', '-d', '--name', 'web', '-p', `127.0.0.1:${port}:80`, 'busybox', 'httpd', '-f', '-p', '80', '-h', '/var/www']);
    assert.equal(await fetchText(`http://127.0.0.1:${port}/`), 'hello from kiln\n');
    assert.match(ok(['ps', '--filter', 'name=web']), new RegExp(`127\\.0\\.0\\.1:${port}->80/tcp`));
    const ip = inspect('web', '{{.NetworkSettings.IPAddress}}');
    assert.match(ip, /^10\.213\.0\.\d+$/);
    const none = kiln(['run', '--rm', '--network', 'none', 'busybox', 'sh', '-c', `ip -o link | wc -l; wget -q -O- http://${ip}/ 2>&1; echo rc=$?`]);
    assert.match(none.out, /^1\n/);
    assert.match(none.out, /unreachable/i);
    assert.match(none.out, /rc=1/);
    ok(['rm', '-f', 'web']);
    assert.ok(!execFileSync('iptables-save', { encoding: 'utf8' }).includes(`${ip}/`), 'no rules left for the removed container');

    ok(['network', 'create', '--label', 'team=kiln', 'ktnet']);
    assert.match(ok(['network', 'ls']), /ktnet\s+bridge/);
    const names = (...f: string[]) => ok(['network', 'ls', '--format', '{{.Name}}', ...f.flatMap((x) => ['-f', x])]);
    assert.equal(names('type=custom'), 'ktnet\n');
    assert.equal(names('type=builtin'), 'host\nkiln\nnone\n');
    assert.equal(names('name=ktn', 'name=nomatch'), 'ktnet\n', 'values of one key: any');
    assert.equal(names('name=ktn', 'driver=null'), '', 'different keys: all');
    assert.equal(names('label=team=kiln'), 'ktnet\n');
    assert.equal(names('dangling=true'), 'ktnet\n');
    assert.match(kiln(['network', 'ls', '-f', 'colour=red']).err, /invalid filter 'colour'/);
    ok(['run', '-d', '--name', 'alpha', '--network', 'ktnet', 'busybox', 'httpd', '-f', '-p', '80', '-h', '/var/www']);
    assert.equal(names('dangling=true'), '', 'a network a container uses is not dangling');
    const r = kiln(['run', '--rm', '--network', 'ktnet', 'busybox', 'wget', '-q', '-O-', 'http://alpha/']);
    assert.equal(r.out, 'hello from kiln\n', r.err);
    assert.match(kiln(['network', 'rm', 'ktnet']).err, /active endpoints/);
    ok(['rm', '-f', 'alpha']);
    ok(['network', 'rm', 'ktnet']);
  });

  test('network connect/disconnect: a running container gets eth1 on another network, names both ways, kept across a restart; refusals', () => {
    ok(['network', 'create', 'ktconnA']);
    ok(['network', 'create', 'ktconnB']);
    ok(['run', '-d', '--name', 'connweb', '--network', 'ktconnA', 'busybox', 'httpd', '-f', '-p', '80', '-h', '/var/www']);
    ok(['run', '-d', '--name', 'conncli', '--network', 'ktconnB', 'busybox', 'sleep', '300']);
    ok(['network', 'connect', '--alias', 'buddy', 'ktconnA', 'conncli']);
    assert.equal(ok(['exec', 'conncli', 'wget', '-q', '-O-', 'http://connweb/']), 'hello from kiln\n');
    // One default route: the network it started on keeps the gateway.
    assert.equal(ok(['exec', 'conncli', 'sh', '-c', 'ip route | grep -c ^default; ip -o link | grep -c eth1']), '1\n1\n');
    assert.match(ok(['exec', 'connweb', 'cat', '/etc/hosts']), /\sconncli \S+ buddy\n/);
    assert.equal(inspect('conncli', '{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}'), 'ktconnA ktconnB');
    assert.match(ok(['ps', '--filter', 'network=ktconnA', '--format', '{{.Names}}']), /conncli/);
    // Kept in the config: attached again at the next start.
    ok(['restart', '-t', '1', 'conncli']);
    assert.equal(ok(['exec', 'conncli', 'wget', '-q', '-O-', 'http://connweb/']), 'hello from kiln\n');
    assert.match(kiln(['network', 'connect', 'ktconnA', 'conncli']).err, /already exists in network ktconnA/);
    assert.match(kiln(['network', 'disconnect', 'ktconnB', 'conncli']).err, /started on network ktconnB/);
    ok(['network', 'disconnect', 'ktconnA', 'conncli']);
    assert.equal(ok(['exec', 'conncli', 'sh', '-c', 'ip -o link | grep -c eth1; grep -c connweb /etc/hosts; true']), '0\n0\n');
    assert.doesNotMatch(ok(['exec', 'connweb', 'cat', '/etc/hosts']), /conncli/);
    assert.match(kiln(['network', 'disconnect', 'ktconnA', 'conncli']).err, /is not connected to network ktconnA/);
    ok(['run', '-d', '--name', 'connnone', '--network', 'none', 'busybox', 'sleep', '300']);
    assert.match(kiln(['network', 'connect', 'ktconnA', 'connnone']).err, /private \(none\) mode/);
    assert.match(kiln(['network', 'connect', 'nosuchnet', 'conncli']).err, /network nosuchnet not found/);
    ok(['rm', '-f', 'connweb', 'conncli', 'connnone']);
    ok(['network', 'rm', 'ktconnA', 'ktconnB']);
  });

  test('--network container:X shares X\'s network namespace, hostname and /etc files; refusals', async () => {
    const before = kiln(['ps', '-aq']).out;
    ok(['run', '-d', '--name', 'netowner', '--hostname', 'owner-host', 'busybox', 'httpd', '-f', '-p', '8080', '-h', '/var/www']);
    const ownerIp = inspect('netowner', '{{.NetworkSettings.IPAddress}}');
    // The server listens in netowner's namespace: reachable on the joiner's own loopback.
    const joined = kiln(['run', '--rm', '--network', 'container:netowner', 'busybox', 'sh', '-c',
      'wget -q -O- http://127.0.0.1:8080/; hostname; ip -o -4 addr show eth0 | grep -o "inet [0-9.]*"']);
    assert.equal(joined.code, 0, joined.err);
    assert.equal(joined.out, `hello from kiln\nowner-host\ninet ${ownerIp}\n`);
    const id = inspect('netowner', '{{.Id}}');
    const c = ok(['create', '--network', 'container:netowner', 'busybox', 'true']).trim();
    assert.equal(inspect(c, '{{.HostConfig.NetworkMode}}'), `container:${id}`);
    assert.equal(inspect(c, '{{json .NetworkSettings.Networks}}'), '{}');
    ok(['rm', c]);
    assert.match(kiln(['run', '--rm', '--network', 'container:netowner', '-p', '9999:80', 'busybox', 'true']).err, /conflicting options: port publishing and the container type network mode/);
    assert.match(kiln(['run', '--rm', '--network', 'container:netowner', '--hostname', 'x', 'busybox', 'true']).err, /conflicting options: hostname and the network mode/);
    assert.match(kiln(['run', '--rm', '--network', 'container:nosuch', 'busybox', 'true']).err, /nosuch/);
    ok(['stop', '-t', '1', 'netowner']);
    const stopped = kiln(['run', '--rm', '--network', 'container:netowner', 'busybox', 'true']);
    assert.notEqual(stopped.code, 0);
    assert.match(stopped.err, new RegExp(`cannot join network of a non running container: ${id}`));
    ok(['rm', 'netowner']);
    assert.equal(kiln(['ps', '-aq']).out, before, 'the refused runs left no containers');
  });

  test('volumes: a named volume survives rm; anonymous ones go with rm -v; the writable layer goes with rm', () => {
    ok(['run', '--name', 'writer', '-v', 'kt-data:/data', 'busybox', 'sh', '-c', 'echo persisted > /data/f; echo layer > /in-layer']);
    const id = inspect('writer', '{{.Id}}');
    const upper = inspect('writer', '{{.GraphDriver.Data.UpperDir}}');
    assert.ok(existsSync(join(upper, 'in-layer')));
    const anon = inspect('writer', '{{range .Mounts}}{{if eq .Destination "/anon"}}{{.Name}}{{end}}{{end}}');
    assert.match(anon, /^[0-9a-f]{64}$/);
    ok(['rm', '-v', 'writer']);
    assert.ok(!existsSync(join(root, 'containers', id)), 'container dir (upper, work, bundle) removed');
    assert.equal(ok(['run', '--rm', '-v', 'kt-data:/data', 'busybox', 'cat', '/data/f']), 'persisted\n');
    assert.doesNotMatch(ok(['volume', 'ls', '-q']), new RegExp(anon), 'anonymous volume removed by rm -v');
    assert.match(ok(['volume', 'inspect', '-f', '{{.Mountpoint}}', 'kt-data']), /volumes\/kt-data\/_data/);
    ok(['run', '--name', 'user-of-vol', '-v', 'kt-data:/data', 'busybox', 'true']);
    assert.match(kiln(['volume', 'rm', 'kt-data']).err, /volume is in use/);
    ok(['rm', 'user-of-vol']);
    ok(['volume', 'rm', 'kt-data']);
    // bind mounts, read-only
    const host = join(dir, 'bind');
    mkdirSync(host);
    writeFileSync(join(host, 'h'), 'from-host\n');
    assert.equal(ok(['run', '--rm', '-v', `${host}:/b:ro`, 'busybox', 'sh', '-c', 'cat /b/h; touch /b/x 2>/dev/null || echo ro']), 'from-host\nro\n');
  });

  test('diff, cp (both ways, no symlink escape), export, inspect GraphDriver and State', async () => {
    ok(['run', '--name', 'fs', 'busybox', 'sh', '-c', 'echo new > /added; echo changed >> /etc/passwd; rm /bin/vi; ln -s /etc /var/evil']);
    const d = ok(['diff', 'fs']);
    assert.match(d, /^A \/added$/m);
    assert.match(d, /^C \/etc\/passwd$/m);
    assert.match(d, /^D \/bin\/vi$/m);
    assert.doesNotMatch(d, /etc\/hosts|resolv\.conf|hostname/, 'mount points live in the init layer, not the diff');
    const out = join(dir, 'out');
    mkdirSync(out);
    ok(['cp', 'fs:/added', join(out, 'copied')]);
    assert.equal(readFileSync(join(out, 'copied'), 'utf8'), 'new\n');
    ok(['cp', 'fs:/etc', out]);
    assert.ok(existsSync(join(out, 'etc', 'passwd')));
    writeFileSync(join(out, 'up.txt'), 'uploaded\n');
    ok(['cp', join(out, 'up.txt'), 'fs:/tmp/']);
    // /var/evil -> /etc inside the container: the copy lands in the container's /etc, not the host's
    ok(['cp', join(out, 'up.txt'), 'fs:/var/evil/escape.txt']);
    assert.ok(!existsSync('/etc/escape.txt'));
    const upper = inspect('fs', '{{.GraphDriver.Data.UpperDir}}');
    assert.equal(readFileSync(join(upper, 'tmp', 'up.txt'), 'utf8'), 'uploaded\n');
    assert.equal(readFileSync(join(upper, 'etc', 'escape.txt'), 'utf8'), 'uploaded\n');
    symlinkSync('/etc/shadow', join(upper, 'shadowlink'));
    ok(['cp', 'fs:/shadowlink', join(out, 'sl')]);
    assert.equal(execFileSync('readlink', [join(out, 'sl')], { encoding: 'utf8' }).trim(), '/etc/shadow', 'a link is copied as a link');
    const tar = join(dir, 'fs.tar');
    ok(['export', '-o', tar, 'fs']);
    const names = execFileSync('tar', ['-tf', tar], { encoding: 'utf8' });
    assert.match(names, /^\.\/added$/m);
    assert.doesNotMatch(names, /^\.\/bin\/vi$/m);
    const data = JSON.parse(ok(['container', 'inspect', 'fs']))[0];
    for (const k of ['LowerDir', 'UpperDir', 'MergedDir', 'WorkDir']) assert.ok(data.GraphDriver.Data[k], k);
    for (const k of ['Status', 'Running', 'Pid', 'ExitCode', 'OOMKilled', 'StartedAt', 'FinishedAt']) assert.ok(k in data.State, k);
    assert.equal(data.Name, '/fs');
    assert.deepEqual(JSON.parse(ok(['inspect', 'fs']))[0].Id, data.Id, 'top-level inspect finds containers');
  });

  test('health checks: starting, then healthy or unhealthy after the retries; the monitor ends with the container', async () => {
    ok(['run', '-d', '--name', 'hc', '--health-cmd', 'test -f /tmp/ready', '--health-interval', '200ms', '--health-retries', '2',
      'busybox', 'sh', '-c', 'sleep 0.5; touch /tmp/ready; sleep 100']);
    assert.match(ok(['ps', '--filter', 'name=hc', '--format', '{{.Status}}']), /^Up .* \((health: starting|unhealthy|healthy)\)$/m);
    await until(() => inspect('hc', '{{.State.Health.Status}}') === 'healthy', 8000);
    assert.equal(ok(['container', 'healthcheck', 'hc']), 'healthy\n');
    ok(['run', '-d', '--name', 'sick', '--health-cmd', 'exit 3', '--health-interval', '200ms', '--health-retries', '2', 'busybox', 'sleep', '100']);
    await until(() => inspect('sick', '{{.State.Health.Status}}') === 'unhealthy', 8000);
    assert.match(inspect('sick', '{{range .State.Health.Log}}{{.ExitCode}} {{end}}'), /^3( 3)+$/);
    ok(['rm', '-f', 'hc', 'sick']);
  });

  test('restart policy on-failure:N, container prune', async () => {
    ok(['run', '-d', '--name', 'flaky', '--restart', 'on-failure:2', 'busybox', 'sh', '-c', 'exit 1']);
    await until(() => inspect('flaky', '{{.RestartCount}} {{.State.Status}}') === '2 exited', 10_000);
    const pruned = ok(['container', 'prune', '-f']);
    assert.match(pruned, /Deleted Containers:/);
    assert.equal(kiln(['container', 'inspect', 'flaky']).code, 1);
  });

  test('run flags: --cpu-period/--cpu-quota, --cpuset-mems, --memory-swappiness, --oom-kill-disable, --oom-score-adj, --dns-option, --domainname, --annotation, --cgroupns; refusals', () => {
    const out = ok([
      'run', '--name', 'rawlimits', '--network', 'none', '--cpu-period', '50000', '--cpu-quota', '20000', '--cpuset-mems', '0',
      '-m', '64m', '--memory-swappiness', '10', '--oom-kill-disable', '--oom-score-adj', '300',
      '--dns-option', 'ndots:2', '--dns-option', 'timeout:1', '--domainname', 'example.test', '--annotation', 'team=kiln', 'busybox', 'sh', '-c',
      'cat /sys/fs/cgroup/cpu/cpu.cfs_period_us /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpuset/cpuset.mems /sys/fs/cgroup/memory/memory.swappiness; ' +
        'grep -c "oom_kill_disable 1" /sys/fs/cgroup/memory/memory.oom_control; cat /proc/self/oom_score_adj; grep ^options /etc/resolv.conf; cat /proc/sys/kernel/domainname',
    ]);
    assert.equal(out, '50000\n20000\n0\n10\n1\n300\noptions ndots:2 timeout:1\nexample.test\n');
    assert.equal(
      inspect('rawlimits', '{{.HostConfig.CpuPeriod}} {{.HostConfig.CpuQuota}} {{.HostConfig.CpusetMems}} {{.HostConfig.MemorySwappiness}} {{.HostConfig.OomKillDisable}} {{.HostConfig.OomScoreAdj}} {{.HostConfig.DnsOptions}} {{.Config.Domainname}} {{.HostConfig.Annotations.team}} {{.HostConfig.CgroupnsMode}}'),
      '50000 20000 0 10 true 300 [ndots:2 timeout:1] example.test kiln private',
    );
    ok(['rm', 'rawlimits']);
    // The host's cgroup namespace shows the host's cgroup paths; a private one shows "/".
    assert.match(ok(['run', '--rm', '--network', 'none', '--cgroupns', 'host', 'busybox', 'cat', '/proc/self/cgroup']), /:\/kiln\/[0-9a-f]{64}$/m);
    assert.match(ok(['run', '--rm', '--network', 'none', 'busybox', 'cat', '/proc/self/cgroup']), /:memory:\/$/m);
    const refused = (args: string[], re: RegExp) => {
      const r = kiln(['run', '--rm', ...args, 'busybox', 'true']);
      assert.equal(r.code, 125, `${args.join(' ')}: ${r.err}`);
      assert.match(r.err, re);
    };
    refused(['--cpus', '1', '--cpu-quota', '50000'], /Conflicting options: Nano CPUs and CPU Quota cannot both be set/);
    refused(['--cpu-period', '500'], /CPU cfs period can not be less than 1ms/);
    refused(['--memory-swappiness', '101'], /valid memory swappiness range is 0-100/);
    refused(['--oom-score-adj', '2000'], /range for oom score adj is \[-1000, 1000\]/);
    refused(['--userns', 'keep-id'], /invalid --userns mode/);
    refused(['--storage-opt', 'size=1G'], /--storage-opt is not supported/);
  });

  test('run flags: --pid/--ipc/--uts host, --device, --group-add, -P/--expose, --cidfile, --volumes-from, --label-file', async () => {
    // Host namespaces: the host's processes, host name and POSIX shared memory are visible.
    const hostPids = kiln(['run', '--rm', '--network', 'none', '--pid', 'host', 'busybox', 'sh', '-c', 'ls -d /proc/[0-9]* | wc -l']);
    assert.ok(Number(hostPids.out) > 10, `host pids seen: ${hostPids.out}`);
    assert.ok(Number(ok(['run', '--rm', '--network', 'none', 'busybox', 'sh', '-c', 'ls -d /proc/[0-9]* | wc -l'])) <= 3, 'own namespace: sh, ls and wc');
    assert.equal(ok(['run', '--rm', '--network', 'none', '--uts', 'host', 'busybox', 'hostname']).trim(), execFileSync('hostname', { encoding: 'utf8' }).trim());
    const shm = `/dev/shm/kiln-ipc-${process.pid}`;
    ok(['run', '--rm', '--network', 'none', '--ipc', 'host', 'busybox', 'sh', '-c', `echo shared > ${shm}`]);
    assert.equal(readFileSync(shm, 'utf8'), 'shared\n');
    execFileSync('rm', ['-f', shm]);
    assert.match(kiln(['run', '--rm', '--pid', 'container:x', 'busybox', 'true']).err, /invalid --pid mode/);

    // A device, read-only in the device cgroup; a missing one is refused before anything runs.
    const dev = ok(['run', '--rm', '--network', 'none', '--device', '/dev/loop0:/dev/xvda:r', 'busybox', 'sh', '-c', 'ls -l /dev/xvda; echo x | dd of=/dev/xvda 2>&1; true']);
    assert.match(dev, /^brw.* 7, +0 .*\/dev\/xvda$/m);
    assert.match(dev, /can't open '\/dev\/xvda': Operation not permitted/);
    const missing = kiln(['run', '--rm', '--device', '/dev/nonexistent', 'busybox', 'true']);
    assert.equal(missing.code, 125);
    assert.match(missing.err, /error gathering device information while adding custom device "\/dev\/nonexistent"/);

    // Supplementary groups by GID and by the image's group name.
    assert.match(ok(['run', '--rm', '--network', 'none', '--group-add', '10', '--group-add', 'nogroup', 'busybox', 'id']), /groups=10(\(\w+\))?,65534\(nogroup\)/);

    // -P publishes every exposed port (the image's 80 and --expose'd ones) on a free host port.
    const cid = join(dir, 'cidfile');
    ok(['run', '-d', '--name', 'puball', '-P', '--expose', '8081', '--cidfile', cid, 'busybox', 'sh', '-c', 'echo pong | nc -l -p 8081']);
    assert.equal(readFileSync(cid, 'utf8'), inspect('puball', '{{.Id}}'));
    const ports = ok(['port', 'puball']);
    assert.match(ports, /^80\/tcp -> 0\.0\.0\.0:\d+$/m);
    const host = Number(/^8081\/tcp -> 0\.0\.0\.0:(\d+)$/m.exec(ports)?.[1]);
    assert.ok(host > 0, ports);
    let answer = '';
    for (let i = 0; i < 50 && !answer.includes('pong'); i++) {
      answer = await new Promise<string>((resolve) => {
        let got = '';
        const sock = connect(host, '127.0.0.1');
        sock.on('data', (b) => (got += b.toString()));
        sock.on('close', () => resolve(got));
        sock.on('error', () => resolve(''));
      });
      if (!answer.includes('pong')) await new Promise((r) => setTimeout(r, 100));
    }
    assert.match(answer, /pong/, 'the container answered on the host port -P chose');
    const again = kiln(['run', '--cidfile', cid, 'busybox', 'true']);
    assert.equal(again.code, 125);
    assert.match(again.err, /Container ID file found/);
    ok(['rm', '-f', 'puball']);

    // --volumes-from: the other container's volumes and binds, read-only when asked.
    ok(['run', '--name', 'vsrc', '--network', 'none', '-v', 'shared-vol:/data', 'busybox', 'sh', '-c', 'echo from-vsrc > /data/f']);
    assert.equal(ok(['run', '--rm', '--network', 'none', '--volumes-from', 'vsrc', 'busybox', 'cat', '/data/f']), 'from-vsrc\n');
    assert.match(kiln(['run', '--rm', '--network', 'none', '--volumes-from', 'vsrc:ro', 'busybox', 'touch', '/data/g']).err, /Read-only file system/);
    ok(['rm', 'vsrc']);

    // --label-file, then --label on top.
    writeFileSync(join(dir, 'labels'), 'a=1\n# a comment\nb=two words\n');
    ok(['create', '--name', 'labelled', '--network', 'none', '--label-file', join(dir, 'labels'), '--label', 'a=override', 'busybox']);
    assert.equal(inspect('labelled', '{{json .Config.Labels}}'), '{"a":"override","b":"two words"}');
    ok(['rm', 'labelled']);
  });

  test('update: new limits reach a running container\'s cgroup and stay recorded; restart policy; refusals', () => {
    ok(['run', '-d', '--name', 'upd', '--network', 'none', '-m', '64m', 'busybox', 'sleep', '60']);
    const cg = (ctl: string) => ok(['exec', 'upd', 'cat', `/sys/fs/cgroup/${ctl}`]).trim();
    assert.equal(cg('memory/memory.limit_in_bytes'), String(64 << 20));
    assert.equal(ok(['update', '-m', '128m', '--pids-limit', '50', '--cpus', '0.5', 'upd']), 'upd\n');
    assert.equal(cg('memory/memory.limit_in_bytes'), String(128 << 20));
    assert.equal(cg('pids/pids.max'), '50');
    assert.equal(cg('cpu/cpu.cfs_quota_us'), '50000');
    assert.equal(inspect('upd', '{{.HostConfig.Memory}} {{.HostConfig.PidsLimit}} {{.HostConfig.NanoCpus}}'), `${128 << 20} 50 500000000`);
    ok(['container', 'update', '--restart', 'on-failure:3', 'upd']);
    assert.equal(inspect('upd', '{{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}'), 'on-failure:3');
    // Kept for the next start.
    ok(['restart', '-t', '0', 'upd']);
    assert.equal(cg('memory/memory.limit_in_bytes'), String(128 << 20));
    assert.match(kiln(['update', '-m', '1k', 'upd']).err, /Minimum memory limit allowed is 6MB/);
    assert.match(kiln(['update', 'upd']).err, /you must provide one or more flags/);
    ok(['rm', '-f', 'upd']);
    ok(['run', '-d', '--rm', '--name', 'upd-rm', '--network', 'none', 'busybox', 'sleep', '60']);
    assert.match(kiln(['update', '--restart', 'always', 'upd-rm']).err, /AutoRemove is enabled/);
    ok(['rm', '-f', 'upd-rm']);
  });
});
