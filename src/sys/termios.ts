// A terminal's output post-processing (termios c_oflag OPOST), and its size. Node's setRawMode leaves it on
// (libuv's raw mode keeps ONLCR), but the output of a container's terminal already has its \r\n:
// written through ours unchanged it would become \r\r\n. Node restores its stdio terminals as they
// were when it exits, whatever this changed.
import { check, libcFn } from './ffi.js';

/** glibc's struct termios on Linux: four 32-bit flag words, c_line, c_cc[32], two speeds. */
const TERMIOS_SIZE = 60;
const C_OFLAG = 4;
const OPOST = 0o1;
const TCSANOW = 0;

/** Turns output post-processing of terminal `fd` on or off; returns whether it was on. */
export function setOutputProcessing(fd: number, on: boolean): boolean {
  const t = Buffer.alloc(TERMIOS_SIZE);
  check(libcFn('int tcgetattr(int fd, void *termios)')(fd, t), 'tcgetattr');
  const flags = t.readUInt32LE(C_OFLAG);
  t.writeUInt32LE(on ? flags | OPOST : flags & ~OPOST, C_OFLAG);
  check(libcFn('int tcsetattr(int fd, int act, const void *termios)')(fd, TCSANOW, t), 'tcsetattr');
  return (flags & OPOST) !== 0;
}

const TIOCSWINSZ = 0x5414;

/** Sets a terminal's size (struct winsize: rows, columns, two unused pixel counts). */
export function setWindowSize(fd: number, rows: number, cols: number): void {
  const ws = Buffer.alloc(8);
  ws.writeUInt16LE(Math.min(0xffff, Math.max(0, Math.floor(rows))), 0);
  ws.writeUInt16LE(Math.min(0xffff, Math.max(0, Math.floor(cols))), 2);
  check(libcFn('int ioctl(int fd, unsigned long request, const void *arg)')(fd, TIOCSWINSZ, ws), 'ioctl');
}
