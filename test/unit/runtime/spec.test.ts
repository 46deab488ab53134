// generateSpec: Docker's defaults, clamped to the host, and every generated config valid against
// the OCI runtime-spec JSON schemas (../shared/conformance/oci-runtime-spec, when present).
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import {
  generateSpec,
  serializeSpec,
  containerEnv,
  effectiveCapabilities,
  DEFAULT_CAPABILITIES,
  type ContainerSpecOptions,
} from '../../../src/runtime/spec.js';
import { capabilitiesFromMask, hostBoundingCapabilities, hostLimits, parseProcLimits, RLIM_INFINITY } from '../../../src/runtime/host.js';
import type { OciSpec } from '../../../src/runtime/oci-spec.js';

const require = createRequire(import.meta.url);

// The corpus sits beside the project (../shared); this file runs from dist/test/unit/runtime.
const SCHEMA_DIR = [
  join(process.cwd(), '../shared/conformance/oci-runtime-spec/schema'),
  fileURLToPath(new URL('../../../../../shared/conformance/oci-runtime-spec/schema', import.meta.url)),
].find((d) => existsSync(join(d, 'config-schema.json')));

type Validate = ((data: unknown) => boolean) & { errors?: unknown };

function loadValidator(): Validate | undefined {
  if (!SCHEMA_DIR) return undefined;
  const Ajv = require('ajv-draft-04') as new (opts: object) => {
    addSchema(schema: object, key: string): void;
    getSchema(key: string): Validate | undefined;
  };
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
  const base = 'https://opencontainers.org/schema/runtime/';
  for (const f of readdirSync(SCHEMA_DIR).filter((n) => n.endsWith('.json'))) {
    ajv.addSchema(JSON.parse(readFileSync(join(SCHEMA_DIR, f), 'utf8')), base + f);
  }
  return ajv.getSchema(base + 'config-schema.json');
}

const validate = loadValidator();

function assertValid(spec: OciSpec): void {
  if (!validate) return;
  const doc = JSON.parse(serializeSpec(spec));
  const ok = validate(doc);
  assert.ok(ok, `config.json invalid: ${JSON.stringify(validate.errors, null, 2)}`);
}

const base: ContainerSpecOptions = { id: 'abc123', args: ['sh', '-c', 'true'], rootfs: '/tmp/rootfs' };

describe('generateSpec', () => {
  test('the schema validator is loaded (corpus present) and rejects a broken config', { skip: !validate && 'no conformance corpus' }, () => {
    assert.equal(validate!({ ociVersion: 1 }), false);
    assert.equal(validate!(JSON.parse(readFileSync(join(SCHEMA_DIR!, 'test/config/good/spec-example.json'), 'utf8'))), true);
  });

  test('minimal: Docker defaults, valid against the schema', () => {
    const s = generateSpec(base);
    assertValid(s);
    assert.equal(s.root!.path, '/tmp/rootfs');
    assert.equal(s.root!.readonly, false);
    assert.deepEqual(s.process!.args, ['sh', '-c', 'true']);
    assert.equal(s.process!.cwd, '/');
    assert.deepEqual(s.process!.user, { uid: 0, gid: 0 });
    assert.equal(s.linux!.cgroupsPath, '/kiln/abc123');
    assert.deepEqual(s.process!.capabilities!.bounding, [...DEFAULT_CAPABILITIES]);
    assert.equal(s.process!.noNewPrivileges, false);
    assert.equal(s.process!.apparmorProfile, undefined);
    assert.equal(s.process!.selinuxLabel, undefined);
    const types = s.linux!.namespaces!.map((n) => n.type).sort();
    assert.deepEqual(types, ['cgroup', 'ipc', 'mount', 'network', 'pid', 'uts']);
    assert.ok(s.linux!.maskedPaths!.includes('/proc/keys'));
    assert.ok(s.linux!.readonlyPaths!.includes('/proc/sys'));
    const shm = s.mounts!.find((m) => m.destination === '/dev/shm')!;
    assert.ok(shm.options!.includes('size=67108864'));
    assert.equal(s.linux!.seccomp!.defaultAction, 'SCMP_ACT_ALLOW');
    const denied = s.linux!.seccomp!.syscalls!.flatMap((c) => (c.args ? [] : c.names));
    for (const name of ['mount', 'unshare', 'setns', 'keyctl', 'ptrace', 'reboot', 'init_module', 'bpf']) {
      assert.ok(denied.includes(name), `${name} denied`);
    }
    assert.ok(s.linux!.seccomp!.syscalls!.some((c) => c.names.includes('clone') && c.args?.[0]?.value === 0x10000000));
    assert.deepEqual(s.linux!.resources!.devices![0], { allow: false, access: 'rwm' });
  });

  test('PATH added when missing, image env overrides in place, HOSTNAME and TERM', () => {
    assert.deepEqual(containerEnv(['A=1'], {}), [
      'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      'A=1',
    ]);
    assert.deepEqual(containerEnv(['PATH=/x', 'B=2'], { hostname: 'h', terminal: true }), ['PATH=/x', 'HOSTNAME=h', 'TERM=xterm', 'B=2']);
  });

  test('nofile rlimit clamped to the host hard limit; --ulimit clamped too; unlimited written as uint64 max', () => {
    const hard = hostLimits().RLIMIT_NOFILE!.hard;
    const s = generateSpec({
      ...base,
      ulimits: [
        { name: 'nproc', soft: 100, hard: 200 },
        { name: 'core', soft: -1, hard: -1 },
      ],
    });
    assertValid(s);
    const nofile = s.process!.rlimits!.find((r) => r.type === 'RLIMIT_NOFILE')!;
    assert.equal(nofile.hard, Math.min(1048576, hard));
    assert.ok(nofile.soft <= nofile.hard);
    assert.deepEqual(s.process!.rlimits!.find((r) => r.type === 'RLIMIT_NPROC'), {
      type: 'RLIMIT_NPROC',
      soft: Math.min(100, hostLimits().RLIMIT_NPROC!.hard),
      hard: Math.min(200, hostLimits().RLIMIT_NPROC!.hard),
    });
    const core = s.process!.rlimits!.find((r) => r.type === 'RLIMIT_CORE')!;
    assert.equal(core.hard, hostLimits().RLIMIT_CORE!.hard);
    if (hostLimits().RLIMIT_CORE!.hard === RLIM_INFINITY) {
      assert.match(serializeSpec(s), /"hard": 18446744073709551615/);
    }
    assert.throws(() => generateSpec({ ...base, ulimits: [{ name: 'nofile', soft: 10, hard: 5 }] }), /soft limit/);
    assert.throws(() => generateSpec({ ...base, ulimits: [{ name: 'bogus', soft: 1, hard: 1 }] }), /invalid ulimit type/);
  });

  test('/proc/self/limits parsing', () => {
    const l = parseProcLimits(
      'Limit                     Soft Limit           Hard Limit           Units     \n' +
        'Max open files            1024                 20000                files     \n' +
        'Max core file size        0                    unlimited            bytes     \n',
    );
    assert.deepEqual(l.RLIMIT_NOFILE, { soft: 1024, hard: 20000 });
    assert.deepEqual(l.RLIMIT_CORE, { soft: 0, hard: RLIM_INFINITY });
  });

  test('capabilities: add/drop in Docker spelling; privileged = the host bounding set', () => {
    const host = hostBoundingCapabilities();
    const caps = effectiveCapabilities({ capAdd: ['net_admin'], capDrop: ['CHOWN', 'cap_kill'] });
    assert.ok(caps.includes('CAP_NET_ADMIN') === host.includes('CAP_NET_ADMIN'));
    assert.ok(!caps.includes('CAP_CHOWN'));
    assert.ok(!caps.includes('CAP_KILL'));
    assert.deepEqual(effectiveCapabilities({ capDrop: ['ALL'], capAdd: ['CHOWN'] }), ['CAP_CHOWN']);
    const priv = generateSpec({ ...base, privileged: true });
    assertValid(priv);
    assert.deepEqual(priv.process!.capabilities!.bounding, host);
    assert.equal(priv.linux!.seccomp, undefined);
    assert.equal(priv.linux!.maskedPaths, undefined);
    assert.throws(() => effectiveCapabilities({ capAdd: ['NOT_A_CAP'] }), /unknown capability/);
    // adding a capability the host lacks is refused up front (this host lacks SYS_RESOURCE)
    const missing = capabilitiesFromMask('1ffffffffff').filter((c) => !host.includes(c));
    for (const c of missing) assert.throws(() => effectiveCapabilities({ capAdd: [c] }), /not available on this host/);
    // capabilities the container holds lift Docker's seccomp gates
    const admin = generateSpec({ ...base, capAdd: ['SYS_ADMIN'] });
    const names = admin.linux!.seccomp!.syscalls!.flatMap((c) => c.names);
    assert.ok(!names.includes('mount'));
    assert.ok(!names.includes('clone'));
  });

  test('CapBnd mask decoding', () => {
    const caps = capabilitiesFromMask('000001fffeffffff');
    assert.equal(caps.length, 40);
    assert.ok(!caps.includes('CAP_SYS_RESOURCE'));
    assert.ok(caps.includes('CAP_CHECKPOINT_RESTORE'));
  });

  test('cgroup resources: memory+swap (Docker semantics), cpus → quota/period, pids', () => {
    const s = generateSpec({ ...base, resources: { memory: 64 << 20, cpus: 0.5, pidsLimit: 20 } });
    assertValid(s);
    assert.deepEqual(s.linux!.resources!.memory, { limit: 64 << 20, swap: 128 << 20 });
    assert.deepEqual(s.linux!.resources!.cpu, { period: 100000, quota: 50000 });
    assert.deepEqual(s.linux!.resources!.pids, { limit: 20 });
    assert.deepEqual(generateSpec({ ...base, resources: { memory: 64 << 20, memorySwap: -1 } }).linux!.resources!.memory, {
      limit: 64 << 20,
      swap: -1,
    });
    assert.deepEqual(generateSpec({ ...base, resources: { memory: 64 << 20, memorySwap: 64 << 20 } }).linux!.resources!.memory, {
      limit: 64 << 20,
      swap: 64 << 20,
    });
    assert.throws(() => generateSpec({ ...base, resources: { memorySwap: 64 << 20 } }), /always set the Memory limit/);
    assert.throws(() => generateSpec({ ...base, resources: { memory: 64 << 20, memorySwap: 32 << 20 } }), /larger than memory/);
    assert.throws(() => generateSpec({ ...base, resources: { memory: 1 << 20 } }), /Minimum memory limit/);
    assert.throws(() => generateSpec({ ...base, resources: { cpus: 1000 } }), /range of CPUs/);
    assert.deepEqual(generateSpec({ ...base, resources: { pidsLimit: -1 } }).linux!.resources!.pids, { limit: -1 });
  });

  test('network modes: none = new netns, host = none, ns = the given path', () => {
    const netOf = (s: OciSpec) => s.linux!.namespaces!.find((n) => n.type === 'network');
    assert.deepEqual(netOf(generateSpec({ ...base, network: { mode: 'none' } })), { type: 'network' });
    assert.equal(netOf(generateSpec({ ...base, network: { mode: 'host' } })), undefined);
    const ns = generateSpec({ ...base, network: { mode: 'ns', netnsPath: '/run/netns/x' } });
    assertValid(ns);
    assert.deepEqual(netOf(ns), { type: 'network', path: '/run/netns/x' });
    assert.throws(() => generateSpec({ ...base, network: { mode: 'ns' } }), /netnsPath/);
  });

  test('mounts: binds, volumes, tmpfs, /etc files, replacement of defaults, parents first', () => {
    const s = generateSpec({
      ...base,
      readonlyRootfs: true,
      user: { uid: 1000, gid: 1000, additionalGids: [10, 29] },
      cwd: '/work',
      hostname: 'box',
      terminal: true,
      noNewPrivileges: true,
      etcFiles: { hosts: '/s/hosts', resolvConf: '/s/resolv.conf', hostname: '/s/hostname' },
      mounts: [
        { type: 'bind', source: '/host/a/b', destination: '/data/sub' },
        { type: 'volume', source: '/var/lib/kiln/volumes/v/_data', destination: '/data', readonly: true },
        { type: 'tmpfs', destination: '/run', size: 1 << 20, mode: 0o755 },
        { type: 'tmpfs', destination: '/dev/shm', size: 1 << 20 },
        { type: 'bind', source: '/host/hosts', destination: '/etc/hosts/' },
      ],
    });
    assertValid(s);
    assert.equal(s.root!.readonly, true);
    assert.equal(s.process!.terminal, true);
    assert.equal(s.process!.noNewPrivileges, true);
    assert.deepEqual(s.process!.user, { uid: 1000, gid: 1000, additionalGids: [10, 29] });
    assert.equal(s.hostname, 'box');
    assert.ok(s.process!.env!.includes('HOSTNAME=box') && s.process!.env!.includes('TERM=xterm'));
    const dests = s.mounts!.map((m) => m.destination);
    assert.equal(dests.filter((d) => d === '/dev/shm').length, 1, 'one /dev/shm');
    assert.ok(s.mounts!.find((m) => m.destination === '/dev/shm')!.options!.includes(`size=${1 << 20}`));
    assert.equal(s.mounts!.find((m) => m.destination === '/etc/hosts')!.source, '/host/hosts');
    assert.equal(s.mounts!.find((m) => m.destination === '/etc/resolv.conf')!.source, '/s/resolv.conf');
    assert.ok(dests.indexOf('/data') < dests.indexOf('/data/sub'), 'parent before child');
    assert.deepEqual(s.mounts!.find((m) => m.destination === '/data')!.options, ['rbind', 'rprivate', 'ro']);
    assert.deepEqual(s.mounts!.find((m) => m.destination === '/run')!.options, ['nosuid', 'nodev', 'noexec', `size=${1 << 20}`, 'mode=0755']);
    assert.throws(() => generateSpec({ ...base, mounts: [{ type: 'tmpfs', destination: 'rel' }] }), /must be absolute/);
    assert.throws(
      () =>
        generateSpec({
          ...base,
          mounts: [
            { type: 'tmpfs', destination: '/x' },
            { type: 'tmpfs', destination: '/x/' },
          ],
        }),
      /Duplicate mount point/,
    );
  });

  test('--init wraps the command; seccomp unconfined or custom', () => {
    const s = generateSpec({ ...base, initPath: '/usr/bin/tini', seccomp: 'unconfined' });
    assertValid(s);
    assert.deepEqual(s.process!.args, ['/sbin/docker-init', '--', 'sh', '-c', 'true']);
    assert.ok(s.mounts!.some((m) => m.destination === '/sbin/docker-init' && m.source === '/usr/bin/tini'));
    assert.equal(s.linux!.seccomp, undefined);
    const custom = generateSpec({ ...base, seccomp: { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [] } });
    assert.equal(custom.linux!.seccomp!.defaultAction, 'SCMP_ACT_ERRNO');
    assert.throws(() => generateSpec({ ...base, args: [] }), /no command/);
  });
});
