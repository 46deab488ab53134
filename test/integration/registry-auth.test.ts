// Authentication against a real registry: htpasswd Basic auth and the Bearer token flow (token
// issuer in test/helpers/registry.ts), through the command line (`kiln login/pull/push/logout`) and
// the library. Wrong passwords are refused before anything is stored; credentials live in
// <root>/auth.json with mode 0600; Docker's config.json logins are honoured; an expired token is
// replaced after the registry's 401.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Engine } from '../../src/engine.js';
import { pullImage } from '../../src/registry/pull.js';
import { pushImage } from '../../src/registry/push.js';
import { login } from '../../src/registry/login.js';
import { kilnBin } from '../helpers/kiln.js';
import { craftOciLayout, PASSWORD, randomBytes, skopeoPushLayout, startRegistry, USER, type CraftedImage, type TestRegistry, missingRegistryTools } from '../helpers/registry.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-reg-auth-'));

const skip = missingRegistryTools();
let basic: TestRegistry;
let token: TestRegistry;
let img: CraftedImage;

// Keep the developer's own ~/.docker/config.json out of these tests.
const emptyDockerConfig = path.join(tmp, 'no-docker-config');
fs.mkdirSync(emptyDockerConfig);
process.env.DOCKER_CONFIG = emptyDockerConfig;
delete process.env.KILN_AUTH_FILE;

function kiln(root: string, args: string[], opts: { input?: string; env?: Record<string, string> } = {}) {
  const r = spawnSync(kilnBin, ['--root', root, ...args], {
    input: opts.input ?? '',
    env: { ...process.env, DOCKER_CONFIG: emptyDockerConfig, ...opts.env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

before(async () => {
  if (skip) return;
  [basic, token] = await Promise.all([startRegistry({ auth: 'basic' }), startRegistry({ auth: 'token' })]);
  img = craftOciLayout(path.join(tmp, 'layout'), [{ 'x/y.txt': 'y\n' }, { 'z.bin': randomBytes(100_000, 'z') }]);
  const creds = ['--dest-creds', `${USER}:${PASSWORD}`];
  await skopeoPushLayout(img, basic.host, 'team/app:1', creds);
  await skopeoPushLayout(img, token.host, 'team/app:1', creds);
});

after(async () => {
  await Promise.all([basic?.stop(), token?.stop()]);
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('basic auth through the CLI: refused anonymously, wrong password, login, pull, push, logout', { skip }, () => {
  const root = path.join(tmp, 'cli-basic');
  const ref = `${basic.host}/team/app:1`;
  let r = kiln(root, ['pull', ref]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /authentication required.*kiln login/);

  r = kiln(root, ['login', basic.host, '-u', USER, '--password-stdin'], { input: 'wrong\n' });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^Error: .*incorrect username or password/);
  assert.equal(fs.existsSync(path.join(root, 'auth.json')), false, 'nothing stored after a refused login');

  r = kiln(root, ['login', basic.host, '-u', USER, '--password-stdin'], { input: `${PASSWORD}\n` });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'Login Succeeded\n');
  const authFile = path.join(root, 'auth.json');
  assert.equal(fs.statSync(authFile).mode & 0o777, 0o600);
  const saved = JSON.parse(fs.readFileSync(authFile, 'utf8'));
  assert.equal(Buffer.from(saved.auths[basic.host].auth, 'base64').toString(), `${USER}:${PASSWORD}`);

  r = kiln(root, ['pull', ref]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^1: Pulling from team\/app\n/);
  assert.match(r.stdout, /Status: Downloaded newer image for .*team\/app:1\n/);
  assert.ok(r.stdout.endsWith(`${ref}\n`));

  r = kiln(root, ['push', ref, `${basic.host}/team/app:2`]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /: Layer already exists\n/);
  assert.match(r.stdout, /\n2: digest: sha256:[0-9a-f]{64} size: \d+\n$/);
  r = kiln(root, ['push', '-q', ref, `${basic.host}/team/app:3`]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `${basic.host}/team/app:3\n`, 'push -q prints the reference, as docker push -q');

  r = kiln(root, ['login', basic.host, '-u', USER, '-p', PASSWORD]);
  assert.equal(r.code, 0);
  assert.match(r.stderr, /WARNING! Using --password via the CLI is insecure/);

  r = kiln(root, ['logout', basic.host]);
  assert.equal(r.stdout, `Removing login credentials for ${basic.host}\n`);
  r = kiln(root, ['logout', basic.host]);
  assert.equal(r.stdout, `Not logged in to ${basic.host}\n`);
  r = kiln(root, ['pull', ref]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /authentication required/);
});

test("Docker's config.json logins are used", { skip }, () => {
  const root = path.join(tmp, 'cli-docker-config');
  const dockerDir = path.join(tmp, 'docker-config');
  fs.mkdirSync(dockerDir, { recursive: true });
  fs.writeFileSync(
    path.join(dockerDir, 'config.json'),
    JSON.stringify({ auths: { [`http://${basic.host}`]: { auth: Buffer.from(`${USER}:${PASSWORD}`).toString('base64') } } }),
  );
  const r = kiln(root, ['pull', '-q', `${basic.host}/team/app:1`], { env: { DOCKER_CONFIG: dockerDir } });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `${basic.host}/team/app:1\n`);
});

test("Docker's credential helpers: credHelpers per registry, else credsStore; not found is no credential", { skip }, () => {
  // A helper speaking docker-credential-helpers' protocol: the server URL on stdin, JSON out.
  const bin = path.join(tmp, 'helper-bin');
  fs.mkdirSync(bin, { recursive: true });
  const log = path.join(tmp, 'helper.log');
  const script = (name: string, user: string, pass: string) =>
    fs.writeFileSync(
      path.join(bin, `docker-credential-${name}`),
      `#!/bin/sh\nread server\necho "${name} $1 $server" >> ${log}\n` +
        `if [ "$server" = "${basic.host}" ]; then printf '{"ServerURL":"%s","Username":"${user}","Secret":"${pass}"}' "$server"; exit 0; fi\n` +
        `echo "credentials not found in native keychain"; exit 1\n`,
      { mode: 0o755 },
    );
  script('good', USER, PASSWORD);
  script('wrong', USER, 'not-the-password');
  const dockerDir = path.join(tmp, 'docker-config-helpers');
  fs.mkdirSync(dockerDir, { recursive: true });
  const env = { DOCKER_CONFIG: dockerDir, PATH: `${bin}:${process.env.PATH}` };
  const root = path.join(tmp, 'cli-helpers');

  fs.writeFileSync(path.join(dockerDir, 'config.json'), JSON.stringify({ auths: { [basic.host]: {} }, credsStore: 'good' }));
  const r = kiln(root, ['pull', '-q', `${basic.host}/team/app:1`], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.match(fs.readFileSync(log, 'utf8'), new RegExp(`^good get ${basic.host}$`, 'm'));

  // credHelpers wins over credsStore for its registry: the wrong password is refused.
  fs.writeFileSync(path.join(dockerDir, 'config.json'), JSON.stringify({ credsStore: 'good', credHelpers: { [basic.host]: 'wrong' } }));
  const refused = kiln(root, ['pull', '-q', `${basic.host}/team/app:1`], { env });
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /unauthorized|authentication required/i);

  // A registry the helper does not know: anonymous, as without a helper.
  fs.writeFileSync(path.join(dockerDir, 'config.json'), JSON.stringify({ credsStore: 'good' }));
  const anon = kiln(root, ['pull', '-q', `${token.host}/team/app:1`], { env });
  assert.notEqual(anon.code, 0);
  assert.match(fs.readFileSync(log, 'utf8'), new RegExp(`^good get ${token.host}$`, 'm'));
});

test('token auth: anonymous refused, wrong password refused, scoped tokens, cross-repo mount scope, refresh after 401', { skip }, async () => {
  const root = path.join(tmp, 'lib-token');
  const engine = Engine.open(root);
  try {
    const ref = `${token.host}/team/app:1`;
    await assert.rejects(pullImage(engine, ref), /authentication required; run `kiln login/);
    await assert.rejects(login(root, token.host, { username: USER, password: 'nope' }), /incorrect username or password/);
    assert.equal(fs.existsSync(path.join(root, 'auth.json')), false);
    await login(root, token.host, { username: USER, password: PASSWORD });

    const r = await pullImage(engine, ref);
    assert.equal(r.id, img.configDigest);
    assert.ok(token.token!.requests.some((q) => q.user === USER && q.scopes.includes('repository:team/app:pull')));

    token.token!.requests.length = 0;
    const lines: string[] = [];
    await pushImage(engine, ref, { progress: (l) => lines.push(l) }, `${token.host}/other/app:1`);
    assert.ok(lines.some((l) => l.endsWith(': Mounted from team/app')), lines.join('\n'));
    assert.ok(
      token.token!.requests.some((q) => q.scopes.includes('repository:other/app:pull,push') && q.scopes.includes('repository:team/app:pull')),
      JSON.stringify(token.token!.requests),
    );

    // The next token handed out is already expired: the registry answers 401, kiln fetches another.
    token.token!.expireNext = 1;
    const issued = token.token!.issued;
    const again = await pullImage(engine, `${token.host}/other/app:1`);
    assert.equal(again.id, img.configDigest);
    assert.equal(token.token!.expireNext, 0);
    assert.ok(token.token!.issued >= issued + 2, `tokens issued: ${token.token!.issued - issued}`);
  } finally {
    engine.close();
  }
});
