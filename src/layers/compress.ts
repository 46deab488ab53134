// Layer compression: gzip (zlib) or zstd (the `zstd` binary: Node 20's zlib has no zstd), with
// the digest and size of the compressed bytes computed in the same pass. Decompression sniffs the
// magic bytes, so a layer may arrive as gzip, zstd or a plain tar whatever its media type says.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { Duplex, PassThrough, Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip, constants as zc } from 'node:zlib';
import { MediaType, type Digest } from '../image/types.js';

export type Compression = 'gzip' | 'zstd' | 'none';

export function sniffCompression(head: Buffer): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  return 'none';
}

/** The compression a layer media type implies (OCI and Docker spellings). */
export function compressionOf(mediaType: string): Compression {
  if (mediaType.endsWith('+gzip') || mediaType.endsWith('.tar.gzip')) return 'gzip';
  if (mediaType.endsWith('+zstd')) return 'zstd';
  return 'none';
}

/** The OCI layer media type for a compression. */
export function layerMediaType(c: Compression): string {
  return c === 'gzip' ? MediaType.OciLayerGzip : c === 'zstd' ? MediaType.OciLayerZstd : MediaType.OciLayer;
}

/** A Duplex around `zstd` (stdin → stdout) that fails with zstd's message on a non-zero exit. */
function zstdProcess(args: string[]): Duplex {
  const child = spawn('zstd', [...args, '-q', '-c'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const out = new PassThrough();
  child.stdout.pipe(out, { end: false });
  let exited = false;
  let stdoutEnded = false;
  let code: number | null = null;
  let signal: NodeJS.Signals | null = null;
  const finish = () => {
    if (!exited || !stdoutEnded) return;
    if (code === 0) out.end();
    else out.destroy(new Error(`zstd ${args.join(' ')} failed (${signal ?? `exit ${code}`}): ${stderr.trim() || 'no message'}`));
  };
  child.stdout.on('end', () => {
    stdoutEnded = true;
    finish();
  });
  child.on('exit', (c, s) => {
    exited = true;
    code = c;
    signal = s;
    finish();
  });
  child.on('error', (err) => out.destroy(new Error(`cannot run zstd: ${err.message}`)));
  child.stdin.on('error', () => {
    /* EPIPE when zstd exits early: its exit status carries the error */
  });
  const d = Duplex.from({ writable: child.stdin, readable: out });
  d.on('close', () => {
    if (!exited) child.kill('SIGKILL');
  });
  return d;
}

export function createCompressor(c: Compression, level?: number): Duplex {
  if (c === 'gzip') return createGzip({ level: level ?? zc.Z_DEFAULT_COMPRESSION });
  if (c === 'zstd') return zstdProcess(level ? [`-${level}`] : []);
  return new PassThrough();
}

export function createDecompressor(c: Compression): Duplex {
  if (c === 'gzip') return createGunzip();
  if (c === 'zstd') return zstdProcess(['-d']);
  return new PassThrough();
}

/** A pass-through that hashes and counts what flows through it. */
export class DigestStream extends Transform {
  private readonly h = createHash('sha256');
  size = 0;
  private result?: Digest;
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null, data?: Buffer) => void): void {
    this.h.update(chunk);
    this.size += chunk.length;
    cb(null, chunk);
  }
  override _flush(cb: () => void): void {
    this.result = `sha256:${this.h.digest('hex')}`;
    cb();
  }
  get digest(): Digest {
    if (!this.result) throw new Error('digest read before the stream ended');
    return this.result;
  }
}

/**
 * Compresses `src` into `out` (null: only measure), returning the digest and size of the
 * compressed bytes, computed in the same pass.
 */
export async function compressStream(src: Readable, out: Writable | null, c: Compression = 'gzip', level?: number): Promise<{ digest: Digest; size: number }> {
  const d = new DigestStream();
  const sink =
    out ??
    new Writable({
      write(_c, _e, cb) {
        cb();
      },
    });
  await pipeline(src, createCompressor(c, level), d, sink);
  return { digest: d.digest, size: d.size };
}

/**
 * Peeks at the first bytes of `src` and returns the uncompressed stream plus what it was.
 * The returned stream carries the source's errors.
 */
export async function decompress(src: Readable): Promise<{ stream: Readable; compression: Compression }> {
  const head = await peek(src, 4);
  const compression = sniffCompression(head.bytes);
  if (compression === 'none') return { stream: head.stream, compression };
  const dec = createDecompressor(compression);
  head.stream.on('error', (err) => dec.destroy(err));
  head.stream.pipe(dec);
  return { stream: dec, compression };
}

/** Reads at least `n` bytes (or to the end) and gives back a stream that still starts with them. */
export async function peek(src: Readable, n: number): Promise<{ bytes: Buffer; stream: Readable }> {
  const chunks: Buffer[] = [];
  let have = 0;
  const it = src[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let ended = false;
  while (have < n) {
    const r = await it.next();
    if (r.done) {
      ended = true;
      break;
    }
    const b = typeof r.value === 'string' ? Buffer.from(r.value) : r.value;
    chunks.push(b);
    have += b.length;
  }
  const bytes = Buffer.concat(chunks);
  const stream = Readable.from(
    (async function* () {
      if (bytes.length) yield bytes;
      if (ended) return;
      for (;;) {
        const r = await it.next();
        if (r.done) return;
        yield typeof r.value === 'string' ? Buffer.from(r.value) : r.value;
      }
    })(),
    { objectMode: false },
  );
  return { bytes, stream };
}
