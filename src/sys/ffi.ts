// libc through koffi, loaded once and only when a syscall is first needed (so `kiln --help` and
// the pure modules never pay for it). Errors carry the errno name (`code`), like Node's own.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { constants } from 'node:os';
import { kilnHome } from '../self.js';

type Koffi = typeof import('koffi');
type KoffiFunction = (...args: unknown[]) => unknown;

let koffiMod: Koffi | undefined;
let libc: ReturnType<Koffi['load']> | undefined;
const fns = new Map<string, KoffiFunction>();

export function koffi(): Koffi {
  if (!koffiMod) {
    // The addon is koffi's whole API; its JavaScript loader spends ~5 ms finding it and wrapping
    // deprecated calls, on every command that mounts or locks. So the addon is opened by path,
    // and koffi's loader is used only where the package is laid out differently.
    const addon = join(kilnHome(), 'node_modules', '@koromix', `koffi-${process.platform}-${process.arch}`, `${process.platform}_${process.arch}`, 'koffi.node');
    if (existsSync(addon)) {
      const m = { exports: {} };
      process.dlopen(m, addon);
      koffiMod = m.exports as Koffi;
    } else koffiMod = createRequire(import.meta.url)('koffi') as Koffi;
  }
  return koffiMod;
}

/** A libc function by its C prototype, bound once and cached. */
export function libcFn(proto: string): KoffiFunction {
  let f = fns.get(proto);
  if (!f) {
    libc ??= koffi().load('libc.so.6');
    f = libc.func(proto) as unknown as KoffiFunction;
    fns.set(proto, f);
  }
  return f;
}

export function lastErrno(): number {
  return koffi().errno();
}

let errnoNames: Map<number, string> | undefined;

export function errnoName(errno: number): string {
  if (!errnoNames) {
    errnoNames = new Map();
    for (const [name, num] of Object.entries(constants.errno)) if (!errnoNames.has(num)) errnoNames.set(num, name);
  }
  return errnoNames.get(errno) ?? `E${errno}`;
}

/** A failed system call: `code` is the errno name (ENOENT, EINVAL…), as in Node's fs errors. */
export class SysError extends Error {
  readonly code: string;
  constructor(
    readonly syscall: string,
    readonly errno: number,
    readonly path?: string,
    detail?: string,
  ) {
    const code = errnoName(errno);
    super(`${syscall}${path !== undefined ? ` ${JSON.stringify(path)}` : ''}: ${code}${detail ? ` (${detail})` : ''}`);
    this.code = code;
    this.name = 'SysError';
  }
}

/** Throws a SysError when a libc call returned a negative value; returns the value otherwise. */
export function check(ret: unknown, syscall: string, path?: string): number {
  const n = typeof ret === 'bigint' ? Number(ret) : (ret as number);
  if (n < 0) throw new SysError(syscall, lastErrno(), path);
  return n;
}

/** sun_path holds 108 bytes, the terminating NUL included. */
const SUN_PATH_MAX = 108;
export const AF_UNIX = 1;
export const SOCK_CLOEXEC = 0o2000000;

/** A struct sockaddr_un for `path`, and the length to pass with it. */
export function unixAddress(path: string): { addr: Buffer; len: number } {
  const name = Buffer.from(path);
  if (name.length >= SUN_PATH_MAX) throw new Error(`socket path too long (${name.length} bytes): ${path}`);
  const addr = Buffer.alloc(2 + SUN_PATH_MAX);
  addr.writeUInt16LE(AF_UNIX, 0);
  name.copy(addr, 2);
  return { addr, len: 2 + name.length + 1 };
}
