// Reading a container's k8s-file log (conmon's format, which the foreground run writes too):
// `<RFC3339Nano> stdout|stderr F|P <text>`; P marks a partial line continued by the next entry.
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

export interface LogEntry {
  time: string; // RFC3339Nano, Z
  stream: 'stdout' | 'stderr';
  text: string; // with its trailing newline when the line was complete
}

export function parseLogLine(line: string): LogEntry | undefined {
  const a = line.indexOf(' ');
  const b = line.indexOf(' ', a + 1);
  const c = line.indexOf(' ', b + 1);
  if (a < 0 || b < 0 || c < 0) return undefined;
  const stream = line.slice(a + 1, b);
  if (stream !== 'stdout' && stream !== 'stderr') return undefined;
  const tag = line.slice(b + 1, c);
  const time = line.slice(0, a).replace(/\+00:00$/, 'Z');
  return { time, stream, text: line.slice(c + 1) + (tag === 'P' ? '' : '\n') };
}

export function parseLog(text: string): LogEntry[] {
  const out: LogEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const e = parseLogLine(line);
    if (e) out.push(e);
  }
  return out;
}

export interface LogOptions {
  follow?: boolean;
  tail?: number; // lines; undefined = all
  timestamps?: boolean;
  since?: number; // ms epoch
  until?: number;
  /** while following: is the container still running? */
  running?: () => Promise<boolean>;
  write: (stream: 'stdout' | 'stderr', text: string) => void;
}

function emit(e: LogEntry, opts: LogOptions): void {
  const t = Date.parse(e.time);
  if (opts.since !== undefined && t < opts.since) return;
  if (opts.until !== undefined && t > opts.until) return;
  opts.write(e.stream, opts.timestamps ? `${e.time} ${e.text}` : e.text);
}

function readFrom(file: string, offset: number): { text: string; offset: number } {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return { text: '', offset };
  }
  try {
    const size = statSync(file).size;
    if (size <= offset) return { text: '', offset };
    const buf = Buffer.alloc(size - offset);
    const n = readSync(fd, buf, 0, buf.length, offset);
    const text = buf.subarray(0, n).toString('utf8');
    const end = text.lastIndexOf('\n') + 1; // only whole lines
    return { text: text.slice(0, end), offset: offset + Buffer.byteLength(text.slice(0, end)) };
  } finally {
    closeSync(fd);
  }
}

/** `docker logs [-f] [--tail N] [-t]` over a k8s-file log. */
export async function readLogs(file: string, opts: LogOptions): Promise<void> {
  let { text, offset } = readFrom(file, 0);
  let entries = parseLog(text);
  if (opts.tail !== undefined && opts.tail >= 0) {
    // --tail counts lines: a partial entry belongs to the line its F entry ends.
    let lines = 0;
    let i = entries.length;
    while (i > 0) {
      if (entries[i - 1]!.text.endsWith('\n')) {
        if (lines === opts.tail) break;
        lines++;
      }
      i--;
    }
    entries = entries.slice(i);
  }
  for (const e of entries) emit(e, opts);
  if (!opts.follow) return;
  for (;;) {
    const alive = opts.running ? await opts.running() : false;
    ({ text, offset } = readFrom(file, offset));
    for (const e of parseLog(text)) emit(e, opts);
    if (!alive) return;
    await sleep(100);
  }
}
