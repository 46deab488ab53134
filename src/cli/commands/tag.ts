// `kiln tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]` (also `kiln image tag`). Tags are stored
// normalized (docker.io/library/app:latest); nothing is printed on success, as with Docker.
import type { Command } from 'commander';
import { CliError, type CliContext } from '../context.js';
import { parseReference, ReferenceError } from '../../image/reference.js';

export function defineTag(cmd: Command, ctx: CliContext): Command {
  return cmd
    .description('Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE')
    .argument('<source>', 'SOURCE_IMAGE[:TAG], ID or ID prefix')
    .argument('<target>', 'TARGET_IMAGE[:TAG]')
    .action((source: string, target: string) => {
      let ref;
      try {
        ref = parseReference(target);
      } catch (e) {
        if (e instanceof ReferenceError) throw new CliError(e.message);
        throw e;
      }
      if (ref.digest) throw new CliError('refusing to create a tag with a digest reference');
      const engine = ctx.engine();
      const id = engine.db.resolveImageId(source);
      engine.tagImage(target, id);
    });
}

export function register(program: Command, ctx: CliContext): void {
  defineTag(program.command('tag'), ctx);
}
