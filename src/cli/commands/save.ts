// `kiln save [-o FILE] [--format docker-archive|oci-archive] IMAGE...` (also `kiln image save`).
// Writes to FILE (atomically: a temp file renamed into place) or to stdout when it is not a terminal.
import { recordEvent } from '../../store/event-log.js';
import { createWriteStream, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { randomHex } from '../../util/random.js';
import type { Command } from 'commander';
import { CliError, type CliContext } from '../context.js';
import { saveImages, type ArchiveFormat } from '../../archive/index.js';

const FORMATS: Record<string, ArchiveFormat> = {
  'docker-archive': 'docker-archive',
  docker: 'docker-archive',
  'oci-archive': 'oci-archive',
  oci: 'oci-archive',
};

export function defineSave(cmd: Command, ctx: CliContext): Command {
  return cmd
    .description('Save one or more images to a tar archive (streamed to STDOUT by default)')
    .argument('<image...>', 'images to save (name[:tag] saves that tag, a bare name every tag of the repository, an ID the image untagged)')
    .option('-o, --output <file>', 'write to a file, instead of STDOUT')
    .option('--format <format>', 'archive format: docker-archive or oci-archive', 'docker-archive')
    .action(async (images: string[], o: { output?: string; format: string }) => {
      const format = FORMATS[o.format];
      if (!format) throw new CliError(`unsupported archive format ${JSON.stringify(o.format)}: use docker-archive or oci-archive`);
      const engine = ctx.engine();
      const saved = () => {
        for (const i of images) {
          let id: string = i;
          try {
            id = engine.db.resolveImageId(i); // a bare repository (all its tags) may have no :latest
          } catch {
            /* named as given */
          }
          recordEvent(engine.root, 'image', 'save', id, { name: i });
        }
      };
      if (!o.output) {
        if (process.stdout.isTTY) throw new CliError('cowardly refusing to save to a terminal. Use the -o flag or redirect');
        await saveImages(engine, images, process.stdout, format);
        saved();
        return;
      }
      const tmp = join(dirname(o.output), `.${basename(o.output)}.${randomHex(4)}.tmp`);
      try {
        await saveImages(engine, images, createWriteStream(tmp, { mode: 0o644 }), format);
        renameSync(tmp, o.output);
        saved();
      } catch (e) {
        rmSync(tmp, { force: true });
        throw e;
      }
    });
}

export function register(program: Command, ctx: CliContext): void {
  defineSave(program.command('save'), ctx);
}
