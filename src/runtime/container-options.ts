// What the create flags mean, parsed: restart policies, --add-host, --expose, --device, and the
// environment merge. Pure but for --device (it reads the host's device node).
import { lstatSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { major, minor } from '../sys/fs.js';
import type { HostsEntry } from './network.js';
import { cleanContainerPath } from './paths.js';
import type { DeviceMapping } from './spec.js';
import type { RestartPolicy } from './containers.js';

export function parseRestartPolicy(s: string | undefined): RestartPolicy {
  if (!s || s === 'no') return { name: 'no', maximumRetryCount: 0 };
  const [name, count] = s.split(':');
  if (name === 'always' || name === 'unless-stopped') {
    if (count !== undefined) throw new Error(`maximum retry count cannot be used with restart policy '${name}'`);
    return { name, maximumRetryCount: 0 };
  }
  if (name === 'on-failure') {
    const n = count === undefined ? 0 : Number(count);
    if (!Number.isInteger(n) || n < 0) throw new Error(`invalid restart policy format: ${s}`);
    return { name, maximumRetryCount: n };
  }
  throw new Error(`invalid restart policy format: ${s}`);
}

export function parseAddHost(spec: string): HostsEntry {
  const i = spec.indexOf(':');
  const j = spec.indexOf('=');
  const at = j > 0 ? j : i;
  if (at <= 0) throw new Error(`invalid argument "${spec}" for "--add-host" flag: bad format for add-host: "${spec}"`);
  let ip = spec.slice(at + 1);
  if (ip === 'host-gateway') ip = '10.213.0.1';
  return { ip, names: [spec.slice(0, at)] };
}

/** `--expose 80`, `--expose 53/udp`, `--expose 8000-8002`: the ExposedPorts keys. */
export function exposeKeys(spec: string): string[] {
  const m = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/i.exec(spec.trim());
  if (!m) throw new Error(`invalid range format for --expose: ${spec}`);
  const a = Number(m[1]);
  const b = m[2] === undefined ? a : Number(m[2]);
  if (a < 1 || b > 65535 || b < a) throw new Error(`invalid range format for --expose: ${spec}`);
  const proto = (m[3] ?? 'tcp').toLowerCase();
  return Array.from({ length: b - a + 1 }, (_, i) => `${a + i}/${proto}`);
}

/** /dev entries a privileged container does not get from the host (runc's HostDevices rule). */
const HOST_DEVICES_SKIPPED = new Set(['pts', 'shm', 'fd', 'mqueue', '.lxc', '.lxd-mounts', '.udev', 'console']);

/**
 * Every device node under the host's /dev, at the same path, for `--privileged` (Docker gives such
 * a container all of them); pseudo-terminals, /dev/shm, /dev/mqueue and the console stay the
 * container's own.
 */
export function hostDevices(dir = '/dev'): DeviceMapping[] {
  const out: DeviceMapping[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of names.sort()) {
    if (HOST_DEVICES_SKIPPED.has(name)) continue;
    const path = join(dir, name);
    let st;
    try {
      st = lstatSync(path);
    } catch {
      continue; // gone meanwhile
    }
    if (st.isDirectory()) out.push(...hostDevices(path));
    else if (st.isCharacterDevice() || st.isBlockDevice()) {
      out.push({ hostPath: path, path, type: st.isCharacterDevice() ? 'c' : 'b', major: major(st.rdev), minor: minor(st.rdev), fileMode: st.mode & 0o7777, access: 'rwm' });
    }
  }
  return out;
}

/** `--device /dev/fuse`, `--device /dev/sda:/dev/xvda:r`: the host device node and its numbers. */
export function parseDeviceSpec(spec: string): DeviceMapping {
  const parts = spec.split(':');
  const host = parts[0]!;
  let container = host;
  let access = 'rwm';
  if (parts.length === 2) {
    if (/^[rwm]+$/.test(parts[1]!)) access = parts[1]!;
    else container = parts[1]!;
  } else if (parts.length === 3) {
    container = parts[1]!;
    access = parts[2]!;
  } else if (parts.length > 3) throw new Error(`invalid device specification: ${spec}`);
  if (!/^[rwm]+$/.test(access)) throw new Error(`invalid device mode: ${access}`);
  if (!host.startsWith('/') || !container.startsWith('/')) throw new Error(`invalid device specification: ${spec} (absolute paths needed)`);
  let st;
  try {
    st = statSync(host);
  } catch {
    throw new Error(`error gathering device information while adding custom device "${host}": no such file or directory`);
  }
  if (!st.isCharacterDevice() && !st.isBlockDevice()) throw new Error(`error gathering device information while adding custom device "${host}": not a device node`);
  return {
    hostPath: host,
    path: cleanContainerPath(container),
    type: st.isCharacterDevice() ? 'c' : 'b',
    major: major(st.rdev),
    minor: minor(st.rdev),
    fileMode: st.mode & 0o7777,
    access,
  };
}

/** Docker's env merge: later KEY=… replaces earlier; a bare KEY takes the host's value if set. */
export function mergeEnv(base: readonly string[], extra: readonly string[]): string[] {
  const out = [...base];
  for (const e of extra) {
    let kv = e;
    if (!e.includes('=')) {
      if (process.env[e] === undefined) continue;
      kv = `${e}=${process.env[e]}`;
    }
    const key = kv.slice(0, kv.indexOf('='));
    const at = out.findIndex((x) => x.slice(0, x.indexOf('=')) === key || x === key);
    if (at >= 0) out[at] = kv;
    else out.push(kv);
  }
  return out;
}
