// `kiln start [-a] CONTAINER…`: detached under conmon (Docker's default), or attached (-a) in the
// foreground with the exit code passed through.
import type { Command } from 'commander';
import { CliError, type CliContext } from '../context.js';
import { get as getContainerRecord, runForeground, startContainer } from '../../runtime/containers.js';
import { DEFAULT_DETACH_KEYS, parseDetachKeys } from '../../runtime/attach.js';
import { startAttached } from '../attach-session.js';
import { RuntimeError } from '../../runtime/oci-runtime.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('start')
    .description('Start one or more stopped containers')
    .argument('<containers...>')
    .option('-a, --attach', "attach STDOUT/STDERR and forward signals")
    .option('-i, --interactive', "attach container's STDIN")
    .option('--detach-keys <keys>', 'the key sequence that detaches from a -t container', DEFAULT_DETACH_KEYS)
    .action(async (names: string[], o: { attach?: boolean; interactive?: boolean; detachKeys: string }) => {
      const engine = ctx.engine();
      if (o.attach || o.interactive) {
        if (names.length > 1) throw new CliError('you cannot start and attach multiple containers at once');
        const c = getContainerRecord(engine, names[0]!);
        if (c.config.tty) {
          // A -t container's terminal is conmon's; we attach to it before the process starts.
          if (o.interactive && c.config.openStdin && !process.stdin.isTTY) throw new CliError('the input device is not a TTY', 1);
          try {
            const r = await startAttached(engine, c, { stdin: !!o.interactive, detachKeys: parseDetachKeys(o.detachKeys) });
            process.exitCode = r.detached ? 0 : r.exitCode ?? 0;
          } catch (e) {
            throw new CliError((e as Error).message, e instanceof RuntimeError ? e.exitCode : 1);
          }
          return;
        }
        const stdin = o.interactive ? process.stdin : undefined;
        try {
          const r = await runForeground(engine, c.id, { stdin });
          if (r.startError) process.stderr.write(`Error: OCI runtime create failed: ${r.startError}\n`);
          process.exitCode = r.exitCode;
        } catch (e) {
          throw new CliError((e as Error).message, e instanceof RuntimeError ? e.exitCode : 1);
        } finally {
          stdin?.destroy();
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
