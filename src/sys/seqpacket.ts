// A client for Unix SOCK_SEQPACKET sockets (conmon's attach socket), which Node's `net` cannot open
// (EPROTOTYPE). socket/connect/send through koffi; reading is a loop of recv() on libuv's thread
// pool (koffi's .async), so the event loop never blocks. Events: 'data' (one packet each), 'end'.
import { EventEmitter } from 'node:events';
import { AF_UNIX, SOCK_CLOEXEC, SysError, check, lastErrno, libcFn, unixAddress } from './ffi.js';

const SOCK_SEQPACKET = 5;
const MSG_NOSIGNAL = 0x4000;
const SHUT_RDWR = 2;
const PACKET_MAX = 64 * 1024;

type AsyncFn = { async: (...args: unknown[]) => void };

export class SeqpacketSocket extends EventEmitter {
  private fd = -1;
  private closing = false;

  /** Connects (synchronously: a local socket either accepts at once or fails) and starts reading. */
  connect(path: string): void {
    const { addr, len } = unixAddress(path);
    const fd = check(libcFn('int socket(int, int, int)')(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0), 'socket');
    if ((libcFn('int connect(int, const void *, uint32_t)')(fd, addr, len) as number) < 0) {
      const errno = lastErrno();
      libcFn('int close(int)')(fd);
      throw new SysError('connect', errno, path);
    }
    this.fd = fd;
    this.readLoop();
  }

  private readLoop(): void {
    const buf = Buffer.alloc(PACKET_MAX);
    const recv = libcFn('intptr_t recv(int, _Out_ void *, size_t, int)') as unknown as AsyncFn;
    recv.async(this.fd, buf, buf.length, 0, (err: unknown, n: number | bigint) => {
      const got = Number(n);
      if (err || got <= 0 || this.closing) {
        this.release();
        this.emit('end');
        return;
      }
      this.emit('data', Buffer.from(buf.subarray(0, got)));
      this.readLoop();
    });
  }

  /** Sends one packet (conmon reads each packet whole). */
  write(b: Buffer): void {
    if (this.fd < 0) throw new Error('socket is closed');
    check(libcFn('intptr_t send(int, const void *, size_t, int)')(this.fd, b, b.length, MSG_NOSIGNAL), 'send');
  }

  /** Stops reading and closes: shutdown() wakes the pending recv, which then releases the fd. */
  destroy(): void {
    if (this.fd < 0 || this.closing) return;
    this.closing = true;
    libcFn('int shutdown(int, int)')(this.fd, SHUT_RDWR);
  }

  private release(): void {
    if (this.fd >= 0) libcFn('int close(int)')(this.fd);
    this.fd = -1;
  }
}
