// `kiln rm [-f] [-v] CONTAINER…`: removes the writable layer and runtime leftovers (and, with -v,
// the container's anonymous volumes); named volumes and the image stay.
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { removeContainer } from '../../runtime/containers.js';
import { eachContainer } from './stop.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('rm')
    .description('Remove one or more containers')
    .argument('<containers...>')
    .option('-f, --force', 'force the removal of a running container (uses SIGKILL)')
    .option('-v, --volumes', 'remove anonymous volumes associated with the container')
    .action(async (names: string[], o: { force?: boolean; volumes?: boolean }) => {
      const engine = ctx.engine();
      await eachContainer(names, (n) => removeContainer(engine, n, { force: o.force, volumes: o.volumes }));
    });
}
