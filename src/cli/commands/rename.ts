// `kiln rename CONTAINER NEW_NAME` (also `kiln container rename`): a new name for a container,
// running or not; a name another container has is refused with Docker's conflict message.
import type { Command } from 'commander';
import { CliError, type CliContext } from '../context.js';
import { checkContainerName } from '../../runtime/names.js';
import { recordEvent } from '../../store/event-log.js';

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
      const c = engine.db.getContainer(name);
      if (c.name === to) throw new CliError('Renaming a container with the same name as its current name');
      engine.db.updateContainer(c.id, { name: to });
      recordEvent(engine.root, 'container', 'rename', c.id, { ...((c.config as { labels?: Record<string, string> }).labels ?? {}), name: to, oldName: `/${c.name}` });
    });
}
