// COPY and ADD into a step's snapshot: Docker's destination rules (a trailing slash or several
// sources make the destination a directory; a directory source copies its contents), ownership
// (0:0 from the context, kept from another stage or image, --chown by name through the image's
// /etc/passwd), --chmod, heredoc sources, ADD's local tar extraction and http(s) downloads.
// Context files go straight into the upper dir (upper-copy.ts); the rest, and the cases that
// route leaves to overlayfs, are copied on the mounted merged view.
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { basename, join, posix } from 'node:path';
import type { Engine } from '../engine.js';
import type { Digest, ImageConfig } from '../image/types.js';
import type { StageState } from './executor.js';
import type { BuildContext, CopySelection } from './build-context.js';
import { copyTree, mkdirAll, type CopyOptions, type Ownership } from './fs-copy.js';
import { resolveInRoot } from '../runtime/paths.js';
import { applyChmod, parseChmod } from '../dockerfile/chmod.js';
import { matchPath } from '../dockerfile/gopath.js';
import type { Snapshot } from './snapshot.js';
import { extractArchiveFile, isArchiveFile } from './archive-file.js';
import { mapLimit } from '../util/concurrency.js';
import type { Step } from './steps.js';
import { withReadonlyRootfs } from './rootfs-view.js';
import { MergedView, resolveOwner } from './merged-view.js';
import { fetchUrl } from '../util/fetch-url.js';
import { NeedsOverlay, UpperWriter, copyEntriesToUpper, copySingleToUpper, type CopyReuse } from './upper-copy.js';

type CopyLike = Extract<Step, { kind: 'COPY' | 'ADD' }>;

export interface CopyStepContext {
  workdir: string;
  context: BuildContext;
  selected?: CopySelection;
  fromStage?: StageState;
  fromImage?: { id: Digest; config: ImageConfig };
  user?: string;
  /** Earlier copies of context files to hard-link instead of copying (not with --no-cache). */
  reuse?: CopyReuse;
}

/** Context files written into the upper dir (upper-relative path -> source and its stat then). */
export type CopiedFiles = UpperWriter['copied'];

export async function copyStep(engine: Engine, snap: Snapshot, s: CopyLike, cx: CopyStepContext): Promise<CopiedFiles | undefined> {
  const view = new MergedView(snap.lower);
  const owner = s.chown ? await resolveOwner(view, snap.upper, s.chown) : undefined;
  const opts: CopyOptions = { chown: owner, zeroOwner: true, chmod: s.chmod ? chmodFn(s.chmod) : undefined };
  const destPath = posix.isAbsolute(s.dest) ? s.dest : posix.join(cx.workdir, s.dest);
  const destIsDir = s.dest.endsWith('/') || s.dest === '.' || s.dest.endsWith('/.');

  if (s.heredocs.length) {
    // COPY <<EOF /path: each heredoc becomes a file named after its delimiter (or the dest).
    const merged = snap.mount();
    for (const h of s.heredocs) {
      const target = s.heredocs.length > 1 || destIsDir ? posix.join(destPath, h.name) : destPath;
      const abs = resolveInRoot(merged, target);
      await mkdirAll(merged, posix.dirname(target), owner);
      await fsp.writeFile(abs, h.content);
      await fsp.lchown(abs, owner?.uid ?? 0, owner?.gid ?? 0);
      await fsp.chmod(abs, opts.chmod ? opts.chmod(0o644, false) : 0o644);
    }
    return;
  }

  if (s.kind === 'ADD' && s.sources.some(isUrl)) {
    for (const url of s.sources) await addUrl(snap.mount(), url, destPath, destIsDir || s.sources.length > 1, s.checksum, owner, opts);
    return;
  }

  if (cx.fromStage || cx.fromImage) {
    const diffIds = (cx.fromStage?.config ?? cx.fromImage!.config).rootfs.diff_ids;
    await withReadonlyRootfs(engine, diffIds, async (root) => {
      const tops = await expandFromRoot(root, s.sources);
      await copyTops(snap.mount(), tops, destPath, destIsDir, { ...opts, zeroOwner: false }, owner);
    });
    return;
  }

  const sel = cx.selected!;
  // Several sources (arguments, or files a wildcard matched) need a directory destination.
  if ((s.sources.length > 1 || sel.tops.filter((t) => t.type !== 'dir').length > 1) && !destIsDir) {
    throw new Error(`When using ${s.kind} with more than one source file, the destination must be a directory and end with a /`);
  }
  const unpack = s.kind === 'ADD' && s.unpack !== false;
  const dirDest = destIsDir || sel.tops.length > 1;
  if (!unpack || !(await hasArchive(sel))) {
    // Straight into the upper dir; the rare cases it leaves to overlayfs go on below.
    const w = new UpperWriter(view, snap.upper, cx.reuse);
    try {
      await copySelectionToUpper(w, sel, destPath, dirDest, opts, owner);
      snap.known = w.known;
      return w.copied;
    } catch (e) {
      if (!(e instanceof NeedsOverlay)) throw e;
    }
  }
  await copySelection(snap.mount(), sel, destPath, dirDest, opts, owner, unpack);
}

const hasArchive = async (sel: CopySelection) => {
  for (const t of sel.tops) if (t.type === 'file' && (await isArchiveFile(t.abs))) return true;
  return false;
};

/** The upper route (upper-copy.ts); NeedsOverlay when the overlay route must do it. */
export async function copySelectionToUpper(w: UpperWriter, sel: CopySelection, destPath: string, destIsDir: boolean, opts: CopyOptions, owner: Ownership | undefined): Promise<void> {
  if (sel.tops.length === 1 && sel.tops[0]!.type !== 'dir' && !destIsDir) {
    const top = sel.tops[0]!;
    await copySingleToUpper(w, top.abs, top.destRel, destPath, opts, owner);
    return;
  }
  const root = await w.mkdirAll(destPath, owner);
  await copyEntriesToUpper(w, root, sel.entries, opts, owner);
}

/**
 * Context sources (a flat, pre-filtered list: the .dockerignore and --exclude already applied)
 * on the mounted merged view: the route for what copySelectionToUpper leaves to overlayfs.
 */
export async function copySelection(merged: string, sel: CopySelection, destPath: string, destIsDir: boolean, opts: CopyOptions, owner: Ownership | undefined, unpack: boolean): Promise<void> {
  const single = sel.tops.length === 1 && sel.tops[0]!.type !== 'dir' && !destIsDir;
  if (single) {
    const top = sel.tops[0]!;
    if (unpack && top.type === 'file' && (await isArchiveFile(top.abs))) {
      await extractArchive(merged, top.abs, destPath, owner);
      return;
    }
    const dest = await singleFileDest(merged, destPath, top.destRel);
    await mkdirAll(merged, posix.dirname(dest), owner);
    await copyTree(top.abs, resolveInRoot(merged, dest), { ...opts, recursive: false });
    return;
  }
  const root = await mkdirAll(merged, destPath, owner);
  const archives = new Set<string>();
  for (const top of sel.tops) {
    if (unpack && top.type === 'file' && (await isArchiveFile(top.abs))) {
      await extractArchive(merged, top.abs, destPath, owner);
      archives.add(top.abs);
    }
  }
  // Parents come before children in the list; a parent the ignore rules left out (a directory
  // excluded while a file in it is re-included) or --parents' leading directories are made here.
  const made = new Set<string>(['.']);
  const ensureParent = async (rel: string) => {
    const parent = posix.dirname(rel);
    if (made.has(parent)) return;
    await mkdirAll(merged, posix.join(destPath, parent), owner);
    made.add(parent);
  };
  const entries = sel.entries.filter((e) => !(e.isTopArchive && archives.has(e.abs)));
  // Directories first, in order (parents before children), then every file at once: per-file
  // syscalls, not bytes, dominate a large context, so they are overlapped.
  for (const e of entries) {
    if (e.type !== 'dir') continue;
    await ensureParent(e.destRel);
    await copyTree(e.abs, join(root, e.destRel), { ...opts, recursive: false });
    made.add(e.destRel);
  }
  const files = entries.filter((e) => e.type !== 'dir');
  for (const e of files) await ensureParent(e.destRel);
  await mapLimit(files, 64, (e) => copyTree(e.abs, join(root, e.destRel), opts));
}

/** Where a single non-directory source lands: `dest` itself, or inside it if it is a directory. */
async function singleFileDest(merged: string, destPath: string, name: string): Promise<string> {
  try {
    const st = await fsp.stat(resolveInRoot(merged, destPath));
    if (st.isDirectory()) return posix.join(destPath, posix.basename(name));
  } catch {
    /* does not exist: it is the file's name */
  }
  return destPath;
}

interface Top {
  abs: string;
  name: string;
  type: 'file' | 'dir' | 'symlink';
}

/** Sources inside another stage's or image's root filesystem, wildcards expanded in their directory. */
async function expandFromRoot(root: string, sources: string[]): Promise<Top[]> {
  const out: Top[] = [];
  for (const src of sources) {
    const clean = posix.normalize('/' + src);
    if (/[*?[]/.test(clean)) {
      const dir = posix.dirname(clean);
      const pattern = posix.basename(clean);
      const absDir = resolveInRoot(root, dir);
      let names: string[] = [];
      try {
        names = (await fsp.readdir(absDir)).sort();
      } catch {
        /* no such directory: no matches */
      }
      for (const n of names.filter((n) => matchPath(pattern, n))) out.push(await top(join(absDir, n), n));
      if (!names.some((n) => matchPath(pattern, n))) throw new Error(`lstat ${clean}: no such file or directory`);
    } else {
      const abs = resolveInRoot(root, clean);
      try {
        out.push(await top(abs, posix.basename(clean)));
      } catch {
        throw new Error(`failed to compute cache key: "${clean}": not found`);
      }
    }
  }
  return out;
}

async function top(abs: string, name: string): Promise<Top> {
  const st = await fsp.lstat(abs);
  return { abs, name, type: st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'file' };
}

async function copyTops(merged: string, tops: Top[], destPath: string, destIsDir: boolean, opts: CopyOptions, owner: Ownership | undefined): Promise<void> {
  if (tops.length > 1 && !destIsDir) {
    throw new Error('When using COPY with more than one source file, the destination must be a directory and end with a /');
  }
  if (tops.length === 1 && tops[0]!.type !== 'dir' && !destIsDir) {
    const dest = await singleFileDest(merged, destPath, tops[0]!.name);
    await mkdirAll(merged, posix.dirname(dest), owner);
    await copyTree(tops[0]!.abs, resolveInRoot(merged, dest), opts);
    return;
  }
  const root = await mkdirAll(merged, destPath, owner);
  for (const t of tops) {
    if (t.type === 'dir') {
      for (const n of await fsp.readdir(t.abs)) await copyTree(join(t.abs, n), join(root, n), opts);
    } else {
      await copyTree(t.abs, join(root, t.name), opts);
    }
  }
}

const isUrl = (s: string) => /^https?:\/\//.test(s);


async function extractArchive(merged: string, archive: string, destPath: string, owner: Ownership | undefined): Promise<void> {
  const dest = await mkdirAll(merged, destPath, owner);
  await extractArchiveFile(archive, dest, { owner, keepOwners: true });
}

async function addUrl(merged: string, url: string, destPath: string, destIsDir: boolean, checksum: string | undefined, owner: Ownership | undefined, opts: CopyOptions): Promise<void> {
  const res = await fetchUrl(url);
  const chunks: Buffer[] = [];
  for await (const chunk of res.body as AsyncIterable<Buffer>) chunks.push(chunk);
  const body = Buffer.concat(chunks);
  if (checksum) {
    const [algo, want] = checksum.includes(':') ? checksum.split(':', 2) : ['sha256', checksum];
    const got = createHash(algo!).update(body).digest('hex');
    if (got !== want) throw new Error(`digest mismatch ${algo}:${got}: ${checksum}`);
  }
  const name = basename(new URL(url).pathname) || 'index.html';
  const target = destIsDir ? posix.join(destPath, name) : await singleFileDest(merged, destPath, name);
  await mkdirAll(merged, posix.dirname(target), owner);
  const abs = resolveInRoot(merged, target);
  await fsp.writeFile(abs, body);
  await fsp.lchown(abs, owner?.uid ?? 0, owner?.gid ?? 0);
  await fsp.chmod(abs, opts.chmod ? opts.chmod(0o600, false) : 0o600);
  const lm = res.lastModified;
  if (lm) await fsp.utimes(abs, new Date(lm), new Date(lm));
}

function chmodFn(spec: string): (mode: number, isDir: boolean) => number {
  const parsed = parseChmod(spec);
  return (mode, isDir) => applyChmod(parsed, mode, isDir);
}
