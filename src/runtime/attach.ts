// `kiln attach`: conmon's attach socket (machine-notes §3). conmon links <socket-dir>/<cuuid> to the
// bundle and listens on <bundle>/attach, a SOCK_SEQPACKET socket (which Node's `net` cannot open:
// EPROTOTYPE, hence src/sys/seqpacket.ts). Every packet conmon sends starts with one byte, 2 = stdout and
// 3 = stderr (with -t everything is 2, CRLF included); what we send becomes the container's stdin
// (conmon runs with -i --leave-stdin-open for `run -i`, so leaving does not close it). A terminal is
// resized by writing `1 <rows> <cols>\n` to the bundle's `ctl` FIFO.
import { closeSync, constants as fsConstants, existsSync, openSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { SeqpacketSocket } from '../sys/seqpacket.js';
import type { Engine } from '../engine.js';
import { CONMON_SOCKET_DIR } from './conmon.js';
import { containerPaths, getContainer, waitContainer, type Container, type ContainerRuntimeOptions } from './containers.js';
import { eventLogPath, readEventsFrom } from '../store/event-log.js';
import { NotFoundError } from '../store/errors.js';

const STDOUT = 2;
const STDERR = 3;
/** conmon reads client packets into a 32 KiB buffer; a SEQPACKET datagram longer than that is cut. */
const MAX_PACKET = 8192;
/** sun_path is 108 bytes, NUL included */
const MAX_SOCKET_PATH = 107;

export const DEFAULT_DETACH_KEYS = 'ctrl-p,ctrl-q';

/** Docker's --detach-keys syntax: `ctrl-<c>` or a single character, comma-separated. */
export function parseDetachKeys(spec: string): number[] {
  const keys: number[] = [];
  for (const part of spec.split(',')) {
    const k = part.trim();
    const m = /^ctrl-(.)$/i.exec(k);
    if (m) {
      const ch = m[1]!;
      const lower = ch.toLowerCase();
      if (lower >= 'a' && lower <= 'z') keys.push(lower.charCodeAt(0) - 96);
      else if ('@[\\]^_'.includes(ch)) keys.push(ch.charCodeAt(0) - 64);
      else throw new Error(`invalid detach key: ${k}`);
    } else if (k.length === 1) {
      keys.push(k.charCodeAt(0));
    } else {
      throw new Error(`invalid detach keys: ${spec}`);
    }
  }
  if (!keys.length) throw new Error(`invalid detach keys: ${spec}`);
  return keys;
}

/**
 * Watches stdin for the detach sequence, holding back a partial match (as Docker's escape proxy
 * does): feed() returns what to forward and whether the whole sequence was typed.
 */
export class DetachKeyFilter {
  private matched = 0;
  constructor(private readonly keys: number[]) {}

  feed(chunk: Buffer): { data: Buffer; detach: boolean } {
    if (!this.keys.length) return { data: chunk, detach: false };
    const out: number[] = [];
    for (const b of chunk) {
      if (b === this.keys[this.matched]) {
        this.matched++;
        if (this.matched === this.keys.length) return { data: Buffer.from(out), detach: true };
        continue;
      }
      if (this.matched) {
        out.push(...this.keys.slice(0, this.matched));
        this.matched = 0;
      }
      if (b === this.keys[0]) this.matched = 1;
      else out.push(b);
    }
    return { data: Buffer.from(out), detach: false };
  }
}

export interface AttachResult {
  /** the container's exit code, when it ended while attached */
  exitCode?: number;
  /** the user typed the detach keys: the container keeps running */
  detached: boolean;
}

export interface AttachIO {
  stdout: (b: Buffer) => void;
  stderr: (b: Buffer) => void;
}

/** One connection to a running container's attach socket. */
export class Attachment {
  readonly done: Promise<AttachResult>;
  private finish!: (r: AttachResult) => void;
  private closed = false;

  private constructor(
    private readonly engine: Engine,
    readonly container: Container,
    private readonly sock: SeqpacketSocket,
    private readonly opts: ContainerRuntimeOptions,
  ) {
    this.done = new Promise((resolve) => (this.finish = resolve));
    this.eventsFrom = statSync(eventLogPath(engine.root), { throwIfNoEntry: false })?.size ?? 0;
  }

  /** Where the event log ended when we attached: a --rm container's exit code is in a later `die`. */
  private readonly eventsFrom: number;

  /** Was the container started with -i (so that writes reach its stdin)? */
  get stdin(): boolean {
    return this.container.config.openStdin;
  }

  get tty(): boolean {
    return this.container.config.tty;
  }

  static async open(engine: Engine, idOrName: string, io: AttachIO, opts: ContainerRuntimeOptions = {}): Promise<Attachment> {
    const c = await getContainer(engine, idOrName, opts);
    if (c.state.status === 'paused') throw new Error('You cannot attach to a paused container, unpause it first');
    if (c.state.status !== 'running') throw new Error('You cannot attach to a stopped container, start it first');
    if (c.state.monitor !== 'conmon') {
      throw new Error(`container ${c.name} runs in the foreground of a \`kiln run\`, which holds its stdio: it has no attach socket`);
    }
    return Attachment.connect(engine, c, io, opts);
  }

  /**
   * Connects to the attach socket of a container conmon has created, whatever its state says:
   * `run -t` attaches between create and start (startContainer's beforeStart), so no output is lost.
   */
  static connect(engine: Engine, c: Container, io: AttachIO, opts: ContainerRuntimeOptions = {}): Attachment {
    const sock = new SeqpacketSocket();
    const a = new Attachment(engine, c, sock, opts);
    sock.on('data', (b: Buffer) => {
      if (b.length < 2) return;
      if (b[0] === STDOUT) io.stdout(b.subarray(1));
      else if (b[0] === STDERR) io.stderr(b.subarray(1));
    });
    try {
      sock.connect(socketPath(engine, c));
    } catch (e) {
      sock.destroy();
      throw new Error(`cannot attach to container ${c.name}: ${(e as Error).message}`);
    }
    // conmon closes the connection when it exits, after the container ended and its output was sent.
    const ended = () => void a.ended();
    sock.on('end', ended);
    return a;
  }

  /** Send bytes to the container's stdin (needs -i; in packets conmon reads whole). */
  write(b: Buffer): void {
    if (this.closed || !this.stdin) return;
    for (let off = 0; off < b.length; off += MAX_PACKET) {
      const part = b.subarray(off, Math.min(b.length, off + MAX_PACKET));
      try {
        this.sock.write(part);
      } catch {
        return; // the socket went away: ended() reports it
      }
    }
  }

  /** Resize the container's terminal (-t) through conmon's ctl FIFO. */
  resize(rows: number, cols: number): void {
    if (!this.tty || !(rows > 0) || !(cols > 0)) return;
    resizeContainerTerminal(this.engine, this.container.id, rows, cols);
  }

  /** Leave the container running (the detach keys). */
  detach(): void {
    this.close();
    this.finish({ detached: true });
  }

  /** Close the connection (after a result, or when giving up). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.sock.destroy();
    } catch {
      /* already gone */
    }
  }

  private async ended(): Promise<void> {
    if (this.closed) return;
    this.close();
    try {
      this.finish({ detached: false, exitCode: await waitContainer(this.engine, this.container.id, this.opts) });
    } catch (e) {
      // Removed as it exited (--rm): its exit code was recorded before it went.
      if (!(e instanceof NotFoundError)) return this.finish({ detached: false });
      const dies = readEventsFrom(eventLogPath(this.engine.root), this.eventsFrom).events.filter((ev) => ev.Type === 'container' && ev.Action === 'die' && ev.Actor.ID === this.container.id);
      const die = dies[dies.length - 1];
      const code = Number(die?.Actor.Attributes.exitCode);
      this.finish({ detached: false, ...(Number.isInteger(code) ? { exitCode: code } : {}) });
    }
  }
}

function socketPath(engine: Engine, c: Container): string {
  // The short path through conmon's symlink; the bundle's own socket when the link is missing and
  // the bundle path fits in sun_path.
  const viaLink = join(CONMON_SOCKET_DIR, c.id, 'attach');
  if (existsSync(viaLink)) return viaLink;
  const direct = join(containerPaths(engine, c.id).bundle, 'attach');
  return Buffer.byteLength(direct) <= MAX_SOCKET_PATH ? direct : viaLink;
}

/** `1 <rows> <cols>` to conmon's ctl FIFO; a no-op when conmon is gone (no reader: ENXIO). */
export function resizeContainerTerminal(engine: Engine, id: string, rows: number, cols: number): void {
  let fd: number | undefined;
  try {
    fd = openSync(join(containerPaths(engine, id).bundle, 'ctl'), fsConstants.O_WRONLY | fsConstants.O_NONBLOCK);
    writeSync(fd, `1 ${Math.floor(rows)} ${Math.floor(cols)}\n`);
  } catch {
    /* not a -t container, or its conmon has exited */
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
