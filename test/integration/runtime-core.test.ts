// The runtime core with real runc and CNI plugins, on a plain busybox directory rootfs:
// runOnce (PID 1, exit codes, limits, security settings, cleanup) and networking (published port,
// --network none, name resolution on a named network, nothing left behind). Needs root.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateSpec, type ContainerSpecOptions } from '../../src/runtime/spec.js';
import { runOnce, RuntimeError } from '../../src/runtime/oci-runtime.js';
import { RUNTIME_NAMES, runtimeHolding, runtimeUnavailable, type RuntimeName } from '../../src/runtime/runtime-select.js';
import { attachNetwork, detachNetwork, freePort, Networks, parsePortSpec } from '../../src/runtime/network.js';
import { hostLimits } from '../../src/runtime/host.js';
import { fetchText, hasRunc, isRoot, makeBusyboxRootfs, randomId, tempDir } from '../unit/runtime/fixtures.js';

const skip = !isRoot || !hasRunc ? 'needs root and runc' : false;

let dir = '';
let rootfs = '';
let cleanupDir = () => {};

let runtime: RuntimeName = 'runc';

async function run(opts: Partial<ContainerSpecOptions> & { args: string[] }, extra: { signal?: AbortSignal } = {}) {
  const id = opts.id ?? randomId();
  const spec = generateSpec({ rootfs, hostname: 'kt', ...opts, id });
  let out = '';
  let err = '';
  const r = await runOnce({
    runtime,
    id,
    bundleDir: join(dir, 'bundles', id),
    spec,
    stdout: (b) => (out += b.toString()),
    stderr: (b) => (err += b.toString()),
    signal: extra.signal,
  });
  return { ...r, out, err, id };
}

function leftovers(id: string): string[] {
  const found: string[] = [];
  const holder = runtimeHolding(id);
  if (holder) found.push(`${holder} state`);
  for (const c of readdirSync('/sys/fs/cgroup')) if (existsSync(join('/sys/fs/cgroup', c, 'kiln', id))) found.push(`cgroup ${c}`);
  return found;
}

for (const name of RUNTIME_NAMES) {
describe(`runOnce with ${name}`, { skip: skip || runtimeUnavailable(name) || false }, () => {
  before(() => {
    runtime = name;
    ({ dir, cleanup: cleanupDir } = tempDir());
    rootfs = makeBusyboxRootfs(join(dir, 'rootfs'));
  });
  after(() => cleanupDir());

  test('PID 1 in its own namespace, output streamed, exit code passed through, nothing left behind', async () => {
    const r = await run({ args: ['sh', '-c', 'echo pid=$$; echo err >&2; exit 3'] });
    assert.equal(r.exitCode, 3);
    assert.equal(r.out, 'pid=1\n');
    assert.equal(r.err, 'err\n');
    assert.deepEqual(leftovers(r.id), []);
    assert.equal((await run({ args: ['true'] })).exitCode, 0);
  });

  test('KILL from outside gives 137; command not found 127; not executable 126; runtime errors throw', async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 300);
    const t = Date.now();
    const r = await run({ args: ['sleep', '30'] }, { signal: ac.signal });
    assert.equal(r.exitCode, 137);
    assert.ok(Date.now() - t < 5000);
    assert.deepEqual(leftovers(r.id), []);
    assert.equal((await run({ args: ['no-such-command'] })).exitCode, 127);
    assert.equal((await run({ args: ['/etc/passwd'] })).exitCode, 126);
    await assert.rejects(run({ args: ['true'], cwd: '/etc/passwd' }), RuntimeError);
  });

  test('memory limit: OOM kill gives 137 and oomKilled', async () => {
    const r = await run({ args: ['sh', '-c', 'tail /dev/zero'], resources: { memory: 16 << 20 } });
    assert.equal(r.exitCode, 137);
    // only runc can keep the memory cgroup to read (run --keep): kiln gives such containers runc
    if (name === 'runc') assert.equal(r.oomKilled, true);
    assert.deepEqual(leftovers(r.id), []);
    const ok = await run({ args: ['true'], resources: { memory: 16 << 20 } });
    assert.deepEqual([ok.exitCode, ok.oomKilled], [0, false]);
  });

  test('pids limit makes forks fail; cpu quota is in the container cgroup', async () => {
    const r = await run({
      args: ['sh', '-c', 'cat /sys/fs/cgroup/pids/pids.max; for i in $(seq 30); do sleep 1 & done; wait'],
      resources: { pidsLimit: 10 },
    });
    assert.match(r.out, /^10\n/);
    assert.match(r.err + r.out, /can't fork|Resource temporarily unavailable/);
    const c = await run({
      args: ['sh', '-c', 'cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us'],
      resources: { cpus: 0.5 },
    });
    assert.equal(c.out, '50000\n100000\n');
  });

  test('user, cwd, env, hostname, read-only rootfs with a writable tmpfs, rlimits, seccomp, caps', async () => {
    const r = await run({
      args: ['sh', '-c', 'id; pwd; echo $FOO; hostname; touch /x 2>&1; touch /tmp/y && echo tmp-ok; ulimit -n; grep -E "^(Seccomp|NoNewPrivs):" /proc/self/status'],
      user: { uid: 1000, gid: 1000, additionalGids: [10] },
      cwd: '/tmp',
      env: ['FOO=bar'],
      hostname: 'boxy',
      readonlyRootfs: true,
      noNewPrivileges: true,
      mounts: [{ type: 'tmpfs', destination: '/tmp', mode: 0o1777 }],
    });
    const lines = r.out.split('\n');
    assert.equal(lines[0], 'uid=1000(user) gid=1000(user) groups=10(wheel)');
    assert.equal(lines[1], '/tmp');
    assert.equal(lines[2], 'bar');
    assert.equal(lines[3], 'boxy');
    assert.match(lines[4]!, /Read-only file system/);
    assert.equal(lines[5], 'tmp-ok');
    assert.equal(Number(lines[6]), Math.min(1048576, hostLimits().RLIMIT_NOFILE!.hard));
    assert.deepEqual(lines.slice(7, 9).sort(), ['NoNewPrivs:\t1', 'Seccomp:\t2']);
    // root without CAP_SYS_ADMIN: no mount; seccomp refuses unshare of a user namespace
    const s = await run({ args: ['sh', '-c', 'unshare -U true 2>&1; echo u=$?; mkdir /m && mount -t tmpfs t /m 2>&1; echo m=$?; chown 5 /tmp && echo chown-ok'] });
    assert.match(s.out, /u=1/);
    assert.match(s.out, /m=(1|255)/);
    assert.match(s.out, /chown-ok/);
    const masked = await run({ args: ['sh', '-c', 'wc -c < /proc/keys; echo x > /proc/sys/kernel/hostname; ls /dev/shm >/dev/null && df -k /dev/shm | tail -1'] });
    assert.match(masked.out, /^0\n/);
    assert.match(masked.err, /Read-only file system/);
    assert.match(masked.out, /\s65536\s/);
  });
});
}

describe('networking (CNI)', { skip }, () => {
  let state = '';
  const netName = `kt${process.pid}`;
  before(() => {
    ({ dir, cleanup: cleanupDir } = tempDir());
    rootfs = makeBusyboxRootfs(join(dir, 'rootfs'));
    writeFileSync(join(rootfs, 'var/www/index.html'), 'hello from kiln\n');
    state = join(dir, 'state');
  });
  after(async () => {
    await new Networks(state).remove(netName).catch(() => {});
    cleanupDir();
  });

  function iptablesRulesFor(ip: string): string[] {
    return execFileSync('iptables-save', { encoding: 'utf8' })
      .split('\n')
      .filter((l) => l.includes(ip));
  }

  async function attached(mode: string, name: string, ports?: string[]) {
    const id = randomId();
    const att = await attachNetwork({
      stateRoot: state,
      containerId: id,
      name,
      hostname: name,
      mode,
      etcDir: join(dir, 'etc', id),
      ports: ports?.flatMap(parsePortSpec),
    });
    return { id, att };
  }

  test('a published port is reachable on 127.0.0.1; teardown leaves no rules, veth or netns', async () => {
    const port = await freePort();
    const { id, att } = await attached('bridge', 'web', [`${port}:80`]);
    const ip = att.endpoint!.ip;
    assert.match(ip, /^10\.213\.0\.\d+$/);
    const ac = new AbortController();
    const server = run(
      { id, args: ['httpd', '-f', '-p', '80', '-h', '/var/www'], network: att.spec.network, etcFiles: att.spec.etcFiles },
      { signal: ac.signal },
    );
    try {
      assert.equal(await fetchText(`http://127.0.0.1:${port}/`), 'hello from kiln\n');
      assert.ok(iptablesRulesFor(ip).length > 0, 'rules while attached');
    } finally {
      ac.abort();
      await server;
      await detachNetwork({ stateRoot: state, containerId: id, network: att.network });
    }
    assert.deepEqual(iptablesRulesFor(ip), []);
    assert.ok(!existsSync(`/run/netns/kiln-${id}`));
    assert.equal(new Networks(state).endpoints('kiln').length, 0);
  });

  test('--network none: loopback only, the bridge is unreachable', async () => {
    const { att } = await attached('none', 'lonely');
    const r = await run({
      args: ['sh', '-c', 'ip -o link | wc -l; ping -c1 -W1 127.0.0.1 >/dev/null && echo lo-ok; wget -q -O- http://10.213.0.1/ 2>&1; echo rc=$?'],
      network: att.spec.network,
      etcFiles: att.spec.etcFiles,
    });
    assert.match(r.out, /^1\n/);
    assert.match(r.out, /lo-ok/);
    assert.match(r.out, /unreachable/i);
    assert.match(r.out, /rc=1/);
  });

  test('containers on a named network reach each other by name; /etc files generated', async () => {
    const nets = new Networks(state);
    const info = nets.create(netName);
    assert.notEqual(info.subnet, '10.213.0.0/24');
    const a = await attached(netName, 'alpha');
    const ac = new AbortController();
    const server = run(
      { id: a.id, args: ['httpd', '-f', '-p', '80', '-h', '/var/www'], network: a.att.spec.network, etcFiles: a.att.spec.etcFiles },
      { signal: ac.signal },
    );
    const b = await attached(netName, 'beta');
    try {
      const r = await run({
        id: b.id,
        args: ['sh', '-c', 'cat /etc/hostname; grep alpha /etc/hosts; wget -q -O- http://alpha/; ping -c1 -W1 127.0.0.1 >/dev/null && echo lo-up'],
        hostname: 'beta',
        network: b.att.spec.network,
        etcFiles: b.att.spec.etcFiles,
      });
      assert.equal(r.exitCode, 0, r.err);
      assert.match(r.out, /^beta\n/);
      assert.match(r.out, new RegExp(`^${a.att.endpoint!.ip.replaceAll('.', '\\.')}\\talpha ${a.id.slice(0, 12)}$`, 'm'));
      assert.match(r.out, /hello from kiln/);
      assert.match(r.out, /lo-up/, 'the namespace kiln made has lo up (no loopback plugin)');
      // forwarding and masquerading are per network: one set of rules for the bridge, none per container
      const rules = execFileSync('iptables-save', { encoding: 'utf8' }).split('\n');
      assert.ok(rules.some((l) => l.startsWith('-A KILN-FORWARD') && l.includes(`-i ${info.bridge} `) && l.endsWith('-j ACCEPT')), 'forward rule');
      assert.ok(rules.some((l) => l.startsWith('-A KILN-POSTROUTING') && l.includes(`-s ${info.subnet} `) && l.endsWith('-j MASQUERADE')), 'masquerade rule');
      assert.deepEqual(iptablesRulesFor(b.att.endpoint!.ip), []);
      // alpha's (running) hosts file learned about beta
      const { readFileSync } = await import('node:fs');
      assert.match(readFileSync(a.att.spec.etcFiles.hosts, 'utf8'), /\tbeta /);
    } finally {
      ac.abort();
      await server;
      await detachNetwork({ stateRoot: state, containerId: b.id, network: b.att.network });
      await detachNetwork({ stateRoot: state, containerId: a.id, network: a.att.network });
    }
    await assert.rejects(nets.remove('kiln'), /pre-defined/);
    await nets.remove(netName);
    assert.equal(nets.get(netName), undefined);
    assert.doesNotMatch(execFileSync('iptables-save', { encoding: 'utf8' }), new RegExp(`kiln ${info.bridge}\\b`), 'the network rules go with it');
    assert.ok(!execFileSync('ip', ['-o', 'link'], { encoding: 'utf8' }).includes(info.bridge + ':'));
  });
});
