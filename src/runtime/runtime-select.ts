// Which OCI runtime runs a container, and how to launch it on this host. crun starts a container in
// about a third of runc's time (machine-notes §2), so it is the default wherever it is installed
// and the host's cgroup layout lets it run; runc is the fallback, and `--runtime` or KILN_RUNTIME
// picks one by name. Each runtime keeps its state under its own root, so a container is driven by
// the runtime that holds it (runtimeHolding), whatever the default is today.
import { accessSync, constants as fsConstants, existsSync, mkdirSync, readFileSync, renameSync, statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { findOnPath } from '../util/which.js';

export type RuntimeName = 'runc' | 'crun';
export const RUNTIME_NAMES: readonly RuntimeName[] = ['crun', 'runc'];

export interface OciRuntime {
  name: RuntimeName;
  /** the runtime binary (absolute path) for the lifecycle commands: state, start, kill, exec… */
  binary: string;
  /** what runs `create` and `run`: the binary, or crun's hybrid-cgroup wrapper (below) */
  launcher: string;
  /** the runtime's --root state directory (tmpfs: gone after a reboot, like the containers) */
  root: string;
}

const STATE_DIR = '/run/kiln';
const CGROUP_ROOT = '/sys/fs/cgroup';
const UNIFIED_CONTROLLERS = join(CGROUP_ROOT, 'unified', 'cgroup.controllers');
const CGROUP2_SUPER_MAGIC = 0x63677270;

export function runtimeRoot(name: RuntimeName): string {
  return join(STATE_DIR, name);
}

export function isRuntimeName(s: string): s is RuntimeName {
  return (RUNTIME_NAMES as readonly string[]).includes(s);
}

/**
 * crun (1.8) refuses a hybrid cgroup layout (v1 controllers, plus a v2 tree at /sys/fs/cgroup/unified)
 * whenever that tree has controllers of its own, before any cgroup-manager choice is made. On such a
 * host it runs in a private mount namespace where that file reads empty: the host sees no change,
 * the v1 limits all apply, and only v2-only controllers (hugetlb here) are out of reach.
 */
function needsHybridWrapper(): boolean {
  try {
    if (statfsSync(CGROUP_ROOT).type === CGROUP2_SUPER_MAGIC) return false; // pure v2: crun is at home
    if (statfsSync(join(CGROUP_ROOT, 'unified')).type !== CGROUP2_SUPER_MAGIC) return false; // pure v1
    return readFileSync(UNIFIED_CONTROLLERS, 'utf8').trim() !== '';
  } catch {
    return false;
  }
}

const EMPTY_FILE = join(STATE_DIR, 'empty');
const WRAPPER = join(STATE_DIR, 'crun-hybrid');

/**
 * The wrapper as a script, so conmon can run it as its runtime too (`-r`). With busybox (static,
 * installed for the base image) as both shells and the mount, it costs ~3 ms; dash and
 * util-linux's mount ~8 ms.
 */
function wrapperScript(crun: string, unshare: string, busybox: string | undefined): string {
  const shell = busybox ? `${busybox} sh` : '/bin/sh';
  const mount = busybox ? `${busybox} mount -o bind` : 'mount --bind';
  return [
    `#!${shell}`,
    '# Written by kiln: crun in a private mount namespace where the unified cgroup tree lists no',
    '# controllers, so crun accepts this hybrid cgroup layout (see src/runtime/runtime-select.ts).',
    // slave: mounts the host makes later (volumes, propagation) still reach the container; ours stay here
    `exec ${unshare} --mount --propagation slave -- ${shell} -c '${mount} ${EMPTY_FILE} ${UNIFIED_CONTROLLERS} && exec "$0" "$@"' ${crun} "$@"`,
    '',
  ].join('\n');
}

function ensureWrapper(crun: string, unshare: string): string {
  const text = wrapperScript(crun, unshare, findOnPath('busybox'));
  try {
    if (readFileSync(WRAPPER, 'utf8') === text && existsSync(EMPTY_FILE)) return WRAPPER;
  } catch {
    /* not written yet (a fresh boot) */
  }
  mkdirSync(STATE_DIR, { recursive: true });
  writeFileSync(EMPTY_FILE, '', { mode: 0o444 });
  const tmp = `${WRAPPER}.${process.pid}`;
  writeFileSync(tmp, text, { mode: 0o755 });
  renameSync(tmp, WRAPPER); // atomic: a concurrent kiln never runs half a script
  return WRAPPER;
}

/**
 * Whether `name` can run here, and how to launch it: looked at once per process (PATH lookups,
 * the cgroup layout, crun's wrapper written and checked), however often a command asks.
 */
const probed = new Map<RuntimeName, OciRuntime | { why: string }>();
function probe(name: RuntimeName): OciRuntime | { why: string } {
  let p = probed.get(name);
  if (!p) probed.set(name, (p = probeNow(name)));
  return p;
}

function probeNow(name: RuntimeName): OciRuntime | { why: string } {
  const binary = findOnPath(name);
  if (!binary) return { why: `${name} is not installed (not found on PATH)` };
  let launcher = binary;
  if (name === 'crun' && needsHybridWrapper()) {
    const unshare = findOnPath('unshare');
    if (!unshare || !findOnPath('mount')) return { why: 'crun needs unshare(1) and mount(1) on this hybrid cgroup layout' };
    try {
      launcher = ensureWrapper(binary, unshare);
      // access(2) also refuses to execute from a filesystem mounted noexec (some hosts mount /run so)
      accessSync(launcher, fsConstants.X_OK);
    } catch (e) {
      return { why: `crun's wrapper for this hybrid cgroup layout cannot run from ${STATE_DIR}: ${(e as Error).message}` };
    }
  }
  return { name, binary, launcher, root: runtimeRoot(name) };
}

/** Why `name` cannot run containers here, or undefined when it can. */
export function runtimeUnavailable(name: RuntimeName): string | undefined {
  const p = probe(name);
  return 'why' in p ? p.why : undefined;
}

/** The runtime new containers get: KILN_RUNTIME if set, else crun where it can run, else runc. */
export function defaultRuntimeName(): RuntimeName {
  const env = process.env.KILN_RUNTIME;
  if (env) {
    if (!isRuntimeName(env)) throw new Error(`KILN_RUNTIME: unknown runtime "${env}" (kiln knows ${RUNTIME_NAMES.join(', ')})`);
    return env;
  }
  return runtimeUnavailable('crun') === undefined ? 'crun' : 'runc';
}

/** The runtime called `name`, ready to launch; throws when it cannot run here. */
export function ociRuntime(name: RuntimeName = defaultRuntimeName()): OciRuntime {
  const p = probe(name);
  if ('why' in p) throw new Error(`OCI runtime ${name}: ${p.why}`);
  return p;
}

/** The runtime whose state holds container `id` (it created it and has not deleted it yet). */
export function runtimeHolding(id: string): RuntimeName | undefined {
  for (const name of RUNTIME_NAMES) if (existsSync(join(runtimeRoot(name), id))) return name;
  return undefined;
}
