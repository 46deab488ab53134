// The merged view of a step's root filesystem, computed from its layer directories instead of a
// mounted overlay: lets COPY write straight into the step's new upper dir (no mount, no umount,
// no overlayfs on every file write). Lookups follow overlayfs' rules for kiln's layer form (see
// layers/apply.ts): the topmost layer holding a name wins, a 0/0 character device (whiteout) hides
// the name below, a directory merges with the directories below it unless it is opaque, and a
// non-directory hides everything below it. Layers built with redirect_dir=off and metacopy=off
// (every kiln layer) have no redirects or metacopy files to follow.
import { lstatSync, readlinkSync, type Stats } from 'node:fs';
import { join, posix } from 'node:path';
import { readFile } from 'node:fs/promises';
import { isOpaqueDir } from '../layers/pack.js';
import { resolveUserFrom } from '../runtime/user.js';
import { resolveScoped } from '../runtime/paths.js';

export type MergedType = 'dir' | 'file' | 'symlink' | 'other';

export interface LowerEntry {
  type: MergedType;
  /** Host path of the entry in the topmost layer that has it (what the overlay shows). */
  abs: string;
  st: Stats;
  /** For a directory: its directory in each layer it merges, top first. */
  dirs: string[];
}

/** What the step itself created in its upper dir (a directory, or a file or symlink). */
export interface UpperEntry {
  type: MergedType;
  linkTarget?: string;
}

const typeOf = (st: Stats): MergedType => (st.isDirectory() ? 'dir' : st.isFile() ? 'file' : st.isSymbolicLink() ? 'symlink' : 'other');


export class MergedView {
  private readonly lowerCache = new Map<string, LowerEntry | null>();
  /** Paths (layer-relative, no leading slash) the step has created in its upper dir. */
  readonly upper = new Map<string, UpperEntry>();

  /** `lowers`: the parent's layer directories, top first. */
  constructor(private readonly lowers: string[]) {}

  /** The lower layers' merged entry at `rel` ('' is the root), symlinks not followed. */
  lower(rel: string): LowerEntry | null {
    const hit = this.lowerCache.get(rel);
    if (hit !== undefined) return hit;
    let found: LowerEntry | null = null;
    if (rel === '') {
      found = this.lowers.length ? { type: 'dir', abs: this.lowers[0]!, st: lstatSync(this.lowers[0]!), dirs: this.lowers } : null;
    } else {
      const parent = this.lower(posix.dirname(rel) === '.' ? '' : posix.dirname(rel));
      const name = posix.basename(rel);
      if (parent?.type === 'dir') {
        for (const d of parent.dirs) {
          const abs = join(d, name);
          const st = lstatSync(abs, { throwIfNoEntry: false });
          if (!st) continue;
          if (st.isCharacterDevice() && st.rdev === 0) break; // whiteout
          if (!st.isDirectory()) {
            found ??= { type: typeOf(st), abs, st, dirs: [] };
            break; // a non-directory hides everything below it
          }
          if (found === null) found = { type: 'dir', abs, st, dirs: [abs] };
          else found.dirs.push(abs);
          if (isOpaqueDir(abs)) break;
        }
      }
    }
    this.lowerCache.set(rel, found);
    return found;
  }

  /** Type of the merged entry at `rel` (upper over lower), symlinks not followed; null if none. */
  typeAt(rel: string): MergedType | null {
    return this.upper.get(rel)?.type ?? this.lower(rel)?.type ?? null;
  }

  private readlink(rel: string): string {
    const u = this.upper.get(rel);
    return u ? u.linkTarget! : readlinkSync(this.lower(rel)!.abs);
  }

  /**
   * `path` (absolute in the container) with every symlink resolved within the root, as
   * runtime/paths.ts resolveInRoot does on a mounted root: the layer-relative result ('' = root).
   */
  resolve(path: string, opts: { followLast?: boolean } = {}): string {
    return resolveScoped(path, (segments) => {
      const rel = segments.join('/');
      return this.typeAt(rel) === 'symlink' ? this.readlink(rel) : undefined;
    }, opts).join('/');
  }

  /** Host path of the file the merged view shows at `path` (symlinks followed), or null. */
  hostPath(path: string, upperDir: string): string | null {
    const rel = this.resolve(path);
    if (this.upper.has(rel)) return join(upperDir, rel);
    return this.lower(rel)?.abs ?? null;
  }
}

/**
 * A `user[:group]` (COPY --chown, or the USER a WORKDIR is made for) as uid/gid, looked up in the
 * /etc/passwd and /etc/group the step sees; numeric ids need no files.
 */
export async function resolveOwner(view: MergedView, upper: string, spec: string): Promise<{ uid: number; gid: number }> {
  const read = async (p: string) => {
    try {
      const abs = view.hostPath(p, upper);
      return abs === null ? undefined : await readFile(abs, 'utf8');
    } catch {
      return undefined;
    }
  };
  // `user` alone means user:its primary group (Docker).
  const u = resolveUserFrom(spec, await read('/etc/passwd'), await read('/etc/group'));
  return { uid: u.uid, gid: u.gid };
}
