// `kiln pause|unpause CONTAINER…` (also under `kiln container`): freezes and thaws every process
// of a container through the runtime's freezer.
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { pauseContainer, unpauseContainer } from '../../runtime/containers.js';
import { eachContainer } from './stop.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('pause')
    .description('Pause all processes within one or more containers')
    .argument('<containers...>')
    .action(async (names: string[]) => {
      const engine = ctx.engine();
      await eachContainer(names, (n) => pauseContainer(engine, n));
    });
  program
    .command('unpause')
    .description('Unpause all processes within one or more containers')
    .argument('<containers...>')
    .action(async (names: string[]) => {
      const engine = ctx.engine();
      await eachContainer(names, (n) => unpauseContainer(engine, n));
    });
}
