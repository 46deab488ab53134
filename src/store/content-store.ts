// Blobs named by the sha256 of their bytes: <root>/blobs/sha256/<hex>. Writes go to a temp file
// under <root>/tmp (same filesystem), hashed while written, fsynced, verified, then renamed into
// place, so a blob that exists is always complete and correct. Names from outside are validated
// with parseDigest before they become paths. Streamed ingests and adoptions use asynchronous I/O
// (the libuv pool), so a pull's downloads, unpacking and fsyncs overlap instead of taking turns on
// the event loop; small synchronous puts (configs, manifests) stay synchronous.
import { createHash } from 'node:crypto';
import {
  closeSync,
  createReadStream,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
  constants as fsc,
} from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { canonicalJson } from '../image/canonical.js';
import { hexOf, isDigest, parseDigest } from '../image/digest.js';
import type { Digest } from '../image/types.js';
import { stagingName } from './staging.js';

export class DigestMismatchError extends Error {
  constructor(
    readonly expected: string,
    readonly actual: string,
    what = 'digest',
  ) {
    super(`${what} mismatch: expected ${expected}, got ${actual}`);
    this.name = 'DigestMismatchError';
  }
}

function fsyncDir(dir: string): void {
  let fd = -1;
  try {
    fd = openSync(dir, fsc.O_RDONLY | fsc.O_DIRECTORY);
    fsyncSync(fd);
  } catch {
    /* best effort */
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}

async function fsyncDirAsync(dir: string): Promise<void> {
  try {
    const fh = await open(dir, fsc.O_RDONLY | fsc.O_DIRECTORY);
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    /* best effort */
  }
}

/** Writes are gathered up to this many bytes and written with one writev. */
const WRITE_BATCH = 1 << 20;

export class ContentStore {
  readonly blobsDir: string;
  readonly tmpDir: string;

  constructor(readonly stateDir: string) {
    this.blobsDir = join(stateDir, 'blobs', 'sha256');
    this.tmpDir = join(stateDir, 'tmp');
    mkdirSync(this.blobsDir, { recursive: true });
    mkdirSync(this.tmpDir, { recursive: true });
  }

  path(d: Digest): string {
    return join(this.blobsDir, hexOf(parseDigest(d)));
  }

  has(d: Digest): boolean {
    return this.stat(d) !== null;
  }

  stat(d: Digest): { size: number } | null {
    try {
      return { size: statSync(this.path(d)).size };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
  }

  /**
   * Streams `src` into the store. With `expect`, a different digest or size is rejected
   * ("digest mismatch: expected X, got Y") and nothing is stored; an oversized stream is cut off
   * as soon as it passes the expected size. `hooks.onHashed` hears the digest and size as soon as
   * the last byte is hashed and verified, before the fsync and rename (which may take a while for
   * a large blob): for work that needs the digest but not the stored blob, such as closing an
   * upload of the same bytes.
   */
  async ingest(
    src: Readable | Buffer,
    expect: { digest?: Digest; size?: number } = {},
    hooks: { onHashed?: (r: { digest: Digest; size: number }) => void } = {},
  ): Promise<{ digest: Digest; size: number }> {
    if (expect.digest !== undefined) parseDigest(expect.digest);
    const tmp = join(this.tmpDir, stagingName('ingest'));
    const fh = await open(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, 0o644);
    const hash = createHash('sha256');
    let size = 0;
    let closed = false;
    let batch: Buffer[] = [];
    let batched = 0;
    const flush = async () => {
      if (batched === 0) return;
      const bufs = batch;
      const total = batched;
      batch = [];
      batched = 0;
      const done = (await fh.writev(bufs)).bytesWritten;
      if (done < total) {
        // A short writev (rare on regular files): write the rest piece by piece.
        const rest = Buffer.concat(bufs, total).subarray(done);
        for (let off = 0; off < rest.length; ) off += (await fh.write(rest, off, rest.length - off)).bytesWritten;
      }
    };
    try {
      const take = async (b: Buffer) => {
        hash.update(b);
        size += b.length;
        if (expect.size !== undefined && size > expect.size) throw new DigestMismatchError(String(expect.size), `more than ${expect.size} bytes`, 'size');
        batch.push(b);
        batched += b.length;
        if (batched >= WRITE_BATCH) await flush();
      };
      if (Buffer.isBuffer(src)) await take(src);
      else {
        try {
          for await (const chunk of src) await take(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
        } catch (e) {
          src.destroy();
          throw e;
        }
      }
      await flush();
      const digest: Digest = `sha256:${hash.digest('hex')}`;
      if (expect.size !== undefined && size !== expect.size) throw new DigestMismatchError(String(expect.size), String(size), 'size');
      if (expect.digest !== undefined && digest !== expect.digest) throw new DigestMismatchError(expect.digest, digest);
      hooks.onHashed?.({ digest, size });
      await fh.sync();
      closed = true;
      await fh.close();
      await rename(tmp, this.path(digest)); // an identical blob already there is simply replaced
      await fsyncDirAsync(this.blobsDir);
      return { digest, size };
    } catch (e) {
      if (!closed) await fh.close().catch(() => {});
      await unlink(tmp).catch(() => {
        /* already renamed or gone */
      });
      throw e;
    }
  }

  /**
   * Takes an already verified file (a download whose size and sha256 were checked while it was
   * written) into the store without copying it: fsync, then rename into place. The caller vouches
   * for the digest; the size is checked here. The file must be on the store's filesystem (e.g.
   * under <root>/tmp); on another one it is copied and verified by ingest() instead. The file is
   * gone afterwards either way unless an error is thrown before the rename.
   */
  async adoptFile(file: string, expect: { digest: Digest; size: number }): Promise<{ digest: Digest; size: number }> {
    const digest = parseDigest(expect.digest);
    const fh = await open(file, fsc.O_RDONLY);
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw new Error(`cannot adopt ${file}: not a regular file`);
      if (st.size !== expect.size) throw new DigestMismatchError(String(expect.size), String(st.size), 'size');
      if ((st.mode & 0o7777) !== 0o644) await fh.chmod(0o644);
      await fh.sync();
    } finally {
      await fh.close();
    }
    try {
      await rename(file, this.path(digest)); // an identical blob already there is simply replaced
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EXDEV') throw e;
      const r = await this.ingest(createReadStream(file, { highWaterMark: 1 << 20 }), expect);
      await unlink(file).catch(() => {});
      return r;
    }
    await fsyncDirAsync(this.blobsDir);
    return { digest, size: expect.size };
  }

  /** Stores a JSON document as canonical bytes (synchronously) and returns its digest. */
  putJson(value: unknown): { digest: Digest; size: number; bytes: Buffer } {
    const bytes = canonicalJson(value);
    const { digest, size } = this.putBytes(bytes);
    return { digest, size, bytes };
  }

  /** Stores bytes synchronously (small blobs: configs, manifests). */
  putBytes(bytes: Buffer, expect: { digest?: Digest } = {}): { digest: Digest; size: number } {
    const digest: Digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    if (expect.digest !== undefined && parseDigest(expect.digest) !== digest) throw new DigestMismatchError(expect.digest, digest);
    if (!this.has(digest)) {
      const tmp = join(this.tmpDir, stagingName('put'));
      const fd = openSync(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, 0o644);
      try {
        let off = 0;
        while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      try {
        renameSync(tmp, this.path(digest));
      } catch (e) {
        try {
          unlinkSync(tmp);
        } catch {
          /* ignore */
        }
        throw e;
      }
      fsyncDir(this.blobsDir);
    }
    return { digest, size: bytes.length };
  }

  read(d: Digest): Buffer {
    try {
      return readFileSync(this.path(d));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`blob ${d} not found in the content store`);
      throw e;
    }
  }

  readJson<T>(d: Digest): T {
    return JSON.parse(this.read(d).toString('utf8')) as T;
  }

  /** A stream of the blob's bytes (it errors with ENOENT if the blob is missing). */
  createReadStream(d: Digest, opts: { start?: number; end?: number } = {}): Readable {
    return createReadStream(this.path(d), opts);
  }

  /** Re-hashes a blob: true when its bytes still match its name. */
  async verify(d: Digest): Promise<boolean> {
    const hash = createHash('sha256');
    for await (const chunk of this.createReadStream(d)) hash.update(chunk as Buffer);
    return `sha256:${hash.digest('hex')}` === d;
  }

  remove(d: Digest): void {
    try {
      unlinkSync(this.path(d));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }

  /** Every blob in the store (files whose names are not valid digests are ignored). */
  list(): Digest[] {
    const out: Digest[] = [];
    for (const name of readdirSync(this.blobsDir)) {
      const d = `sha256:${name}`;
      if (isDigest(d)) out.push(d);
    }
    return out.sort();
  }
}
