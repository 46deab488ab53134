// `kiln container …`: inspect, ls, prune, healthcheck, and the hidden `cleanup` that conmon
// runs as its exit command when a detached container ends (network teardown, unmount, --rm,
// restart policy), which is how kiln does without a daemon.
import type { Command } from 'commander';
import { CliError, type CliContext } from '../context.js';
import { humanSize } from '../format/index.js';
import { finalize, pruneContainers } from '../../runtime/containers.js';
import { healthMonitor, runHealthcheck } from '../../runtime/health.js';
import { addInspectCommand } from './inspect-container.js';
import { addPsOptions, ps, type PsOptions } from './ps.js';
import { eachContainer } from './stop.js';
import { confirm } from '../prompt.js';
import { pruneFilter } from '../filters.js';

export function register(program: Command, ctx: CliContext): void {
  const container = program.command('container').description('Manage containers');
  addInspectCommand(container, ctx);
  addPsOptions(container.command('ls').alias('list').alias('ps').description('List containers')).action(
    async (o: PsOptions & { trunc?: boolean }) => {
      process.stdout.write(await ps(ctx.engine(), { ...o, noTrunc: o.trunc === false }));
    },
  );
  container
    .command('prune')
    .description('Remove all stopped containers')
    .option('-f, --force', 'do not prompt for confirmation')
    .option('--filter <filter>', "provide filter values (e.g. 'until=<timestamp>', 'label=<key>=<value>'); repeatable", (v: string, p: string[]) => [...p, v], [])
    .action(async (o: { force?: boolean; filter: string[] }) => {
      const keep = pruneFilter(o.filter);
      if (!o.force && !(await confirm('WARNING! This will remove all stopped containers.\nAre you sure you want to continue?'))) return;
      const r = await pruneContainers(ctx.engine(), {}, (c) => keep(c.created, c.config.labels));
      if (r.removed.length) process.stdout.write(`Deleted Containers:\n${r.removed.join('\n')}\n\n`);
      process.stdout.write(`Total reclaimed space: ${humanSize(r.reclaimed)}\n`);
    });
  container
    .command('healthcheck')
    .description("Run a container's health check once and print the result (--monitor: every interval, while it runs)")
    .argument('<container>')
    .option('--monitor', 'keep checking every interval until the container stops (started with the container)')
    .action(async (name: string, o: { monitor?: boolean }) => {
      const engine = ctx.engine();
      if (o.monitor) return healthMonitor(engine, name);
      const h = await runHealthcheck(engine, name);
      process.stdout.write(`${h.Status}\n`);
      if (h.Status !== 'healthy') process.exitCode = 1;
    });
  container
    .command('cleanup', { hidden: true })
    .description('Tear down a container whose process ended (run by conmon)')
    .argument('<id>')
    .action(async (id: string) => {
      try {
        await finalize(ctx.engine(), id);
      } catch (e) {
        throw new CliError(`cleanup ${id}: ${(e as Error).message}`);
      }
    });
}
