// `kiln wait CONTAINER…`: block until each stops; print its exit code.
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { waitContainer } from '../../runtime/containers.js';
import { eachContainer } from './stop.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('wait')
    .description('Block until one or more containers stop, then print their exit codes')
    .argument('<containers...>')
    .action(async (names: string[]) => {
      const engine = ctx.engine();
      await eachContainer(names, async (n) => process.stdout.write(`${await waitContainer(engine, n)}\n`), false);
    });
}
