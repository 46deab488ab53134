// `kiln diff CONTAINER`: A/C/D lines for what the container changed against its image.
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { containerChanges } from '../../runtime/container-fs.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('diff')
    .description("Inspect changes to files or directories on a container's filesystem")
    .argument('<container>')
    .action((name: string) => {
      const kind = ['C', 'A', 'D'];
      for (const ch of containerChanges(ctx.engine(), name)) process.stdout.write(`${kind[ch.Kind]} ${ch.Path}\n`);
    });
}
