// `kiln load [-i FILE] [-q]` (also `kiln image load`): docker-archive or OCI archive (plain or
// gzip-compressed tar), from a file or stdin. Everything is verified before anything is stored.
// Prints Docker's `Loaded image: app:latest` per name, `Loaded image ID: sha256:…` for an untagged
// image, and Docker's notice when a name moves from another image.
import { createReadStream } from 'node:fs';
import type { Command } from 'commander';
import { CliError, type CliContext } from '../context.js';
import { loadArchive } from '../../archive/index.js';
import { familiarString, parseReference } from '../../image/reference.js';

export function defineLoad(cmd: Command, ctx: CliContext): Command {
  return cmd
    .description('Load an image from a tar archive or STDIN')
    .option('-i, --input <file>', 'read from tar archive file, instead of STDIN')
    .option('-q, --quiet', 'suppress the load output')
    .action(async (o: { input?: string; quiet?: boolean }) => {
      if (!o.input && process.stdin.isTTY) throw new CliError('requested load from stdin, but stdin is empty');
      const engine = ctx.engine();
      const src = o.input ? createReadStream(o.input) : process.stdin;
      let r;
      try {
        r = await loadArchive(engine, src);
      } catch (e) {
        if (!o.input && /^empty archive/.test((e as Error).message)) throw new CliError('requested load from stdin, but stdin is empty');
        throw e;
      }
      const out: string[] = [];
      for (const img of r.images) {
        for (const m of img.moved) {
          out.push(`The image ${familiarString(parseReference(m.ref))} already exists, renaming the old one with ID ${m.previous} to empty string`);
        }
        if (img.names.length === 0) out.push(`Loaded image ID: ${img.id}`);
        for (const n of img.names) out.push(`Loaded image: ${familiarString(parseReference(n))}`);
      }
      // Docker prints the result lines even with -q
      process.stdout.write(out.map((l) => l + '\n').join(''));
    });
}

export function register(program: Command, ctx: CliContext): void {
  defineLoad(program.command('load'), ctx);
}
