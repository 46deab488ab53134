// `kiln container inspect [-f FORMAT] CONTAINER…`: Docker's JSON (State, GraphDriver.Data, Mounts,
// Config, HostConfig, NetworkSettings); also the container, volume and network resolvers of the
// top-level `kiln inspect`.
import type { Command } from 'commander';
import { CliError, type CliContext } from '../context.js';
import { formatInspect, templateErrorMessage } from '../format/index.js';
import type { Engine } from '../../engine.js';
import { getContainer, peekContainer } from '../../runtime/containers.js';
import { inspectContainer } from '../../runtime/inspect.js';
import { NotFoundError } from '../../store/errors.js';
import { registerInspectResolver } from './inspect.js';
import { inspectJson as networkInspect } from './network.js';
import { Networks } from '../../runtime/network.js';
import { Volumes } from '../../runtime/volumes.js';

// `kiln inspect NAME` looks for a container before an image, then volumes and networks, as
// Docker does (the CLI loads this module with `inspect`).
registerInspectResolver({
  type: 'volume',
  priority: 30,
  resolve(ctx, name) {
    const v = new Volumes(ctx.engine());
    return v.get(name) ? v.inspect(name) : undefined;
  },
});

registerInspectResolver({
  type: 'network',
  priority: 40,
  resolve(ctx, name) {
    const nets = new Networks(ctx.engine().root);
    const info = nets.get(name);
    return info ? networkInspect(nets, info) : undefined;
  },
});

registerInspectResolver({
  type: 'container',
  priority: 10,
  resolve(ctx, name) {
    const engine = ctx.engine();
    try {
      return inspectContainer(engine, peekContainer(engine, name));
    } catch (e) {
      if (e instanceof NotFoundError) return undefined;
      throw e;
    }
  },
});

/** Docker's container JSON for one name, ID or ID prefix (throws NotFoundError). */
export async function inspectContainerJson(engine: Engine, name: string): Promise<Record<string, unknown>> {
  return inspectContainer(engine, await getContainer(engine, name));
}

export async function inspectContainers(engine: Engine, names: string[], format?: string): Promise<string> {
  const items: unknown[] = [];
  const errors: string[] = [];
  for (const n of names) {
    try {
      items.push(await inspectContainerJson(engine, n));
    } catch (e) {
      errors.push((e as Error).message);
    }
  }
  let out: string;
  try {
    out = formatInspect(items, format);
  } catch (e) {
    throw new CliError(templateErrorMessage(e) ?? (e as Error).message);
  }
  if (errors.length) {
    process.stdout.write(out);
    throw new CliError(errors.join('\nError: '), 1);
  }
  return out;
}

export function addInspectCommand(parent: Command, ctx: CliContext): void {
  parent
    .command('inspect')
    .description('Display detailed information on one or more containers')
    .argument('<containers...>')
    .option('-f, --format <fmt>', 'format the output using the given Go template')
    .option('-s, --size', 'display total file sizes (accepted, not computed)')
    .action(async (names: string[], o: { format?: string }) => {
      process.stdout.write(await inspectContainers(ctx.engine(), names, o.format));
    });
}

/** `container inspect` is added by container.ts; importing this module registers the resolver. */
export function register(_program: Command, _ctx: CliContext): void {}
