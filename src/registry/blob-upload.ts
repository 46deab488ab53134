// Blob upload: HEAD first (the registry has it: skip), then a cross-repository mount when the blob
// is known to live in another repository of the same registry, else an upload session: one
// streamed monolithic PUT by default, or PATCH chunks of `chunkSize` (honouring the registry's
// OCI-Chunk-Min-Length) then a closing PUT. The registry verifies the digest on the final PUT.
import { Transform, type Readable } from 'node:stream';
import { shortId } from '../image/digest.js';
import type { Descriptor, Digest } from '../image/types.js';
import { repositoryScope } from './auth.js';
import type { RegistryClient } from './client.js';
import { RegistryError } from './errors.js';
import { header, type HttpResponse } from './http.js';

export type PushBlobResult = { result: 'exists' } | { result: 'mounted'; from: string } | { result: 'pushed' };

export interface PushBlobOptions {
  /** Other repositories on this registry known to hold the blob, tried as mount sources. */
  mountFrom?: readonly string[];
  /** Upload in PATCH chunks of this many bytes instead of one streamed PUT. */
  chunkSize?: number;
  onProgress?: (sent: number, total: number) => void;
}

export async function blobExists(client: RegistryClient, repo: string, digest: Digest): Promise<boolean> {
  const res = await client.request({ method: 'HEAD', path: `/v2/${repo}/blobs/${digest}`, repo, actions: ['pull', 'push'] });
  res.body.resume();
  if (res.status === 200) return true;
  if (res.status === 404) return false;
  return client.fail(res, `blob ${shortId(digest)} in ${client.registry}/${repo}`);
}

function location(res: HttpResponse, what: string): string {
  const loc = header(res, 'location');
  if (!loc) throw new RegistryError(`${what}: the registry started an upload without a Location`);
  return new URL(loc, res.url).toString();
}

async function startUpload(client: RegistryClient, repo: string, what: string): Promise<string> {
  const res = await client.request({ method: 'POST', path: `/v2/${repo}/blobs/uploads/`, repo, actions: ['pull', 'push'] });
  if (res.status !== 202) return client.fail(res, what);
  res.body.resume();
  return location(res, what);
}

function withDigest(loc: string, digest: Digest): string {
  const u = new URL(loc);
  u.searchParams.set('digest', digest);
  return u.toString();
}

function counting(total: number, onProgress?: (sent: number, total: number) => void, base = 0) {
  let sent = base;
  return new Transform({
    transform(chunk: Buffer, _e, cb) {
      sent += chunk.length;
      onProgress?.(sent, total);
      cb(null, chunk);
    },
  });
}

export async function pushBlob(
  client: RegistryClient,
  repo: string,
  desc: Descriptor,
  open: () => Readable,
  opts: PushBlobOptions = {},
): Promise<PushBlobResult> {
  const what = `blob ${shortId(desc.digest)} to ${client.registry}/${repo}`;
  if (await blobExists(client, repo, desc.digest)) return { result: 'exists' };
  let loc: string | undefined;
  for (const from of opts.mountFrom ?? []) {
    if (from === repo) continue;
    const q = new URLSearchParams({ mount: desc.digest, from });
    const res = await client.request({
      method: 'POST',
      path: `/v2/${repo}/blobs/uploads/?${q}`,
      repo,
      actions: ['pull', 'push'],
      extraScopes: [repositoryScope(from, ['pull'])],
    });
    if (res.status === 201) {
      res.body.resume();
      return { result: 'mounted', from };
    }
    if (res.status === 202) {
      // Not mountable from there (or not allowed): the registry opened an ordinary upload instead.
      res.body.resume();
      loc = location(res, what);
      break;
    }
    if (res.status === 401 || res.status === 403 || res.status === 404) {
      res.body.resume();
      continue;
    }
    return client.fail(res, what);
  }
  loc ??= await startUpload(client, repo, what);
  if (opts.chunkSize && opts.chunkSize > 0 && desc.size > opts.chunkSize) {
    await uploadChunked(client, repo, desc, open, loc, opts.chunkSize, what, opts.onProgress);
  } else {
    const res = await client.request({
      method: 'PUT',
      path: withDigest(loc, desc.digest),
      repo,
      actions: ['pull', 'push'],
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(desc.size) },
      body: () => open().pipe(counting(desc.size, opts.onProgress)),
      idleTimeoutMs: 120_000,
    });
    if (res.status !== 201) return client.fail(res, what);
    res.body.resume();
  }
  return { result: 'pushed' };
}

async function uploadChunked(
  client: RegistryClient,
  repo: string,
  desc: Descriptor,
  open: () => Readable,
  loc: string,
  chunkSize: number,
  what: string,
  onProgress?: (sent: number, total: number) => void,
): Promise<void> {
  let offset = 0;
  let pending: Buffer[] = [];
  let pendingLen = 0;
  let minChunk = 0;
  /** Sends the first `n` pending bytes as one PATCH. */
  const send = async (n: number) => {
    const all = Buffer.concat(pending, pendingLen);
    const body = all.subarray(0, n);
    pending = n < all.length ? [all.subarray(n)] : [];
    pendingLen = all.length - n;
    const res = await client.request({
      method: 'PATCH',
      path: loc,
      repo,
      actions: ['pull', 'push'],
      headers: {
        'content-type': 'application/octet-stream',
        'content-range': `${offset}-${offset + body.length - 1}`,
      },
      body,
      idleTimeoutMs: 120_000,
    });
    if (res.status !== 202) return client.fail(res, `${what} (chunk at ${offset})`);
    res.body.resume();
    loc = location(res, what);
    const min = Number(header(res, 'oci-chunk-min-length'));
    if (Number.isFinite(min) && min > 0) minChunk = min;
    offset += body.length;
    onProgress?.(offset, desc.size);
  };
  for await (const chunk of open() as AsyncIterable<Buffer>) {
    pending.push(chunk);
    pendingLen += chunk.length;
    while (pendingLen >= Math.max(chunkSize, minChunk)) await send(Math.max(chunkSize, minChunk));
  }
  if (pendingLen > 0) await send(pendingLen);
  if (offset !== desc.size) throw new RegistryError(`${what}: the local blob has ${offset} bytes, the descriptor says ${desc.size}`);
  const res = await client.request({ method: 'PUT', path: withDigest(loc, desc.digest), repo, actions: ['pull', 'push'], body: Buffer.alloc(0) });
  if (res.status !== 201) return client.fail(res, what);
  res.body.resume();
}


/**
 * An upload of a blob whose digest is not known yet (a layer being compressed right now): the
 * session is opened first, the bytes go in one streamed PATCH as they are made (chunked transfer
 * encoding, as `docker push` sends them), and the closing PUT names the digest once it is known.
 * The registry verifies the digest on that PUT. A streamed body cannot be replayed, so a 401 in
 * the middle (an expired token) fails the upload; callers fall back to pushBlob().
 */
export class StreamedUpload {
  private sent = 0;

  private constructor(
    private readonly client: RegistryClient,
    private readonly repo: string,
    private loc: string,
    private readonly what: string,
  ) {}

  /** Opens an upload session in `repo` (authenticating for push now, before any byte is sent). */
  static async start(client: RegistryClient, repo: string, what = `blob upload to ${client.registry}/${repo}`): Promise<StreamedUpload> {
    return new StreamedUpload(client, repo, await startUpload(client, repo, what), what);
  }

  /** Sends `body` as one streamed PATCH; resolves when the registry accepted all of it. */
  async send(body: Readable, onProgress?: (sent: number) => void): Promise<void> {
    let used = false;
    const res = await this.client.request({
      method: 'PATCH',
      path: this.loc,
      repo: this.repo,
      actions: ['pull', 'push'],
      headers: { 'content-type': 'application/octet-stream' },
      body: () => {
        if (used) throw new RegistryError(`${this.what}: a streamed upload cannot be sent twice`);
        used = true;
        const counted = new Transform({
          transform: (chunk: Buffer, _e, cb) => {
            this.sent += chunk.length;
            onProgress?.(this.sent);
            cb(null, chunk);
          },
        });
        // The source failing (or vanishing) must end the request, not leave it waiting for bytes.
        body.on('error', (e) => counted.destroy(e));
        body.on('close', () => {
          if (!body.readableEnded) counted.destroy(new RegistryError(`${this.what}: the blob stream ended early`));
        });
        return body.pipe(counted);
      },
      idleTimeoutMs: 120_000,
    });
    if (res.status !== 202) return this.client.fail(res, this.what);
    res.body.resume();
    this.loc = location(res, this.what);
  }

  /** Closes the upload as `desc` (PUT ?digest=); the registry checks the bytes it got against it. */
  async finish(desc: Descriptor): Promise<void> {
    if (this.sent !== desc.size) throw new RegistryError(`${this.what}: sent ${this.sent} bytes, the blob has ${desc.size}`);
    const what = `blob ${shortId(desc.digest)} to ${this.client.registry}/${this.repo}`;
    const res = await this.client.request({ method: 'PUT', path: withDigest(this.loc, desc.digest), repo: this.repo, actions: ['pull', 'push'], body: Buffer.alloc(0) });
    if (res.status !== 201) return this.client.fail(res, what);
    res.body.resume();
  }

  /** Abandons the session (best effort: the registry purges stale uploads by itself too). */
  async cancel(): Promise<void> {
    try {
      const res = await this.client.request({ method: 'DELETE', path: this.loc, repo: this.repo, actions: ['pull', 'push'] });
      res.body.resume();
    } catch {
      /* ignore */
    }
  }
}
