// `kiln commit`: a container's changes as a new image, Docker's flags (-c/--change, -m, -a,
// -p/--pause). Prints the new image ID like `docker commit`.
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { commitContainerLayer, configFromContainer } from '../../build/commit.js';
import { containerPaths, event, getContainer, pauseContainer, unpauseContainer } from '../../runtime/containers.js';

const collect = (v: string, prev: string[]) => [...prev, v];

export function register(program: Command, ctx: CliContext): void {
  program
    .command('commit')
    .description("Create a new image from a container's changes")
    .argument('<container>')
    .argument('[repository]', 'name[:tag] for the new image')
    .option('-c, --change <instruction>', 'apply a Dockerfile instruction to the image; repeatable', collect, [])
    .option('-m, --message <msg>', 'commit message')
    .option('-a, --author <author>', 'author (e.g. "Jane <jane@example.com>")')
    .option('-p, --pause', 'pause the container during the commit (default true)', true)
    .option('--no-pause', 'do not pause the container')
    .action(async (name: string, repo: string | undefined, o: { change: string[]; message?: string; author?: string; pause: boolean }) => {
      const engine = ctx.engine();
      const c = await getContainer(engine, name);
      const running = c.state.status === 'running';
      if (running && o.pause) await pauseContainer(engine, c.id);
      try {
        const id = await commitContainerLayer(engine, {
          config: configFromContainer(engine, c),
          layer: { upperDir: containerPaths(engine, c.id).upper },
          changes: o.change,
          comment: o.message,
          author: o.author,
          createdBy: [...c.config.entrypoint, ...c.config.cmd].join(' '),
          tags: repo ? [repo] : [],
        });
        event(engine, c, 'commit', { comment: o.message ?? '', imageID: id, imageRef: repo ?? '' });
        process.stdout.write(`${id}\n`);
      } finally {
        if (running && o.pause) await unpauseContainer(engine, c.id);
      }
    });
}
