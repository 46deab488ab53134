// USER resolution against a root filesystem's /etc/passwd and /etc/group, with Docker's rules
// (moby/sys/user GetExecUser): "name", "uid", "name:group", "uid:gid", any mix.
//  - a numeric user is a uid even when no passwd entry names it (then gid 0, home /);
//  - a user name must be in /etc/passwd: "unable to find user X: no matching entries in passwd file";
//  - a group name must be in /etc/group; a numeric group is used as is;
//  - supplementary groups come from /etc/group membership, and only when no group was given.
// The files are read through the rootfs without following symlinks out of it.
import { readFileSync } from 'node:fs';
import { resolveInRoot } from './paths.js';

export interface ResolvedUser {
  uid: number;
  gid: number;
  additionalGids: number[];
  home: string;
  /** the passwd name, when an entry matched */
  name?: string;
}

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

const MAX_ID = 2 ** 31 - 1;

function parseId(s: string): number | undefined {
  if (!/^\d+$/.test(s)) return undefined;
  const n = Number(s);
  return n <= MAX_ID ? n : undefined;
}

export function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const line of text.split('\n')) {
    const l = line.trim();
    if (!l || l.startsWith('#')) continue;
    const f = l.split(':');
    const uid = parseId(f[2] ?? '');
    const gid = parseId(f[3] ?? '');
    if (uid === undefined || gid === undefined) continue;
    out.push({ name: f[0]!, uid, gid, home: f[5] || '/' });
  }
  return out;
}

export function parseGroup(text: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const line of text.split('\n')) {
    const l = line.trim();
    if (!l || l.startsWith('#')) continue;
    const f = l.split(':');
    const gid = parseId(f[2] ?? '');
    if (gid === undefined) continue;
    out.push({ name: f[0]!, gid, members: (f[3] ?? '').split(',').map((s) => s.trim()).filter(Boolean) });
  }
  return out;
}

/** Resolve `spec` given the texts of passwd and group (undefined = file missing). */
export function resolveUserFrom(spec: string, passwd: string | undefined, group: string | undefined): ResolvedUser {
  const [userArg = '', groupArg = ''] = splitOnce(spec.trim(), ':');
  const out: ResolvedUser = { uid: 0, gid: 0, additionalGids: [], home: '/' };
  const users = passwd === undefined ? [] : parsePasswd(passwd);
  const uidArg = parseId(userArg);

  if (userArg === '') {
    // No user: root, but pick up root's passwd entry (home) if there is one.
    const root = users.find((u) => u.uid === 0);
    if (root) Object.assign(out, { uid: 0, gid: root.gid, home: root.home, name: root.name });
  } else {
    const match = users.find((u) => (uidArg !== undefined ? u.uid === uidArg : u.name === userArg));
    if (match) Object.assign(out, { uid: match.uid, gid: match.gid, home: match.home, name: match.name });
    else if (uidArg !== undefined) out.uid = uidArg;
    else if (/^\d+$/.test(userArg)) throw new Error(`uids and gids must be in range 0-${MAX_ID}`);
    else throw new Error(`unable to find user ${userArg}: no matching entries in passwd file`);
  }

  if (groupArg !== '' || out.name !== undefined) {
    const groups = group === undefined ? [] : parseGroup(group);
    if (groupArg !== '') {
      // A numeric group is always a gid, entry or not; a name must have an entry.
      const gidArg = parseId(groupArg);
      const named = gidArg === undefined ? groups.find((e) => e.name === groupArg) : undefined;
      if (gidArg !== undefined) out.gid = gidArg;
      else if (named) out.gid = named.gid;
      else if (/^\d+$/.test(groupArg)) throw new Error(`uids and gids must be in range 0-${MAX_ID}`);
      else throw new Error(`unable to find group ${groupArg}: no matching entries in group file`);
    } else {
      out.additionalGids = groups.filter((e) => e.members.includes(out.name!)).map((e) => e.gid);
    }
  }
  return out;
}

/** Resolve a USER value against `<rootfs>/etc/passwd` and `<rootfs>/etc/group`. */
export function resolveUser(rootfs: string, spec: string | undefined): ResolvedUser {
  return resolveUserFrom(spec ?? '', readInRoot(rootfs, '/etc/passwd'), readInRoot(rootfs, '/etc/group'));
}

/**
 * The supplementary groups of a container's process, Docker's way for the container and its
 * execs alike: the user's own (from the image's /etc/group) and the container's --group-add.
 */
export function supplementaryGroups(rootfs: string, user: ResolvedUser, groupAdd: readonly string[] = []): number[] {
  return [...new Set([...user.additionalGids, ...resolveGroups(rootfs, groupAdd)])];
}

/** `--group-add`: GIDs as given, names looked up in `<rootfs>/etc/group` (Docker's error if absent). */
export function resolveGroups(rootfs: string, groups: readonly string[]): number[] {
  if (groups.length === 0) return [];
  const entries = parseGroup(readInRoot(rootfs, '/etc/group') ?? '');
  return groups.map((g) => {
    if (/^\d+$/.test(g)) return Number(g);
    const e = entries.find((x) => x.name === g);
    if (!e) throw new Error(`Unable to find group ${g}: no matching entries in group file`);
    return e.gid;
  });
}

function readInRoot(rootfs: string, path: string): string | undefined {
  try {
    return readFileSync(resolveInRoot(rootfs, path), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    throw e;
  }
}

function splitOnce(s: string, sep: string): [string, string?] {
  const i = s.indexOf(sep);
  return i < 0 ? [s] : [s.slice(0, i), s.slice(i + 1)];
}
