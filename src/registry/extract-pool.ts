// Layer extraction in worker threads, for pulls: unpacking (gunzip, the diffID hash, tar parsing
// and the many small synchronous file writes of applyLayer) is CPU work on one thread, and in the
// main thread it competes with the downloads (HTTP, sha256 of every byte, writes). A small pool of
// workers, each running applyLayer on a blob file into a staging directory the main thread made,
// lets both proceed at once on separate cores. The same module is the worker's entry point.
//
// Pool size: $KILN_EXTRACT_WORKERS, else one less than the cores (at least 1, at most 4); 0 means
// no workers (extract in the main thread). Without the variable, small pulls (under 16 MiB of
// blobs to unpack) get no pool: a worker takes ~50-60 ms to start, about what unpacking 8 MB in the
// main thread costs. A worker that cannot start or dies makes its jobs fail with WorkerGoneError,
// and the caller extracts them in the main thread instead.
import { createReadStream } from 'node:fs';
import { availableParallelism } from 'node:os';
import type { Readable } from 'node:stream';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { applyLayer, type ApplyResult } from '../layers/apply.js';
import { EXTRACT_WORKER_FLAG, isBundled, kilnEntry } from '../self.js';


type ToWorker = { type: 'extract'; id: number; file: string; dir: string } | { type: 'abort'; id: number };
type FromWorker =
  | { type: 'progress'; id: number; n: number }
  | { type: 'done'; id: number; result: ApplyResult }
  | { type: 'error'; id: number; error: { name: string; message: string; code?: string } };

/** The worker is gone (failed to start, crashed or was closed): extract elsewhere. */
export class WorkerGoneError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WorkerGoneError';
  }
}

interface Job {
  resolve(r: ApplyResult): void;
  reject(e: Error): void;
  onProgress?: (n: number) => void;
}

class PoolWorker {
  readonly jobs = new Map<number, Job>();
  gone: Error | null = null;
  private readonly w: Worker;

  constructor() {
    // From the bundle, the worker runs kiln's entry, which hands over to this module (cli/main).
    this.w = new Worker(isBundled() ? kilnEntry() : new URL(import.meta.url), { workerData: { [EXTRACT_WORKER_FLAG]: true }, argv: [EXTRACT_WORKER_FLAG] });
    this.w.unref(); // referenced only while it has jobs (see add), so an idle pool never holds the process
    this.w.on('message', (m: FromWorker) => {
      const job = this.jobs.get(m.id);
      if (!job) return;
      if (m.type === 'progress') job.onProgress?.(m.n);
      else {
        this.remove(m.id);
        if (m.type === 'done') job.resolve(m.result);
        else job.reject(Object.assign(new Error(m.error.message), { name: m.error.name, code: m.error.code }));
      }
    });
    const fail = (why: string) => {
      this.gone ??= new WorkerGoneError(why);
      for (const job of this.jobs.values()) job.reject(this.gone);
      this.jobs.clear();
      this.w.unref();
    };
    this.w.on('error', (e) => fail(`extraction worker failed: ${e.message}`));
    this.w.on('exit', (code) => fail(`extraction worker exited (${code})`));
  }

  add(id: number, job: Job): void {
    if (this.jobs.size === 0) this.w.ref();
    this.jobs.set(id, job);
  }

  private remove(id: number): void {
    this.jobs.delete(id);
    if (this.jobs.size === 0) this.w.unref();
  }

  post(m: ToWorker): void {
    this.w.postMessage(m);
  }

  async close(): Promise<void> {
    this.gone ??= new WorkerGoneError('extraction pool closed');
    await this.w.terminate();
  }
}

export class ExtractPool {
  private readonly workers: PoolWorker[] = [];
  private nextId = 1;

  private constructor(readonly size: number) {
    for (let i = 0; i < size; i++) this.workers.push(new PoolWorker());
  }

  /** Below this many bytes to unpack (and without $KILN_EXTRACT_WORKERS), no pool. */
  static readonly MIN_BYTES = 16 << 20;

  /**
   * A pool for unpacking `bytes` (compressed) of layers, or null when extraction should stay in
   * the main thread (see the top of this file).
   */
  static create(bytes = Infinity): ExtractPool | null {
    const env = process.env.KILN_EXTRACT_WORKERS;
    const explicit = env !== undefined && env !== '' && Number.isFinite(Number(env));
    if (!explicit && bytes < ExtractPool.MIN_BYTES) return null;
    const size = explicit ? Math.max(0, Math.floor(Number(env))) : Math.max(1, Math.min(4, availableParallelism() - 1));
    if (size === 0) return null;
    try {
      return new ExtractPool(size);
    } catch {
      return null;
    }
  }

  /**
   * Runs applyLayer on the blob at `file` into the empty directory `dir` in a worker. Rejects with
   * WorkerGoneError when no worker could do it (then nothing was reported done; the caller clears
   * `dir` and retries elsewhere), or with the extraction's own error.
   */
  extract(file: string, dir: string, opts: { onProgress?: (n: number) => void; signal?: AbortSignal } = {}): Promise<ApplyResult> {
    const live = this.workers.filter((w) => !w.gone);
    if (live.length === 0) return Promise.reject(new WorkerGoneError('no extraction worker is running'));
    const w = live.reduce((a, b) => (b.jobs.size < a.jobs.size ? b : a));
    const id = this.nextId++;
    return new Promise<ApplyResult>((resolve, reject) => {
      const onAbort = () => w.post({ type: 'abort', id });
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      const done = () => opts.signal?.removeEventListener('abort', onAbort);
      w.add(id, {
        resolve: (r) => {
          done();
          resolve(r);
        },
        reject: (e) => {
          done();
          reject(e);
        },
        onProgress: opts.onProgress,
      });
      w.post({ type: 'extract', id, file, dir });
      if (opts.signal?.aborted) onAbort();
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.close()));
  }
}

// ---- the worker side --------------------------------------------------------------------------
if (!isMainThread && (workerData as Record<string, unknown> | null)?.[EXTRACT_WORKER_FLAG] && parentPort) {
  const port = parentPort;
  const sources = new Map<number, Readable>();
  port.on('message', (m: ToWorker) => {
    if (m.type === 'abort') {
      sources.get(m.id)?.destroy(new Error('extraction aborted'));
      return;
    }
    const { id } = m;
    const src = createReadStream(m.file, { highWaterMark: 1 << 20 });
    sources.set(id, src);
    let n = 0;
    let reported = 0;
    src.on('data', (c: Buffer | string) => {
      n += c.length;
      if (n - reported >= 1 << 20) {
        reported = n;
        port.postMessage({ type: 'progress', id, n } satisfies FromWorker);
      }
    });
    src.on('error', () => {
      /* surfaces through applyLayer's read */
    });
    applyLayer(src, m.dir).then(
      (result) => port.postMessage({ type: 'done', id, result } satisfies FromWorker),
      (e: Error & { code?: string }) =>
        port.postMessage({ type: 'error', id, error: { name: e?.name ?? 'Error', message: e?.message ?? String(e), code: e?.code } } satisfies FromWorker),
    ).finally(() => {
      src.destroy();
      sources.delete(id);
    });
  });
}
