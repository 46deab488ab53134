// The one place kiln speaks HTTP to registries: node:http/https with keep-alive agents, bodies as
// Buffers or stream factories (a factory so a request can be replayed after an auth challenge),
// manual redirects (blob GETs are often redirected to storage; credentials are not forwarded to
// another host), and connection failures turned into RegistryUnreachableError. ADD and import of
// a URL use it too, so every HTTPS connection trusts the same authorities.
import http from 'node:http';
import https from 'node:https';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { trustedCertificates } from '../util/extra-ca.js';
import { RegistryUnreachableError } from './errors.js';

export interface HttpRequest {
  method: string;
  url: URL;
  headers?: Record<string, string>;
  /** A Buffer, or a function returning a fresh stream each time the request is (re)sent. */
  body?: Buffer | (() => Readable);
  /** Skip TLS certificate verification (registries configured as insecure). */
  insecureTls?: boolean;
  /** Abort when no bytes move for this long (default 60 s). */
  idleTimeoutMs?: number;
  signal?: AbortSignal;
  /** Follow up to this many redirects (default 5; 0 for none). */
  maxRedirects?: number;
}

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: IncomingMessage;
  /** The URL that finally answered (after redirects). */
  url: URL;
}

// Made on first use: a command that never connects loads neither http nor tls, and the secure
// agent's CA list may need a file read (util/extra-ca.ts).
const agents: { http?: http.Agent; https?: https.Agent; insecure?: https.Agent } = {};
function agentFor(url: URL, insecureTls: boolean | undefined): http.Agent {
  if (url.protocol !== 'https:') return (agents.http ??= new http.Agent({ keepAlive: true, maxSockets: 16 }));
  if (insecureTls) return (agents.insecure ??= new https.Agent({ keepAlive: true, maxSockets: 16, rejectUnauthorized: false }));
  return (agents.https ??= new https.Agent({ keepAlive: true, maxSockets: 16, ca: trustedCertificates() }));
}

export const USER_AGENT = `kiln/0.1.0 node/${process.versions.node}`;

export async function send(req: HttpRequest): Promise<HttpResponse> {
  let url = req.url;
  let method = req.method;
  let headers = { ...req.headers };
  let body = req.body;
  const maxRedirects = req.maxRedirects ?? 5;
  for (let hop = 0; ; hop++) {
    const res = await sendOnce({ ...req, url, method, headers, body });
    const location = res.headers.location;
    if (res.status >= 300 && res.status < 400 && res.status !== 304 && location && hop < maxRedirects) {
      res.body.resume();
      const next = new URL(location, url);
      if (next.host !== url.host) {
        delete headers.authorization;
        delete headers.Authorization;
      }
      if (res.status === 303 || ((res.status === 301 || res.status === 302) && method === 'POST')) {
        method = 'GET';
        body = undefined;
        headers = Object.fromEntries(Object.entries(headers).filter(([k]) => k.toLowerCase() !== 'content-length'));
      }
      url = next;
      continue;
    }
    return res;
  }
}

function sendOnce(req: HttpRequest): Promise<HttpResponse> {
  const { url } = req;
  const isHttps = url.protocol === 'https:';
  const mod = isHttps ? https : http;
  const agent = agentFor(url, req.insecureTls);
  const headers: Record<string, string> = { 'user-agent': USER_AGENT, ...req.headers };
  let bodyStream: Readable | undefined;
  if (Buffer.isBuffer(req.body)) headers['content-length'] = String(req.body.length);
  else if (req.body) bodyStream = req.body();
  return new Promise<HttpResponse>((resolve, reject) => {
    let settled = false;
    const fail = (err: unknown) => {
      if (settled) return;
      settled = true;
      bodyStream?.destroy();
      const e = err as NodeJS.ErrnoException;
      if (e?.name === 'AbortError') return reject(err);
      reject(new RegistryUnreachableError(`cannot reach ${url.protocol}//${url.host}: ${e?.message ?? String(err)}`, err));
    };
    const r = mod.request(
      url,
      { method: req.method, headers, agent, signal: req.signal },
      (res) => {
        if (settled) {
          res.resume();
          return;
        }
        settled = true;
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: res, url });
      },
    );
    r.setTimeout(req.idleTimeoutMs ?? 60_000, () => r.destroy(new Error(`timed out talking to ${url.host}`)));
    r.on('error', fail);
    if (Buffer.isBuffer(req.body)) r.end(req.body);
    else if (bodyStream) {
      bodyStream.on('error', (e) => r.destroy(e));
      bodyStream.pipe(r);
    } else r.end();
  });
}

/** Reads a whole (small) response body; refuses more than `limit` bytes. */
export async function readBody(res: HttpResponse, limit = 32 * 1024 * 1024): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const chunk of res.body as AsyncIterable<Buffer>) {
    n += chunk.length;
    if (n > limit) {
      res.body.destroy();
      throw new Error(`response from ${res.url.host} is larger than ${limit} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** Discards a response body so the connection can be reused. */
export function discard(res: HttpResponse): void {
  res.body.resume();
}

export function header(res: HttpResponse, name: string): string | undefined {
  const v = res.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}
