// Paths inside a container's root filesystem, resolved on the host the way the container would
// see them: every symlink is followed relative to the rootfs, and ".." never climbs out of it
// (the same scoping as Go's securejoin, which runc and Docker use for cp, volumes and WORKDIR).
import { lstatSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';

const MAX_SYMLINKS = 255;

/**
 * Host path for `path` inside `root`, with all symlinks resolved within `root`. The last component
 * need not exist (its parent's symlinks are still resolved). With `followLast: false` a final
 * symlink is left as is (for lstat, cp of a link itself, rm).
 */
export function resolveInRoot(root: string, path: string, opts: { followLast?: boolean } = {}): string {
  const followLast = opts.followLast ?? true;
  let pending = path.split('/').filter((s) => s !== '' && s !== '.');
  const done: string[] = [];
  let links = 0;
  while (pending.length) {
    const seg = pending.shift()!;
    if (seg === '..') {
      done.pop();
      continue;
    }
    const candidate = join(root, ...done, seg);
    const isLast = pending.length === 0;
    let target: string | undefined;
    if (!isLast || followLast) {
      try {
        if (lstatSync(candidate).isSymbolicLink()) target = readlinkSync(candidate);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== 'ENOENT' && code !== 'ENOTDIR') throw e;
      }
    }
    if (target === undefined) {
      done.push(seg);
      continue;
    }
    if (++links > MAX_SYMLINKS) {
      const err = new Error(`too many levels of symbolic links: ${path}`) as NodeJS.ErrnoException;
      err.code = 'ELOOP';
      throw err;
    }
    const rest = target.split('/').filter((s) => s !== '' && s !== '.');
    if (target.startsWith('/')) done.length = 0;
    pending = [...rest, ...pending];
  }
  return join(root, ...done);
}

/** Normalize a container path: absolute, no "." or "..", no trailing slash. */
export function cleanContainerPath(path: string, cwd = '/'): string {
  const full = path.startsWith('/') ? path : `${cwd}/${path}`;
  const parts: string[] = [];
  for (const seg of full.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') parts.pop();
    else parts.push(seg);
  }
  return '/' + parts.join('/');
}
