// `kiln export [-o FILE] CONTAINER`: the container's filesystem as a tar archive.
import { createWriteStream } from 'node:fs';
import { finished } from 'node:stream/promises';
import type { Command } from 'commander';
import { CliError, type CliContext } from '../context.js';
import { exportContainer } from '../../runtime/container-fs.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('export')
    .description("Export a container's filesystem as a tar archive")
    .argument('<container>')
    .option('-o, --output <file>', 'write to a file, instead of STDOUT')
    .action(async (name: string, o: { output?: string }) => {
      if (!o.output && process.stdout.isTTY) throw new CliError('cowardly refusing to save to a terminal. Use the -o flag or redirect');
      const out = o.output ? createWriteStream(o.output) : process.stdout;
      await exportContainer(ctx.engine(), name, out);
      if (o.output) {
        out.end();
        await finished(out);
      }
    });
}
