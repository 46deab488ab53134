// The file operations of COPY and ADD inside a step's merged root filesystem. Destination paths are
// resolved as the container would see them (symlinks followed, but never out of the root), and
// every file keeps its mode and mtime; ownership is 0:0 for the build context, kept for files
// copied from another stage or image, and replaced by --chown; --chmod replaces the mode.
import { promises as fsp, type Stats } from 'node:fs';
import { join } from 'node:path';
import { resolveInRoot } from '../runtime/paths.js';

export interface Ownership {
  uid: number;
  gid: number;
}

export interface CopyOptions {
  /** Owner for everything copied; undefined keeps the source's owner (or 0:0 when `zeroOwner`). */
  chown?: Ownership;
  /** Context files belong to whoever ran the build; in the image they are root's. */
  zeroOwner: boolean;
  /** --chmod: maps a source mode to the mode in the image. */
  chmod?: (mode: number, isDir: boolean) => number;
  /** false: a directory is created (with its metadata) but its contents are not copied. */
  recursive?: boolean;
}

/** Creates `dir` and its missing parents (mode 0755, owned by `owner`), like mkdir -p. */
export async function mkdirAll(root: string, dir: string, owner?: Ownership): Promise<string> {
  const abs = resolveInRoot(root, dir);
  const missing: string[] = [];
  for (let p = abs; p.length > root.length; p = join(p, '..')) {
    try {
      const st = await fsp.stat(p);
      if (!st.isDirectory()) throw new Error(`cannot create directory ${dir}: ${p.slice(root.length)} is not a directory`);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      missing.unshift(p);
    }
  }
  for (const p of missing) {
    await fsp.mkdir(p, { mode: 0o755 });
    await fsp.chmod(p, 0o755); // umask must not decide the image's modes
    if (owner) await fsp.lchown(p, owner.uid, owner.gid);
  }
  return abs;
}

/** Copies one file, symlink or directory tree from `src` (host path) to `dst` (host path). */
export async function copyTree(src: string, dst: string, opts: CopyOptions): Promise<number> {
  const st = await fsp.lstat(src);
  let count = 1;
  const owner = opts.chown ?? (opts.zeroOwner ? { uid: 0, gid: 0 } : { uid: st.uid, gid: st.gid });
  if (st.isDirectory()) {
    let exists = false;
    try {
      exists = (await fsp.lstat(dst)).isDirectory();
    } catch {
      /* to be created */
    }
    if (!exists) {
      await fsp.rm(dst, { force: true, recursive: false }).catch(() => undefined);
      await fsp.mkdir(dst);
    }
    const names = opts.recursive === false ? [] : await fsp.readdir(src);
    // Bounded parallelism: many small files dominate real contexts.
    for (let i = 0; i < names.length; i += 32) {
      const counts = await Promise.all(names.slice(i, i + 32).map((n) => copyTree(join(src, n), join(dst, n), opts)));
      for (const c of counts) count += c;
    }
    await applyMeta(dst, st, owner, opts, true);
  } else if (st.isSymbolicLink()) {
    await fsp.rm(dst, { force: true });
    await fsp.symlink(await fsp.readlink(src), dst);
    await fsp.lchown(dst, owner.uid, owner.gid);
    await fsp.lutimes(dst, st.atime, st.mtime);
  } else if (st.isFile()) {
    await replaceNonDir(dst);
    await fsp.copyFile(src, dst);
    await applyMeta(dst, st, owner, opts, false);
  } else {
    throw new Error(`cannot copy ${src}: unsupported file type`);
  }
  return count;
}

async function replaceNonDir(dst: string): Promise<void> {
  try {
    const st = await fsp.lstat(dst);
    if (st.isDirectory()) throw new Error(`cannot copy to ${dst}: it is a directory`);
    await fsp.rm(dst, { force: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}

async function applyMeta(dst: string, st: Stats, owner: Ownership, opts: CopyOptions, isDir: boolean): Promise<void> {
  await fsp.lchown(dst, owner.uid, owner.gid);
  // chmod after chown: chown clears setuid/setgid bits.
  const mode = opts.chmod ? opts.chmod(st.mode & 0o7777, isDir) : st.mode & 0o7777;
  await fsp.chmod(dst, mode);
  await fsp.utimes(dst, st.atime, st.mtime);
}
