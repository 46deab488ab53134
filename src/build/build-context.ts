// The build context of one build: the directory, its .dockerignore (or <Dockerfile>.dockerignore
// beside the Dockerfile), the files it lets through (walked once, lazily), and the selection of
// COPY/ADD sources with their content hashes for the cache key, and what RUN --mount=type=bind
// sees of it.
import { createHash } from 'node:crypto';
import { dirname, join } from 'node:path';
import type { Engine } from '../engine.js';
import { createIgnoreMatcher, type IgnoreMatcher } from '../dockerfile/dockerignore.js';
import { ignoreFileCandidates, resolveIgnoreFile } from '../dockerfile/ignore-file.js';
import { stampOf, stampsOf, type FileStamp } from './replay-record.js';
import { selectSources } from '../dockerfile/context-select.js';
import { chmodSync, copyFileSync, linkSync, mkdirSync, rmSync, statSync, symlinkSync, type Stats } from 'node:fs';
import { ContentHashCache, walkContext, type ContextEntry, type EntryType } from './context.js';
import type { SourceHash } from './cache-key.js';
import { mapLimit } from '../util/concurrency.js';

export interface CopyTop {
  abs: string;
  /** Where it lands relative to the destination ('' for a directory's contents). */
  destRel: string;
  type: EntryType;
}

export interface CopyEntry {
  abs: string;
  destRel: string;
  type: EntryType;
  /** A top-level archive (ADD extracts it instead of copying). */
  isTopArchive?: boolean;
  /** --parents: the entry's parent directories must be created first. */
  parentsToCreate?: boolean;
}

export interface CopySelection {
  tops: CopyTop[];
  /** Every entry to copy, parents before children. */
  entries: CopyEntry[];
  hashes: SourceHash[];
}

export class BuildContext {
  private entries?: Promise<ContextEntry[]>;
  private byPath?: Map<string, ContextEntry>;
  private readonly hashCache: ContentHashCache;
  readonly root: string;

  private readonly layersDir: string;
  private filtered?: Promise<string>;
  private filteredDir?: string;

  constructor(private readonly engine: Engine, root: string, private readonly dockerfilePath: string) {
    this.root = root;
    this.layersDir = engine.layers.layersDir;
    const dir = join(engine.root, 'build', 'context-hashes');
    mkdirSync(dir, { recursive: true });
    this.hashCache = new ContentHashCache(join(dir, `${createHash('sha256').update(root).digest('hex').slice(0, 32)}.json`));
  }

  /** How the ignore files (or their absence) and the context directory looked before they were read. */
  private readStamps?: FileStamp[];
  /** Excluded directories the walk entered (for what `!` patterns may let through in them). */
  private readonly excludedDirs: ContextEntry[] = [];

  private rules?: Promise<IgnoreMatcher | null>;

  /** .dockerignore rules (read once per build): `<Dockerfile>.dockerignore` next to the Dockerfile wins over the context's. */
  private ignore(): Promise<IgnoreMatcher | null> {
    this.rules ??= (async () => {
      this.readStamps = [...ignoreFileCandidates(this.dockerfilePath, this.root).map(stampOf), ...stampsOf(this.root)];
      const f = await resolveIgnoreFile(this.dockerfilePath, this.root);
      return f ? createIgnoreMatcher(f.patterns) : null;
    })();
    return this.rules;
  }

  private async list(): Promise<ContextEntry[]> {
    this.entries ??= this.ignore()
      .then((ig) => walkContext(this.root, ig, this.excludedDirs))
      .then((es) => {
        this.byPath = new Map(es.map((e) => [e.path, e]));
        return es;
      });
    return this.entries;
  }

  /**
   * What of the context this build read, as it looked before reading (build/replay-record.ts):
   * nothing when no step used the context; else the ignore files, the directory, and every entry
   * the walk listed (each stat taken before the entry was hashed or copied). A directory's ctime
   * moves when an entry is added, removed or renamed in it, so new files show too.
   */
  async stamps(): Promise<FileStamp[]> {
    if (!this.entries) return [];
    const entries = await this.entries;
    const abs = (p: string) => join(this.root, p);
    return [...this.readStamps!, ...[...entries, ...this.excludedDirs].map((e): FileStamp => [abs(e.path), e.ino, e.size, e.mtimeMs, e.ctimeMs, e.mode])];
  }

  /**
   * Resolves COPY/ADD sources against the context with the front end's selection rules
   * (wildcards, a directory meaning its contents, --exclude, --parents) and hashes the result.
   */
  async selectForCopy(sources: string[], opts: { exclude: string[]; parents: boolean }): Promise<CopySelection> {
    const all = await this.list();
    const byPath = this.byPath!;
    const { matches } = selectSources(
      all.map((e) => ({ path: e.path, type: e.type, target: e.linkTarget })),
      sources,
      { exclude: opts.exclude, parents: opts.parents },
    );
    // A wildcard that matches nothing is allowed by BuildKit's LLB but not by `docker build`.
    if (!matches.some((m) => m.root)) throw new Error('no source files were specified');
    const abs = (p: string) => (p === '.' ? this.root : join(this.root, p));
    const tops: CopyTop[] = [];
    const entries: CopyEntry[] = [];
    for (const m of matches) {
      if (m.root) tops.push({ abs: abs(m.path), destRel: m.destRel, type: m.type });
      // A selected directory stands for its contents: its own entry is not copied.
      if (m.root && m.type === 'dir' && !opts.parents) continue;
      if (m.destRel === '') continue;
      entries.push({ abs: abs(m.path), destRel: m.destRel, type: m.type, isTopArchive: m.root && m.type === 'file', parentsToCreate: opts.parents });
    }
    // Remembered hashes (nearly all of them on a rebuild) are taken without a promise each.
    await this.hashCache.load();
    const hashes = new Array<SourceHash>(entries.length);
    const toHash: number[] = [];
    entries.forEach((e, i) => {
      const ce = byPath.get(e.abs.slice(this.root.length + 1));
      const hash = ce ? this.hashCache.remembered(ce) : '';
      if (hash === undefined) toHash.push(i);
      else hashes[i] = { path: e.destRel, mode: ce?.mode ?? 0, hash: `${e.type}:${hash}` };
    });
    await mapLimit(toHash, 32, async (i) => {
      const e = entries[i]!;
      const ce = byPath.get(e.abs.slice(this.root.length + 1))!;
      hashes[i] = { path: e.destRel, mode: ce.mode, hash: `${e.type}:${await this.hashCache.hash(this.root, ce)}` };
    });
    hashes.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    return { tops, entries, hashes };
  }

  /**
   * Hard links instead of copies: the file an earlier COPY made from the current content of
   * context file `abs` (stat `st`, taken when it is copied) at `layerRel` in its layer, and
   * remembering new copies. Layer directories never change once made, so another layer may share
   * the file; at the same path only, so an image (whose overlay shows one layer's file per path)
   * never shows one inode under two names.
   */
  readonly copies = {
    find: (abs: string, st: Stats, layerRel: string): string | undefined => {
      const loc = this.hashCache.copyOf(this.rel(abs), st, layerRel);
      return loc === undefined ? undefined : join(this.layersDir, loc);
    },
    remember: (abs: string, st: Stats, layerFile: string): void => {
      const loc = layerFile.startsWith(this.layersDir + '/') ? layerFile.slice(this.layersDir.length + 1) : '';
      if (/^[0-9a-f]{64}\/diff\//.test(loc)) this.hashCache.rememberCopy(this.rel(abs), st, loc);
    },
  };

  /**
   * The context as RUN --mount=type=bind sees it: what .dockerignore lets through, as BuildKit
   * sends it. Without ignore rules, the directory itself; with them, a tree made once per build
   * of hard links to the context's files (copies across filesystems), symlinks and directories.
   * Mounts of it are read-only or under an overlay, so the context's files are never written.
   */
  async mountView(): Promise<string> {
    this.filtered ??= this.ignore().then(async (ig) => {
      if (!ig) return this.root;
      const dir = (this.filteredDir = this.engine.tmpDir('context-view-'));
      chmodSync(dir, statSync(this.root).mode & 0o7777);
      for (const e of await this.list()) {
        const src = join(this.root, e.path);
        const dst = join(dir, e.path);
        if (e.type === 'dir') {
          mkdirSync(dst, { recursive: true });
          chmodSync(dst, e.mode & 0o7777);
          continue;
        }
        // An ignored directory with a re-included file (`!dir/keep`) is made for the file.
        mkdirSync(dirname(dst), { recursive: true });
        if (e.type === 'symlink') symlinkSync(e.linkTarget!, dst);
        else {
          try {
            linkSync(src, dst);
          } catch (err) {
            if (!['EXDEV', 'EPERM', 'EMLINK'].includes((err as NodeJS.ErrnoException).code ?? '')) throw err;
            copyFileSync(src, dst);
            chmodSync(dst, e.mode & 0o7777);
          }
        }
      }
      return dir;
    });
    return this.filtered;
  }

  private rel(abs: string): string {
    return abs.slice(this.root.length + 1);
  }

  async close(): Promise<void> {
    if (this.filteredDir) rmSync(this.filteredDir, { recursive: true, force: true });
    await this.hashCache.save();
  }
}
