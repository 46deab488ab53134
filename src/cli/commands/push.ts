// `kiln push [--format docker|oci] [--digestfile FILE] NAME[:TAG] [DESTINATION]`, with Docker's output.
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { CliError } from '../context.js';
import { familiarName, parseReference, repositoryName } from '../../image/reference.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('push')
    .description('Upload an image to a registry')
    .argument('<name>', 'local image: NAME[:TAG] (or ID when DESTINATION is given)')
    .argument('[destination]', 'push to this reference instead of NAME')
    .option('--format <format>', 'manifest format: docker (v2 schema 2) or oci', 'docker')
    .option('--digestfile <file>', 'write the pushed manifest digest to FILE')
    .option('-q, --quiet', 'print only the pushed reference')
    .option('--progress <mode>', 'auto, tty or plain', 'auto')
    .option('-a, --all-tags', 'push all tags of the repository NAME')
    .option('--disable-content-trust', 'skip image signing (kiln does no content trust)')
    .action(async (name: string, destination: string | undefined, o: { format: string; digestfile?: string; quiet?: boolean; progress: string; allTags?: boolean }) => {
      const format = o.format.toLowerCase();
      if (format !== 'docker' && format !== 'oci' && format !== 'v2s2')
        throw new CliError(`invalid --format ${JSON.stringify(o.format)}: use docker or oci`);
      if (!['auto', 'tty', 'plain'].includes(o.progress)) throw new CliError(`invalid --progress ${JSON.stringify(o.progress)}: use auto, tty or plain`);
      // Loaded on use, so other commands do not pay for the registry code.
      const [{ pushImage }, { progressFor }] = await Promise.all([import('../../registry/push.js'), import('../../registry/progress.js')]);
      const engine = ctx.engine();
      const sink = o.quiet ? undefined : progressFor(process.stdout, o.progress as 'auto' | 'tty' | 'plain');
      let names = [name];
      if (o.allTags) {
        if (destination !== undefined || /[:@]/.test(name.slice(name.lastIndexOf('/') + 1))) throw new CliError("tag can't be used with --all-tags/-a");
        const repo = repositoryName(parseReference(name));
        names = engine.db
          .listTags()
          .map((t) => t.ref)
          .filter((r) => repositoryName(parseReference(r)) === repo)
          .sort();
        if (!names.length) throw new CliError(`An image does not exist locally with the tag: ${familiarName(parseReference(name))}`);
      }
      for (const n of names) {
        const pushed = await pushImage(engine, n, { format: format === 'oci' ? 'oci' : 'docker', digestFile: o.digestfile, progress: sink }, destination);
        // As `docker push -q`: only the reference that was pushed.
        if (o.quiet) process.stdout.write(`${pushed.ref}\n`);
      }
    });
}
