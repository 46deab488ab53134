// Progress of pulls and pushes, in Docker's shape. Producers emit events; a sink renders them:
// - on a TTY, one live line per layer, redrawn in place, with a bar, bytes, rate and ETA:
//     3f4d90098f5b: Downloading [=========>                      ]  1.57MB/5.24MB  12.3MB/s  0s
// - otherwise plain lines, one per status change (no byte counters):
//     3f4d90098f5b: Pulling fs layer / Download complete / Pull complete
// A plain `(line: string) => void` callback is accepted wherever a sink is (it gets the plain lines).

export interface ProgressEvent {
  /** The layer's short ID; absent for a line about the whole operation. */
  id?: string;
  status: string;
  /** Byte counters for transient states (Downloading, Extracting, Pushing). */
  current?: number;
  total?: number;
}

export interface ProgressSink {
  event(e: ProgressEvent): void;
  /** Flushes a live display (leaves the final state on screen). */
  close?(): void;
}

export type ProgressFn = (line: string) => void;
export type Progress = ProgressSink | ProgressFn;

/** States that only update a counter: shown live on a TTY, not printed as plain lines. */
const TRANSIENT = new Set(['Downloading', 'Extracting', 'Pushing', 'Waiting', 'Verifying Checksum']);

export function formatEventLine(e: ProgressEvent): string {
  return e.id ? `${e.id}: ${e.status}` : e.status;
}

export class PlainProgress implements ProgressSink {
  constructor(private readonly write: ProgressFn) {}
  event(e: ProgressEvent): void {
    if (e.current !== undefined && TRANSIENT.has(e.status)) return;
    if (TRANSIENT.has(e.status) && e.status !== 'Verifying Checksum' && e.status !== 'Waiting') return;
    this.write(formatEventLine(e));
  }
}

export function toSink(p: Progress | undefined): ProgressSink {
  if (!p) return { event() {} };
  if (typeof p === 'function') return new PlainProgress(p);
  return p;
}

/** Docker's HumanSize: decimal units, 3 significant digits ("1.57MB", "512B", "12.3kB"). */
export function humanSize(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = n;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i === 0 ? String(Math.round(v)) : v.toPrecision(3)}${units[i]}`;
}

function humanDuration(s: number): string {
  if (!Number.isFinite(s)) return '';
  if (s < 60) return `${Math.ceil(s)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.ceil(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

export function progressBar(current: number, total: number, width = 50): string {
  const frac = total > 0 ? Math.min(1, current / total) : 0;
  const filled = Math.floor(frac * width);
  return `[${'='.repeat(Math.max(0, filled - 1))}${filled > 0 ? (filled === width ? '=' : '>') : ''}${' '.repeat(width - filled)}]`;
}

interface Row {
  /** Absent for a line about the whole operation (printed once, in order, never updated). */
  id?: string;
  status: string;
  current?: number;
  total?: number;
  /** When the counter for this status started, and from which value (rate and ETA). */
  since?: number;
  from?: number;
}

/**
 * The live view, as Docker draws it: lines appear in the order they were first reported, and a
 * layer's line is rewritten in place (cursor up, clear line) at most every `intervalMs`. Lines that
 * scrolled beyond the terminal's height are left as they are.
 */
export class TtyProgress implements ProgressSink {
  private readonly rows: Row[] = [];
  private readonly byId = new Map<string, Row>();
  /** Rows before this index are no longer redrawn. */
  private frozen = 0;
  private drawn = 0;
  private timer?: NodeJS.Timeout;
  private dirty = false;

  constructor(
    private readonly out: NodeJS.WritableStream & { columns?: number; rows?: number },
    private readonly intervalMs = 100,
  ) {}

  event(e: ProgressEvent): void {
    if (!e.id) {
      this.rows.push({ status: e.status });
      this.redraw();
      return;
    }
    let row = this.byId.get(e.id);
    if (!row) {
      row = { id: e.id, status: e.status };
      this.byId.set(e.id, row);
      this.rows.push(row);
    }
    if (row.status !== e.status || e.current === undefined) {
      row.since = undefined;
      row.from = undefined;
    }
    row.status = e.status;
    row.current = e.current;
    row.total = e.total;
    if (e.current !== undefined && row.since === undefined) {
      row.since = Date.now();
      row.from = e.current;
    }
    this.dirty = true;
    if (e.current === undefined) this.redraw();
    else
      this.timer ??= setTimeout(() => {
        this.timer = undefined;
        if (this.dirty) this.redraw();
      }, this.intervalMs);
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.dirty) this.redraw();
  }

  private line(r: Row): string {
    if (!r.id) return r.status;
    let s = `${r.id}: ${r.status}`;
    if (r.current !== undefined && r.total) {
      s += ` ${progressBar(r.current, r.total)} ${humanSize(r.current)}/${humanSize(r.total)}`;
      const elapsed = (Date.now() - (r.since ?? Date.now())) / 1000;
      const moved = r.current - (r.from ?? 0);
      if (elapsed > 0.2 && moved > 0 && r.current < r.total) {
        const rate = moved / elapsed;
        s += `  ${humanSize(rate)}/s  ${humanDuration((r.total - r.current) / rate)}`;
      }
    } else if (r.current !== undefined) s += ` ${humanSize(r.current)}`;
    const cols = this.out.columns || 120;
    return s.length > cols - 1 ? s.slice(0, cols - 1) : s;
  }

  private redraw(): void {
    this.dirty = false;
    const height = Math.max((this.out.rows || 40) - 1, 1);
    let s = this.drawn > 0 ? `\x1b[${this.drawn}A` : '';
    // Rows that would not fit on the screen any more stay as last drawn.
    const newFrozen = Math.max(this.frozen, this.rows.length - height);
    for (let i = this.frozen; i < this.rows.length; i++) s += `\x1b[2K${this.line(this.rows[i]!)}\n`;
    this.frozen = newFrozen;
    this.drawn = this.rows.length - this.frozen;
    this.out.write(s);
  }
}

/** The sink a command should use for `out`: live on a TTY, plain lines otherwise. */
export function progressFor(out: NodeJS.WriteStream, mode: 'auto' | 'tty' | 'plain' = 'auto'): ProgressSink {
  const tty = mode === 'tty' || (mode === 'auto' && out.isTTY && process.env.TERM !== 'dumb');
  return tty ? new TtyProgress(out) : new PlainProgress((l) => out.write(`${l}\n`));
}
