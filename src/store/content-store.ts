// Blobs named by the sha256 of their bytes: <root>/blobs/sha256/<hex>. Writes go to a temp file
// under <root>/tmp (same filesystem), hashed while written, fsynced, verified, then renamed into
// place, so a blob that exists is always complete and correct. Names from outside are validated
// with parseDigest before they become paths.
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
   * as soon as it passes the expected size.
   */
  async ingest(src: Readable | Buffer, expect: { digest?: Digest; size?: number } = {}): Promise<{ digest: Digest; size: number }> {
    if (expect.digest !== undefined) parseDigest(expect.digest);
    const tmp = join(this.tmpDir, stagingName('ingest'));
    const fd = openSync(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, 0o644);
    const hash = createHash('sha256');
    let size = 0;
    let closed = false;
    try {
      const write = (b: Buffer) => {
        hash.update(b);
        size += b.length;
        if (expect.size !== undefined && size > expect.size) throw new DigestMismatchError(String(expect.size), `more than ${expect.size} bytes`, 'size');
        let off = 0;
        while (off < b.length) off += writeSync(fd, b, off, b.length - off);
      };
      if (Buffer.isBuffer(src)) write(src);
      else {
        try {
          for await (const chunk of src) write(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
        } catch (e) {
          src.destroy();
          throw e;
        }
      }
      const digest: Digest = `sha256:${hash.digest('hex')}`;
      if (expect.size !== undefined && size !== expect.size) throw new DigestMismatchError(String(expect.size), String(size), 'size');
      if (expect.digest !== undefined && digest !== expect.digest) throw new DigestMismatchError(expect.digest, digest);
      fsyncSync(fd);
      closeSync(fd);
      closed = true;
      renameSync(tmp, this.path(digest)); // an identical blob already there is simply replaced
      fsyncDir(this.blobsDir);
      return { digest, size };
    } catch (e) {
      if (!closed) closeSync(fd);
      try {
        unlinkSync(tmp);
      } catch {
        /* already renamed or gone */
      }
      throw e;
    }
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
