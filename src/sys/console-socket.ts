// runc's --console-socket: runc connects to a Unix socket we listen on and sends the master side of
// the terminal it made for the process, as an SCM_RIGHTS message. Node's `net` cannot receive a
// file descriptor, so socket/bind/listen/accept/recvmsg go through koffi; the blocking accept and
// recvmsg run on libuv's thread pool (koffi's .async), so the event loop goes on meanwhile.
import { rmSync } from 'node:fs';
import { AF_UNIX, SOCK_CLOEXEC, SysError, check, koffi, lastErrno, libcFn, unixAddress } from './ffi.js';

const SOCK_STREAM = 1;
const SHUT_RDWR = 2;
const SOL_SOCKET = 1;
const SCM_RIGHTS = 1;
/** struct cmsghdr: size_t cmsg_len, int cmsg_level, int cmsg_type, then the data */
const CMSG_HEADER = 16;

type AsyncFn = { async: (...args: unknown[]) => void };

let recvmsgFn: AsyncFn | undefined;
/** recvmsg(2) with koffi's struct msghdr (Buffers stand for the pointers it holds). */
function recvmsg(): AsyncFn {
  if (!recvmsgFn) {
    const k = koffi();
    k.struct('kiln_iovec', { base: 'void *', len: 'size_t' });
    k.struct('kiln_msghdr', { name: 'void *', namelen: 'uint32_t', iov: 'kiln_iovec *', iovlen: 'size_t', control: 'void *', controllen: 'size_t', flags: 'int' });
    recvmsgFn = libcFn('intptr_t recvmsg(int fd, _Inout_ kiln_msghdr *msg, int flags)') as unknown as AsyncFn;
  }
  return recvmsgFn;
}

const closeFd = (fd: number) => void libcFn('int close(int)')(fd);

export class ConsoleSocket {
  private closed = false;
  private accepting = false;
  private fdOpen = true;

  private constructor(
    readonly path: string,
    private readonly fd: number,
  ) {}

  /** Listens on `path` (which must not exist; at most 107 bytes) for one connection. */
  static listen(path: string): ConsoleSocket {
    const { addr, len } = unixAddress(path);
    const fd = check(libcFn('int socket(int, int, int)')(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), 'socket');
    for (const [call, ret] of [
      ['bind', () => libcFn('int bind(int, const void *, uint32_t)')(fd, addr, len)],
      ['listen', () => libcFn('int listen(int, int)')(fd, 1)],
    ] as const) {
      if ((ret() as number) < 0) {
        const errno = lastErrno();
        closeFd(fd);
        throw new SysError(call, errno, path);
      }
    }
    return new ConsoleSocket(path, fd);
  }

  /** The terminal master runc sends (once it has connected); rejects when closed first. */
  receive(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.accepting = true;
      (libcFn('int accept4(int, void *, void *, int)') as unknown as AsyncFn).async(this.fd, null, null, SOCK_CLOEXEC, (err: unknown, conn: number) => {
        this.accepting = false;
        this.fdOpen = false;
        closeFd(this.fd); // one connection only; close() woke us or it came
        if (err || conn < 0 || this.closed) {
          if (conn >= 0) closeFd(conn);
          return reject(new Error(this.closed ? 'the runtime sent no terminal' : `accept: ${String(err ?? lastErrno())}`));
        }
        const data = Buffer.alloc(4096);
        const control = Buffer.alloc(64);
        const msg = { name: null, namelen: 0, iov: [{ base: data, len: data.length }], iovlen: 1, control, controllen: control.length, flags: 0 };
        recvmsg().async(conn, msg, 0, (err2: unknown, n: number | bigint) => {
          closeFd(conn);
          const level = control.readInt32LE(8);
          const type = control.readInt32LE(12);
          if (err2 || Number(n) < 0 || Number(control.readBigUInt64LE(0)) < CMSG_HEADER + 4 || level !== SOL_SOCKET || type !== SCM_RIGHTS) {
            return reject(new Error('the runtime sent no terminal on its console socket'));
          }
          resolve(control.readInt32LE(CMSG_HEADER));
        });
      });
    });
  }

  /** Stops listening (a pending receive() is woken and rejects) and removes the socket file. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    // A blocked accept is woken by shutdown and closes the descriptor itself when it returns.
    if (this.accepting) libcFn('int shutdown(int, int)')(this.fd, SHUT_RDWR);
    else if (this.fdOpen) {
      this.fdOpen = false;
      closeFd(this.fd);
    }
    rmSync(this.path, { force: true });
  }
}
