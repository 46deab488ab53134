// A container process's terminal, held by kiln instead of a shim (there is no daemon): the runtime
// hands its master over a console socket (`--console-socket`); kiln relays it to its own stdio
// (exec -t, builder run -t), or leaves it to a detached holder (exec -d -t).
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import tty from 'node:tty';
import { ConsoleSocket } from '../sys/console-socket.js';
import { setWindowSize } from '../sys/termios.js';
import { writeAllSync } from '../util/write-all.js';

/** Where the runtime's console sockets live: a short path (sun_path is 108 bytes), cleaned with /run. */
const CONSOLE_SOCKET_DIR = '/run/kiln/console';

/** A console socket for a process about to be started (`key`: unique, e.g. an exec ID). */
export function listenConsoleSocket(key: string): ConsoleSocket {
  mkdirSync(CONSOLE_SOCKET_DIR, { recursive: true, mode: 0o700 });
  return ConsoleSocket.listen(join(CONSOLE_SOCKET_DIR, `${key.slice(0, 24)}.sock`));
}

/** A container process's terminal (the master side, which we hold): to type into and resize. */
export interface TerminalControl {
  write(b: Buffer): void;
  resize(rows: number, cols: number): void;
}

/** Where a relayed terminal's output goes and its input comes from. */
export interface TerminalIO {
  /** all of the terminal's output; ours (fd 1) when absent */
  stdout?: (b: Buffer) => void;
  stdin?: Readable;
  /** called with the terminal once it exists, to type into it and resize it */
  onTerminal?: (t: TerminalControl) => void;
}

/**
 * Keeps the terminal of a detached exec (`exec -d -t`) open after kiln exits, as Docker's shim
 * does: a detached `cat` holds its master, drains what the process writes (discarded, as Docker
 * discards it), and exits when the last process with the terminal has closed it.
 */
export async function holdTerminal(consoleSocket: ConsoleSocket): Promise<void> {
  const master = await consoleSocket.receive();
  try {
    const holder = spawn('cat', [], { stdio: [master, 'ignore', 'ignore'], detached: true });
    holder.on('error', () => {}); // no cat: the terminal closes with us, and the process gets SIGHUP
    holder.unref();
  } finally {
    closeSync(master);
  }
}

/**
 * Relays the terminal the runtime sends to `consoleSocket`: its output to `e.stdout` (or ours), and
 * `e.stdin` (or what onTerminal's caller types) into it. `finish()` (the process has exited) ends the relay once
 * the output has drained: at once when the last process holding the terminal closed it, else
 * (a background process keeps it open, as Docker's exec also leaves it) after a short grace.
 */
export function relayTerminal(consoleSocket: ConsoleSocket, e: TerminalIO): { finish(): Promise<void> } {
  let ended: Promise<void> = Promise.resolve();
  let stop = () => {};
  const started = consoleSocket.receive().then(
    (master) => {
      const out = e.stdout ?? ((b: Buffer) => writeAllSync(1, b));
      let open = true;
      const write = (b: Buffer) => {
        if (!open) return;
        try {
          writeAllSync(master, b);
        } catch {
          /* the terminal is gone: what was typed goes nowhere */
        }
      };
      e.onTerminal?.({ write, resize: (rows, cols) => open && setWindowSize(master, rows, cols) });
      const onInput = (b: Buffer) => write(b);
      e.stdin?.on('data', onInput);
      // A tty stream polls the master (epoll), so it can be stopped while nothing arrives.
      const stream = new tty.ReadStream(master);
      stream.on('data', (b: Buffer) => out(b));
      ended = new Promise<void>((done) => {
        const end = () => {
          if (!open) return;
          open = false;
          e.stdin?.off('data', onInput);
          stream.destroy(); // closes the master
          done();
        };
        stream.on('end', end);
        stream.on('error', end); // EIO: no process holds the terminal any more
        stream.on('close', end);
        stop = end;
      });
    },
    () => {}, // the runtime failed before making one: its log says why
  );
  return {
    finish: async () => {
      await started;
      const grace = setTimeout(() => stop(), 250);
      await ended;
      clearTimeout(grace);
    },
  };
}
