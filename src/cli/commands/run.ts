// `kiln run [--rm] [-d] [-i] [-t] … IMAGE [CMD…]`: create, then start — in the foreground
// (the runtime's `run` as our child, exit code passed through), detached under conmon (-d prints the ID),
// or, with -t, under conmon with our stdio attached before it starts (cli/attach-session.ts).
import type { Command } from 'commander';
import { CliError, type CliContext } from '../context.js';
import { addContainerFlags, createFromFlags, type ContainerFlags } from './create.js';
import { removeContainer, runForeground, startContainer } from '../../runtime/containers.js';
import { DEFAULT_DETACH_KEYS, parseDetachKeys } from '../../runtime/attach.js';
import { startAttached } from '../attach-session.js';

export function register(program: Command, ctx: CliContext): void {
  addContainerFlags(
    program
      .command('run')
      .description('Create and run a new container from an image')
      .argument('<image>', 'image to run')
      .argument('[command...]', 'command and arguments (replace the image CMD)')
      .passThroughOptions()
      .option('-d, --detach', 'run container in background and print container ID')
      .option('--sig-proxy [bool]', 'proxy received signals to the process (false: Ctrl-C leaves the container running)', (v: string) => !/^(false|0|no)$/i.test(v), true)
      .option('--detach-keys <keys>', 'the key sequence that detaches from a -it container', DEFAULT_DETACH_KEYS),
  ).action(async (image: string, cmd: string[], f: ContainerFlags & { detach?: boolean; sigProxy: boolean; detachKeys: string }) => {
    if (f.detach && f.rm && f.restart !== 'no') throw new CliError('conflicting options: cannot specify both --restart and --rm', 125);
    if (f.tty && !f.detach && f.interactive && !process.stdin.isTTY) {
      throw new CliError('the input device is not a TTY', 1);
    }
    let detachKeys: number[];
    try {
      detachKeys = parseDetachKeys(f.detachKeys);
    } catch (e) {
      throw new CliError((e as Error).message, 125);
    }
    const c = await createFromFlags(ctx, image, cmd, f);
    const engine = ctx.engine();
    if (f.tty && !f.detach) {
      let r;
      try {
        r = await startAttached(engine, c, { stdin: !!f.interactive, detachKeys });
      } catch (e) {
        if (f.rm) await removeContainer(engine, c.id, { force: true, volumes: true }).catch(() => {});
        throw new CliError((e as Error).message, startStatus(e));
      }
      process.exitCode = r.detached ? 0 : r.exitCode ?? 0;
      return;
    }
    if (f.detach) {
      try {
        await startContainer(engine, c.id);
      } catch (e) {
        if (f.rm) await removeContainer(engine, c.id, { force: true, volumes: true }).catch(() => {});
        throw new CliError((e as Error).message, startStatus(e));
      }
      process.stdout.write(`${c.id}\n`);
      return;
    }
    const stdin = f.interactive ? process.stdin : undefined;
    try {
      const r = await runForeground(engine, c.id, { stdin, sigProxy: f.sigProxy });
      if (r.startError) process.stderr.write(`Error: OCI runtime create failed: ${r.startError}\n`);
      process.exitCode = r.exitCode;
    } catch (e) {
      // A start that failed (say, a network to join that is not running) leaves no --rm container.
      if (f.rm) await removeContainer(engine, c.id, { force: true, volumes: true }).catch(() => {});
      throw new CliError((e as Error).message, startStatus(e));
    } finally {
      stdin?.destroy();
    }
  });
}

/**
 * The exit status of a `run` whose container could not start, by Docker's rule (its CLI's
 * toStatusError, which reads the message): 127 when something was not found, 126 when it could
 * not be invoked, 125 for any other failure of the engine or the runtime.
 */
export function startStatus(e: unknown): number {
  const msg = e instanceof Error ? e.message : String(e);
  if (/executable file not found|no such file or directory/i.test(msg)) return 127;
  if (/permission denied|is a directory/i.test(msg)) return 126;
  return 125;
}
