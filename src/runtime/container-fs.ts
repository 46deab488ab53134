// A container's filesystem seen from the host: `cp` both ways (Docker's rules; container paths
// resolved inside the rootfs so no symlink leads out of it), `diff` (A/C/D from the upper dir)
// and `export` (a tar of the merged rootfs).
import { spawn } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  copyFileSync,
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
  type Stats,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, relative } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import type { Engine } from '../engine.js';
import { lgetxattr } from '../sys/fs.js';
import { containerPaths, withRootfs } from './containers.js';
import { cleanContainerPath, resolveInRoot } from './paths.js';

function lstatOrUndefined(p: string): Stats | undefined {
  try {
    return lstatSync(p);
  } catch {
    return undefined;
  }
}

function notFound(path: string): Error {
  const e = new Error(`Could not find the file ${path} in container`) as NodeJS.ErrnoException;
  e.code = 'ENOENT';
  return e;
}

/** Where a copy of `src` (named `srcName`) lands given Docker's rules for DEST. */
function destination(destPath: string, destEndsWithSlash: boolean, srcIsDir: boolean, srcName: string, contentsOnly: boolean) {
  const st = lstatOrUndefined(destPath);
  const isDir = st ? (st.isSymbolicLink() ? existsSync(destPath) && statSync(destPath).isDirectory() : st.isDirectory()) : false;
  if (!st || (st.isSymbolicLink() && !existsSync(destPath))) {
    if (destEndsWithSlash && !srcIsDir) throw new Error(`destination directory ${destPath} must exist`);
    return { target: destPath, into: false };
  }
  if (isDir) return { target: contentsOnly ? destPath : join(destPath, srcName), into: true };
  if (srcIsDir) throw new Error('cannot copy a directory to a file');
  return { target: destPath, into: false };
}

/** `kiln cp CTR:SRC HOSTDEST` */
export async function copyFromContainer(
  engine: Engine,
  idOrName: string,
  srcPath: string,
  hostDest: string,
  opts: { followLink?: boolean } = {},
): Promise<void> {
  await withRootfs(engine, idOrName, (root, c) => {
    const ctrPath = cleanContainerPath(srcPath, c.config.workingDir);
    const contentsOnly = /\/\.$/.test(srcPath);
    const src = resolveInRoot(root, ctrPath, { followLast: opts.followLink || srcPath.endsWith('/') || contentsOnly });
    const st = lstatOrUndefined(src);
    if (!st) throw notFound(srcPath);
    if (srcPath.endsWith('/') && !st.isDirectory()) throw new Error(`${srcPath}: not a directory`);
    const name = ctrPath === '/' ? '' : basename(ctrPath);
    const { target, into } = destination(hostDest, hostDest.endsWith('/'), st.isDirectory(), name, contentsOnly);
    if (st.isDirectory() && (contentsOnly || (!into && !existsSync(target)))) {
      mkdirSync(target, { recursive: true });
      for (const child of readdirSync(src)) {
        cpSync(join(src, child), join(target, child), { recursive: true, verbatimSymlinks: true, preserveTimestamps: true, force: true });
      }
      return;
    }
    cpSync(src, target, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true, force: true });
  });
}

/**
 * Copy a host file or tree into the rootfs at container path `ctrPath`, resolving each entry's
 * place inside the rootfs (a symlink in the container can never redirect a write to the host).
 */
function copyIntoRoot(root: string, src: string, ctrPath: string, archive: boolean): void {
  const st = lstatSync(src);
  const dest = resolveInRoot(root, ctrPath, { followLast: false });
  const existing = lstatOrUndefined(dest);
  const finish = (p: string) => {
    if (!st.isSymbolicLink()) chmodSync(p, st.mode & 0o7777);
    if (archive) chownSync(p, st.uid, st.gid);
    if (!st.isSymbolicLink()) utimesSync(p, st.atime, st.mtime);
  };
  if (st.isDirectory()) {
    let dir = dest;
    if (existing?.isSymbolicLink()) {
      const followed = resolveInRoot(root, ctrPath);
      if (lstatOrUndefined(followed)?.isDirectory()) dir = followed;
      else {
        unlinkSync(dest);
        mkdirSync(dest);
      }
    } else if (!existing) mkdirSync(dest);
    else if (!existing.isDirectory()) throw new Error(`cannot overwrite non-directory ${ctrPath} with directory`);
    const inRoot = '/' + relative(root, dir);
    for (const child of readdirSync(src)) copyIntoRoot(root, join(src, child), `${inRoot}/${child}`, archive);
    finish(dir);
    return;
  }
  if (existing?.isDirectory()) throw new Error(`cannot overwrite directory ${ctrPath} with non-directory`);
  if (existing) unlinkSync(dest);
  if (st.isSymbolicLink()) symlinkSync(readlinkSync(src), dest);
  else if (st.isFile()) copyFileSync(src, dest);
  else return; // devices, fifos, sockets: not copied
  finish(dest);
}

/** `kiln cp HOSTSRC CTR:DEST` */
export async function copyToContainer(
  engine: Engine,
  idOrName: string,
  hostSrc: string,
  destPath: string,
  opts: { archive?: boolean; followLink?: boolean } = {},
): Promise<void> {
  const contentsOnly = /\/\.$/.test(hostSrc);
  const st = opts.followLink ? statSync(hostSrc) : lstatSync(hostSrc);
  await withRootfs(engine, idOrName, (root, c) => {
    const ctrPath = cleanContainerPath(destPath, c.config.workingDir);
    const resolved = resolveInRoot(root, ctrPath);
    const parent = resolveInRoot(root, cleanContainerPath(ctrPath + '/..'));
    if (!existsSync(parent)) throw new Error(`Could not find the file ${destPath} in container`);
    const { into } = destination(resolved, destPath.endsWith('/'), st.isDirectory(), basename(hostSrc), contentsOnly);
    if (st.isDirectory() && (contentsOnly || into)) {
      const base = contentsOnly ? ctrPath : `${ctrPath}/${basename(hostSrc)}`;
      if (contentsOnly) {
        for (const child of readdirSync(hostSrc)) copyIntoRoot(root, join(hostSrc, child), `${base}/${child}`, !!opts.archive);
      } else copyIntoRoot(root, hostSrc, base, !!opts.archive);
      return;
    }
    copyIntoRoot(root, hostSrc, into ? `${ctrPath}/${basename(hostSrc)}` : ctrPath, !!opts.archive);
  });
}

function pipeProcess(cmd: string, args: string[], stdin: Readable | null, stdout: Writable | null): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: [stdin ? 'pipe' : 'ignore', stdout ? 'pipe' : 'ignore', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
    if (stdin) stdin.pipe(child.stdin!);
    if (stdout) child.stdout!.pipe(stdout, { end: false });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd}: ${err.trim() || `exit ${code}`}`))));
  });
}

/** `kiln cp CTR:SRC -`: a tar of SRC on `out`. */
export async function tarFromContainer(engine: Engine, idOrName: string, srcPath: string, out: Writable): Promise<void> {
  await withRootfs(engine, idOrName, async (root, c) => {
    const ctrPath = cleanContainerPath(srcPath, c.config.workingDir);
    const src = resolveInRoot(root, ctrPath, { followLast: srcPath.endsWith('/') });
    if (!lstatOrUndefined(src)) throw notFound(srcPath);
    const parent = join(src, '..');
    await pipeProcess('tar', ['--numeric-owner', '-C', parent, '-cf', '-', basename(src) || '.'], null, out);
  });
}

/** `kiln cp - CTR:DIR`: extract a tar into DIR (it must be a directory). */
export async function untarToContainer(engine: Engine, idOrName: string, tar: Readable, destPath: string): Promise<void> {
  const tmp = mkdtempSync(join(tmpdir(), 'kiln-cp-'));
  try {
    await pipeProcess('tar', ['--numeric-owner', '--same-owner', '-C', tmp, '-xpf', '-'], tar, null);
    await withRootfs(engine, idOrName, (root, c) => {
      const ctrPath = cleanContainerPath(destPath, c.config.workingDir);
      const dir = resolveInRoot(root, ctrPath);
      if (!lstatOrUndefined(dir)?.isDirectory()) throw new Error(`destination "${destPath}" must be a directory`);
      const inRoot = '/' + relative(root, dir);
      for (const child of readdirSync(tmp)) copyIntoRoot(root, join(tmp, child), `${inRoot}/${child}`, true);
    });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

export interface Change {
  Path: string;
  Kind: 0 | 1 | 2; // Docker: 0 modified, 1 added, 2 deleted
}

const isWhiteout = (st: Stats) => st.isCharacterDevice() && st.rdev === 0;

/** `docker diff`: changes in the container's own layer against the image (and init layer). */
export function containerChanges(engine: Engine, idOrName: string): Change[] {
  const c = engine.db.getContainer<unknown, { diffIds: import('../image/types.js').Digest[] }>(idOrName);
  const p = containerPaths(engine, c.id);
  const lowers = [p.init, ...(c.config.diffIds.length ? engine.layers.lowerDirs(c.config.diffIds) : [])];
  const inLower = (rel: string): boolean => {
    for (const l of lowers) {
      const st = lstatOrUndefined(join(l, rel));
      if (st) return !isWhiteout(st);
    }
    return false;
  };
  const out: Change[] = [];
  const walk = (rel: string) => {
    let names: string[];
    try {
      names = readdirSync(join(p.upper, rel));
    } catch {
      return;
    }
    for (const name of names) {
      const r = rel ? `${rel}/${name}` : name;
      const st = lstatSync(join(p.upper, r));
      if (isWhiteout(st)) {
        out.push({ Path: `/${r}`, Kind: 2 });
        continue;
      }
      const existed = inLower(r);
      out.push({ Path: `/${r}`, Kind: existed ? 0 : 1 });
      if (st.isDirectory()) {
        // An opaque dir replaced the image's: what was below it is gone.
        if (existed && lgetxattr(join(p.upper, r), 'trusted.overlay.opaque')?.toString() === 'y') {
          for (const l of lowers) {
            for (const gone of safeReaddir(join(l, r))) {
              if (!existsSync(join(p.upper, r, gone)) && !out.some((x) => x.Path === `/${r}/${gone}`)) out.push({ Path: `/${r}/${gone}`, Kind: 2 });
            }
          }
        }
        walk(r);
      }
    }
  };
  walk('');
  return out.sort((a, b) => (a.Path < b.Path ? -1 : a.Path > b.Path ? 1 : 0));
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** `docker export`: the container's filesystem as a tar on `out`. */
export async function exportContainer(engine: Engine, idOrName: string, out: Writable): Promise<void> {
  await withRootfs(engine, idOrName, async (root) => {
    await pipeProcess('tar', ['--numeric-owner', '--xattrs', '-C', root, '-cf', '-', '.'], null, out);
  });
}
