// `kiln exec [-i] [-t] [-d] [-u USER] [-w DIR] [-e K=V]… CONTAINER CMD…`: exit code passed through;
// with -t, the process's terminal (runc's console socket) relayed through ours, or through a pipe.
import type { Command } from 'commander';
import { CliError, type CliContext } from '../context.js';
import { execInContainer } from '../../runtime/container-exec.js';
import type { TerminalControl } from '../../runtime/terminal-relay.js';
import { setOutputProcessing } from '../../sys/termios.js';
import { readEnvFile } from './create.js';

const collect = (v: string, prev: string[] = []) => [...prev, v];

export function register(program: Command, ctx: CliContext): void {
  program
    .command('exec')
    .description('Execute a command in a running container')
    .argument('<container>')
    .argument('<command...>')
    .passThroughOptions()
    .option('-i, --interactive', 'keep STDIN open even if not attached')
    .option('-t, --tty', 'allocate a pseudo-TTY')
    .option('-d, --detach', 'detached mode: run command in the background')
    .option('-u, --user <user>', 'username or UID (format: <name|uid>[:<group|gid>])')
    .option('-w, --workdir <dir>', 'working directory inside the container')
    .option('-e, --env <k=v>', 'set environment variables; repeatable', collect, [])
    .option('--env-file <file>', 'read in a file of environment variables; repeatable', collect, [])
    .option('--privileged', 'give extended privileges to the command')
    .action(
      async (
        name: string,
        cmd: string[],
        o: { interactive?: boolean; tty?: boolean; detach?: boolean; user?: string; workdir?: string; env: string[]; envFile: string[]; privileged?: boolean },
      ) => {
        if (o.tty && o.interactive && !o.detach && !process.stdin.isTTY) throw new CliError('the input device is not a TTY');
        const stdin = o.interactive && !o.detach ? process.stdin : undefined;
        // With -t, the process's terminal is relayed through ours (raw, sized alike, resized with it).
        const undo: (() => void)[] = [];
        const onTerminal = (t: TerminalControl) => {
          if (stdin?.isTTY) {
            stdin.setRawMode(true);
            undo.push(() => stdin.setRawMode(false));
          }
          if (process.stdout.isTTY) {
            const was = setOutputProcessing(1, false);
            undo.push(() => void setOutputProcessing(1, was));
            const resize = () => t.resize(process.stdout.rows, process.stdout.columns);
            resize();
            process.on('SIGWINCH', resize);
            undo.push(() => process.off('SIGWINCH', resize));
          }
        };
        try {
          process.exitCode = await execInContainer(ctx.engine(), name, {
            cmd,
            tty: o.tty,
            interactive: o.interactive,
            detach: o.detach,
            user: o.user,
            workdir: o.workdir,
            env: [...o.envFile.flatMap(readEnvFile), ...o.env],
            privileged: o.privileged,
            stdin,
            ...(o.tty && !o.detach ? { onTerminal } : {}),
          });
        } catch (e) {
          throw new CliError((e as Error).message, (e as { exitCode?: number }).exitCode ?? 1);
        } finally {
          for (const f of undo.reverse()) f();
          stdin?.destroy();
        }
      },
    );
}
