// COPY/ADD of build-context files written straight into the step's new upper dir, with no overlay
// mounted. The upper dir must end up exactly as the overlay route (copy-step.ts on a mounted
// merged view) would have left it, so the layer is the same: a directory that exists in a lower
// layer is "copied up" as overlayfs does (its mode, owner, xattrs and times, and the parent's
// times restored) only when something is created in it, and new entries get the same metadata.
// Cases overlayfs handles in ways not reproduced here (replacing a lower non-directory with a
// directory makes it opaque; a symlink below the destination; errors) throw NeedsOverlay before
// anything of theirs is written, and the caller redoes the copy on a mounted overlay; what was
// already written is what the overlay would have written, so the two routes compose.
import { promises as fsp, linkSync, lstatSync, readlinkSync, type Stats } from 'node:fs';
import { join, posix } from 'node:path';
import { layerXattrs, type KnownEntry } from '../layers/pack.js';
import { lsetxattr } from '../sys/fs.js';
import { mapLimit } from '../util/concurrency.js';
import type { CopySelection } from './build-context.js';
import { mkdirAll, type CopyOptions, type Ownership } from './fs-copy.js';
import { MergedView, resolveOwner } from './merged-view.js';
import type { Snapshot } from './snapshot.js';

/** This copy must run on a mounted overlay instead (see the file comment). */
export class NeedsOverlay extends Error {
  constructor(reason: string) {
    super(`needs the overlay route: ${reason}`);
  }
}

const S_ISGID = 0o2000;
const DEFAULT_ACL = 'system.posix_acl_default';

interface UpperDir {
  mode: number;
  gid: number;
  /** New entries may get extended attributes here (a default ACL, or a security module's labels). */
  xattrs: boolean;
}

const parentOf = (rel: string) => {
  const d = posix.dirname(rel);
  return d === '.' ? '' : d;
};

/** Files of earlier COPY layers with a context file's content, at the same path (BuildContext.copies). */
export interface CopyReuse {
  find(src: string, st: Stats, layerRel: string): string | undefined;
}

export class UpperWriter {
  /** Files and symlinks written, with their metadata: packing the upper dir trusts these. */
  readonly known = new Map<string, KnownEntry>();
  /** Regular files written from the context: upper-relative path -> source and its stat then. */
  readonly copied = new Map<string, { src: string; st: Stats }>();
  private readonly dirs = new Map<string, UpperDir>();
  private readonly euid = process.geteuid!();
  private readonly egid = process.getegid!();

  constructor(
    readonly view: MergedView,
    readonly upper: string,
    private readonly reuse?: CopyReuse,
  ) {
    const st = lstatSync(upper);
    // The fresh upper dir has xattrs only if the host labels new files (SELinux) or it inherited a default ACL.
    this.dirs.set('', { mode: st.mode & 0o7777, gid: st.gid, xattrs: layerXattrs(upper).length > 0 });
  }

  private abs(rel: string): string {
    return rel === '' ? this.upper : join(this.upper, rel);
  }

  /** Makes the merged directory `rel` exist in the upper dir, copying it (and its parents) up. */
  async ensureUpper(rel: string): Promise<void> {
    if (this.dirs.has(rel)) return;
    const lower = this.view.lower(rel);
    if (lower?.type !== 'dir' || this.view.upper.has(rel)) throw new NeedsOverlay(`/${rel} is not a directory of a lower layer`);
    const parent = parentOf(rel);
    await this.ensureUpper(parent);
    // Creating the copy changes the parent's times; overlayfs' copy-up puts them back.
    const pst = parent === '' ? null : lstatSync(this.abs(parent));
    const abs = this.abs(rel);
    await fsp.mkdir(abs);
    const xattrs = layerXattrs(lower.abs);
    await this.setMeta(abs, lower.st.mode & 0o7777, { uid: lower.st.uid, gid: lower.st.gid }, lower.st);
    for (const [k, v] of xattrs) lsetxattr(abs, k, v);
    if (pst) await fsp.utimes(this.abs(parent), pst.atime, pst.mtime);
    const inherits = this.dirs.get(parent)!.xattrs || xattrs.some(([k]) => k === DEFAULT_ACL);
    this.dirs.set(rel, { mode: lower.st.mode & 0o7777, gid: lower.st.gid, xattrs: inherits });
    this.view.upper.set(rel, { type: 'dir' });
  }

  private async setMeta(abs: string, mode: number, owner: Ownership, times: { atime: Date; mtime: Date }): Promise<void> {
    await fsp.lchown(abs, owner.uid, owner.gid);
    await fsp.chmod(abs, mode); // after chown, which clears setuid/setgid
    await fsp.utimes(abs, times.atime, times.mtime);
  }

  /** mkdir -p of a container path (fs-copy.ts mkdirAll on the merged view); the layer-relative path. */
  async mkdirAll(path: string, owner?: Ownership): Promise<string> {
    const rel = this.view.resolve(path);
    const parts = rel === '' ? [] : rel.split('/');
    let i = parts.length;
    for (; i > 0; i--) {
      const t = this.view.typeAt(parts.slice(0, i).join('/'));
      if (t === 'dir') break;
      if (t !== null) throw new NeedsOverlay(`/${parts.slice(0, i).join('/')} is not a directory`);
    }
    for (i++; i <= parts.length; i++) {
      const p = parts.slice(0, i).join('/');
      await this.ensureUpper(parentOf(p));
      const abs = this.abs(p);
      await fsp.mkdir(abs, { mode: 0o755 });
      await fsp.chmod(abs, 0o755); // umask must not decide the image's modes
      if (owner) await fsp.lchown(abs, owner.uid, owner.gid);
      this.newDir(p, 0o755, owner);
    }
    return rel;
  }

  private newDir(rel: string, mode: number, owner: Ownership | undefined): void {
    const parent = this.dirs.get(parentOf(rel))!;
    const gid = owner?.gid ?? (parent.mode & S_ISGID ? parent.gid : this.egid);
    this.dirs.set(rel, { mode, gid, xattrs: parent.xattrs });
    this.view.upper.set(rel, { type: 'dir' });
  }

  /** The owner a new entry in `parentRel` gets from the kernel (setgid directories pass on their group). */
  private creationOwner(parentRel: string): Ownership {
    const parent = this.dirs.get(parentRel)!;
    return { uid: this.euid, gid: parent.mode & S_ISGID ? parent.gid : this.egid };
  }

  /** A directory entry of the selection (copyTree with recursive: false). */
  async copyDir(src: string, rel: string, opts: CopyOptions): Promise<void> {
    const st = await fsp.lstat(src);
    const owner = opts.chown ?? (opts.zeroOwner ? { uid: 0, gid: 0 } : { uid: st.uid, gid: st.gid });
    const mode = opts.chmod ? opts.chmod(st.mode & 0o7777, true) : st.mode & 0o7777;
    if (!this.dirs.has(rel)) {
      const t = this.view.typeAt(rel);
      if (t === 'dir') await this.ensureUpper(rel);
      else if (t !== null) throw new NeedsOverlay(`a directory replaces /${rel}`);
      else {
        await this.ensureUpper(parentOf(rel));
        await fsp.mkdir(this.abs(rel));
        this.newDir(rel, mode, owner);
      }
    }
    await this.setMeta(this.abs(rel), mode, owner, st);
    const d = this.dirs.get(rel)!;
    d.mode = mode;
    d.gid = owner.gid;
  }

  /** Checks, before anything is written, that a file or symlink can be created at `rel`. */
  checkNonDir(rel: string): void {
    const u = this.view.upper.get(rel);
    if (u?.type === 'dir' || (!u && this.view.lower(rel)?.type === 'dir')) throw new NeedsOverlay(`/${rel} is a directory`);
  }

  /**
   * A file or symlink (copyTree of a non-directory) whose parent directory is in the upper dir.
   * A hard link to an earlier copy is made at once (stat and link are cheap calls, for which a
   * trip through the thread pool costs more than the call); a real copy is returned as a job, to
   * run with others at once.
   */
  nonDir(src: string, rel: string, opts: CopyOptions): (() => Promise<void>) | null {
    const st = lstatSync(src);
    const owner = opts.chown ?? (opts.zeroOwner ? { uid: 0, gid: 0 } : { uid: st.uid, gid: st.gid });
    const abs = this.abs(rel);
    const parent = parentOf(rel);
    const made = this.creationOwner(parent);
    const sameOwner = made.uid === owner.uid && made.gid === owner.gid;
    // A parent with xattrs (a default ACL) may give the new entry some: then packing looks.
    const record = (known: KnownEntry) => {
      if (!this.dirs.get(parent)!.xattrs) this.known.set(rel, known);
      if (known.type === 'file' && !this.dirs.get(parent)!.xattrs) this.copied.set(rel, { src, st });
    };
    if (st.isSymbolicLink()) {
      this.view.upper.set(rel, { type: 'symlink', linkTarget: readlinkSync(src) });
      return async () => {
        const target = this.view.upper.get(rel)!.linkTarget!;
        await fsp.symlink(target, abs);
        if (!sameOwner) await fsp.lchown(abs, owner.uid, owner.gid);
        await fsp.lutimes(abs, st.atime, st.mtime);
        record({ type: 'symlink', mode: 0o777, uid: owner.uid, gid: owner.gid, mtimeMs: st.mtime.getTime(), size: 0, linkname: target });
      };
    }
    if (!st.isFile()) throw new Error(`cannot copy ${src}: unsupported file type`);
    const mode = opts.chmod ? opts.chmod(st.mode & 0o7777, false) : st.mode & 0o7777;
    const known: KnownEntry = { type: 'file', mode, uid: owner.uid, gid: owner.gid, mtimeMs: st.mtime.getTime(), size: st.size };
    this.view.upper.set(rel, { type: 'file' });
    if (this.linkEarlierCopy(src, st, rel, known)) {
      record(known);
      return null;
    }
    return async () => {
      // copyFile gives the copy the source's mode (fchmod); chown and chmod only when they change something.
      await fsp.copyFile(src, abs);
      if (!sameOwner) await fsp.lchown(abs, owner.uid, owner.gid);
      if (!sameOwner || mode !== (st.mode & 0o7777)) await fsp.chmod(abs, mode); // chown clears setuid/setgid
      await fsp.utimes(abs, st.atime, st.mtime); // Dates, as copyTree: times before 1970 survive
      record(known);
    };
  }

  /**
   * Hard-links the file an earlier COPY made from the same content at the same path, if it is
   * exactly the file this copy would make: creating a file costs far more than a link, and a
   * rebuild after a small change copies mostly what the last one did. Each shared inode sits at
   * one path in every layer holding it, so it is also never twice in a layer.
   */
  private linkEarlierCopy(src: string, st: Stats, rel: string, want: KnownEntry): boolean {
    if (!this.reuse || this.dirs.get(parentOf(rel))!.xattrs) return false;
    const earlier = this.reuse.find(src, st, rel);
    if (earlier === undefined) return false;
    // Recorded only for files written here without xattrs, and layers never change: the
    // metadata check is all it takes. The source's stat is the one it was copied with, so its
    // time went through the same utimes(); the check allows for utimes' sub-millisecond rounding.
    const e = lstatSync(earlier, { throwIfNoEntry: false });
    if (!e?.isFile() || e.size !== want.size || (e.mode & 0o7777) !== want.mode || e.uid !== want.uid || e.gid !== want.gid) return false;
    if (Math.abs(e.mtimeMs - want.mtimeMs) >= 1 || Math.floor(e.mtimeMs / 1000) !== Math.floor(want.mtimeMs / 1000)) return false;
    try {
      linkSync(earlier, this.abs(rel));
      return true;
    } catch {
      return false; // e.g. its layer was just removed: copy instead
    }
  }
}

/**
 * copy-step.ts copySelection's entries, on the upper dir: `root` is the destination directory,
 * already resolved and made (layer-relative). Throws NeedsOverlay before writing anything that
 * the overlay route would write differently.
 */
export async function copyEntriesToUpper(w: UpperWriter, root: string, entries: CopySelection['entries'], opts: CopyOptions, owner: Ownership | undefined): Promise<void> {
  const at = (destRel: string) => (destRel === '.' ? root : root === '' ? destRel : `${root}/${destRel}`);
  // The overlay route follows symlinks below the destination and replaces non-directories with
  // (opaque) directories: leave those cases to it.
  const entryDirs = new Set(entries.filter((e) => e.type === 'dir').map((e) => e.destRel));
  const checked = new Set<string>();
  for (const e of entries) {
    for (let p = posix.dirname(e.destRel); p !== '.' && !checked.has(p); p = posix.dirname(p)) {
      checked.add(p);
      const t = w.view.typeAt(at(p));
      if (t !== null && t !== 'dir') throw new NeedsOverlay(`/${at(p)} is not a directory`);
    }
    const t = w.view.typeAt(at(e.destRel));
    if (e.type === 'dir' ? t !== null && t !== 'dir' : entryDirs.has(e.destRel) || t === 'dir') throw new NeedsOverlay(`/${at(e.destRel)} changes type`);
  }
  // Parents come before children in the list; a parent the ignore rules left out (a directory
  // excluded while a file in it is re-included) or --parents' leading directories are made here.
  const made = new Set<string>(['.']);
  const ensureParent = async (destRel: string) => {
    const parent = posix.dirname(destRel);
    if (!made.has(parent)) {
      await w.mkdirAll('/' + at(parent), owner);
      made.add(parent);
    }
    await w.ensureUpper(at(parent));
  };
  // Directories first, in order, then every file at once: per-file syscalls, not bytes,
  // dominate a large context, so they are overlapped.
  for (const e of entries) {
    if (e.type !== 'dir') continue;
    await ensureParent(e.destRel);
    await w.copyDir(e.abs, at(e.destRel), opts);
    made.add(e.destRel);
  }
  // Two sources landing on one name: the later one wins, as if copied one after the other.
  const files = [...new Map(entries.filter((e) => e.type !== 'dir').map((e) => [e.destRel, e])).values()];
  for (const e of files) await ensureParent(e.destRel);
  // Each file's job is made (stat, record, or a link to an earlier copy) as a worker takes it,
  // so that main-thread work overlaps the copies already running.
  await mapLimit(files, 64, async (e) => {
    const job = w.nonDir(e.abs, at(e.destRel), opts);
    if (job) await job();
  });
}

/** copy-step.ts's single non-directory source to `destPath` (a file name, or an existing directory). */
export async function copySingleToUpper(w: UpperWriter, src: string, name: string, destPath: string, opts: CopyOptions, owner: Ownership | undefined): Promise<void> {
  const dest = w.view.typeAt(w.view.resolve(destPath)) === 'dir' ? posix.join(destPath, posix.basename(name)) : destPath;
  await w.mkdirAll(posix.dirname(dest), owner);
  const rel = w.view.resolve(dest);
  if (rel === '' || w.view.typeAt(parentOf(rel)) !== 'dir') throw new NeedsOverlay(`no directory for ${dest}`);
  w.checkNonDir(rel);
  await w.ensureUpper(parentOf(rel));
  await w.nonDir(src, rel, opts)?.();
}

/** WORKDIR's mkdir -p, in the upper dir (on the overlay when NeedsOverlay: it reports the error). */
export async function makeWorkdir(snap: Snapshot, dir: string, user?: string): Promise<void> {
  const view = new MergedView(snap.lower);
  // BuildKit makes the directories for the stage's USER, so that user can write there.
  const owner = user ? await resolveOwner(view, snap.upper, user) : undefined;
  try {
    await new UpperWriter(view, snap.upper).mkdirAll(dir, owner);
  } catch (e) {
    if (!(e instanceof NeedsOverlay)) throw e;
    await mkdirAll(snap.mount(), dir, owner);
  }
}
