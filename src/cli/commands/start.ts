// `kiln start [-a] CONTAINER…`: detached under conmon (Docker's default), or attached (-a) in the
// foreground with the exit code passed through.
import type { Command } from 'commander';
import { CliError, type CliContext } from '../context.js';
import { runForeground, startContainer } from '../../runtime/containers.js';
import { RuntimeError } from '../../runtime/runc.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('start')
    .description('Start one or more stopped containers')
    .argument('<containers...>')
    .option('-a, --attach', "attach STDOUT/STDERR and forward signals")
    .option('-i, --interactive', "attach container's STDIN")
    .action(async (names: string[], o: { attach?: boolean; interactive?: boolean }) => {
      const engine = ctx.engine();
      if (o.attach || o.interactive) {
        if (names.length > 1) throw new CliError('you cannot start and attach multiple containers at once');
        const c = engine.db.getContainer<unknown, { tty: boolean }>(names[0]!);
        const stdin = o.interactive ? (c.config.tty && process.stdin.isTTY ? 'inherit' : process.stdin) : undefined;
        try {
          const r = await runForeground(engine, c.id, { stdin });
          process.exitCode = r.exitCode;
        } catch (e) {
          throw new CliError((e as Error).message, e instanceof RuntimeError ? e.exitCode : 1);
        } finally {
          if (stdin && stdin !== 'inherit') process.stdin.destroy();
        }
        return;
      }
      const failed: string[] = [];
      for (const n of names) {
        try {
          await startContainer(engine, n);
          process.stdout.write(`${n}\n`);
        } catch (e) {
          process.stderr.write(`Error response from daemon: ${(e as Error).message}\n`);
          failed.push(n);
        }
      }
      if (failed.length) throw new CliError(`failed to start containers: ${failed.join(', ')}`);
    });
}
