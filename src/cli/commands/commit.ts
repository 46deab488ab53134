// `kiln commit`: a container's changes as a new image, Docker's flags (-c/--change, -m, -a,
// -p/--pause). Prints the new image ID like `docker commit`.
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { commitContainerLayer } from '../../build/commit.js';
import * as cfg from '../../build/image-config.js';
import type { ImageConfig } from '../../image/types.js';
import { containerPaths, getContainer, pauseContainer, unpauseContainer, type Container } from '../../runtime/containers.js';
import type { Engine } from '../../engine.js';

const collect = (v: string, prev: string[]) => [...prev, v];

/** The image config a commit starts from: the image's, with what the container was run with. */
export function configFromContainer(engine: Engine, c: Container): ImageConfig {
  const config = cfg.cloneConfig(engine.content.readJson<ImageConfig>(c.config.imageId as `sha256:${string}`));
  const cc = cfg.cc(config);
  cc.Cmd = c.config.cmd.length ? c.config.cmd : null;
  cc.Entrypoint = c.config.entrypoint.length ? c.config.entrypoint : null;
  cc.Env = c.config.env;
  if (c.config.workingDir) cc.WorkingDir = c.config.workingDir;
  if (c.config.user) cc.User = c.config.user;
  if (Object.keys(c.config.labels).length) cc.Labels = { ...(cc.Labels ?? {}), ...c.config.labels };
  return config;
}

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
          upperDir: containerPaths(engine, c.id).upper,
          changes: o.change,
          comment: o.message,
          author: o.author,
          createdBy: [...c.config.entrypoint, ...c.config.cmd].join(' '),
          tags: repo ? [repo] : [],
        });
        process.stdout.write(`${id}\n`);
      } finally {
        if (running && o.pause) await unpauseContainer(engine, c.id);
      }
    });
}
