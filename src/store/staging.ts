// Staging under <root>/tmp: every entry's name carries its owner (pid + process start time), so a
// sweep removes exactly what crashed processes left behind and never another live command's work.
// Removal is mount-aware: a crashed build may leave an overlay or bind mount inside its staging
// dir, and a recursive delete must never walk into a mount (it could be a user's bind-mounted dir).
import { randomHex } from '../util/random.js';
import { lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmdirSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { MNT_DETACH, umount2 } from '../sys/mount.js';

function startTimeOf(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22 (starttime); the comm field (2) may contain spaces, so count after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return rest[19] ?? null;
  } catch {
    return null;
  }
}

let ownToken: string | undefined;
/** This process's owner token: `<pid>_<starttime>`. */
export function ownerToken(): string {
  ownToken ??= `${process.pid}_${startTimeOf(process.pid) ?? '0'}`;
  return ownToken;
}

const TOKEN_RE = /\.(\d+)_(\d+)\./;

/** A fresh, unique staging name: `<prefix>.<owner>.<random>`. */
export function stagingName(prefix: string): string {
  const clean = prefix.replace(/[^A-Za-z0-9_-]/g, '') || 'tmp';
  return `${clean}.${ownerToken()}.${randomHex(6)}`;
}

/** True when the process that made this staging name is still running. */
export function ownerAlive(name: string): boolean {
  const m = TOKEN_RE.exec(name);
  if (!m) return false;
  const start = startTimeOf(Number(m[1]));
  return start !== null && start === m[2];
}

/** Mount points at or under `dir`, deepest first (from /proc/self/mountinfo). */
export function mountsUnder(dir: string): string[] {
  const root = resolve(dir);
  const out: string[] = [];
  let info: string;
  try {
    info = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return out;
  }
  for (const line of info.split('\n')) {
    const f = line.split(' ');
    if (f.length < 5) continue;
    const mp = f[4]!.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    if (mp === root || mp.startsWith(root + '/')) out.push(mp);
  }
  return out.sort((a, b) => b.length - a.length);
}

/**
 * Removes a directory tree that may contain mounts: unmounts them (detached) first, then deletes
 * without crossing into any other filesystem. Missing paths are fine.
 */
export function removeTree(path: string): void {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return;
  }
  for (const mp of mountsUnder(path)) {
    try {
      umount2(mp, MNT_DETACH);
    } catch {
      /* already gone */
    }
  }
  if (!st.isDirectory()) {
    rmSync(path, { force: true });
    return;
  }
  removeSameDevice(path, st.dev);
}

function removeSameDevice(dir: string, dev: number): void {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    let st;
    try {
      st = lstatSync(p);
    } catch {
      continue;
    }
    if (st.dev !== dev) throw new Error(`refusing to delete ${p}: it is on another filesystem (a mount that could not be removed)`);
    if (st.isDirectory()) removeSameDevice(p, dev);
    else rmSync(p, { force: true });
  }
  rmdirSync(dir);
}

/** Renames `path` into tmp under a staging name (atomic); null if it does not exist. */
export function stage(path: string, tmpDir: string, prefix = 'gc'): string | null {
  const dest = join(tmpDir, stagingName(prefix));
  try {
    renameSync(path, dest);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  return dest;
}

/** Deletes `path` by first renaming it into tmp (atomic), then removing it. */
export function retire(path: string, tmpDir: string, prefix = 'gc'): void {
  const dest = stage(path, tmpDir, prefix);
  if (dest) removeTree(dest);
}

/** Removes staging entries whose owner is gone (and unowned ones older than `maxAgeMs`). */
export function sweepStaging(tmpDir: string, maxAgeMs = 3600_000): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(tmpDir);
  } catch {
    return removed;
  }
  const now = Date.now();
  for (const name of names) {
    const p = join(tmpDir, name);
    if (TOKEN_RE.test(name)) {
      if (ownerAlive(name)) continue;
    } else {
      try {
        if (now - statSync(p).mtimeMs < maxAgeMs) continue;
      } catch {
        continue;
      }
    }
    try {
      removeTree(p);
      removed.push(name);
    } catch {
      /* leave it for the next sweep */
    }
  }
  return removed;
}

export function ensureDir(p: string): void {
  mkdirSync(p, { recursive: true });
}
