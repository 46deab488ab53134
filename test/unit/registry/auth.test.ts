import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Authenticator, repositoryScope } from '../../../src/registry/auth.js';

async function tokenServer(handler: (req: http.IncomingMessage) => { status?: number; body: unknown }) {
  const seen: { url: string; authorization?: string }[] = [];
  const server = http.createServer((req, res) => {
    seen.push({ url: req.url ?? '', authorization: req.headers.authorization });
    const r = handler(req);
    setTimeout(() => {
      res.writeHead(r.status ?? 200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(r.body));
    }, 20);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const realm = `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`;
  return { realm, seen, close: () => new Promise<void>((r) => server.close(() => r())) };
}

test('bearer: one token request for concurrent callers, cached per scope set, scopes and service sent', async () => {
  let n = 0;
  const ts = await tokenServer(() => ({ body: { token: `t${++n}`, expires_in: 300 } }));
  try {
    const a = new Authenticator('reg', { username: 'u', password: 'p' });
    a.learn(`Bearer realm="${ts.realm}",service="svc"`);
    const scope = repositoryScope('team/app', ['pull']);
    const headers = await Promise.all([1, 2, 3, 4].map(() => a.prepare([scope])));
    assert.deepEqual(headers, ['Bearer t1', 'Bearer t1', 'Bearer t1', 'Bearer t1']);
    assert.equal(ts.seen.length, 1);
    const u = new URL(ts.seen[0]!.url, 'http://x');
    assert.equal(u.searchParams.get('service'), 'svc');
    assert.deepEqual(u.searchParams.getAll('scope'), ['repository:team/app:pull']);
    assert.equal(ts.seen[0]!.authorization, `Basic ${Buffer.from('u:p').toString('base64')}`);
    assert.equal(a.authorization([scope]), 'Bearer t1');
    // A different scope set is a different token.
    assert.equal(await a.prepare([repositoryScope('team/app', ['pull', 'push'])]), 'Bearer t2');
    // The registry refused t1: respond() fetches a fresh one.
    const retry = await a.respond(`Bearer realm="${ts.realm}",service="svc",scope="${scope}"`, [scope], 'Bearer t1');
    assert.equal(retry, 'Bearer t3');
  } finally {
    await ts.close();
  }
});

test('bearer: refused credentials and anonymous refusal have clear messages', async () => {
  const ts = await tokenServer(() => ({ status: 401, body: { errors: [{ code: 'UNAUTHORIZED' }] } }));
  try {
    const withCreds = new Authenticator('reg:5000', { username: 'u', password: 'bad' });
    await assert.rejects(withCreds.respond(`Bearer realm="${ts.realm}"`, ['repository:a:pull'], undefined), /reg:5000: unauthorized: incorrect username or password/);
    const anon = new Authenticator('reg:5000', undefined);
    await assert.rejects(anon.respond(`Bearer realm="${ts.realm}"`, ['repository:a:pull'], undefined), /authentication required; run `kiln login reg:5000`/);
  } finally {
    await ts.close();
  }
});

test('basic: credentials are sent after the challenge; the same ones refused again is an error', async () => {
  const a = new Authenticator('reg', { username: 'u', password: 'p' });
  assert.equal(a.authorization([]), undefined);
  const h = await a.respond('Basic realm="r"', [], undefined);
  assert.equal(h, `Basic ${Buffer.from('u:p').toString('base64')}`);
  assert.equal(a.authorization(['repository:x:pull']), h, 'sent preemptively from now on');
  await assert.rejects(a.respond('Basic realm="r"', [], h), /incorrect username or password/);
  await assert.rejects(new Authenticator('reg', undefined).respond('Basic realm="r"', [], undefined), /authentication required/);
});

test('short-lived tokens expire from the cache', async () => {
  let n = 0;
  const ts = await tokenServer(() => ({ body: { access_token: `a${++n}`, expires_in: 1, issued_at: new Date(Date.now() - 20_000).toISOString() } }));
  try {
    const a = new Authenticator('reg', undefined);
    a.learn(`Bearer realm="${ts.realm}"`);
    assert.equal(await a.prepare(['repository:x:pull']), 'Bearer a1');
    // Lifetime is at least 10 s from the request (issued_at in the past is distrusted beyond 10 min only),
    // so this one is already stale: 20 s ago + 10 s - 5 s margin.
    assert.equal(a.authorization(['repository:x:pull']), undefined);
    assert.equal(await a.prepare(['repository:x:pull']), 'Bearer a2');
  } finally {
    await ts.close();
  }
});
