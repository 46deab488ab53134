// `kiln attach [--no-stdin] [--sig-proxy] [--detach-keys K] CONTAINER`: our stdio to a detached
// container through conmon's attach socket, like `docker attach`: output streamed, stdin forwarded
// when the container has -i (raw when it has -t and we are on a terminal), the detach keys
// (ctrl-p ctrl-q) leave it running, our terminal size follows it, signals are proxied (without -t),
// and we exit with the container's exit code when it ends.
import type { Command } from 'commander';
import { CliError, type CliContext } from '../context.js';
import { Attachment, DEFAULT_DETACH_KEYS, parseDetachKeys } from '../../runtime/attach.js';
import { attachSession, stdioOutput } from '../attach-session.js';

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
        a = await Attachment.open(engine, name, stdioOutput);
      } catch (e) {
        throw new CliError((e as Error).message);
      }

      const r = await attachSession(engine, a, { stdin: o.stdin, sigProxy: o.sigProxy, detachKeys: keys });
      process.exitCode = r.detached ? 0 : r.exitCode ?? 0;
    });
}
