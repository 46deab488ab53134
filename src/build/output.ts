// `kiln build -o|--output`: BuildKit's local and tar exporters. The built image's root filesystem
// (the final stage's, with every layer's whiteouts applied) is written out as files or a tar.
import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { finished } from 'node:stream/promises';
import type { Writable } from 'node:stream';
import type { Engine } from '../engine.js';
import type { Digest, ImageConfig } from '../image/types.js';
import { withReadonlyRootfs } from './rootfs-view.js';
import { parseFields } from '../util/fields.js';

export type BuildOutput = { type: 'local'; dest: string } | { type: 'tar'; dest: string /* '-' = stdout */ };

/** Docker's spellings: `DIR`, `-` (a tar on stdout), `type=local,dest=DIR`, `type=tar,dest=FILE|-`. */
export function parseOutput(spec: string): BuildOutput {
  if (!spec.includes('=')) return spec === '-' ? { type: 'tar', dest: '-' } : { type: 'local', dest: spec };
  const { fields, bare } = parseFields(spec);
  if (bare.length) throw new Error(`invalid output ${JSON.stringify(spec)}: expected key=value, got ${JSON.stringify(bare[0])}`);
  const type = fields.type ?? 'local';
  if (type !== 'local' && type !== 'tar') {
    throw new Error(`output type ${JSON.stringify(type)} is not supported: use type=local,dest=DIR or type=tar,dest=FILE (images are stored and tagged with -t)`);
  }
  const dest = fields.dest;
  if (!dest) throw new Error(`invalid output ${JSON.stringify(spec)}: dest= is required`);
  if (type === 'local' && dest === '-') throw new Error('invalid output: type=local needs a directory, not "-" (use type=tar,dest=-)');
  return { type, dest };
}

function run(cmd: string, args: string[], stdout?: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', stdout ? 'pipe' : 'ignore', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
    if (stdout) child.stdout!.pipe(stdout, { end: false });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd}: ${err.trim() || `exit ${code}`}`))));
  });
}

/** Writes the image's filesystem to the output: files into a directory, or one tar. */
export async function exportImageFilesystem(engine: Engine, imageId: Digest, out: BuildOutput): Promise<void> {
  const config = engine.content.readJson<ImageConfig>(imageId);
  await withReadonlyRootfs(engine, config.rootfs.diff_ids, async (root) => {
    if (out.type === 'local') {
      mkdirSync(out.dest, { recursive: true });
      await run('cp', ['-a', '--', `${root}/.`, `${out.dest}/`]);
      return;
    }
    const stream = out.dest === '-' ? process.stdout : createWriteStream(out.dest);
    await run('tar', ['--numeric-owner', '--xattrs', '-C', root, '-cf', '-', '.'], stream);
    if (stream !== process.stdout) {
      stream.end();
      await finished(stream);
    }
  });
}
