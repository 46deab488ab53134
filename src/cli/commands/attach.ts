// `kiln attach [--no-stdin] [--sig-proxy] [--detach-keys K] CONTAINER`: our stdio to a detached
// container through conmon's attach socket, like `docker attach`: output streamed, stdin forwarded
// when the container has -i (raw when it has -t and we are on a terminal), the detach keys
// (ctrl-p ctrl-q) leave it running, our terminal size follows it, signals are proxied (without -t),
// and we exit with the container's exit code when it ends.
import type { Command } from 'commander';
import { CliError, type CliContext } from '../context.js';
import { Attachment, DEFAULT_DETACH_KEYS, DetachKeyFilter, parseDetachKeys } from '../../runtime/attach.js';
import { killContainer } from '../../runtime/containers.js';

/** What `docker attach --sig-proxy` forwards (SIGUSR1 is Node's debugger, SIGWINCH is the resize). */
const PROXIED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR2', 'SIGALRM'];

function parseBool(v: string): boolean {
  if (/^(true|1|yes)$/i.test(v)) return true;
  if (/^(false|0|no)$/i.test(v)) return false;
  throw new CliError(`invalid boolean: ${v}`);
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('attach')
    .description('Attach local standard input, output, and error streams to a running container')
    .argument('<container>')
    .option('--no-stdin', 'do not attach STDIN')
    .option('--sig-proxy [bool]', 'proxy all received signals to the process', parseBool, true)
    .option('--detach-keys <keys>', 'override the key sequence for detaching a container', DEFAULT_DETACH_KEYS)
    .action(async (name: string, o: { stdin: boolean; sigProxy: boolean; detachKeys: string }) => {
      const engine = ctx.engine();
      let keys: number[];
      try {
        keys = parseDetachKeys(o.detachKeys);
      } catch (e) {
        throw new CliError((e as Error).message);
      }
      let a: Attachment;
      try {
        a = await Attachment.open(engine, name, {
          stdout: (b) => process.stdout.write(b),
          stderr: (b) => process.stderr.write(b),
        });
      } catch (e) {
        throw new CliError((e as Error).message);
      }

      const undo: (() => void)[] = [];
      const withStdin = o.stdin && a.stdin;
      if (withStdin) {
        const stdin = process.stdin;
        if (a.tty && stdin.isTTY) {
          stdin.setRawMode(true);
          undo.push(() => stdin.setRawMode(false));
        }
        const filter = new DetachKeyFilter(keys);
        const onData = (b: Buffer) => {
          const { data, detach } = filter.feed(b);
          if (data.length) a.write(data);
          if (detach) a.detach();
        };
        // stdin's end leaves the container's stdin open (conmon --leave-stdin-open), as Docker does
        stdin.on('data', onData);
        undo.push(() => {
          stdin.off('data', onData);
          stdin.pause();
          stdin.destroy();
        });
      }
      if (a.tty && process.stdout.isTTY) {
        const resize = () => a.resize(process.stdout.rows, process.stdout.columns);
        resize();
        process.stdout.on('resize', resize);
        process.on('SIGWINCH', resize);
        undo.push(() => {
          process.stdout.off('resize', resize);
          process.off('SIGWINCH', resize);
        });
      }
      if (o.sigProxy && !a.tty) {
        for (const sig of PROXIED) {
          const fwd = () => void killContainer(engine, a.container.id, sig).catch(() => {});
          process.on(sig, fwd);
          undo.push(() => process.off(sig, fwd));
        }
      }

      const r = await a.done;
      a.close();
      for (const f of undo.reverse()) f();
      process.exitCode = r.detached ? 0 : r.exitCode ?? 0;
    });
}
