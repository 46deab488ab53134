// `kiln top CONTAINER [ps OPTIONS]`: the host's ps, limited to the container's processes.
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { topContainer } from '../../runtime/container-exec.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('top')
    .description('Display the running processes of a container')
    .argument('<container>')
    .argument('[ps-options...]')
    .passThroughOptions()
    .action(async (name: string, psArgs: string[]) => {
      process.stdout.write(await topContainer(ctx.engine(), name, psArgs));
    });
}
