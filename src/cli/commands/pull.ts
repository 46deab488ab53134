// `kiln pull [--platform os/arch[/variant]] [-q] NAME[:TAG|@DIGEST]`, with Docker's output.
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { CliError } from '../context.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('pull')
    .description('Download an image from a registry')
    .argument('<name>', 'image reference: NAME[:TAG|@DIGEST]')
    .option('--platform <platform>', 'os/arch[/variant] to pull from a multi-platform image (default linux/<host arch>)')
    .option('-q, --quiet', 'print only the image reference')
    .option('--progress <mode>', 'auto, tty or plain', 'auto')
    .action(async (name: string, o: { platform?: string; quiet?: boolean; progress: string }) => {
      if (!['auto', 'tty', 'plain'].includes(o.progress)) throw new CliError(`invalid --progress ${JSON.stringify(o.progress)}: use auto, tty or plain`);
      // Loaded on use, so other commands do not pay for the registry code.
      const [{ pullImage }, { progressFor }] = await Promise.all([import('../../registry/pull.js'), import('../../registry/progress.js')]);
      const engine = ctx.engine();
      const sink = o.quiet ? undefined : progressFor(process.stdout, o.progress as 'auto' | 'tty' | 'plain');
      const r = await pullImage(engine, name, { platform: o.platform, progress: sink });
      process.stdout.write(`${r.ref}\n`);
    });
}
