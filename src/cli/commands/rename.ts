// `kiln rename CONTAINER NEW_NAME` (also `kiln container rename`): a new name for a container,
// running or not; a name another container has is refused with Docker's conflict message.
import type { Command } from 'commander';
import { CliError, type CliContext } from '../context.js';
import { checkContainerName } from '../../runtime/names.js';
import { event, get } from '../../runtime/containers.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('rename')
    .description('Rename a container')
    .argument('<container>')
    .argument('<new-name>')
    .action((name: string, newName: string) => {
      const engine = ctx.engine();
      const to = newName.replace(/^\//, '');
      checkContainerName(to);
      const c = get(engine, name);
      if (c.name === to) throw new CliError('Renaming a container with the same name as its current name');
      engine.db.updateContainer(c.id, { name: to });
      event(engine, { ...c, name: to }, 'rename', { oldName: `/${c.name}` });
    });
}
