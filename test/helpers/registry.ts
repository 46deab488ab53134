// Test harness: a real CNCF Distribution registry (Debian's /usr/bin/docker-registry) on a free
// 127.0.0.1 port with a temporary storage directory, in one of three auth modes:
//   - 'none'  anonymous;
//   - 'basic' htpasswd (bcrypt) with USER/PASSWORD below;
//   - 'token' the bearer-token flow, with a small token issuer here: an HTTP server that checks
//     Basic credentials and signs ES256 JWTs (x5c header) with a throw-away self-signed certificate
//     (made by `openssl`) that the registry trusts as its root bundle.
// Plus a fault-injecting HTTP proxy to put in front of it (corrupt / truncate / die mid-transfer).
import { spawn, execFile, execFileSync, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { encodeHeader, padding, END_OF_ARCHIVE } from '../../src/layers/tar.js';

export const USER = 'kiln';
export const PASSWORD = 'kiln-pass';
// bcrypt (cost 4) of PASSWORD; Distribution's htpasswd accepts bcrypt only.
const HTPASSWD = `${USER}:$2b$04$8kC9cXX3yks9b0Xz.ovEAOhYkq9ruCks1jFnWGi8RXejQdzYGLjJa\n`;

export type AuthMode = 'none' | 'basic' | 'token';

export interface TokenIssuer {
  url: string;
  /** Tokens handed out so far. */
  issued: number;
  /** Scopes asked for, in order. */
  requests: { scopes: string[]; user?: string }[];
  /** The next N tokens are issued already expired (to exercise refresh after a 401). */
  expireNext: number;
  /** Allow anonymous pulls (tokens with pull access for requests without credentials). */
  anonymousPull: boolean;
  close(): Promise<void>;
}

export interface TestRegistry {
  /** host:port, as written in image references. */
  host: string;
  port: number;
  url: string;
  storage: string;
  auth: AuthMode;
  token?: TokenIssuer;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

function b64url(b: Buffer | string): string {
  return Buffer.from(b).toString('base64url');
}

async function startTokenIssuer(dir: string, service: string, issuer: string): Promise<{ t: TokenIssuer; certFile: string }> {
  const keyFile = path.join(dir, 'token.key');
  const certFile = path.join(dir, 'token.crt');
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyFile, '-out', certFile, '-subj', '/CN=kiln-test-token', '-days', '2'],
    { stdio: 'ignore' },
  );
  const key = crypto.createPrivateKey(fs.readFileSync(keyFile));
  const certDer = new crypto.X509Certificate(fs.readFileSync(certFile)).raw;
  const state = { issued: 0, requests: [] as TokenIssuer['requests'], expireNext: 0, anonymousPull: false };
  const server = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    const scopes = u.searchParams.getAll('scope').flatMap((s) => s.split(' ')).filter(Boolean);
    let user: string | undefined;
    const authz = req.headers.authorization;
    if (authz?.startsWith('Basic ')) {
      const [u1, ...p] = Buffer.from(authz.slice(6), 'base64').toString().split(':');
      if (u1 !== USER || p.join(':') !== PASSWORD) {
        res.writeHead(401, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'invalid username or password' }] }));
        return;
      }
      user = u1;
    }
    state.requests.push({ scopes, user });
    if (!user && !state.anonymousPull) {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }));
      return;
    }
    const access = scopes
      .map((s) => s.split(':'))
      .filter((p) => p.length >= 3 && p[0] === 'repository')
      .map((p) => ({
        type: 'repository',
        name: p.slice(1, -1).join(':'),
        actions: p[p.length - 1]!.split(',').filter((a) => user || a === 'pull'),
      }));
    const now = Math.floor(Date.now() / 1000);
    const expired = state.expireNext > 0;
    if (expired) state.expireNext--;
    const claims = {
      iss: issuer,
      sub: user ?? '',
      aud: service,
      exp: expired ? now - 3600 : now + 300,
      nbf: now - 7200,
      iat: now - 10,
      jti: crypto.randomUUID(),
      access,
    };
    const header = { typ: 'JWT', alg: 'ES256', x5c: [certDer.toString('base64')] };
    const signingInput = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const sig = crypto.sign('sha256', Buffer.from(signingInput), { key, dsaEncoding: 'ieee-p1363' });
    const token = `${signingInput}.${b64url(sig)}`;
    state.issued++;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ token, access_token: token, expires_in: 300, issued_at: new Date().toISOString() }));
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  const t: TokenIssuer = {
    url: `http://127.0.0.1:${port}/token`,
    get issued() {
      return state.issued;
    },
    get requests() {
      return state.requests;
    },
    get expireNext() {
      return state.expireNext;
    },
    set expireNext(n: number) {
      state.expireNext = n;
    },
    get anonymousPull() {
      return state.anonymousPull;
    },
    set anonymousPull(v: boolean) {
      state.anonymousPull = v;
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
  return { t, certFile };
}

export interface StartOptions {
  auth?: AuthMode;
  /** Keep the registry's log here instead of discarding it. */
  logFile?: string;
}

export async function startRegistry(opts: StartOptions = {}): Promise<TestRegistry> {
  const auth = opts.auth ?? 'none';
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-registry-'));
  const storage = path.join(dir, 'storage');
  fs.mkdirSync(storage);
  const port = await freePort();
  let authYaml = '';
  let token: TokenIssuer | undefined;
  if (auth === 'basic') {
    fs.writeFileSync(path.join(dir, 'htpasswd'), HTPASSWD);
    authYaml = `auth:\n  htpasswd:\n    realm: kiln-test\n    path: ${path.join(dir, 'htpasswd')}\n`;
  } else if (auth === 'token') {
    const service = 'kiln-test-registry';
    const issuer = 'kiln-test-issuer';
    const { t, certFile } = await startTokenIssuer(dir, service, issuer);
    token = t;
    authYaml = `auth:\n  token:\n    realm: ${t.url}\n    service: ${service}\n    issuer: ${issuer}\n    rootcertbundle: ${certFile}\n`;
  }
  const config = `version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: ${storage}
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:${port}
${authYaml}`;
  const configFile = path.join(dir, 'config.yml');
  fs.writeFileSync(configFile, config);
  const logFd = opts.logFile ? fs.openSync(opts.logFile, 'a') : 'ignore';
  const child: ChildProcess = spawn('/usr/bin/docker-registry', ['serve', configFile], {
    stdio: ['ignore', logFd, logFd],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir },
  });
  if (typeof logFd === 'number') fs.closeSync(logFd);
  let exited = false;
  child.once('exit', () => (exited = true));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (exited) throw new Error(`docker-registry exited at start (config ${configFile})`);
    const ok = await new Promise<boolean>((resolve) => {
      const r = http.get(`${url}/v2/`, (res) => {
        res.resume();
        resolve(true);
      });
      r.on('error', () => resolve(false));
    });
    if (ok) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error('docker-registry did not answer within 10s');
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  return {
    host: `127.0.0.1:${port}`,
    port,
    url,
    storage,
    auth,
    token,
    async stop() {
      if (!exited) {
        const gone = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 3000);
        await gone;
        clearTimeout(t);
      }
      await token?.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Fault-injecting proxy.

export type Fault =
  /** Flip one byte in the middle of a matching blob response. */
  | { kind: 'corrupt'; match?: (req: http.IncomingMessage) => boolean; times?: number }
  /** Send the headers, then `afterBytes` bytes of a matching blob response, then cut the connection. */
  | { kind: 'truncate'; afterBytes: number; match?: (req: http.IncomingMessage) => boolean; times?: number }
  /** After `afterBytes` blob bytes in total, cut every connection and stop listening (revive() restarts). */
  | { kind: 'die'; afterBytes: number };

export interface ProxyLogEntry {
  method: string;
  path: string;
  range?: string;
  status?: number;
}

export interface FaultProxy {
  host: string;
  port: number;
  fault?: Fault;
  log: ProxyLogEntry[];
  /** True after a 'die' fault fired and until revive(). */
  readonly dead: boolean;
  revive(): Promise<void>;
  close(): Promise<void>;
}

const isBlobGet = (req: http.IncomingMessage) => req.method === 'GET' && /\/blobs\/sha256:/.test(req.url ?? '');

export async function startFaultProxy(target: { port: number }): Promise<FaultProxy> {
  const port = await freePort();
  const sockets = new Set<net.Socket>();
  let dead = false;
  let blobBytes = 0;
  const proxy: FaultProxy = {
    host: `127.0.0.1:${port}`,
    port,
    fault: undefined,
    log: [],
    get dead() {
      return dead;
    },
    revive: async () => {
      if (!dead) return;
      dead = false;
      blobBytes = 0;
      proxy.fault = undefined;
      await listen();
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        if (dead) return r();
        server.close(() => r());
      }),
  };
  const die = () => {
    if (dead) return;
    dead = true;
    server.close();
    for (const s of sockets) s.destroy();
  };
  const server = http.createServer((req, res) => {
    const entry: ProxyLogEntry = { method: req.method ?? '', path: req.url ?? '', range: req.headers.range as string | undefined };
    proxy.log.push(entry);
    const upstream = http.request(
      { host: '127.0.0.1', port: target.port, method: req.method, path: req.url, headers: req.headers },
      (ures) => {
        entry.status = ures.statusCode;
        const f = proxy.fault;
        const blob = isBlobGet(req) && (ures.statusCode === 200 || ures.statusCode === 206);
        res.writeHead(ures.statusCode ?? 502, ures.headers);
        if (blob && f && (f.kind === 'corrupt' || f.kind === 'truncate') && (f.match ?? (() => true))(req) && (f.times ?? 1) > 0) {
          f.times = (f.times ?? 1) - 1;
          const total = Number(ures.headers['content-length'] ?? 0);
          let sent = 0;
          let corrupted = false;
          ures.on('data', (chunk: Buffer) => {
            if (f.kind === 'corrupt') {
              const mid = Math.floor(total / 2);
              if (!corrupted && sent + chunk.length > mid) {
                chunk = Buffer.from(chunk);
                chunk[mid - sent] = chunk[mid - sent]! ^ 0xff;
                corrupted = true;
              }
              sent += chunk.length;
              res.write(chunk);
            } else {
              const room = f.afterBytes - sent;
              if (room <= 0) return;
              const part = chunk.subarray(0, room);
              sent += part.length;
              res.write(part, () => {
                if (sent >= f.afterBytes) {
                  ures.destroy();
                  res.socket?.destroy();
                }
              });
            }
          });
          ures.on('end', () => {
            if (f.kind === 'corrupt') res.end();
          });
          return;
        }
        if (blob && f?.kind === 'die') {
          ures.on('data', (chunk: Buffer) => {
            if (dead) return;
            const room = f.afterBytes - blobBytes;
            const part = chunk.subarray(0, Math.max(0, room));
            blobBytes += part.length;
            if (part.length) res.write(part);
            if (blobBytes >= f.afterBytes) setImmediate(die);
          });
          ures.on('end', () => {
            if (!dead) res.end();
          });
          return;
        }
        ures.pipe(res);
      },
    );
    upstream.on('error', () => res.socket?.destroy());
    req.pipe(upstream);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  const listen = () => new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  await listen();
  return proxy;
}

// ---------------------------------------------------------------------------------------------
// Test images: an OCI image layout made here (tar + gzip layers, config, manifest, index.json), to
// push with `skopeo copy oci:DIR:TAG docker://…` — the "pushed by another tool" side of interop.


export interface CraftedImage {
  dir: string;
  tag: string;
  manifestDigest: string;
  manifestSize: number;
  configDigest: string;
  layerDigests: string[];
  diffIds: string[];
  layerSizes: number[];
}

const sha = (b: Buffer) => `sha256:${crypto.createHash('sha256').update(b).digest('hex')}`;

/** A layer tar with the given files (parents made as directories). Deterministic. */
export function layerTar(files: Record<string, Buffer | string>): Buffer {
  const parts: Buffer[] = [];
  const dirs = new Set<string>();
  for (const name of Object.keys(files).sort()) {
    const segs = name.split('/');
    for (let i = 1; i < segs.length; i++) {
      const d = segs.slice(0, i).join('/') + '/';
      if (!dirs.has(d)) {
        dirs.add(d);
        parts.push(encodeHeader({ name: d, type: 'dir', mode: 0o755, uid: 0, gid: 0, size: 0, mtime: 1700000000 }));
      }
    }
    const body = Buffer.from(files[name]!);
    parts.push(encodeHeader({ name, type: 'file', mode: 0o644, uid: 0, gid: 0, size: body.length, mtime: 1700000000 }));
    parts.push(body, Buffer.alloc(padding(body.length)));
  }
  parts.push(END_OF_ARCHIVE);
  return Buffer.concat(parts);
}

interface WrittenImage {
  manifestDigest: string;
  manifestSize: number;
  configDigest: string;
  layerDigests: string[];
  diffIds: string[];
  layerSizes: number[];
}

function writeImage(
  blobs: string,
  layers: Record<string, Buffer | string>[],
  opts: { cmd?: string[]; architecture?: string; variant?: string },
): WrittenImage {
  fs.mkdirSync(blobs, { recursive: true });
  const put = (b: Buffer) => {
    const d = sha(b);
    fs.writeFileSync(path.join(blobs, d.slice(7)), b);
    return d;
  };
  const diffIds: string[] = [];
  const layerDigests: string[] = [];
  const layerSizes: number[] = [];
  for (const files of layers) {
    const tar = layerTar(files);
    diffIds.push(sha(tar));
    const gz = zlib.gzipSync(tar, { level: 1 });
    layerDigests.push(put(gz));
    layerSizes.push(gz.length);
  }
  const config = Buffer.from(
    JSON.stringify({
      created: '2024-01-01T00:00:00Z',
      architecture: opts.architecture ?? 'amd64',
      ...(opts.variant ? { variant: opts.variant } : {}),
      os: 'linux',
      config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: opts.cmd ?? ['/bin/sh'] },
      rootfs: { type: 'layers', diff_ids: diffIds },
      history: layers.map((_, i) => ({ created: '2024-01-01T00:00:00Z', created_by: `layer ${i}` })),
    }),
  );
  const configDigest = put(config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
      layers: layerDigests.map((d, i) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: d, size: layerSizes[i] })),
    }),
  );
  const manifestDigest = put(manifest);
  return { manifestDigest, manifestSize: manifest.length, configDigest, layerDigests, diffIds, layerSizes };
}

function writeLayout(dir: string, top: { mediaType: string; digest: string; size: number }, tag: string) {
  fs.writeFileSync(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  fs.writeFileSync(
    path.join(dir, 'index.json'),
    JSON.stringify({ schemaVersion: 2, manifests: [{ ...top, annotations: { 'org.opencontainers.image.ref.name': tag } }] }),
  );
}

/** Writes an OCI layout at `dir` holding one image whose layers contain `layers` (files per layer). */
export function craftOciLayout(dir: string, layers: Record<string, Buffer | string>[], opts: { tag?: string; cmd?: string[] } = {}): CraftedImage {
  const tag = opts.tag ?? 'latest';
  const w = writeImage(path.join(dir, 'blobs', 'sha256'), layers, opts);
  writeLayout(dir, { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: w.manifestDigest, size: w.manifestSize }, tag);
  return { dir, tag, ...w };
}

export interface CraftedIndex {
  dir: string;
  tag: string;
  indexDigest: string;
  images: Record<string, CraftedImage>;
}

/** An OCI layout whose tag names an image index with one image per platform ("linux/arm64/v8"…). */
export function craftOciIndex(dir: string, platforms: Record<string, Record<string, Buffer | string>[]>, tag = 'latest'): CraftedIndex {
  const blobs = path.join(dir, 'blobs', 'sha256');
  const images: Record<string, CraftedImage> = {};
  const manifests = [];
  for (const [p, layers] of Object.entries(platforms)) {
    const [os_, architecture, variant] = p.split('/');
    const w = writeImage(blobs, layers, { architecture, variant });
    images[p] = { dir, tag, ...w };
    manifests.push({
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      digest: w.manifestDigest,
      size: w.manifestSize,
      platform: { os: os_, architecture, ...(variant ? { variant } : {}) },
    });
  }
  const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests }));
  const indexDigest = sha(index);
  fs.writeFileSync(path.join(blobs, indexDigest.slice(7)), index);
  writeLayout(dir, { mediaType: 'application/vnd.oci.image.index.v1+json', digest: indexDigest, size: index.length }, tag);
  return { dir, tag, indexDigest, images };
}

/**
 * Runs skopeo against the plain-HTTP test registry; rejects with its stderr on failure. Async, so
 * the token issuer living in this process keeps answering while skopeo runs.
 */
export function skopeo(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('skopeo', args, { encoding: 'utf8', timeout: 120_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`skopeo ${args.join(' ')} failed: ${stderr || err.message}`));
      else resolve(stdout);
    });
  });
}

/** Pushes a crafted layout to docker://host/repo:tag with skopeo. */
export function skopeoPushLayout(img: { dir: string; tag: string }, host: string, repo: string, extra: string[] = []): Promise<string> {
  return skopeo(['copy', '--quiet', '--dest-tls-verify=false', ...extra, `oci:${img.dir}:${img.tag}`, `docker://${host}/${repo}`]);
}

/** Random (incompressible) bytes, deterministic per seed. */
export function randomBytes(size: number, seed: string): Buffer {
  const out = Buffer.alloc(size);
  let off = 0;
  let counter = 0;
  while (off < size) {
    const block = crypto.createHash('sha512').update(`${seed}:${counter++}`).digest();
    off += block.copy(out, off);
  }
  return out;
}

/** Why the registry tests cannot run here (a reason string for `test(..., { skip })`), or false. */
export function missingRegistryTools(): string | false {
  const missing = ['/usr/bin/docker-registry', 'skopeo', 'openssl'].filter((bin) => {
    if (bin.startsWith('/')) return !fs.existsSync(bin);
    return !(process.env.PATH ?? '').split(':').some((d) => d && fs.existsSync(path.join(d, bin)));
  });
  return missing.length ? `not installed: ${missing.join(', ')} (scripts/setup.sh installs them)` : false;
}
