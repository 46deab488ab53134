// Paths inside a container's root filesystem, resolved on the host the way the container would
// see them: every symlink is followed relative to the rootfs, and ".." never climbs out of it
// (the same scoping as Go's securejoin, which runc and Docker use for cp, volumes and WORKDIR).
import { lstatSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';

const MAX_SYMLINKS = 255;

/**
 * The scoped walk of resolveInRoot, on any view of a root filesystem: `readlink(segments)` gives
 * the target when the path made of `segments` is a symlink (undefined otherwise). Returns the
 * resolved segments; ".." never climbs above the root, absolute targets restart at it.
 */
export function resolveScoped(path: string, readlink: (segments: string[]) => string | undefined, opts: { followLast?: boolean } = {}): string[] {
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
    const isLast = pending.length === 0;
    const target = !isLast || followLast ? readlink([...done, seg]) : undefined;
    if (target === undefined) {
      done.push(seg);
      continue;
    }
    if (++links > MAX_SYMLINKS) {
      const err = new Error(`too many levels of symbolic links: ${path}`) as NodeJS.ErrnoException;
      err.code = 'ELOOP';
      throw err;
    }
    if (target.startsWith('/')) done.length = 0;
    pending = [...target.split('/').filter((s) => s !== '' && s !== '.'), ...pending];
  }
  return done;
}

/**
 * Host path for `path` inside `root`, with all symlinks resolved within `root`. The last component
 * need not exist (its parent's symlinks are still resolved). With `followLast: false` a final
 * symlink is left as is (for lstat, cp of a link itself, rm).
 */
export function resolveInRoot(root: string, path: string, opts: { followLast?: boolean } = {}): string {
  const readlink = (segments: string[]): string | undefined => {
    const candidate = join(root, ...segments);
    try {
      return lstatSync(candidate).isSymbolicLink() ? readlinkSync(candidate) : undefined;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw e;
      return undefined;
    }
  };
  return join(root, ...resolveScoped(path, readlink, opts));
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
