// A small tar (ustar + PAX) codec. We write our own instead of tar-stream's header code because
// PAX values must be raw bytes: `SCHILY.xattr.security.capability` is binary, and tar-stream turns
// PAX values into UTF-8 strings, which corrupts it. Writing is deterministic: the same header
// always gives the same bytes (PAX records sorted, no atime/ctime, no user/group names).

export type TarType = 'file' | 'link' | 'symlink' | 'char' | 'block' | 'dir' | 'fifo';

export interface TarHeader {
  /** Relative path inside the layer, no leading "./" or "/"; directories end with "/". */
  name: string;
  type: TarType;
  /** Permission bits plus setuid/setgid/sticky (07777). */
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Seconds since the epoch (integer). */
  mtime: number;
  /** Target of a symlink or hard link. */
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  /** Extended attributes, written as PAX `SCHILY.xattr.<name>` records. */
  xattrs?: [string, Buffer][];
}

export const BLOCK = 512;
const TYPEFLAG: Record<TarType, string> = { file: '0', link: '1', symlink: '2', char: '3', block: '4', dir: '5', fifo: '6' };

const isAscii = (s: string) => /^[\x01-\x7f]*$/.test(s);

function writeString(buf: Buffer, off: number, len: number, s: string): void {
  buf.write(s, off, len, 'utf8');
}

function writeOctal(buf: Buffer, off: number, len: number, n: number): void {
  const s = Math.trunc(n).toString(8).padStart(len - 1, '0');
  buf.write(s, off, len - 1, 'ascii');
  buf[off + len - 1] = 0;
}

/** GNU base-256 for numbers that do not fit in octal (device numbers only; the rest uses PAX). */
function writeBase256(buf: Buffer, off: number, len: number, n: number): void {
  let v = BigInt(n);
  for (let i = off + len - 1; i > off; i--) {
    buf[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  buf[off] = 0x80;
}

const fitsOctal = (n: number, len: number) => Number.isInteger(n) && n >= 0 && n < 8 ** (len - 1);

function paxRecord(key: string, value: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`), value, Buffer.from('\n')]);
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return Buffer.concat([Buffer.from(String(len)), body]);
}

function ustarBlock(h: {
  name: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  typeflag: string;
  linkname: string;
  devmajor: number;
  devminor: number;
}): Buffer {
  const b = Buffer.alloc(BLOCK);
  writeString(b, 0, 100, h.name);
  writeOctal(b, 100, 8, h.mode);
  writeOctal(b, 108, 8, fitsOctal(h.uid, 8) ? h.uid : 0);
  writeOctal(b, 116, 8, fitsOctal(h.gid, 8) ? h.gid : 0);
  writeOctal(b, 124, 12, fitsOctal(h.size, 12) ? h.size : 0);
  writeOctal(b, 136, 12, fitsOctal(h.mtime, 12) ? h.mtime : 0);
  b.write(h.typeflag, 156, 1, 'ascii');
  writeString(b, 157, 100, h.linkname);
  b.write('ustar\0', 257, 6, 'ascii');
  b.write('00', 263, 2, 'ascii');
  if (fitsOctal(h.devmajor, 8)) writeOctal(b, 329, 8, h.devmajor);
  else writeBase256(b, 329, 8, h.devmajor);
  if (fitsOctal(h.devminor, 8)) writeOctal(b, 337, 8, h.devminor);
  else writeBase256(b, 337, 8, h.devminor);
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += b[i]!;
  writeOctal(b, 148, 7, sum);
  b[155] = 0x20;
  return b;
}

/** Header blocks for one entry: a PAX extended header first when something does not fit ustar. */
export function encodeHeader(h: TarHeader): Buffer {
  const pax: [string, Buffer][] = [];
  const nameBytes = Buffer.byteLength(h.name);
  if (nameBytes > 100 || !isAscii(h.name)) pax.push(['path', Buffer.from(h.name)]);
  const link = h.linkname ?? '';
  if (Buffer.byteLength(link) > 100 || !isAscii(link)) pax.push(['linkpath', Buffer.from(link)]);
  if (!fitsOctal(h.size, 12)) pax.push(['size', Buffer.from(String(h.size))]);
  if (!fitsOctal(h.uid, 8)) pax.push(['uid', Buffer.from(String(h.uid))]);
  if (!fitsOctal(h.gid, 8)) pax.push(['gid', Buffer.from(String(h.gid))]);
  if (!fitsOctal(h.mtime, 12)) pax.push(['mtime', Buffer.from(String(Math.trunc(h.mtime)))]);
  for (const [k, v] of h.xattrs ?? []) pax.push([`SCHILY.xattr.${k}`, v]);
  pax.sort((a, b) => Buffer.compare(Buffer.from(a[0]), Buffer.from(b[0])));

  const main = ustarBlock({
    name: asciiTruncate(h.name, 100),
    mode: h.mode & 0o7777,
    uid: h.uid,
    gid: h.gid,
    size: h.type === 'file' ? h.size : 0,
    mtime: h.mtime,
    typeflag: TYPEFLAG[h.type],
    linkname: asciiTruncate(link, 100),
    devmajor: h.devmajor ?? 0,
    devminor: h.devminor ?? 0,
  });
  if (pax.length === 0) return main;

  const data = Buffer.concat(pax.map(([k, v]) => paxRecord(k, v)));
  const base = h.name.replace(/\/$/, '');
  const slash = base.lastIndexOf('/');
  const paxName = asciiTruncate(
    (slash >= 0 ? `${base.slice(0, slash)}/PaxHeaders.0/${base.slice(slash + 1)}` : `PaxHeaders.0/${base}`),
    100,
  );
  const paxHeader = ustarBlock({
    name: paxName,
    mode: 0o644,
    uid: 0,
    gid: 0,
    size: data.length,
    mtime: 0,
    typeflag: 'x',
    linkname: '',
    devmajor: 0,
    devminor: 0,
  });
  return Buffer.concat([paxHeader, data, Buffer.alloc(padding(data.length)), main]);
}

function asciiTruncate(s: string, max: number): string {
  const a = s.replace(/[^\x01-\x7f]/g, '_');
  return a.length > max ? a.slice(0, max) : a;
}

export function padding(size: number): number {
  const r = size % BLOCK;
  return r === 0 ? 0 : BLOCK - r;
}

/** Two zero blocks end an archive (no padding to a 10 KiB record, as Go's archive/tar). */
export const END_OF_ARCHIVE = Buffer.alloc(2 * BLOCK);

// ---------------------------------------------------------------------------------------------
// Reading

export interface TarEntryHeader extends TarHeader {
  /** The entry's raw typeflag, for error messages. */
  typeflag: string;
}

/** Pulls exact byte counts from an async byte source, hashing every byte it takes in. */
export class ByteReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private it: AsyncIterator<Buffer | string>;
  private done = false;
  /** Bytes pulled from the source so far. */
  total = 0;

  constructor(src: AsyncIterable<Buffer | string>, private readonly onData?: (b: Buffer) => void) {
    this.it = src[Symbol.asyncIterator]();
  }

  private async fill(): Promise<boolean> {
    if (this.done) return false;
    const r = await this.it.next();
    if (r.done) {
      this.done = true;
      return false;
    }
    const chunk = typeof r.value === 'string' ? Buffer.from(r.value) : r.value;
    if (chunk.length === 0) return true;
    this.total += chunk.length;
    this.onData?.(chunk);
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    return true;
  }

  /** Takes up to n bytes from what is buffered (n > 0, something buffered). */
  private take(n: number): Buffer {
    const first = this.chunks[0]!;
    if (first.length <= n) {
      this.chunks.shift();
      this.buffered -= first.length;
      return first;
    }
    this.chunks[0] = first.subarray(n);
    this.buffered -= n;
    return first.subarray(0, n);
  }

  /** Exactly n bytes, or null at a clean end of input (nothing buffered). */
  async read(n: number): Promise<Buffer | null> {
    while (this.buffered < n) {
      if (!(await this.fill())) {
        if (this.buffered === 0) return null;
        throw new Error(`unexpected end of tar stream (wanted ${n} bytes, got ${this.buffered})`);
      }
    }
    if (n === 0) return Buffer.alloc(0);
    const first = this.take(n);
    if (first.length === n) return first;
    const parts = [first];
    let got = first.length;
    while (got < n) {
      const p = this.take(n - got);
      parts.push(p);
      got += p.length;
    }
    return Buffer.concat(parts, n);
  }

  /** Up to `n` bytes in pieces as they arrive (for file bodies). */
  async *pieces(n: number): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      if (this.buffered === 0 && !(await this.fill())) throw new Error(`unexpected end of tar stream (${left} bytes of file data missing)`);
      if (this.buffered === 0) continue;
      const out = this.take(left);
      left -= out.length;
      yield out;
    }
  }

  async skip(n: number): Promise<void> {
    let left = n;
    while (left > 0) {
      if (this.buffered === 0 && !(await this.fill())) throw new Error(`unexpected end of tar stream (${left} bytes missing)`);
      if (this.buffered === 0) continue;
      left -= this.take(left).length;
    }
  }

  /** Reads (and hashes) whatever follows the end of the archive. */
  async drain(): Promise<void> {
    this.chunks = [];
    this.buffered = 0;
    while (await this.fill()) {
      this.chunks = [];
      this.buffered = 0;
    }
  }
}

function readString(b: Buffer, off: number, len: number): string {
  const end = b.indexOf(0, off);
  return b.toString('utf8', off, end < 0 || end > off + len ? off + len : end);
}

function readNumber(b: Buffer, off: number, len: number): number {
  if (b[off]! & 0x80) {
    let v = BigInt(b[off]! & 0x7f);
    for (let i = off + 1; i < off + len; i++) v = (v << 8n) | BigInt(b[i]!);
    return Number(v);
  }
  const s = b.toString('ascii', off, off + len).replace(/\0.*$/s, '').trim();
  return s ? parseInt(s, 8) : 0;
}

function checksumOk(b: Buffer): boolean {
  const stored = readNumber(b, 148, 8);
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const c = i >= 148 && i < 156 ? 0x20 : b[i]!;
    unsigned += c;
    signed += c > 127 ? c - 256 : c;
  }
  return stored === unsigned || stored === signed;
}

function parsePax(data: Buffer): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  let i = 0;
  while (i < data.length) {
    const sp = data.indexOf(0x20, i);
    if (sp < 0) break;
    const len = parseInt(data.toString('ascii', i, sp), 10);
    if (!Number.isFinite(len) || len <= 0 || i + len > data.length) throw new Error('invalid PAX header record');
    const rec = data.subarray(sp + 1, i + len - 1); // without the trailing newline
    const eq = rec.indexOf(0x3d);
    if (eq < 0) throw new Error('invalid PAX header record');
    out.set(rec.toString('utf8', 0, eq), Buffer.from(rec.subarray(eq + 1)));
    i += len;
  }
  return out;
}

const TYPES: Record<string, TarType> = { '0': 'file', '\0': 'file', '7': 'file', '1': 'link', '2': 'symlink', '3': 'char', '4': 'block', '5': 'dir', '6': 'fifo' };

/**
 * Iterates the entries of a tar stream. The consumer must read `body` (or ignore it: the rest is
 * skipped) before asking for the next entry. Hidden records (PAX, GNU long names) are folded in.
 */
export async function* readTar(r: ByteReader): AsyncGenerator<{ header: TarEntryHeader; body: AsyncGenerator<Buffer> }> {
  let pax = new Map<string, Buffer>();
  let longName: string | undefined;
  let longLink: string | undefined;
  for (;;) {
    const block = await r.read(BLOCK);
    if (block === null) return; // no end-of-archive marker: accepted, as GNU tar does
    if (block.every((c) => c === 0)) {
      return; // end of archive (the caller drains the rest)
    }
    if (!checksumOk(block)) throw new Error('invalid tar header (checksum mismatch): not a tar stream, or a corrupt one');
    const typeflag = String.fromCharCode(block[156]!);
    let size = readNumber(block, 124, 12);
    if (typeflag === 'x' || typeflag === 'g' || typeflag === 'L' || typeflag === 'K') {
      const data = (await r.read(size)) ?? Buffer.alloc(0);
      await r.skip(padding(size));
      if (typeflag === 'x') for (const [k, v] of parsePax(data)) pax.set(k, v);
      else if (typeflag === 'L') longName = readString(data, 0, data.length);
      else if (typeflag === 'K') longLink = readString(data, 0, data.length);
      continue; // global headers ('g') carry nothing a layer needs
    }
    const type = TYPES[typeflag];
    let name = readString(block, 0, 100);
    const magic = block.toString('ascii', 257, 262);
    if (magic === 'ustar') {
      const prefix = readString(block, 345, 155);
      if (prefix) name = `${prefix}/${name}`;
    }
    if (longName !== undefined) name = longName;
    let linkname = readString(block, 157, 100);
    if (longLink !== undefined) linkname = longLink;
    let uid = readNumber(block, 108, 8);
    let gid = readNumber(block, 116, 8);
    let mtime = readNumber(block, 136, 12);
    const xattrs: [string, Buffer][] = [];
    for (const [k, v] of pax) {
      if (k === 'path') name = v.toString('utf8');
      else if (k === 'linkpath') linkname = v.toString('utf8');
      else if (k === 'size') size = parseInt(v.toString('ascii'), 10);
      else if (k === 'uid') uid = parseInt(v.toString('ascii'), 10);
      else if (k === 'gid') gid = parseInt(v.toString('ascii'), 10);
      else if (k === 'mtime') mtime = Math.floor(parseFloat(v.toString('ascii')));
      else if (k.startsWith('SCHILY.xattr.')) xattrs.push([k.slice(13), v]);
      else if (k.startsWith('LIBARCHIVE.xattr.')) xattrs.push([decodeURIComponent(k.slice(17)), Buffer.from(v.toString('ascii'), 'base64')]);
    }
    pax = new Map();
    longName = longLink = undefined;
    if (!type) throw new Error(`unsupported tar entry type ${JSON.stringify(typeflag)} for ${JSON.stringify(name)}`);
    const dataSize = type === 'file' ? size : type === 'link' || type === 'symlink' || type === 'dir' ? size : 0;
    const header: TarEntryHeader = {
      name,
      type,
      typeflag,
      mode: readNumber(block, 100, 8) & 0o7777,
      uid,
      gid,
      size: type === 'file' ? size : 0,
      mtime,
      linkname,
      devmajor: readNumber(block, 329, 8),
      devminor: readNumber(block, 337, 8),
      xattrs,
    };
    const state = { left: dataSize };
    const body = (async function* () {
      if (type !== 'file') return;
      for await (const piece of r.pieces(state.left)) {
        state.left -= piece.length;
        yield piece;
      }
    })();
    yield { header, body };
    // Whatever the consumer left unread (or a body a non-file entry should not have), then padding.
    if (state.left > 0) await r.skip(state.left);
    await r.skip(padding(dataSize));
  }
}
