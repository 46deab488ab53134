// A build that found every step in the build cache is recorded, so that the same command run again
// with nothing it depends on changed prints the same result without loading the builder at all
// (bin/kiln.cjs tries cli/replay-build.ts first for `build`): a no-op rebuild then costs Node's
// start and a few stats. Nothing is assumed; a record is used only when all of these still hold:
// - the same kiln bundle, arguments, working directory and the environment variables the build
//   read (SOURCE_DATE_EPOCH, `--build-arg NAME` values taken from the environment);
// - every file the build read looks the same: the Dockerfile, the ignore files (or their absence),
//   the context directory and every entry of it the build listed. Any write to a file or directory
//   changes its ctime, which no tool can set back, so equal stamps mean the same content;
// - the store's generation (store/db.ts, kept by triggers) has not moved: no image, tag, layer or
//   cache entry was added, changed or removed since, so every FROM, cache lookup and tag resolves
//   as it did; and the image's config blob and layer directories are still there.
// A record is written only after a build that changed nothing in the store (so every step was a
// cache hit and nothing was pulled), whose files were all last changed well before it started
// (a change within the same clock tick as a stamp could go unseen, as in git's "racy" files).
import { lstatSync, mkdirSync, readFileSync, realpathSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const REPLAY_VERSION = 1;

/** A path and how it looked (lstat): inode, size, mtime, ctime, permission bits; or null when it did not exist. */
export type FileStamp = [path: string, ino: number, size: number, mtimeMs: number, ctimeMs: number, mode: number] | [path: string, absent: null];

export interface ReplayRecord {
  version: number;
  /** The bundle that recorded it (bin/kiln.cjs's stamp): another kiln may build differently. */
  bundle: string;
  args: string[];
  cwd: string;
  /** Environment variables the build read, and their values then (null: unset). */
  env: Record<string, string | null>;
  generation: number;
  stamps: FileStamp[];
  /** Everything the build wrote to standard output. */
  output: string;
  imageId: string;
  /** The names tagged, as the `image tag` events show them. */
  tagNames: string[];
  /** Files the image needs (its config blob, its layer directories): a cache lookup checks them too. */
  present: string[];
  /** The cache entries the build used: replays refresh their last use, as a build would (below). */
  cacheKeys: string[];
  /** When their last use was last refreshed (ms since the epoch). */
  touchedMs: number;
  iidfile?: string;
}

/** What a replay is checked against: this process. */
export interface ReplayRequest {
  bundle: string;
  args: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
}

/** A file's stamp now. */
export function stampOf(path: string): FileStamp {
  const st = lstatSync(path, { throwIfNoEntry: false });
  // Permission bits as build/context.ts keeps them: a change of type is a new inode anyway.
  return st ? [path, st.ino, st.size, st.mtimeMs, st.ctimeMs, st.mode & 0o7777] : [path, null];
}

/** Stamps of a path and, when it is a symlink (or under one), of what it resolves to. */
export function stampsOf(path: string): FileStamp[] {
  const out = [stampOf(path)];
  let real: string | undefined;
  try {
    real = realpathSync(path);
  } catch {
    /* missing, or a dangling link: its own stamp says so */
  }
  if (real !== undefined && real !== path) out.push(stampOf(real));
  return out;
}

function sameStamp(a: FileStamp, b: FileStamp): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** FNV-1a (32 bits) of the command: a file name only; the record holds the command and is compared. */
function fnv1a(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0');
}

const replayDir = (stateRoot: string) => join(stateRoot, 'build', 'replay');
export const replayFile = (stateRoot: string, cwd: string, args: string[]) => join(replayDir(stateRoot), `${fnv1a(JSON.stringify([cwd, args]))}.json`);

/** Why a record does not apply to this request (checks that need no file system), or null. */
export function requestMismatch(rec: ReplayRecord, req: ReplayRequest): string | null {
  if (rec.version !== REPLAY_VERSION) return 'record format';
  if (rec.bundle !== req.bundle) return 'kiln was rebuilt';
  if (rec.cwd !== req.cwd || rec.args.length !== req.args.length || rec.args.some((a, i) => a !== req.args[i])) return 'another command';
  for (const [k, v] of Object.entries(rec.env)) if ((req.env[k] ?? null) !== v) return `$${k} changed`;
  return null;
}

/** The first stamp that no longer holds, or null. */
export function changedStamp(stamps: FileStamp[], now: (path: string) => FileStamp = stampOf): string | null {
  for (const s of stamps) if (!sameStamp(s, now(s[0]))) return s[0];
  return null;
}

/** The first of `paths` that is gone, or null. */
export function missingPath(paths: string[]): string | null {
  for (const p of paths) if (!lstatSync(p, { throwIfNoEntry: false })) return p;
  return null;
}

/** Whether a file changed so shortly before `sinceMs` that a change right after its stamp might not show. */
export function racyStamps(stamps: FileStamp[], sinceMs: number, marginMs = 1000): boolean {
  return stamps.some((s) => s.length === 6 && s[4] >= sinceMs - marginMs);
}

export function readReplayRecord(file: string): ReplayRecord | null {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as ReplayRecord;
  } catch {
    return null; // none, or torn: the build runs
  }
}

export function writeReplayRecord(stateRoot: string, rec: ReplayRecord): void {
  const file = replayFile(stateRoot, rec.cwd, rec.args);
  mkdirSync(replayDir(stateRoot), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(rec));
  renameSync(tmp, file); // atomic: a reader sees the old record or the new one
}

/**
 * Whether a replay should refresh its cache entries' last use: not on every replay, which would
 * make each one a write to the store, but every few minutes: fine enough for pruning the least
 * recently used.
 */
export const TOUCH_INTERVAL_MS = 10 * 60_000;

/** `builder prune`: the records go with the cache they replay. */
export function removeReplayRecords(stateRoot: string): void {
  rmSync(replayDir(stateRoot), { recursive: true, force: true });
}
