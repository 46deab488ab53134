// `kiln pull [--platform os/arch[/variant]] [-q] NAME[:TAG|@DIGEST]`, with Docker's output.
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { CliError } from '../context.js';
import { formatReference, parseReference, repositoryName } from '../../image/reference.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('pull')
    .description('Download an image from a registry')
    .argument('<name>', 'image reference: NAME[:TAG|@DIGEST]')
    .option('--platform <platform>', 'os/arch[/variant] to pull from a multi-platform image (default linux/<host arch>)')
    .option('-q, --quiet', 'print only the image reference')
    .option('--progress <mode>', 'auto, tty or plain', 'auto')
    .option('-a, --all-tags', 'download all tagged images in the repository')
    .option('--disable-content-trust', 'skip image verification (kiln does no content trust; digests are always verified)')
    .action(async (name: string, o: { platform?: string; quiet?: boolean; progress: string; allTags?: boolean }) => {
      if (!['auto', 'tty', 'plain'].includes(o.progress)) throw new CliError(`invalid --progress ${JSON.stringify(o.progress)}: use auto, tty or plain`);
      // Loaded on use, so other commands do not pay for the registry code.
      const [{ pullImage }, { progressFor }] = await Promise.all([import('../../registry/pull.js'), import('../../registry/progress.js')]);
      const engine = ctx.engine();
      const sink = o.quiet ? undefined : progressFor(process.stdout, o.progress as 'auto' | 'tty' | 'plain');
      if (o.allTags) {
        if (/[:@]/.test(name.slice(name.lastIndexOf('/') + 1))) throw new CliError("tag can't be used with --all-tags/-a");
        const ref = parseReference(name);
        const [{ RegistryClient }, { listRepositoryTags }] = await Promise.all([import('../../registry/client.js'), import('../../registry/tags.js')]);
        let tags: string[] | undefined;
        let failure: unknown;
        for (const client of RegistryClient.forRegistry(ref.domain, { root: engine.root, pull: true })) {
          try {
            tags = await listRepositoryTags(client, ref.path);
            break;
          } catch (e) {
            failure = e;
          }
        }
        if (!tags) throw failure;
        for (const tag of [...tags].sort()) await pullImage(engine, formatReference({ ...ref, tag, digest: undefined }), { platform: o.platform, progress: sink });
        process.stdout.write(`${repositoryName(ref)}\n`);
        return;
      }
      const r = await pullImage(engine, name, { platform: o.platform, progress: sink });
      process.stdout.write(`${r.ref}\n`);
    });
}
