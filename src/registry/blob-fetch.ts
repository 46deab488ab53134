// Blob download: streamed to a partial file under <root>/tmp/downloads/<hex>.partial while being
// hashed; on a short or broken response the partial file stays, and the next attempt (in this run or
// the next `kiln pull`) asks only for the rest with an HTTP Range request. The blob is accepted only
// when its size and sha256 match the descriptor; a mismatch deletes the partial file: nothing from
// a bad download is ever stored. The caller ingests the verified file into the content store.
import { createHash, type Hash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { hexOf, shortId } from '../image/digest.js';
import type { Descriptor } from '../image/types.js';
import type { RegistryClient } from './client.js';
import { DigestMismatchError, RegistryError, RegistryUnreachableError, TruncatedError } from './errors.js';
import { header } from './http.js';

export interface FetchBlobOptions {
  /** Directory for partial downloads (kept across runs for resuming): <root>/tmp/downloads. */
  dir: string;
  /** Called as bytes arrive: bytes of this blob present so far (including a resumed prefix). */
  onProgress?: (have: number, total: number) => void;
  /** Extra attempts after an interrupted transfer, each resuming where the last stopped (default 2). */
  retries?: number;
  /** Called before a retry, with the error that caused it and the delay. */
  onRetry?: (err: Error, attempt: number, delayMs: number) => void;
  retryDelayMs?: number;
  signal?: AbortSignal;
}

export interface FetchedBlob {
  /** A file holding exactly the blob's bytes, verified. The caller removes it (see release()). */
  path: string;
  /** Bytes that were already present from an earlier, interrupted download. */
  resumedFrom: number;
  /** Removes the verified file and the download lock. */
  release(): void;
}

function lockFile(dir: string, hex: string) {
  return path.join(dir, `${hex}.lock`);
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes the per-digest download lock; when another live process holds it, use a private file. */
function claim(dir: string, hex: string): { partial: string; unlock: () => void } {
  const lock = lockFile(dir, hex);
  for (let i = 0; i < 3; i++) {
    try {
      fs.writeFileSync(lock, String(process.pid), { flag: 'wx' });
      let held = true;
      return {
        partial: path.join(dir, `${hex}.partial`),
        unlock: () => {
          if (held) fs.rmSync(lock, { force: true });
          held = false;
        },
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const owner = Number(fs.readFileSync(lock, 'utf8').trim());
      if (owner && owner !== process.pid && pidAlive(owner)) break;
      if (owner === process.pid) break; // the same blob twice in one process (two images at once)
      fs.rmSync(lock, { force: true }); // stale: its owner died
    }
  }
  const partial = path.join(dir, `${hex}.${process.pid}.${Math.random().toString(36).slice(2)}.partial`);
  return { partial, unlock: () => fs.rmSync(partial, { force: true }) };
}

async function hashFilePrefix(file: string, length: number, hash: Hash): Promise<void> {
  if (length === 0) return;
  const s = fs.createReadStream(file, { start: 0, end: length - 1 });
  for await (const chunk of s) hash.update(chunk as Buffer);
}

function isRetryable(e: unknown): boolean {
  return e instanceof TruncatedError || e instanceof RegistryUnreachableError || (e instanceof RegistryError && (e.status ?? 0) >= 500);
}

export async function fetchBlob(client: RegistryClient, repo: string, desc: Descriptor, opts: FetchBlobOptions): Promise<FetchedBlob> {
  fs.mkdirSync(opts.dir, { recursive: true });
  const hex = hexOf(desc.digest);
  const { partial, unlock } = claim(opts.dir, hex);
  const retries = opts.retries ?? 2;
  let restartedAfterMismatch = false;
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        const resumedFrom = await fetchOnce(client, repo, desc, partial, opts);
        return {
          path: partial,
          resumedFrom,
          release: () => {
            fs.rmSync(partial, { force: true });
            unlock();
          },
        };
      } catch (e) {
        // A mismatch after a resume may come from a bad prefix kept from an earlier run: start over once.
        if (e instanceof DigestMismatchError && (e as DigestMismatchError & { resumed?: boolean }).resumed && !restartedAfterMismatch) {
          restartedAfterMismatch = true;
          continue;
        }
        if (attempt >= retries || !isRetryable(e) || opts.signal?.aborted) throw e;
        const delay = (opts.retryDelayMs ?? 250) * (attempt + 1);
        opts.onRetry?.(e as Error, attempt + 1, delay);
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  } catch (e) {
    unlock();
    throw e;
  }
}

/** One GET (ranged when a partial file exists). Resolves with the resumed offset when verified. */
async function fetchOnce(client: RegistryClient, repo: string, desc: Descriptor, partial: string, opts: FetchBlobOptions): Promise<number> {
  const what = `blob ${shortId(desc.digest)} (${client.registry}/${repo})`;
  let have = 0;
  try {
    have = fs.statSync(partial).size;
  } catch {
    /* none */
  }
  if (have > desc.size) {
    fs.rmSync(partial, { force: true });
    have = 0;
  }
  const hash = createHash('sha256');
  const headers: Record<string, string> = {};
  if (have > 0 && have < desc.size) headers.range = `bytes=${have}-`;
  let offset = have;
  if (have === desc.size && have > 0) {
    await hashFilePrefix(partial, have, hash);
  } else {
    const res = await client.request({
      method: 'GET',
      path: `/v2/${repo}/blobs/${desc.digest}`,
      repo,
      actions: ['pull'],
      headers,
      idleTimeoutMs: 30_000,
      signal: opts.signal,
    });
    if (res.status === 416 && have > 0) {
      res.body.resume();
      fs.rmSync(partial, { force: true });
      return fetchOnce(client, repo, desc, partial, opts);
    }
    if (res.status === 206) {
      const m = /^bytes (\d+)-/.exec(header(res, 'content-range') ?? '');
      if (!m || Number(m[1]) !== have) {
        res.body.destroy();
        fs.rmSync(partial, { force: true });
        throw new RegistryError(`${what}: registry answered a range request with the wrong range`);
      }
    } else if (res.status === 200) {
      offset = 0; // range not honoured (or not asked): start over
    } else {
      return client.fail(res, what);
    }
    if (offset > 0) await hashFilePrefix(partial, offset, hash);
    let received = offset;
    opts.onProgress?.(received, desc.size);
    const counter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        received += chunk.length;
        if (received > desc.size) return cb(new RegistryError(`${what}: registry sent more than the ${desc.size} bytes the manifest lists`));
        hash.update(chunk);
        opts.onProgress?.(received, desc.size);
        cb(null, chunk);
      },
    });
    try {
      await pipeline(res.body, counter, fs.createWriteStream(partial, { flags: offset > 0 ? 'a' : 'w' }));
    } catch (e) {
      if (e instanceof RegistryError) {
        fs.rmSync(partial, { force: true });
        throw e;
      }
      if ((e as Error).name === 'AbortError') throw e;
      throw new TruncatedError(what, received, desc.size, (e as Error).message);
    }
    if (received < desc.size) throw new TruncatedError(what, received, desc.size, 'connection closed early');
  }
  const actual = `sha256:${hash.digest('hex')}`;
  if (actual !== desc.digest) {
    fs.rmSync(partial, { force: true });
    const err = new DigestMismatchError(what, desc.digest, actual) as DigestMismatchError & { resumed?: boolean };
    err.resumed = offset > 0;
    throw err;
  }
  return offset;
}
