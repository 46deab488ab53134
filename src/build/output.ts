// `kiln build -o|--output`: BuildKit's local and tar exporters, which write the built image's root
// filesystem (the final stage's, with every layer's whiteouts applied) as files or a tar, and its
// oci and docker exporters, which write the image itself as an archive (`save`'s two formats).
import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { finished } from 'node:stream/promises';
import type { Writable } from 'node:stream';
import type { Engine } from '../engine.js';
import type { Digest, ImageConfig } from '../image/types.js';
import { withReadonlyRootfs } from './rootfs-view.js';
import { parseFields } from '../util/fields.js';
import { formatReference, parseReference } from '../image/reference.js';
import { join } from 'node:path';

export type BuildOutput =
  | { type: 'local'; dest: string }
  | { type: 'tar'; dest: string /* '-' = stdout */ }
  /** the image as an OCI or docker archive, named `names` (name=…, else the build's -t tags) */
  | { type: 'oci'; dest: string; names?: string[] }
  | { type: 'docker'; dest: string; names?: string[] }
  /** BuildKit's image exporter (type=registry: with push=true): the image named, and pushed */
  | { type: 'image'; names: string[]; push: boolean };

/**
 * Docker's spellings: `DIR`, `-` (a tar on stdout), `type=local,dest=DIR`, `type=tar,dest=FILE|-`,
 * `type=oci|docker,dest=FILE|-[,name=REF[,REF…]]`, `type=image,name=REF[,push=true]`, `type=registry,name=REF`.
 */
export function parseOutput(spec: string): BuildOutput {
  if (!spec.includes('=')) return spec === '-' ? { type: 'tar', dest: '-' } : { type: 'local', dest: spec };
  const { fields, bare } = parseFields(spec);
  if (bare.length) throw new Error(`invalid output ${JSON.stringify(spec)}: expected key=value, got ${JSON.stringify(bare[0])}`);
  const type = fields.type ?? 'local';
  if (type === 'image' || type === 'registry') {
    const names = fields.name?.split(',').filter(Boolean) ?? [];
    const push = type === 'registry' || fields.push === 'true';
    if (push && !names.length) throw new Error(`invalid output ${JSON.stringify(spec)}: name= is needed to push`);
    return { type: 'image', names, push };
  }
  if (type !== 'local' && type !== 'tar' && type !== 'oci' && type !== 'docker') {
    throw new Error(
      `output type ${JSON.stringify(type)} is not supported: use type=local,dest=DIR, type=tar,dest=FILE, type=oci|docker,dest=FILE or type=image|registry,name=REF (images are stored and tagged with -t; --push pushes them)`,
    );
  }
  const dest = fields.dest;
  if (!dest) throw new Error(`invalid output ${JSON.stringify(spec)}: dest= is required`);
  if (type === 'local' && dest === '-') throw new Error('invalid output: type=local needs a directory, not "-" (use type=tar,dest=-)');
  if (type === 'oci' || type === 'docker') {
    if (fields.tar === 'false') throw new Error(`invalid output: type=${type} with tar=false (an image layout directory) is not supported: write the archive to a file`);
    const names = fields.name?.split(',').filter(Boolean);
    return { type, dest, ...(names?.length ? { names } : {}) };
  }
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

/** Writes the build's result to the output: its filesystem, or the image as an archive named `tags` (unless name= was given). */
export async function exportBuildResult(engine: Engine, imageId: Digest, out: Exclude<BuildOutput, { type: 'image' }>, tags: readonly string[]): Promise<void> {
  if (out.type === 'oci' || out.type === 'docker') {
    const { archiveImages, writeArchive } = await import('../archive/index.js');
    const names = (out.names ?? tags).map((n) => formatReference(parseReference(n)));
    const stream = out.dest === '-' ? process.stdout : createWriteStream(out.dest);
    await writeArchive(archiveImages(engine, [{ id: imageId, names }]), stream, { format: out.type === 'oci' ? 'oci-archive' : 'docker-archive', tmpDir: join(engine.root, 'tmp') });
    if (stream !== process.stdout) {
      stream.end();
      await finished(stream);
    }
    return;
  }
  await exportImageFilesystem(engine, imageId, out);
}

/** Writes the image's filesystem to the output: files into a directory, or one tar. */
async function exportImageFilesystem(engine: Engine, imageId: Digest, out: Extract<BuildOutput, { type: 'local' | 'tar' }>): Promise<void> {
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
