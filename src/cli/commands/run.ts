// `kiln run [--rm] [-d] [-i] [-t] … IMAGE [CMD…]`: create, then start — in the foreground
// (`runc run` as our child, exit code passed through) or detached under conmon (-d prints the ID).
import type { Command } from 'commander';
import { CliError, type CliContext } from '../context.js';
import { addContainerFlags, createFromFlags, type ContainerFlags } from './create.js';
import { removeContainer, runForeground, startContainer } from '../../runtime/containers.js';
import { RuntimeError } from '../../runtime/runc.js';

export function register(program: Command, ctx: CliContext): void {
  addContainerFlags(
    program
      .command('run')
      .description('Create and run a new container from an image')
      .argument('<image>', 'image to run')
      .argument('[command...]', 'command and arguments (replace the image CMD)')
      .passThroughOptions()
      .option('-d, --detach', 'run container in background and print container ID')
      .option('--sig-proxy [bool]', 'proxy received signals to the process (false: Ctrl-C leaves the container running)', (v: string) => !/^(false|0|no)$/i.test(v), true),
  ).action(async (image: string, cmd: string[], f: ContainerFlags & { detach?: boolean; sigProxy: boolean }) => {
    if (f.detach && f.rm && f.restart !== 'no') throw new CliError('conflicting options: cannot specify both --restart and --rm', 125);
    if (f.tty && !f.detach && f.interactive && !process.stdin.isTTY) {
      throw new CliError('the input device is not a TTY', 1);
    }
    const c = await createFromFlags(ctx, image, cmd, f);
    const engine = ctx.engine();
    if (f.detach) {
      try {
        await startContainer(engine, c.id);
      } catch (e) {
        if (f.rm) await removeContainer(engine, c.id, { force: true, volumes: true }).catch(() => {});
        throw new CliError((e as Error).message, e instanceof RuntimeError ? e.exitCode : 125);
      }
      process.stdout.write(`${c.id}\n`);
      return;
    }
    const stdin = f.interactive ? (f.tty && process.stdin.isTTY ? 'inherit' : process.stdin) : undefined;
    try {
      const r = await runForeground(engine, c.id, { stdin, sigProxy: f.sigProxy });
      process.exitCode = r.exitCode;
    } catch (e) {
      // A start that failed (say, a network to join that is not running) leaves no --rm container.
      if (f.rm) await removeContainer(engine, c.id, { force: true, volumes: true }).catch(() => {});
      throw new CliError((e as Error).message, e instanceof RuntimeError ? e.exitCode : 125);
    } finally {
      if (stdin && stdin !== 'inherit') process.stdin.destroy();
    }
  });
}
