import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseWwwAuthenticate } from '../../../src/registry/challenge.js';

test('bearer challenge with realm, service and scope', () => {
  const c = parseWwwAuthenticate('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"');
  assert.deepEqual(c, [
    { scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/busybox:pull' } },
  ]);
});

test('basic challenge, case-insensitive scheme and parameter names', () => {
  assert.deepEqual(parseWwwAuthenticate('BASIC Realm="Registry Realm"'), [{ scheme: 'basic', params: { realm: 'Registry Realm' } }]);
});

test('several challenges in one header and in several headers', () => {
  const c = parseWwwAuthenticate(['Basic realm="a", Bearer realm="https://t/x",service=reg', 'Negotiate']);
  assert.deepEqual(
    c.map((x) => x.scheme),
    ['basic', 'bearer', 'negotiate'],
  );
  assert.equal(c[1]!.params.service, 'reg');
  assert.equal(c[1]!.params.realm, 'https://t/x');
});

test('quoted strings keep commas, spaces and escaped quotes', () => {
  const c = parseWwwAuthenticate('Bearer realm="https://a/t?x=1,y=2", scope="repository:a:pull repository:b:pull", error="say \\"hi\\""');
  assert.equal(c[0]!.params.realm, 'https://a/t?x=1,y=2');
  assert.equal(c[0]!.params.scope, 'repository:a:pull repository:b:pull');
  assert.equal(c[0]!.params.error, 'say "hi"');
});

test('insufficient_scope error challenge', () => {
  const c = parseWwwAuthenticate('Bearer realm="http://127.0.0.1:1/token",service="s",scope="repository:x:pull,push",error="insufficient_scope"');
  assert.equal(c[0]!.params.error, 'insufficient_scope');
  assert.equal(c[0]!.params.scope, 'repository:x:pull,push');
});

test('empty or missing header gives no challenge', () => {
  assert.deepEqual(parseWwwAuthenticate(undefined), []);
  assert.deepEqual(parseWwwAuthenticate(''), []);
});
