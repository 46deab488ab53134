// HTTPS downloads (ADD <url>, import <url>) trust the authorities in NODE_EXTRA_CA_CERTS, as any
// Node program does, although bin/kiln.cjs moves the variable aside so that Node does not parse it
// at every start (src/util/extra-ca.ts): a server with a certificate from a private CA is reached
// with the variable set and refused without it.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kiln, makeContext } from '../helpers/kiln.js';

describe('HTTPS downloads and NODE_EXTRA_CA_CERTS', () => {
  const k = new Kiln();
  const dir = mkdtempSync(join(tmpdir(), 'kiln-tls-'));
  const ca = join(dir, 'ca.pem');
  let server: ChildProcess;
  let base = '';
  const dirs: string[] = [];

  before(async () => {
    k.busybox();
    const openssl = (args: string[]) => {
      const r = spawnSync('openssl', args, { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`openssl ${args[0]}: ${r.stderr}`);
    };
    // A private CA and a server certificate for 127.0.0.1 signed by it.
    openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'ca.key'), '-out', ca, '-subj', '/CN=kiln test CA', '-days', '2']);
    openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'srv.key'), '-out', join(dir, 'srv.csr'), '-subj', '/CN=127.0.0.1']);
    const ext = join(dir, 'ext.cnf');
    writeFileSync(ext, 'subjectAltName=IP:127.0.0.1\n');
    openssl(['x509', '-req', '-in', join(dir, 'srv.csr'), '-CA', ca, '-CAkey', join(dir, 'ca.key'), '-CAcreateserial', '-out', join(dir, 'srv.pem'), '-days', '2', '-extfile', ext]);
    const tarball = join(dir, 'rootfs.tar');
    const t = spawnSync('sh', ['-c', `mkdir -p ${dir}/r/etc && echo imported > ${dir}/r/etc/marker && tar -C ${dir}/r -cf ${tarball} .`]);
    assert.equal(t.status, 0);
    const script = `const fs=require('fs');const s=require('https').createServer({key:fs.readFileSync(${JSON.stringify(join(dir, 'srv.key'))}),cert:fs.readFileSync(${JSON.stringify(join(dir, 'srv.pem'))})},(q,r)=>q.url==='/rootfs.tar'?r.end(fs.readFileSync(${JSON.stringify(tarball)})):q.url==='/hello.txt'?r.end('hello over tls\\n'):r.writeHead(404).end());s.listen(0,'127.0.0.1',()=>console.log(s.address().port))`;
    server = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const port = await new Promise<number>((r) => server.stdout!.once('data', (d: Buffer) => r(Number(d.toString().trim()))));
    base = `https://127.0.0.1:${port}`;
  });
  after(() => {
    server.kill();
    k.cleanup();
    rmSync(dir, { recursive: true, force: true });
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('import <https url> trusts the extra CA, and refuses the server without it', () => {
    k.ok(['import', `${base}/rootfs.tar`, 'tls-imported:1'], { env: { NODE_EXTRA_CA_CERTS: ca } });
    const id = k.ok(['image', 'inspect', '--format', '{{.Id}}', 'tls-imported:1']).stdout.trim();
    assert.match(id, /^sha256:[0-9a-f]{64}$/);
    const without = k.run(['import', `${base}/rootfs.tar`, 'tls-imported:2'], { env: { NODE_EXTRA_CA_CERTS: undefined } });
    assert.notEqual(without.code, 0);
    assert.match(without.stderr, /failed to load https:\/\/127\.0\.0\.1:\d+\/rootfs\.tar: .*(certificate|CERT)/);
    assert.equal(k.run(['image', 'inspect', 'tls-imported:2']).code, 1, 'nothing is tagged after a refused download');
  });

  it('ADD <https url> in a build trusts the extra CA', () => {
    const ctx = makeContext({ Dockerfile: `FROM busybox\nADD ${base}/hello.txt /dl/\n` });
    dirs.push(ctx);
    k.ok(['build', '-t', 'tls-add', ctx], { env: { NODE_EXTRA_CA_CERTS: ca } });
    assert.equal(k.ok(['run', '--rm', '--network', 'none', 'tls-add', 'cat', '/dl/hello.txt']).stdout, 'hello over tls\n');
    const without = k.run(['build', '--no-cache', '-t', 'tls-add2', ctx], { env: { NODE_EXTRA_CA_CERTS: undefined } });
    assert.notEqual(without.code, 0);
    assert.match(without.stderr, /Dockerfile:2: ADD https:\/\/127\.0\.0\.1:\d+\/hello\.txt \/dl\/: failed to load .*(certificate|CERT)/);
  });
});

