// `kiln kill [-s SIGNAL] CONTAINER…`
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { killContainer } from '../../runtime/containers.js';
import { eachContainer } from './stop.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('kill')
    .description('Kill one or more running containers')
    .argument('<containers...>')
    .option('-s, --signal <signal>', 'signal to send to the container', 'KILL')
    .action(async (names: string[], o: { signal: string }) => {
      const engine = ctx.engine();
      await eachContainer(names, (n) => killContainer(engine, n, o.signal));
    });
}
