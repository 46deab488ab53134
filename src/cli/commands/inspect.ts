// `kiln inspect [-f FORMAT] [--type TYPE] NAME...` and `kiln image inspect [-f FORMAT] IMAGE...`.
// Output is Docker's: a JSON array indented by four spaces, or the --format template per object.
//
// Other object kinds plug in as resolvers (the container engineer adds one for containers):
//   import { registerInspectResolver } from './inspect.js';
//   registerInspectResolver({ type: 'container', priority: 10, resolve: (ctx, name) => … });
// `inspect NAME` asks resolvers in priority order (Docker looks for a container before an
// image); the first that returns an object wins. `--type` restricts to one kind.
import type { Command } from 'commander';
import { CliError, type CliContext } from '../context.js';
import { toDockerInspect, type DockerImageInspect } from '../../image/inspect.js';
import { NotFoundError } from '../../store/errors.js';
import { formatInspect, templateErrorMessage } from '../format/index.js';
import { imageFacts, readConfig } from './images.js';

export interface InspectResolver {
  /** Object kind, as `--type` spells it: 'image', 'container', 'volume', … */
  type: string;
  /** Lower goes first (container 10, image 20, volume 30, …). */
  priority: number;
  /** The inspect object for `name`, or undefined when this kind has no such object. */
  resolve(ctx: CliContext, name: string): unknown | undefined;
}

export const inspectResolvers: InspectResolver[] = [];

export function registerInspectResolver(r: InspectResolver): void {
  const i = inspectResolvers.findIndex((x) => x.type === r.type);
  if (i >= 0) inspectResolvers.splice(i, 1);
  inspectResolvers.push(r);
  inspectResolvers.sort((a, b) => a.priority - b.priority);
}

/** Docker's image inspect object for an image name, ID or ID prefix (NotFoundError if none). */
export function inspectImage(ctx: CliContext, name: string): DockerImageInspect {
  const engine = ctx.engine();
  const id = engine.db.resolveImageId(name);
  const rec = engine.db.getImage(id);
  const config = readConfig(engine, id);
  if (!rec || !config) throw new NotFoundError('image', name);
  return toDockerInspect(imageFacts(engine, rec, config));
}

registerInspectResolver({
  type: 'image',
  priority: 20,
  resolve(ctx, name) {
    try {
      return inspectImage(ctx, name);
    } catch (e) {
      if (e instanceof NotFoundError) return undefined;
      throw e;
    }
  },
});

function render(items: unknown[], format: string | undefined): string {
  try {
    return formatInspect(items, format);
  } catch (e) {
    const msg = templateErrorMessage(e);
    if (msg) throw new CliError(msg);
    throw e;
  }
}

/** Runs inspect over `names` with the given resolvers; prints what was found, then fails for the rest. */
function run(ctx: CliContext, names: string[], resolvers: InspectResolver[], format: string | undefined, kind: string | undefined): void {
  const found: unknown[] = [];
  const missing: string[] = [];
  for (const n of names) {
    let obj: unknown;
    for (const r of resolvers) {
      obj = r.resolve(ctx, n);
      if (obj !== undefined) break;
    }
    if (obj === undefined) missing.push(n);
    else found.push(obj);
  }
  if (found.length || !format) process.stdout.write(render(found, format));
  if (missing.length) {
    throw new CliError(missing.map((n) => `No such ${kind ?? 'object'}: ${n}`).join('\n'));
  }
}

export function defineImageInspect(cmd: Command, ctx: CliContext): Command {
  return cmd
    .description('Display detailed information on one or more images')
    .argument('<image...>', 'image names or IDs')
    .option('-f, --format <format>', "format output: 'json' or a Go template")
    .action((images: string[], o: { format?: string }) => {
      const r = inspectResolvers.filter((x) => x.type === 'image');
      run(ctx, images, r, o.format, 'image');
    });
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('inspect')
    .description('Return low-level information on kiln objects')
    .argument('<name...>', 'names or IDs of objects (containers, images, …)')
    .option('-f, --format <format>', "format output: 'json' or a Go template")
    .option('--type <type>', 'only objects of this type (image, container, …)')
    .option('-s, --size', 'display total file sizes if the type is container')
    .action((names: string[], o: { format?: string; type?: string }) => {
      let resolvers = inspectResolvers;
      if (o.type) {
        resolvers = inspectResolvers.filter((r) => r.type === o.type);
        if (resolvers.length === 0) throw new CliError(`"${o.type}" is not a valid value for --type`);
      }
      run(ctx, names, resolvers, o.format, o.type);
    });
}
