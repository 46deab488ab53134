// Layer compression: gzip or zstd (the `zstd` binary: Node 20's zlib has no zstd), with the digest
// and size of the compressed bytes computed in the same pass by whoever reads the output. gzip is
// made in parallel blocks in process by default (BlockGzip: all cores, incompressible blocks
// stored), or by `pigz`, or by one zlib stream (see GzipEngine). They produce different bytes for
// the same tar, which is fine: a layer is compressed once and the blob remembered (layer_blobs),
// so re-pushes send the same bytes whichever made them.
// Decompression sniffs the magic bytes, so a layer may arrive as gzip, zstd or a plain tar
// whatever its media type says.
import { spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { createHash } from 'node:crypto';
import { Duplex, PassThrough, Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib, { createGunzip, createGzip, constants as zc, type ZlibOptions } from 'node:zlib';
import { MediaType, type Digest } from '../image/types.js';
import { findOnPath } from '../util/which.js';

export type Compression = 'gzip' | 'zstd' | 'none';

export function sniffCompression(head: Buffer): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  return 'none';
}

/** What a tar archive (not a layer) may also come compressed with: `load` and `import` take all, as Docker does. */
export type ArchiveCompression = Compression | 'xz' | 'bzip2';
const XZ_MAGIC = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);

export function sniffArchiveCompression(head: Buffer): ArchiveCompression {
  const c = sniffCompression(head);
  if (c !== 'none') return c;
  if (head.length >= 3 && head.subarray(0, 3).toString('latin1') === 'BZh') return 'bzip2';
  if (head.length >= 6 && head.subarray(0, 6).equals(XZ_MAGIC)) return 'xz';
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

/** A Duplex around a filter program (stdin → stdout) that fails with its message on a non-zero exit. */
function filterProcess(bin: string, args: string[]): Duplex {
  const name = bin.split('/').pop()!;
  const child = spawn(bin, args, { stdio: ['pipe', 'pipe', 'pipe'] });
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
    else out.destroy(new Error(`${name} ${args.join(' ')} failed (${signal ?? `exit ${code}`}): ${stderr.trim() || 'no message'}`));
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
  child.on('error', (err) => out.destroy(new Error(`cannot run ${name}: ${err.message}`)));
  child.stdin.on('error', () => {
    /* EPIPE when the program exits early: its exit status carries the error */
  });
  const d = Duplex.from({ writable: child.stdin, readable: out });
  d.on('close', () => {
    if (!exited) child.kill('SIGKILL');
  });
  return d;
}

const zstdProcess = (args: string[]) => filterProcess('zstd', [...args, '-q', '-c']);

/** `pigz` on $PATH, or null. */
export function pigzBinary(): string | null {
  return findOnPath('pigz') ?? null;
}

/**
 * How gzip is made:
 * - 'blocks' (default): in process, 1 MiB blocks deflated in parallel on libuv's pool and joined
 *   into one gzip member (as pigz does, each block primed with the 32 KiB before it); blocks that
 *   look incompressible (order-0 entropy above 7.9 bits/byte) are stored instead of deflated.
 * - 'pigz': the pigz program (parallel, but it deflates incompressible data at full cost); zlib
 *   if it is not installed.
 * - 'zlib': one zlib stream (one core).
 * $KILN_GZIP overrides the default.
 */
export type GzipEngine = 'blocks' | 'pigz' | 'zlib';

export interface CompressorOptions {
  gzip?: GzipEngine;
}

function gzipEngine(opts: CompressorOptions): GzipEngine {
  const e = opts.gzip ?? process.env.KILN_GZIP;
  if (e === 'pigz' || e === 'zlib' || e === 'blocks') return e;
  return 'blocks';
}

/**
 * A compressing Duplex. gzip output depends only on the input, the level, the engine and the
 * zlib (or pigz) version: no name and no time in the header.
 */
export function createCompressor(c: Compression, level?: number, opts: CompressorOptions = {}): Duplex {
  if (c === 'gzip') {
    const lvl = level ?? 6; // zlib's Z_DEFAULT_COMPRESSION is level 6 too
    const engine = gzipEngine(opts);
    if (engine === 'blocks' && typeof zlibCrc32() === 'function') return new BlockGzip(lvl);
    const pigz = engine === 'pigz' ? pigzBinary() : null;
    if (pigz) return filterProcess(pigz, [`-${lvl}`, '-n', '-c']);
    return createGzip({ level: lvl, chunkSize: ZLIB_CHUNK });
  }
  if (c === 'zstd') return zstdProcess(level ? [`-${level}`] : []);
  return new PassThrough();
}

// zlib.crc32 arrived in Node 20.15 / 22.2; without it 'blocks' falls back to one zlib stream.
const zlibCrc32 = () => (zlib as unknown as { crc32?: (data: Buffer, value?: number) => number }).crc32;

const deflateRawAsync = (buf: Buffer, o: ZlibOptions) =>
  new Promise<Buffer>((resolve, reject) => zlib.deflateRaw(buf, o, (err, out) => (err ? reject(err) : resolve(out))));

/** Order-0 entropy in bits per byte of four 4 KiB samples spread over `b`. */
export function sampledEntropy(b: Buffer): number {
  const counts = new Uint32Array(256);
  const S = 4096;
  let n = 0;
  if (b.length <= 4 * S) {
    for (let i = 0; i < b.length; i++) counts[b[i]!]!++;
    n = b.length;
  } else {
    for (let k = 0; k < 4; k++) {
      const start = Math.floor(((b.length - S) * k) / 3);
      for (let i = start; i < start + S; i++) counts[b[i]!]!++;
      n += S;
    }
  }
  let e = 0;
  for (let i = 0; i < 256; i++) {
    const c = counts[i]!;
    if (c) {
      const p = c / n;
      e -= p * Math.log2(p);
    }
  }
  return e;
}

/**
 * `b` as deflate stored blocks (not final; each at most 65535 bytes with a 5-byte header). A stored
 * block starts and ends on a byte boundary, as does a sync-flushed deflated block, so the two mix
 * freely in one deflate stream.
 */
export function storedBlocks(b: Buffer): Buffer {
  const MAX = 65535;
  const n = Math.max(1, Math.ceil(b.length / MAX));
  const out = Buffer.allocUnsafe(b.length + 5 * n);
  let o = 0;
  for (let i = 0; i < n; i++) {
    const piece = b.subarray(i * MAX, Math.min(b.length, (i + 1) * MAX));
    out[o] = 0; // BFINAL 0, BTYPE 00 (stored)
    out.writeUInt16LE(piece.length, o + 1);
    out.writeUInt16LE(~piece.length & 0xffff, o + 3);
    piece.copy(out, o + 5);
    o += 5 + piece.length;
  }
  return out;
}

const GZIP_HEADER = Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]); // deflate, no name, mtime 0, Unix
/** An empty final fixed-Huffman block: ends the deflate stream after sync-flushed blocks. */
const DEFLATE_END = Buffer.from([0x03, 0x00]);

/**
 * gzip made of independently deflated blocks (see GzipEngine 'blocks'): one gzip member whose
 * deflate stream is the blocks' raw deflate output, each ended with a sync flush (byte-aligned, not
 * final), then an empty final block; CRC-32 and size over the whole input as usual. Any gunzip
 * reads it. Up to `parallel` blocks are in flight on libuv's pool; output stays in order.
 */
export class BlockGzip extends Transform {
  static readonly BLOCK = 1 << 20;
  static readonly WINDOW = 32 * 1024;
  private pending: Buffer[] = [];
  private pendingLen = 0;
  private readonly inFlight: Promise<Buffer>[] = [];
  private prevTail: Buffer | undefined;
  private crc = 0;
  private total = 0;
  /** Blocks stored rather than deflated (looked incompressible). */
  stored = 0;
  blocks = 0;

  constructor(
    private readonly level = 6,
    private readonly parallel = Math.max(1, Math.min(availableParallelism(), 4)),
    private readonly blockSize = BlockGzip.BLOCK,
  ) {
    super({ highWaterMark: 1 << 20 });
    this.push(GZIP_HEADER);
  }

  private submit(block: Buffer): void {
    this.crc = zlibCrc32()!(block, this.crc);
    this.total += block.length;
    this.blocks++;
    let job: Promise<Buffer>;
    if (this.level === 0 || sampledEntropy(block) > 7.9) {
      this.stored++;
      job = Promise.resolve(storedBlocks(block));
    } else {
      // One output buffer per block (zlib's default 16 KiB chunks cost a callback each).
      const o: ZlibOptions = { level: this.level, finishFlush: zc.Z_SYNC_FLUSH, chunkSize: block.length + (block.length >> 3) + 1024 };
      if (this.prevTail) o.dictionary = this.prevTail;
      job = deflateRawAsync(block, o);
      job.catch(() => {}); // awaited in order below
    }
    this.inFlight.push(job);
    this.prevTail = Buffer.from(block.subarray(Math.max(0, block.length - BlockGzip.WINDOW)));
  }

  private cut(n: number): Buffer {
    const all = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingLen);
    const block = all.subarray(0, n);
    const rest = all.subarray(n);
    this.pending = rest.length ? [rest] : [];
    this.pendingLen = rest.length;
    return block;
  }

  private async drain(upTo: number): Promise<void> {
    while (this.inFlight.length > upTo) this.push(await this.inFlight.shift()!);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.pending.push(chunk);
    this.pendingLen += chunk.length;
    const run = async () => {
      while (this.pendingLen >= this.blockSize) {
        this.submit(this.cut(this.blockSize));
        await this.drain(this.parallel - 1);
      }
    };
    run().then(() => cb(), cb);
  }

  override _flush(cb: (err?: Error | null) => void): void {
    const run = async () => {
      if (this.pendingLen > 0) this.submit(this.cut(this.pendingLen));
      await this.drain(0);
      const trailer = Buffer.alloc(8);
      trailer.writeUInt32LE(this.crc >>> 0, 0);
      trailer.writeUInt32LE(this.total % 2 ** 32, 4);
      this.push(Buffer.concat([DEFLATE_END, trailer]));
    };
    run().then(() => cb(), cb);
  }
}

/**
 * zlib's output chunk (default 16 KiB). Every chunk is a round trip through libuv's pool and a
 * stream callback: streaming gunzip of 100 MB took ~500 ms with 16 KiB chunks, ~100 ms with 256 KiB.
 */
const ZLIB_CHUNK = 256 << 10;

export function createDecompressor(c: ArchiveCompression): Duplex {
  if (c === 'gzip') return createGunzip({ chunkSize: ZLIB_CHUNK });
  if (c === 'zstd') return zstdProcess(['-d']);
  if (c === 'xz' || c === 'bzip2') return filterProcess(c, ['-d', '-c', '-q']);
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
export async function compressStream(
  src: Readable,
  out: Writable | null,
  c: Compression = 'gzip',
  level?: number,
  opts: CompressorOptions = {},
): Promise<{ digest: Digest; size: number }> {
  const d = new DigestStream();
  const sink =
    out ??
    new Writable({
      write(_c, _e, cb) {
        cb();
      },
    });
  await pipeline(src, createCompressor(c, level, opts), d, sink);
  return { digest: d.digest, size: d.size };
}

/**
 * Peeks at the first bytes of `src` and returns the uncompressed stream plus what it was (and the
 * bytes it peeked at: none for an empty source). The returned stream carries the source's errors.
 */
async function decompressBy<C extends ArchiveCompression>(src: Readable, sniff: (head: Buffer) => C): Promise<{ stream: Readable; compression: C; head: Buffer }> {
  const head = await peek(src, 6);
  const compression = sniff(head.bytes);
  if (compression === 'none') return { stream: head.stream, compression, head: head.bytes };
  const dec = createDecompressor(compression);
  head.stream.on('error', (err) => dec.destroy(err));
  head.stream.pipe(dec);
  return { stream: dec, compression, head: head.bytes };
}

/** A layer, plain or compressed as layers may be (gzip, zstd). */
export const decompress = (src: Readable) => decompressBy(src, sniffCompression);

/** A whole archive (`load`, `import`): also xz and bzip2, as Docker takes them. */
export const decompressArchive = (src: Readable) => decompressBy(src, sniffArchiveCompression);

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
