import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { lookupCredential, normalizeAuthKey, removeCredential, storeCredential } from '../../../src/registry/credentials.js';
import { endpointsFor, isLoopbackHost, loadRegistriesConfig } from '../../../src/registry/config.js';

function withEnv<T>(vars: Record<string, string | undefined>, fn: () => T): T {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  for (const [k, v] of Object.entries(vars)) if (v === undefined) delete process.env[k];
  else process.env[k] = v;
  try {
    return fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
}

test('auth keys: schemes, paths and Docker Hub aliases normalize', () => {
  assert.equal(normalizeAuthKey('https://index.docker.io/v1/'), 'docker.io');
  assert.equal(normalizeAuthKey('registry-1.docker.io'), 'docker.io');
  assert.equal(normalizeAuthKey('http://127.0.0.1:5000/v2/'), '127.0.0.1:5000');
  assert.equal(normalizeAuthKey('quay.io'), 'quay.io');
});

test('store, look up and remove credentials; file mode 0600; Docker config read too', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-cred-'));
  const dockerDir = path.join(root, 'docker');
  fs.mkdirSync(dockerDir);
  fs.writeFileSync(
    path.join(dockerDir, 'config.json'),
    JSON.stringify({ auths: { 'https://index.docker.io/v1/': { auth: Buffer.from('hubuser:hub:pw').toString('base64') } } }),
  );
  withEnv({ DOCKER_CONFIG: dockerDir, KILN_AUTH_FILE: undefined }, () => {
    assert.equal(lookupCredential(root, '127.0.0.1:5000'), undefined);
    const file = storeCredential(root, '127.0.0.1:5000', { username: 'u', password: 'p w' });
    assert.equal(file, path.join(root, 'auth.json'));
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    assert.deepEqual(lookupCredential(root, '127.0.0.1:5000')?.credential, { username: 'u', password: 'p w', identityToken: undefined });
    const hub = lookupCredential(root, 'docker.io');
    assert.equal(hub?.credential.username, 'hubuser');
    assert.equal(hub?.credential.password, 'hub:pw');
    assert.equal(hub?.file, path.join(dockerDir, 'config.json'));
    // kiln's own file wins over Docker's.
    storeCredential(root, 'docker.io', { username: 'mine', password: 'x' });
    assert.equal(lookupCredential(root, 'docker.io')?.credential.username, 'mine');
    assert.equal(removeCredential(root, 'docker.io'), true);
    assert.equal(lookupCredential(root, 'docker.io')?.credential.username, 'hubuser');
    assert.equal(removeCredential(root, 'docker.io'), false);
    const saved = JSON.parse(fs.readFileSync(file, 'utf8'));
    assert.deepEqual(Object.keys(saved.auths), ['127.0.0.1:5000']);
  });
  fs.rmSync(root, { recursive: true, force: true });
});

test('registries.json: insecure registries and mirrors; loopback is plain HTTP', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-regconf-'));
  withEnv({ KILN_REGISTRIES_CONF: undefined }, () => {
    assert.deepEqual(loadRegistriesConfig(root), { registries: {} });
    fs.writeFileSync(
      path.join(root, 'registries.json'),
      JSON.stringify({ registries: { 'reg.internal:5000': { insecure: true }, 'docker.io': { mirrors: ['127.0.0.1:6000', 'https://m.example'] } } }),
    );
    const cfg = loadRegistriesConfig(root);
    const hub = endpointsFor('docker.io', cfg, { pull: true });
    assert.deepEqual(
      hub.map((e) => [e.bases.map(String), e.mirror]),
      [
        [['http://127.0.0.1:6000/'], true],
        [['https://m.example/'], true],
        [['https://registry-1.docker.io/'], false],
      ],
    );
    assert.equal(endpointsFor('docker.io', cfg, { pull: false }).length, 1);
    const insecure = endpointsFor('reg.internal:5000', cfg, { pull: false })[0]!;
    assert.deepEqual(insecure.bases.map(String), ['https://reg.internal:5000/', 'http://reg.internal:5000/']);
    assert.equal(insecure.insecureTls, true);
    assert.deepEqual(endpointsFor('quay.io', cfg, { pull: false })[0]!.bases.map(String), ['https://quay.io/']);
    assert.deepEqual(endpointsFor('localhost:5000', cfg, { pull: false })[0]!.bases.map(String), ['http://localhost:5000/']);
    fs.writeFileSync(path.join(root, 'registries.json'), '{"registries": []}');
    assert.throws(() => loadRegistriesConfig(root), /must be an object/);
  });
  assert.ok(isLoopbackHost('127.0.0.1:5000') && isLoopbackHost('localhost') && isLoopbackHost('[::1]:5000') && !isLoopbackHost('10.0.0.1:5000'));
  fs.rmSync(root, { recursive: true, force: true });
});
