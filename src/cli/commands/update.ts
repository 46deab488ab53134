// `kiln update [--memory …] [--cpus …] [--pids-limit …] [--restart …] CONTAINER…` (also
// `kiln container update`): Docker's update of limits and restart policy, applied at once to a
// running container and kept for its next start.
import type { Command } from 'commander';
import { CliError, type CliContext } from '../context.js';
import { updateContainer } from '../../runtime/containers.js';
import { addResourceFlags, parseResources, warnBlkioWeight, type ResourceFlags } from './create.js';
import { eachContainer } from './stop.js';

export function register(program: Command, ctx: CliContext): void {
  addResourceFlags(program.command('update').description('Update configuration of one or more containers').argument('<containers...>'))
    .option('--restart <policy>', 'restart policy to apply when a container exits')
    .action(async (names: string[], f: ResourceFlags & { restart?: string }) => {
      warnBlkioWeight(f.blkioWeight);
      const resources = parseResources(f);
      if (Object.values(resources).every((v) => v === undefined) && f.restart === undefined && f.blkioWeight === undefined) {
        throw new CliError('you must provide one or more flags when using this command');
      }
      const engine = ctx.engine();
      await eachContainer(names, (n) => updateContainer(engine, n, { resources, restart: f.restart }));
    });
}
