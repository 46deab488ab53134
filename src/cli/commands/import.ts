// `kiln import [-c CHANGE]… [-m MSG] FILE|URL|- [REPOSITORY[:TAG]]` (also `kiln image import`):
// a root filesystem tarball (plain, gzip or zstd; e.g. from `kiln export`) as a one-layer image.
// The tar is applied like any foreign layer: entries escaping the root are refused.
import { createReadStream, existsSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { recordEvent } from '../../store/event-log.js';
import type { Command } from 'commander';
import { CliError, type CliContext } from '../context.js';
import { commitContainerLayer } from '../../build/commit.js';
import { scratchConfig } from '../../build/image-config.js';
import { decompressArchive } from '../../layers/compress.js';
import { fetchUrl } from '../../util/fetch-url.js';

const collect = (v: string, prev: string[]) => [...prev, v];

async function openSource(src: string): Promise<Readable> {
  if (src === '-') return process.stdin;
  if (/^https?:\/\//.test(src)) {
    try {
      return (await fetchUrl(src)).body;
    } catch (e) {
      throw new CliError(`import: ${(e as Error).message}`);
    }
  }
  if (!existsSync(src)) throw new CliError(`open ${src}: no such file or directory`);
  return createReadStream(src);
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('import')
    .description('Import the contents from a tarball to create a filesystem image')
    .argument('<file|URL|->', 'a tar of a root filesystem, a URL to one, or "-" for stdin')
    .argument('[repository]', 'name[:tag] for the new image')
    .option('-c, --change <instruction>', 'apply a Dockerfile instruction to the image; repeatable', collect, [])
    .option('-m, --message <msg>', 'commit message for the imported image')
    .option('--platform <p>', 'platform of the image (linux/amd64 only)')
    .action(async (src: string, repo: string | undefined, o: { change: string[]; message?: string; platform?: string }) => {
      if (o.platform && o.platform !== 'linux/amd64') throw new CliError(`platform ${o.platform} is not supported here (linux/amd64 only)`);
      const { stream } = await decompressArchive(await openSource(src));
      let id: string;
      try {
        id = await commitContainerLayer(ctx.engine(), {
          config: scratchConfig(),
          layer: { tar: stream },
          changes: o.change,
          comment: o.message ?? `Imported from ${src}`,
          createdBy: '',
          tags: repo ? [repo] : [],
        });
      } catch (e) {
        throw new CliError(`import ${src}: ${(e as Error).message}`);
      }
      recordEvent(ctx.engine().root, 'image', 'import', id, { name: repo ?? id });
      process.stdout.write(`${id}\n`);
    });
}
