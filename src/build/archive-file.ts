// Local archives as ADD and `kiln build -` meet them: recognised by content (a tar, or a tar
// compressed with gzip, bzip2, xz or zstd) and extracted by GNU tar, which detects the compression
// itself when reading a file and refuses members with `..` or absolute names.
import { spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import { sniffArchiveCompression } from '../layers/compress.js';

/** Do these first bytes (≥ 262 for a plain tar) start an archive rather than, say, a Dockerfile? */
export function isArchiveHead(b: Buffer): boolean {
  if (sniffArchiveCompression(b) !== 'none') return true;
  return b.length >= 262 && b.subarray(257, 262).toString('latin1') === 'ustar';
}

export async function isArchiveFile(path: string): Promise<boolean> {
  const fh = await fsp.open(path, 'r');
  try {
    const buf = Buffer.alloc(512);
    const { bytesRead } = await fh.read(buf, 0, 512, 0);
    return isArchiveHead(buf.subarray(0, bytesRead));
  } finally {
    await fh.close();
  }
}

/** Extracts `archive` into `dest`: owners kept (we are root) unless `owner` replaces them. */
export function extractArchiveFile(archive: string, dest: string, opts: { owner?: { uid: number; gid: number }; keepOwners: boolean }): Promise<void> {
  const args = ['-xf', archive, '-C', dest, '--no-overwrite-dir', opts.keepOwners ? '--same-owner' : '--no-same-owner'];
  if (opts.owner) args.push(`--owner=${opts.owner.uid}`, `--group=${opts.owner.gid}`);
  return new Promise((res, rej) => {
    const p = spawn('tar', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d) => (err += d));
    p.on('error', rej);
    p.on('close', (code) => (code === 0 ? res() : rej(new Error(`extracting ${archive} failed: ${err.trim()}`))));
  });
}
