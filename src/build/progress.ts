// Build progress: the executor emits typed events; a renderer turns them into what the user sees.
// `plain` prints Docker's classic builder lines (Step N/M, ---> Using cache, ---> Running in …);
// `tty` redraws a compact live view (one line per step with its timing, plus the tail of the
// running step's output); `quiet` prints nothing but the final image ID (docker build -q).
import { shortId } from '../image/digest.js';

export type BuildEvent =
  | { type: 'step'; step: number; total: number; stage: string; text: string }
  | { type: 'cached'; step: number; imageId: string }
  | { type: 'running'; step: number; containerId: string }
  | { type: 'output'; step: number; data: Buffer }
  | { type: 'removed'; step: number; containerId: string }
  | { type: 'stepDone'; step: number; imageId: string; ms: number }
  | { type: 'explain'; step: number; reason: string }
  | { type: 'info'; text: string }
  | { type: 'warning'; text: string }
  | { type: 'built'; imageId: string }
  | { type: 'tagged'; ref: string };

export type ProgressMode = 'auto' | 'plain' | 'tty' | 'quiet';

export interface ProgressSink {
  emit(e: BuildEvent): void;
  /** Called once at the end (success or failure) so a live view can leave the screen tidy. */
  close(): void;
}

export function createProgress(mode: ProgressMode, out: NodeJS.WriteStream = process.stdout): ProgressSink {
  if (mode === 'auto') mode = out.isTTY ? 'tty' : 'plain';
  if (mode === 'quiet') return new QuietProgress(out);
  if (mode === 'tty') return new TtyProgress(out);
  return new PlainProgress(out);
}

class QuietProgress implements ProgressSink {
  constructor(private out: NodeJS.WritableStream) {}
  emit(e: BuildEvent): void {
    if (e.type === 'built') this.out.write(`${e.imageId}\n`);
  }
  close(): void {}
}

export class PlainProgress implements ProgressSink {
  private partial = false;
  constructor(private out: NodeJS.WritableStream) {}
  emit(e: BuildEvent): void {
    const w = (s: string) => {
      if (this.partial) this.out.write('\n');
      this.partial = false;
      this.out.write(s);
    };
    switch (e.type) {
      case 'step':
        w(`Step ${e.step}/${e.total} : ${e.text}\n`);
        break;
      case 'cached':
        w(` ---> Using cache\n ---> ${shortId(e.imageId)}\n`);
        break;
      case 'running':
        w(` ---> Running in ${e.containerId.slice(0, 12)}\n`);
        break;
      case 'output': {
        const s = e.data.toString('utf8');
        if (!s) break;
        this.out.write(s);
        this.partial = !s.endsWith('\n');
        break;
      }
      case 'removed':
        w(`Removing intermediate container ${e.containerId.slice(0, 12)}\n`);
        break;
      case 'stepDone':
        w(` ---> ${shortId(e.imageId)}\n`);
        break;
      case 'explain':
        w(` ---> Cache miss: ${e.reason}\n`);
        break;
      case 'info':
        w(`${e.text}\n`);
        break;
      case 'warning':
        w(`[WARNING]: ${e.text}\n`);
        break;
      case 'built':
        w(`Successfully built ${shortId(e.imageId)}\n`);
        break;
      case 'tagged':
        w(`Successfully tagged ${e.ref}\n`);
        break;
    }
  }
  close(): void {
    if (this.partial) this.out.write('\n');
  }
}

interface TtyStep {
  step: number;
  total: number;
  text: string;
  started: number;
  ms?: number;
  cached?: boolean;
  tail: string[];
  partial: string;
}

/** A BuildKit-like live view, redrawn at most every 100 ms; finished steps scroll up and stay. */
export class TtyProgress implements ProgressSink {
  private steps = new Map<number, TtyStep>();
  private drawnLines = 0;
  private timer?: NodeJS.Timeout;
  private readonly start = Date.now();
  private messages: string[] = [];
  constructor(private out: NodeJS.WriteStream) {}

  emit(e: BuildEvent): void {
    switch (e.type) {
      case 'step':
        this.steps.set(e.step, { step: e.step, total: e.total, text: e.text, started: Date.now(), tail: [], partial: '' });
        break;
      case 'cached': {
        const s = this.steps.get(e.step);
        if (s) (s.cached = true), (s.ms = Date.now() - s.started);
        break;
      }
      case 'output': {
        const s = this.steps.get(e.step);
        if (!s) break;
        const lines = (s.partial + e.data.toString('utf8')).split(/\r?\n|\r/);
        s.partial = lines.pop() ?? '';
        s.tail.push(...lines);
        if (s.tail.length > 6) s.tail.splice(0, s.tail.length - 6);
        break;
      }
      case 'stepDone': {
        const s = this.steps.get(e.step);
        if (s && s.ms === undefined) s.ms = e.ms;
        break;
      }
      case 'explain':
        this.messages.push(`#${e.step} cache miss: ${e.reason}`);
        break;
      case 'warning':
        this.messages.push(`WARNING: ${e.text}`);
        break;
      case 'info':
        this.messages.push(e.text);
        break;
      case 'built':
        this.messages.push(`Successfully built ${shortId(e.imageId)}`);
        break;
      case 'tagged':
        this.messages.push(`Successfully tagged ${e.ref}`);
        break;
      default:
        break;
    }
    this.schedule();
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.draw();
    }, 100);
  }

  private render(final: boolean): string[] {
    const secs = ((Date.now() - this.start) / 1000).toFixed(1);
    const lines = [`[+] Building ${secs}s`];
    for (const s of [...this.steps.values()].sort((a, b) => a.step - b.step)) {
      const t = s.ms !== undefined ? `${(s.ms / 1000).toFixed(1)}s` : `${((Date.now() - s.started) / 1000).toFixed(1)}s`;
      const mark = s.cached ? ' CACHED' : s.ms !== undefined ? ' DONE' : '';
      lines.push(` => [${s.step}/${s.total}] ${s.text}`.slice(0, (this.out.columns || 100) - 16) + `${mark} ${t}`);
      if (s.ms === undefined && !final) for (const l of [...s.tail, s.partial].filter(Boolean)) lines.push(`    ${l}`.slice(0, (this.out.columns || 100) - 1));
    }
    return lines.concat(this.messages);
  }

  private draw(final = false): void {
    const lines = this.render(final);
    let s = '';
    if (this.drawnLines) s += `\x1b[${this.drawnLines}F\x1b[J`;
    s += lines.join('\n') + '\n';
    this.out.write(s);
    this.drawnLines = lines.length;
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.draw(true);
  }
}
