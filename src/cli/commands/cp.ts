// `kiln cp [-a] [-L] CONTAINER:SRC DEST|-` and `kiln cp [-a] [-L] SRC|- CONTAINER:DEST`, with
// Docker's rules for files, directories, "dir/." and trailing slashes. Container paths resolve
// inside the container's rootfs: no symlink leads out of it.
import type { Command } from 'commander';
import { CliError, type CliContext } from '../context.js';
import { copyFromContainer, copyToContainer, tarFromContainer, untarToContainer } from '../../runtime/container-fs.js';

/** "ctr:/path" → [ctr, path]; a local path (absolute, ./, or without a colon) → [undefined, path]. */
export function splitCpArg(arg: string): [string | undefined, string] {
  if (arg.startsWith('/') || arg.startsWith('.') || arg === '-') return [undefined, arg];
  const i = arg.indexOf(':');
  if (i <= 0) return [undefined, arg];
  return [arg.slice(0, i), arg.slice(i + 1) || '/'];
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('cp')
    .description('Copy files/folders between a container and the local filesystem')
    .argument('<src>', 'CONTAINER:SRC_PATH, a local path, or - (a tar on stdin)')
    .argument('<dest>', 'CONTAINER:DEST_PATH, a local path, or - (a tar on stdout)')
    .option('-a, --archive', 'archive mode (copy all uid/gid information)')
    .option('-L, --follow-link', 'always follow symbol link in SRC_PATH')
    .option('-q, --quiet', 'suppress progress output (kiln cp prints none)')
    .action(async (src: string, dest: string, o: { archive?: boolean; followLink?: boolean }) => {
      const engine = ctx.engine();
      const [sc, sp] = splitCpArg(src);
      const [dc, dp] = splitCpArg(dest);
      if (sc && dc) throw new CliError('copying between containers is not supported');
      if (!sc && !dc) throw new CliError('must specify at least one container source');
      try {
        if (sc) {
          if (dp === '-') await tarFromContainer(engine, sc, sp, process.stdout);
          else await copyFromContainer(engine, sc, sp, dp, { followLink: o.followLink });
        } else if (sp === '-') await untarToContainer(engine, dc!, process.stdin, dp);
        else await copyToContainer(engine, dc!, sp, dp, { archive: o.archive, followLink: o.followLink });
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        if (err.code === 'ENOENT' && !sc && !err.message.includes('container')) throw new CliError(`lstat ${sp}: no such file or directory`);
        throw new CliError(err.message);
      }
    });
}
