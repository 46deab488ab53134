// Shared by the store/layers tests: temp state dirs, tar listings through GNU tar, small tars.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { encodeHeader, END_OF_ARCHIVE, padding, type TarHeader } from '../../../src/layers/tar.js';
import { mountsUnder, removeTree } from '../../../src/store/staging.js';

export function tempDir(prefix = 'kiln-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return {
    dir,
    cleanup: () => {
      if (mountsUnder(dir).length) removeTree(dir);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function sh(cmd: string, cwd?: string): string {
  return execFileSync('sh', ['-c', cmd], { cwd, encoding: 'utf8' });
}

/** `tar -tvf` of a tar file, one line per entry. */
export function tarList(file: string): string[] {
  return execFileSync('tar', ['--numeric-owner', '-tvf', file], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
}

export interface TestEntry extends Partial<TarHeader> {
  name: string;
  body?: string | Buffer;
}

/** A tar built by hand (for hostile inputs GNU tar would not make). */
export function makeTar(entries: TestEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const body = e.body === undefined ? Buffer.alloc(0) : Buffer.from(e.body);
    const h: TarHeader = { type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: 1_700_000_000, size: body.length, ...e, name: e.name };
    if (h.type !== 'file') h.size = 0;
    parts.push(encodeHeader(h));
    if (h.type === 'file' && body.length) parts.push(body, Buffer.alloc(padding(body.length)));
  }
  parts.push(END_OF_ARCHIVE);
  return Buffer.concat(parts);
}

export const streamOf = (b: Buffer): Readable => Readable.from([b]);

export async function collect(r: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
