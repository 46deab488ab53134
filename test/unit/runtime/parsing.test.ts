// Pure parts of the runtime: -p, -v, --mount, --tmpfs, sizes, restart policies, env merging,
// /etc/hosts and resolv.conf rendering, k8s-file log parsing.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { parsePortSpec, renderHosts, renderResolvConf } from '../../../src/runtime/network.js';
import { parseBytes, parseMountSpec, parseTmpfsSpec, parseVolumeSpec } from '../../../src/runtime/volumes.js';
import { signalNumber } from '../../../src/runtime/containers.js';
import { mergeEnv, parseAddHost, parseRestartPolicy } from '../../../src/runtime/container-options.js';
import { parseLog } from '../../../src/runtime/logs.js';

describe('port specs', () => {
  test('Docker forms', () => {
    assert.deepEqual(parsePortSpec('80'), [{ hostPort: 0, containerPort: 80, protocol: 'tcp' }]);
    assert.deepEqual(parsePortSpec('8080:80'), [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }]);
    assert.deepEqual(parsePortSpec('127.0.0.1:8080:80/udp'), [{ hostIP: '127.0.0.1', hostPort: 8080, containerPort: 80, protocol: 'udp' }]);
    assert.deepEqual(parsePortSpec('127.0.0.1::80'), [{ hostIP: '127.0.0.1', hostPort: 0, containerPort: 80, protocol: 'tcp' }]);
    assert.deepEqual(parsePortSpec('8000-8001:80-81'), [
      { hostPort: 8000, containerPort: 80, protocol: 'tcp' },
      { hostPort: 8001, containerPort: 81, protocol: 'tcp' },
    ]);
    assert.throws(() => parsePortSpec('8000-8002:80-81'), /invalid ranges/);
    assert.throws(() => parsePortSpec('x:80'), /invalid port/);
    assert.throws(() => parsePortSpec('80/icmp'), /invalid proto/);
    assert.throws(() => parsePortSpec('99999'), /invalid port range/);
  });
});

describe('mount specs', () => {
  test('-v: bind, named, anonymous, options', () => {
    assert.deepEqual(parseVolumeSpec('/host/dir:/data:ro'), { type: 'bind', source: '/host/dir', destination: '/data', readonly: true });
    assert.deepEqual(parseVolumeSpec('./rel:/data', '/cwd'), { type: 'bind', source: '/cwd/rel', destination: '/data', readonly: false });
    assert.deepEqual(parseVolumeSpec('cache:/var/cache/'), { type: 'volume', name: 'cache', destination: '/var/cache', readonly: false });
    assert.deepEqual(parseVolumeSpec('/anon'), { type: 'volume', destination: '/anon', readonly: false, anonymous: true });
    assert.deepEqual(parseVolumeSpec('/anon:ro'), { type: 'volume', destination: '/anon', readonly: true, anonymous: true });
    assert.throws(() => parseVolumeSpec('bad name!:/x'), /invalid characters for a local volume name/);
    assert.throws(() => parseVolumeSpec('v:rel'), /must be absolute/);
    assert.throws(() => parseVolumeSpec('/a:/b:xx'), /invalid mode: xx/);
  });
  test('--mount and --tmpfs', () => {
    assert.deepEqual(parseMountSpec('type=volume,source=v,target=/d,readonly'), { type: 'volume', name: 'v', destination: '/d', readonly: true });
    assert.deepEqual(parseMountSpec('type=tmpfs,dst=/t,tmpfs-size=1m,tmpfs-mode=1770'), {
      type: 'tmpfs',
      destination: '/t',
      readonly: false,
      size: 1 << 20,
      mode: 0o1770,
    });
    assert.throws(() => parseMountSpec('type=bind,source=/definitely/not/here,target=/x'), /bind source path does not exist/);
    assert.throws(() => parseMountSpec('type=bind,target=/x'), /source is required/);
    assert.deepEqual(parseTmpfsSpec('/run:size=64m,mode=755'), { type: 'tmpfs', destination: '/run', readonly: false, size: 64 << 20, mode: 0o755 });
  });
  test('sizes', () => {
    assert.equal(parseBytes('64m'), 64 << 20);
    assert.equal(parseBytes('1.5g'), 1.5 * 1024 ** 3);
    assert.equal(parseBytes('512'), 512);
    assert.equal(parseBytes('2KB'), 2048);
    assert.throws(() => parseBytes('lots'), /invalid size/);
  });
});

describe('container options', () => {
  test('restart policies', () => {
    assert.deepEqual(parseRestartPolicy(undefined), { name: 'no', maximumRetryCount: 0 });
    assert.deepEqual(parseRestartPolicy('on-failure:3'), { name: 'on-failure', maximumRetryCount: 3 });
    assert.deepEqual(parseRestartPolicy('always'), { name: 'always', maximumRetryCount: 0 });
    assert.throws(() => parseRestartPolicy('always:2'), /cannot be used/);
    assert.throws(() => parseRestartPolicy('sometimes'), /invalid restart policy/);
  });
  test('env: later wins in place, bare names come from the host', () => {
    process.env.KILN_TEST_HOST_VAR = 'from-host';
    assert.deepEqual(mergeEnv(['PATH=/bin', 'A=1'], ['A=2', 'B=3', 'KILN_TEST_HOST_VAR', 'KILN_TEST_UNSET_VAR']), [
      'PATH=/bin',
      'A=2',
      'B=3',
      'KILN_TEST_HOST_VAR=from-host',
    ]);
  });
  test('--add-host and signals', () => {
    assert.deepEqual(parseAddHost('db:10.0.0.2'), { ip: '10.0.0.2', names: ['db'] });
    assert.deepEqual(parseAddHost('db=10.0.0.2'), { ip: '10.0.0.2', names: ['db'] });
    assert.throws(() => parseAddHost('nocolon'), /bad format/);
    assert.equal(signalNumber('TERM'), 15);
    assert.equal(signalNumber('SIGKILL'), 9);
    assert.equal(signalNumber('10'), 10);
    assert.throws(() => signalNumber('NOPE'), /invalid signal/);
  });
});

describe('/etc files', () => {
  test('hosts: localhost block, extra hosts, peers, then the container', () => {
    const h = renderHosts({
      hostname: 'web',
      ip: '10.213.0.5',
      extra: [{ ip: '10.1.1.1', names: ['db'] }],
      peers: [{ ip: '10.213.0.6', names: ['api', 'abc', 'api'] }],
    });
    const lines = h.trimEnd().split('\n');
    assert.equal(lines[0], '127.0.0.1\tlocalhost');
    assert.deepEqual(lines.slice(-3), ['10.1.1.1\tdb', '10.213.0.6\tapi abc', '10.213.0.5\tweb']);
  });
  test('resolv.conf: loopback servers dropped, Docker fallback, --dns and --dns-search', () => {
    assert.equal(renderResolvConf('nameserver 10.0.0.53\nsearch corp\n'), 'nameserver 10.0.0.53\nsearch corp\n');
    assert.equal(renderResolvConf('nameserver 127.0.0.53\n'), 'nameserver 8.8.8.8\nnameserver 8.8.4.4\n');
    assert.equal(renderResolvConf('nameserver 127.0.0.53\n', { hostNetwork: true }), 'nameserver 127.0.0.53\n');
    assert.equal(renderResolvConf('nameserver 10.0.0.53\nsearch corp\n', { dns: ['1.1.1.1'], dnsSearch: ['x.y'] }), 'search x.y\nnameserver 1.1.1.1\n');
  });
});

describe('k8s-file logs', () => {
  test('full and partial lines, both streams', () => {
    const log =
      '2026-11-23T08:29:09.233025059+00:00 stdout F line one\n' +
      '2026-11-23T08:29:09.233025060+00:00 stderr P part\n' +
      '2026-11-23T08:29:09.233025061+00:00 stderr F ial\n' +
      'garbage\n';
    assert.deepEqual(parseLog(log), [
      { time: '2026-11-23T08:29:09.233025059Z', stream: 'stdout', text: 'line one\n' },
      { time: '2026-11-23T08:29:09.233025060Z', stream: 'stderr', text: 'part' },
      { time: '2026-11-23T08:29:09.233025061Z', stream: 'stderr', text: 'ial\n' },
    ]);
  });
});
