// Containers: start (foreground under `runc run`, detached under conmon), stop, kill, wait,
// restart, pause, update, rm, prune, network connect — without a daemon. Beside it: create
// (container-create.ts, flags parsed in container-options.ts), exec and top (container-exec.ts),
// network joins (container-network.ts), files in and out (container-fs.ts). The database row holds
// what `create` decided and the last state written; the truth about a live container is read
// again on every look (runc's state.json, /proc, the exit file conmon or the foreground `kiln run`
// leaves), so state stays honest when the container dies on its own, conmon is killed, or kiln
// crashes.
//
// Layout: <state>/containers/<id>/{upper,work,merged,init,bundle/config.json,hosts,resolv.conf,
// hostname,ctr.log,persist/exit,persist/oom,lock}. The rootfs is an overlay of the image's layers
// plus a small "init" layer (mount-point stubs, as Docker's -init layer, so they never show in
// diff or commit) with the container's own upper dir; rm removes that dir and nothing else.
import { writeAllSync } from '../util/write-all.js';
import {
  chownSync,
  closeSync,
  existsSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { constants as osConstants } from 'node:os';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { kilnEntry } from '../self.js';
import type { Engine } from '../engine.js';
import type { Digest, HealthConfig } from '../image/types.js';
import { mountOverlay, unmountOverlay } from '../layers/overlay.js';
import type { ContainerRecord } from '../store/db.js';
import { ConflictError, NotFoundError } from '../store/errors.js';
import { retire } from '../store/staging.js';
import { CONMON_SOCKET_DIR, conmonCreate } from './conmon.js';
import { withFileLock } from './lock.js';
import { beginAttach, checkStaticIp, detachNetwork, NETNS_DIR, netnsName, networkName, Networks, type HostsEntry, type PendingAttachment, type PortMapping } from './network.js';
import { resolveInRoot } from './paths.js';
import {
  deleteContainer,
  fastState,
  kill as runtimeKill,
  pause as runtimePause,
  processAlive,
  processStartTime,
  removeCgroup,
  resume as runtimeResume,
  runOnce,
  StartGate,
  start as runtimeStart,
  update as runtimeUpdate,
  RuntimeError,
  startFailureCode,
  writeBundle,
  type RunResult,
  type RuntimeOptions,
} from './oci-runtime.js';
import { ociRuntime, type RuntimeName } from './runtime-select.js';
import { generateSpec, limitResources, type DeviceMapping, type SpecResources, type UlimitOption } from './spec.js';
import type { OciSeccomp, OciSpec } from './oci-spec.js';
import { healthArgv, spawnHealthMonitor, type HealthState } from './health.js';
import { resolveUser, supplementaryGroups } from './user.js';
import { diskUsage, Volumes, type MountRecord } from './volumes.js';
import { hostDevices, parseRestartPolicy } from './container-options.js';
import { attachConnected, attachOne, detachAll, endpointState, joinedNamespace, type ConnectedNetwork, type ConnectTarget, type NetworkState } from './container-network.js';
import { recordEvent } from '../store/event-log.js';

export const ZERO_TIME = '0001-01-01T00:00:00Z';

export type ContainerStatus = 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';

export interface RestartPolicy {
  name: 'no' | 'always' | 'on-failure' | 'unless-stopped';
  maximumRetryCount: number;
}

/** What `create` decided: everything `start` needs to build the OCI config again. */
export interface ContainerConfigRecord {
  image: string;
  imageId: string;
  diffIds: Digest[];
  entrypoint: string[];
  cmd: string[];
  env: string[];
  workingDir: string;
  user: string;
  hostname: string;
  tty: boolean;
  openStdin: boolean;
  labels: Record<string, string>;
  stopSignal: string;
  stopTimeout?: number;
  exposedPorts: string[];
  imageVolumes: string[];
  healthcheck?: HealthConfig;
  mounts: MountRecord[];
  readonlyRootfs: boolean;
  ports: PortMapping[];
  networkMode: string;
  networkAliases: string[];
  extraHosts: HostsEntry[];
  dns: string[];
  dnsSearch: string[];
  resources: SpecResources;
  shmSize?: number;
  ulimits: UlimitOption[];
  capAdd: string[];
  capDrop: string[];
  securityOpt: string[];
  privileged: boolean;
  init: boolean;
  restartPolicy: RestartPolicy;
  autoRemove: boolean;
  sysctls: Record<string, string>;
  /** host namespaces asked for with --pid/--ipc/--uts/--cgroupns host (absent: the container's own) */
  hostNamespaces?: ('pid' | 'ipc' | 'uts' | 'cgroup')[];
  devices?: DeviceMapping[];
  groupAdd?: string[];
  ip?: string;
  dnsOptions?: string[];
  domainname?: string;
  oomScoreAdj?: number;
  /** the OCI runtime that runs it (absent in records from before kiln knew crun: runc) */
  runtime?: RuntimeName;
  /** --annotation: OCI annotations for the runtime */
  annotations?: Record<string, string>;
  /** `network connect`: more networks, in the order they were connected (eth1, eth2…) */
  connectedNetworks?: ConnectedNetwork[];
}

export interface ContainerStateRecord {
  status: ContainerStatus;
  pid: number;
  exitCode: number;
  oomKilled: boolean;
  error: string;
  startedAt: string;
  finishedAt: string;
  restartCount: number;
  /** who watches the running container: conmon (detached) or a foreground `kiln run` */
  monitor?: 'conmon' | 'foreground';
  monitorPid?: number;
  /** the monitor's start time (/proc/<pid>/stat), so a reused pid is not taken for it */
  monitorStart?: number;
  /** stopped with stop/kill/rm: no restart policy applies */
  stoppedByUser?: boolean;
  network?: NetworkState;
  /** Docker's State.Health, for containers with a health check */
  health?: HealthState;
}

export type Container = ContainerRecord<ContainerStateRecord, ContainerConfigRecord>;

export interface ContainerRuntimeOptions extends RuntimeOptions {
  /** host-local IPAM directory (tests) */
  ipamDir?: string;
}

const DEFAULT_STOP_TIMEOUT = 10;

function recordedRuntime(c: Container): RuntimeName {
  return c.config.runtime ?? 'runc';
}

/** A container event for `kiln events`, with Docker's attributes: labels, image, name, and `extra`. */
export function event(engine: Engine, c: Container, action: string, extra: Record<string, string> = {}): void {
  recordEvent(engine.root, 'container', action, c.id, { ...c.config.labels, image: c.config.image, name: c.name, ...extra });
}
const LOST_EXIT = 'the container monitor exited before the container did: its exit status was lost';

// -------------------------------------------------------------------------------------------
// Paths and locks

export function containerPaths(engine: Engine, id: string) {
  // Called many times per command: the directory is joined (normalized) once, the rest appended.
  const dir = join(engine.root, 'containers', id);
  return {
    dir,
    upper: `${dir}/upper`,
    work: `${dir}/work`,
    merged: `${dir}/merged`,
    init: `${dir}/init`,
    bundle: `${dir}/bundle`,
    log: `${dir}/ctr.log`,
    persist: `${dir}/persist`,
    exitFile: `${dir}/persist/exit`,
    oomFile: `${dir}/persist/oom`,
    hosts: `${dir}/hosts`,
    resolvConf: `${dir}/resolv.conf`,
    hostname: `${dir}/hostname`,
    lock: `${dir}/lock`,
  };
}

/** The container's writable layer (its overlay upperdir), for commit. */
export function containerUpperDir(engine: Engine, idOrName: string): string {
  return containerPaths(engine, engine.db.getContainer(idOrName).id).upper;
}

/**
 * The container's lock. Its directory is not made anew: once `rm` has retired it, the container
 * is gone (NotFoundError), and a lock file there would leave an empty directory behind.
 */
async function withLock<T>(engine: Engine, id: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await withFileLock(containerPaths(engine, id).lock, fn, 10, { mkdir: false });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' && (e as NodeJS.ErrnoException).path === containerPaths(engine, id).lock) {
      throw new NotFoundError('container', id);
    }
    throw e;
  }
}

/** undefined instead of NotFoundError: for teardown racing with `rm` elsewhere. */
function unlessGone<T>(p: Promise<T>): Promise<T | undefined> {
  return p.catch((e: unknown) => {
    if (e instanceof NotFoundError) return undefined;
    throw e;
  });
}

/** The record by name, ID or unique prefix, as the database has it (no look at the runtime). */
export function get(engine: Engine, idOrName: string): Container {
  return engine.db.getContainer<ContainerStateRecord, ContainerConfigRecord>(idOrName);
}

function setState(engine: Engine, id: string, patch: Partial<ContainerStateRecord>): Container {
  return engine.db.updateContainer<ContainerStateRecord, ContainerConfigRecord>(id, (cur) => ({
    state: { ...cur.state, ...patch },
  }));
}

// -------------------------------------------------------------------------------------------
// The rootfs: image layers + init layer + the container's upper dir

/** Directories the runtime would create as mount points (files for file binds). */
function mountStubs(c: Container): { path: string; file: boolean }[] {
  const out = [
    { path: '/proc', file: false },
    { path: '/sys', file: false },
    { path: '/dev', file: false },
    { path: '/etc/hosts', file: true },
    { path: '/etc/hostname', file: true },
    { path: '/etc/resolv.conf', file: true },
  ];
  if (c.config.init) out.push({ path: '/sbin/docker-init', file: true });
  for (const m of c.config.mounts) {
    const file = m.type === 'bind' && !!m.source && existsSync(m.source) && !statSync(m.source).isDirectory();
    out.push({ path: m.destination, file });
  }
  return out;
}

/**
 * Docker's "-init" layer: empty mount points the image lacks, made once, below the container's
 * upper dir, so the runtime never writes them into the container's own layer. Parent dirs copy
 * the image's owner, mode and mtime (the topmost dir of a path wins in an overlay).
 */
function ensureInitLayer(engine: Engine, c: Container, lowers: string[]): void {
  const p = containerPaths(engine, c.id);
  if (existsSync(p.init)) return;
  const tmp = p.init + '.tmp';
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  const inImage = (rel: string) => {
    for (const l of lowers) {
      try {
        const st = lstatSync(join(l, rel));
        if (st.isCharacterDevice() && st.rdev === 0) return undefined; // whiteout
        return st;
      } catch {
        /* not in this layer */
      }
    }
    return undefined;
  };
  for (const stub of mountStubs(c)) {
    const parts = stub.path.split('/').filter(Boolean);
    let rel = '';
    for (let i = 0; i < parts.length; i++) {
      rel = rel ? `${rel}/${parts[i]}` : parts[i]!;
      const st = inImage(rel);
      const last = i === parts.length - 1;
      if (st?.isSymbolicLink()) break; // the runtime resolves it in the container; leave it alone
      if (last) {
        if (st) break;
        const target = join(tmp, rel);
        if (existsSync(target)) break;
        if (stub.file) writeFileSync(target, '', { mode: 0o644 });
        else mkdirSync(target, { mode: 0o755 });
      } else if (!existsSync(join(tmp, rel))) {
        mkdirSync(join(tmp, rel), { mode: st ? st.mode & 0o7777 : 0o755 });
        if (st) {
          chownSync(join(tmp, rel), st.uid, st.gid);
          utimesSync(join(tmp, rel), st.atime, st.mtime);
        }
      }
    }
  }
  renameSync(tmp, p.init);
}

function mountRootfs(engine: Engine, c: Container): void {
  const p = containerPaths(engine, c.id);
  if (isMounted(p.merged)) return;
  const lowers = c.config.diffIds.length ? engine.layers.lowerDirs(c.config.diffIds) : [];
  ensureInitLayer(engine, c, lowers);
  mkdirSync(p.merged, { recursive: true });
  mkdirSync(p.work, { recursive: true });
  // A --rm container's writable layer is thrown away: no syncs for it (overlay "volatile"). The
  // kernel refuses to mount such an upper dir again while its marker is there; for a layer that
  // will be deleted anyway (cp from a stopped --rm container) the marker can go.
  const volatile = c.config.autoRemove;
  if (volatile) rmSync(join(p.work, 'work', 'incompat', 'volatile'), { recursive: true, force: true });
  mountOverlay({ lower: [p.init, ...lowers], upper: p.upper, work: p.work, target: p.merged, volatile });
}

function unmountRootfs(engine: Engine, id: string): void {
  const p = containerPaths(engine, id);
  if (!isMounted(p.merged)) return;
  try {
    unmountOverlay(p.merged);
  } catch {
    unmountOverlay(p.merged, { detach: true });
  }
}

export function isMounted(path: string): boolean {
  try {
    const text = readFileSync('/proc/self/mountinfo', 'utf8');
    return text.split('\n').some((l) => l.split(' ')[4] === path);
  } catch {
    return false;
  }
}

/** Mount the rootfs for a look from the host (cp, export, diff on a stopped container). */
export async function withRootfs<T>(engine: Engine, idOrName: string, fn: (merged: string, c: Container) => Promise<T> | T): Promise<T> {
  const c = get(engine, idOrName);
  const p = containerPaths(engine, c.id);
  if (isMounted(p.merged)) return await fn(p.merged, c);
  return withLock(engine, c.id, async () => {
    const mountedHere = !isMounted(p.merged);
    if (mountedHere) mountRootfs(engine, c);
    try {
      return await fn(p.merged, c);
    } finally {
      const now = get(engine, c.id);
      if (mountedHere && !isLive(now.state.status)) unmountRootfs(engine, c.id);
    }
  });
}

/** `builder mount`: the rootfs stays mounted (at its merged dir, returned) after kiln exits. */
export async function mountContainer(engine: Engine, idOrName: string): Promise<string> {
  const c = get(engine, idOrName);
  await withLock(engine, c.id, async () => mountRootfs(engine, c));
  return containerPaths(engine, c.id).merged;
}

/** `builder umount`: undoes mountContainer; a running container keeps its rootfs. */
export async function unmountContainer(engine: Engine, idOrName: string): Promise<void> {
  const c = get(engine, idOrName);
  await withLock(engine, c.id, async () => {
    if (isLive(get(engine, c.id).state.status)) throw new Error(`container ${c.name} is running: its root filesystem stays mounted while it runs`);
    unmountRootfs(engine, c.id);
  });
}

// -------------------------------------------------------------------------------------------
// start

const isLive = (s: ContainerStatus) => s === 'running' || s === 'paused' || s === 'restarting';

function findInitBinary(): string {
  for (const p of ['/usr/bin/tini-static', '/usr/bin/docker-init', '/usr/libexec/docker/docker-init', '/usr/bin/catatonit', '/usr/libexec/podman/catatonit']) {
    if (existsSync(p)) return p;
  }
  throw new Error('--init: no init binary found (install tini: /usr/bin/tini-static)');
}

interface Prepared {
  spec: OciSpec;
  /** CNI plugins configure the namespace: `network` settles only when they are done */
  cni: boolean;
  /** the network attachment; on failure the namespace is gone, the rootfs still mounted */
  network: Promise<NetworkState | undefined>;
}

/**
 * Mount, network and the OCI config: everything up to the runtime call. The CNI plugins (child
 * processes) are started first; they run while the rootfs is mounted and the config is built, and
 * the caller may start the runtime before they finish (runForeground's StartGate).
 */
/** --network container:X: X resolved (and followed, if X itself joined another) for joinedNamespace. */
function joinNetwork(engine: Engine, mode: string, opts: ContainerRuntimeOptions): PendingAttachment | undefined {
  if (!mode.startsWith('container:')) return undefined;
  const targetId = mode.slice('container:'.length);
  let target: Container;
  try {
    target = deriveContainer(engine, get(engine, targetId), opts).container;
  } catch (e) {
    if (e instanceof NotFoundError) throw new Error(`joining network of container ${targetId}: the container no longer exists`);
    throw e;
  }
  if (target.config.networkMode.startsWith('container:') && target.state.status === 'running') return joinNetwork(engine, target.config.networkMode, opts);
  const tp = containerPaths(engine, target.id);
  return joinedNamespace({
    id: target.id,
    running: target.state.status === 'running',
    pid: target.state.pid,
    networkMode: target.config.networkMode,
    etcFiles: { hosts: tp.hosts, resolvConf: tp.resolvConf, hostname: tp.hostname },
  });
}

/** Where connected networks attach: the container's named namespace and its hosts file. */
function connectTarget(engine: Engine, c: Container, opts: ContainerRuntimeOptions): ConnectTarget {
  return {
    stateRoot: engine.root,
    ipamDir: opts.ipamDir,
    containerId: c.id,
    name: c.name,
    hostname: c.config.hostname,
    netns: join(NETNS_DIR, netnsName(c.id)),
    hostsFile: containerPaths(engine, c.id).hosts,
    extraHosts: c.config.extraHosts,
  };
}

async function prepare(engine: Engine, c: Container, opts: ContainerRuntimeOptions): Promise<Prepared> {
  const p = containerPaths(engine, c.id);
  const cfg = c.config;
  const attaching = joinNetwork(engine, cfg.networkMode, opts) ?? beginAttach({
    stateRoot: engine.root,
    containerId: c.id,
    name: c.name,
    hostname: cfg.hostname,
    mode: cfg.networkMode,
    etcDir: p.dir,
    ports: cfg.networkMode === 'host' ? [] : cfg.ports,
    aliases: cfg.networkAliases,
    extraHosts: cfg.extraHosts,
    dns: cfg.dns,
    dnsSearch: cfg.dnsSearch,
    dnsOptions: cfg.dnsOptions,
    ipamDir: opts.ipamDir,
    ...(cfg.ip ? { ip: cfg.ip } : {}),
  });
  const network = attaching.done.then(async (att) => {
    const ep = att.endpoint;
    if (!ep) return undefined;
    const primary = endpointState(engine.root, ep);
    if (cfg.connectedNetworks?.length) {
      primary.connected = await attachConnected({ ...connectTarget(engine, c, opts), netns: att.spec.network.netnsPath! }, cfg.connectedNetworks).catch(async (e: unknown) => {
        await detachNetwork({ stateRoot: engine.root, containerId: c.id, network: ep.network, ipamDir: opts.ipamDir }).catch(() => {});
        throw e;
      });
    }
    return primary;
  });
  network.catch(() => {}); // the caller awaits it; a failure meanwhile is not an unhandled rejection
  try {
    mountRootfs(engine, c);
    const volumes = new Volumes(engine);
    const specMounts = cfg.mounts.map((m) => {
      if (m.type === 'tmpfs') return { type: 'tmpfs' as const, destination: m.destination, size: m.size, mode: m.mode, ...(m.readonly ? { options: ['ro'] } : {}) };
      if (m.type === 'volume') {
        const src = volumes.path(m.name!);
        if (!existsSync(src)) volumes.create(m.name!, { anonymous: m.anonymous });
        if (!m.nocopy) volumes.populate(m.name!, resolveInRoot(p.merged, m.destination));
        return { type: 'volume' as const, source: src, destination: m.destination, readonly: m.readonly, propagation: m.propagation };
      }
      if (!existsSync(m.source!)) mkdirSync(m.source!, { recursive: true }); // -v creates a missing host dir
      return { type: 'bind' as const, source: m.source!, destination: m.destination, readonly: m.readonly, propagation: m.propagation };
    });
    const user = resolveUser(p.merged, cfg.user);
    // Docker creates a missing WORKDIR (owned by the container's user) before starting the process.
    const cwd = resolveInRoot(p.merged, cfg.workingDir);
    if (!existsSync(cwd)) {
      mkdirSync(cwd, { recursive: true, mode: 0o755 });
      chownSync(cwd, user.uid, user.gid);
    }
    const security = parseSecurityOpts(cfg.securityOpt);
    const env = [...cfg.env];
    if (!env.some((e) => e.startsWith('HOME='))) env.push(`HOME=${user.home}`);
    const spec = generateSpec({
      id: c.id,
      args: [...cfg.entrypoint, ...cfg.cmd],
      env,
      cwd: cfg.workingDir,
      user: { uid: user.uid, gid: user.gid, additionalGids: supplementaryGroups(p.merged, user, cfg.groupAdd) },
      hostname: cfg.hostname,
      rootfs: p.merged,
      readonlyRootfs: cfg.readonlyRootfs,
      terminal: cfg.tty,
      network: attaching.spec.network,
      etcFiles: attaching.spec.etcFiles,
      mounts: specMounts,
      capAdd: cfg.capAdd,
      capDrop: cfg.capDrop,
      privileged: cfg.privileged,
      seccomp: security.seccomp,
      noNewPrivileges: security.noNewPrivileges,
      ulimits: cfg.ulimits,
      resources: cfg.resources,
      shmSize: cfg.shmSize,
      sysctls: cfg.sysctls,
      hostNamespaces: cfg.hostNamespaces,
      // --privileged: every host device too (a --device at the same path keeps its own mapping)
      devices: cfg.privileged ? [...hostDevices().filter((d) => !cfg.devices?.some((x) => x.path === d.path)), ...(cfg.devices ?? [])] : cfg.devices,
      ...(cfg.init ? { initPath: findInitBinary() } : {}),
      ...(cfg.domainname ? { domainname: cfg.domainname } : {}),
      ...(cfg.oomScoreAdj !== undefined ? { oomScoreAdj: cfg.oomScoreAdj } : {}),
      annotations: { ...cfg.annotations, 'io.kiln.container.name': c.name },
    });
    return { spec, cni: attaching.cni, network };
  } catch (e) {
    const attached = await network.catch(() => undefined);
    await detachAll(engine.root, c.id, attached, opts.ipamDir).catch(() => {});
    unmountRootfs(engine, c.id);
    throw e;
  }
}

function parseSecurityOpts(opts: string[]): { seccomp?: 'unconfined' | OciSeccomp; noNewPrivileges: boolean } {
  let seccomp: 'unconfined' | OciSeccomp | undefined;
  let noNewPrivileges = false;
  for (const o of opts) {
    const [k, v = ''] = o.includes('=') ? [o.slice(0, o.indexOf('=')), o.slice(o.indexOf('=') + 1)] : o.split(':');
    if (k === 'no-new-privileges') noNewPrivileges = v === '' || v === 'true';
    else if (k === 'seccomp') seccomp = v === 'unconfined' ? 'unconfined' : JSON.parse(readFileSync(v, 'utf8'));
    else if (k === 'apparmor' || k === 'label') continue; // no LSM on this host (machine-notes §8)
    else throw new Error(`invalid --security-opt: ${o}`);
  }
  return { seccomp, noNewPrivileges };
}

function initialHealth(c: Container): HealthState | undefined {
  return healthArgv(c.config.healthcheck) ? { Status: 'starting', FailingStreak: 0, Log: [] } : undefined;
}

function resetExitFiles(engine: Engine, id: string): void {
  const p = containerPaths(engine, id);
  rmSync(p.exitFile, { force: true });
  rmSync(p.oomFile, { force: true });
  rmSync(join(p.persist, id), { force: true });
}

function exitCommand(engine: Engine, id: string): string[] {
  return [process.execPath, kilnEntry(), '--root', engine.root, 'container', 'cleanup', id];
}

/**
 * Starts a container detached, under conmon. `beforeStart` runs once conmon has created it (its
 * attach socket and terminal exist) and before its process starts: an attach then misses nothing.
 */
export async function startContainer(
  engine: Engine,
  idOrName: string,
  opts: ContainerRuntimeOptions & { restart?: boolean; beforeStart?: (c: Container) => Promise<void>; consoleSize?: { height: number; width: number } } = {},
): Promise<Container> {
  const c0 = await refreshContainer(engine, get(engine, idOrName), opts);
  return withLock(engine, c0.id, async () => {
    const c = get(engine, c0.id);
    if (c.state.status === 'running' || c.state.status === 'paused') return c;
    if (c.state.status === 'removing' || c.state.status === 'dead') throw new Error(`container ${c.id} is marked for removal and cannot be started`);
    const p = containerPaths(engine, c.id);
    await deleteContainer(c.id, { ...opts, force: true }).catch(() => {});
    resetExitFiles(engine, c.id);
    const prepared = await prepare(engine, c, opts);
    let network: NetworkState | undefined;
    try {
      network = await prepared.network;
    } catch (e) {
      unmountRootfs(engine, c.id);
      throw e;
    }
    try {
      // A -t container's terminal is made this size by the runtime, before its process runs.
      if (opts.consoleSize && c.config.tty) prepared.spec.process!.consoleSize = opts.consoleSize;
      writeBundle(p.bundle, prepared.spec);
      const { conmonPid } = await conmonCreate({
        runtime: ociRuntime(recordedRuntime(c)),
        id: c.id,
        name: c.name,
        bundleDir: p.bundle,
        logFile: p.log,
        persistDir: p.persist,
        stdin: c.config.openStdin,
        tty: c.config.tty,
        exitCommand: exitCommand(engine, c.id),
      });
      await opts.beforeStart?.(c);
      await runtimeStart(c.id, opts);
      const started = setState(engine, c.id, {
        status: 'running',
        pid: fastState(c.id, opts)?.pid ?? 0,
        startedAt: new Date().toISOString(),
        exitCode: 0,
        oomKilled: false,
        error: '',
        monitor: 'conmon',
        ...(opts.restart ? { restartCount: c.state.restartCount + 1 } : {}),
        ...(conmonPid ? { monitorPid: conmonPid, monitorStart: processStartTime(conmonPid) } : {}),
        stoppedByUser: false,
        network,
        health: initialHealth(c),
      });
      spawnHealthMonitor(engine, started);
      event(engine, started, 'start');
      return started;
    } catch (e) {
      const msg = (e as Error).message;
      await deleteContainer(c.id, { ...opts, force: true }).catch(() => {});
      removeCgroup(`/kiln/${c.id}`);
      await detachAll(engine.root, c.id, network, opts.ipamDir).catch(() => {});
      unmountRootfs(engine, c.id);
      setState(engine, c.id, { status: 'exited', exitCode: startFailureCode(msg), error: msg, finishedAt: new Date().toISOString() });
      throw new RuntimeError(`OCI runtime create failed: ${msg}`, startFailureCode(msg));
    }
  });
}

export interface ForegroundIO {
  stdout?: (b: Buffer) => void;
  stderr?: (b: Buffer) => void;
  /** -i: the process's stdin */
  stdin?: Readable;
  /** --sig-proxy=false: signals to kiln are not passed on (Ctrl-C leaves the container running) */
  sigProxy?: boolean;
}

/**
 * `kiln run` without -d or -t: `runc run` as our child (41 ms floor instead of conmon's ~100 ms),
 * output streamed to `io` and copied to ctr.log in conmon's k8s-file format so `logs` works the
 * same. Signals sent to us are forwarded to the container (Docker's sig-proxy). A -t container
 * runs under conmon, which holds its terminal (cli/attach-session.ts startAttached): runc would
 * need ours to be its controlling terminal.
 */
export async function runForeground(engine: Engine, idOrName: string, io: ForegroundIO, opts: ContainerRuntimeOptions = {}): Promise<RunResult> {
  const c = get(engine, idOrName);
  if (c.config.tty) throw new Error(`container ${c.name} has a terminal (-t): start it attached under conmon`);
  const p = containerPaths(engine, c.id);
  let prepared: Prepared;
  let running: Container;
  await withLock(engine, c.id, async () => {
    const cur = get(engine, c.id);
    if (cur.state.status === 'running' || cur.state.status === 'paused') throw new Error(`container ${c.id} is already running`);
    resetExitFiles(engine, c.id);
    prepared = await prepare(engine, cur, opts);
    running = setState(engine, c.id, {
      status: 'running',
      pid: 0,
      startedAt: new Date().toISOString(),
      exitCode: 0,
      oomKilled: false,
      error: '',
      monitor: 'foreground',
      monitorPid: process.pid,
      monitorStart: processStartTime(process.pid),
      stoppedByUser: false,
      network: undefined,
      health: initialHealth(cur),
    });
  });
  event(engine, running!, 'start');
  // With CNI, runc starts now and sets the container up while the plugins finish; the gate holds
  // the process itself until the network is ready (or fails the start if it cannot be).
  const gate = prepared!.cni ? new StartGate(p.bundle) : undefined;
  const spec = prepared!.spec;
  if (gate) spec.hooks = { ...spec.hooks, createRuntime: [...(spec.hooks?.createRuntime ?? []), gate.hook] };
  let networkError: unknown;
  const networkSettled = prepared!.network.then(
    (network) => {
      if (network) setState(engine, c.id, { network });
      gate?.open(true);
    },
    (e: unknown) => {
      networkError = e;
      gate?.open(false);
    },
  );
  spawnHealthMonitor(engine, running!);
  const log = new K8sLogWriter(p.log);
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];
  const forward = (sig: NodeJS.Signals) => void runtimeKill(c.id, sig.replace(/^SIG/, ''), opts).catch(() => {});
  if (io.sigProxy !== false) for (const s of signals) process.on(s, forward);
  let result: RunResult;
  try {
    result = await runOnce({
      ...opts,
      runtime: recordedRuntime(c),
      id: c.id,
      bundleDir: p.bundle,
      spec,
      stdin: io.stdin,
      newProcessGroup: true,
      stdout: (b) => (log.write('stdout', b), (io.stdout ?? writeAll(1))(b)),
      stderr: (b) => (log.write('stderr', b), (io.stderr ?? writeAll(2))(b)),
    });
  } catch (e) {
    // Whatever the failure, the endpoint must be recorded (or the attach undone) before teardown.
    await networkSettled;
    const err = networkError ?? e;
    const msg = (err as Error).message;
    const code = err instanceof RuntimeError ? startFailureCode(msg) : 128;
    recordExit(p, code, false);
    await finalize(engine, c.id, opts, { error: msg }).catch(() => {});
    throw err;
  } finally {
    gate?.close();
    for (const s of signals) process.off(s, forward);
    log.close();
  }
  await networkSettled;
  if (c.config.autoRemove) {
    if (result.oomKilled) event(engine, c, 'oom');
    event(engine, c, 'die', { exitCode: String(result.exitCode) });
    await removeAfterForeground(engine, c.id, opts);
  } else {
    recordExit(p, result.exitCode, result.oomKilled);
    await finalize(engine, c.id, opts);
  }
  return result;
}

/**
 * `run --rm` after the foreground process ended. runOnce has already removed the runtime state
 * and the cgroup, so what is left is the network, the rootfs mount, the record and the files; the
 * CNI DEL (child processes) runs while the rest is removed. No exit file or "exited" record is
 * written for a container about to vanish.
 */
async function removeAfterForeground(engine: Engine, id: string, opts: ContainerRuntimeOptions): Promise<void> {
  let detaching: Promise<void> | undefined;
  const removed = await unlessGone(withLock(engine, id, async () => {
    const c = engine.db.findContainer<ContainerStateRecord, ContainerConfigRecord>(id);
    if (!c) return undefined; // rm -f from elsewhere took it meanwhile
    detaching = detachAll(engine.root, id, c.state.network, opts.ipamDir).catch(() => {});
    unmountRootfs(engine, id);
    engine.db.deleteContainer(id);
    return c;
  }));
  if (removed) {
    discardFiles(engine, removed, true);
    event(engine, removed, 'destroy');
  }
  await detaching;
}

/** Write the exit file (as conmon does); the container may have been removed meanwhile (rm -f). */
function recordExit(p: ReturnType<typeof containerPaths>, code: number, oom: boolean): void {
  try {
    writeFileSync(p.exitFile, String(code));
    if (oom) writeFileSync(p.oomFile, '');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}

/** A synchronous writer for fd 1/2: it throws EPIPE when the reader is gone (see runOnce). */
const writeAll = (fd: number) => (b: Buffer) => writeAllSync(fd, b);

/** Appends k8s-file log lines: `<RFC3339Nano> stdout|stderr F|P <text>`. */
export class K8sLogWriter {
  private fd: number;
  constructor(file: string) {
    this.fd = openSync(file, 'a');
  }
  write(stream: 'stdout' | 'stderr', data: Buffer): void {
    const ts = new Date().toISOString().replace(/\.(\d{3})Z$/, '.$1000000+00:00');
    const text = data.toString('utf8');
    const lines = text.split('\n');
    let out = '';
    for (let i = 0; i < lines.length; i++) {
      const last = i === lines.length - 1;
      if (last && lines[i] === '') break;
      out += `${ts} ${stream} ${last ? 'P' : 'F'} ${lines[i]}\n`;
    }
    if (out) writeSync(this.fd, out);
  }
  close(): void {
    closeSync(this.fd);
  }
}

// -------------------------------------------------------------------------------------------
// State: derive, finalize

function readExit(engine: Engine, id: string): { code: number; oom: boolean } | undefined {
  const p = containerPaths(engine, id);
  try {
    const code = Number(readFileSync(p.exitFile, 'utf8').trim());
    return { code: Number.isFinite(code) ? code : 255, oom: existsSync(p.oomFile) };
  } catch {
    return undefined;
  }
}

function monitorAlive(c: Container): boolean {
  const pid = c.state.monitorPid;
  if (!pid || !processAlive(pid, c.state.monitorStart)) return false;
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return c.state.monitor === 'conmon' ? cmd.includes('conmon') : cmd.includes('node');
  } catch {
    return false;
  }
}

/**
 * The container as it is now, without side effects: a live record checked against the runtime
 * (runc's state.json, /proc, the exit file). `settle` says the process has ended and nobody is
 * left to tear the container down: refreshContainer then finalizes it.
 */
export function deriveContainer(engine: Engine, c: Container, opts: RuntimeOptions = {}): { container: Container; settle: boolean } {
  if (!isLive(c.state.status)) return { container: c, settle: false };
  const rt = fastState(c.id, opts);
  if (rt && (rt.status === 'running' || rt.status === 'paused')) {
    return { container: { ...c, state: { ...c.state, status: rt.status, pid: rt.pid } }, settle: false };
  }
  if (rt?.status === 'created' && monitorAlive(c)) return { container: c, settle: false }; // being started
  const exit = readExit(engine, c.id);
  // A live monitor tears the container down itself (conmon through its exit command, which also
  // applies the restart policy; a foreground `kiln run` when runc returns): leave it to it.
  const monitoring = monitorAlive(c);
  // The process is gone but its monitor has not written how it ended yet (a moment): still live,
  // so that wait, attach or inspect never report the record's stale exit code.
  if (!exit && monitoring) return { container: c, settle: false };
  const ended: Container = {
    ...c,
    state: {
      ...c.state,
      status: 'exited',
      pid: 0,
      ...(exit
        ? { exitCode: exit.code, oomKilled: exit.oom, finishedAt: statTime(containerPaths(engine, c.id).exitFile) }
        : { exitCode: 255, error: LOST_EXIT }),
    },
  };
  return { container: ended, settle: !monitoring };
}

/** `deriveContainer` by name, ID or prefix (for synchronous callers such as `inspect`). */
export function peekContainer(engine: Engine, idOrName: string, opts: RuntimeOptions = {}): Container {
  return deriveContainer(engine, get(engine, idOrName), opts).container;
}

/** The container as it is now; one whose process ended is torn down here (see finalize). */
export async function refreshContainer(engine: Engine, c: Container, opts: ContainerRuntimeOptions = {}): Promise<Container> {
  const d = deriveContainer(engine, c, opts);
  if (!d.settle) return d.container;
  return (await finalize(engine, c.id, opts)) ?? d.container;
}

/**
 * Tear a container down after its process ended: runtime state, cgroups, network, rootfs mount;
 * record the exit; then --rm or the restart policy. Idempotent; `kiln container cleanup` (conmon's
 * exit command) and any later look at the container call it. Returns undefined when removed.
 */
export async function finalize(
  engine: Engine,
  id: string,
  opts: ContainerRuntimeOptions = {},
  extra: { error?: string } = {},
): Promise<Container | undefined> {
  const after = await unlessGone(withLock(engine, id, async () => {
    let c: Container;
    try {
      c = get(engine, id);
    } catch {
      return undefined;
    }
    if (!isLive(c.state.status)) return { c, changed: false };
    const rt = fastState(id, opts);
    if (rt && (rt.status === 'running' || rt.status === 'paused')) return { c, changed: false };
    let exit = readExit(engine, id);
    if (!exit && c.state.monitor === 'conmon') {
      for (let i = 0; i < 40 && !exit && monitorAlive(c); i++) {
        await sleep(50);
        exit = readExit(engine, id);
      }
    }
    await deleteContainer(id, { ...opts, force: true }).catch(() => {});
    removeCgroup(`/kiln/${id}`);
    let error = extra.error ?? '';
    // The CNI DEL (child processes) runs while the rootfs is unmounted.
    const detaching = detachAll(engine.root, id, c.state.network, opts.ipamDir).then(
      () => '',
      (e: unknown) => (c.state.network ? `network teardown: ${(e as Error).message}` : ''),
    );
    unmountRootfs(engine, id);
    error ||= await detaching;
    if (!exit && !error) error = LOST_EXIT;
    const finishedAt = exit ? statTime(containerPaths(engine, id).exitFile) : new Date().toISOString();
    const updated = setState(engine, id, {
      status: 'exited',
      pid: 0,
      exitCode: exit?.code ?? 255,
      oomKilled: exit?.oom ?? false,
      error,
      finishedAt,
      network: undefined,
    });
    return { c: updated, changed: true };
  }));
  if (!after) return undefined;
  const c = after.c;
  if (!after.changed) return c;
  if (c.state.oomKilled) event(engine, c, 'oom');
  event(engine, c, 'die', { exitCode: String(c.state.exitCode) });
  if (c.config.autoRemove) {
    await removeContainer(engine, id, { force: true, volumes: true }, opts);
    return undefined;
  }
  if (shouldRestart(c)) {
    await sleep(Math.min(100 * 2 ** c.state.restartCount, 5000));
    const again = get(engine, id);
    // The count goes up with the restart itself (as Docker's), so a final "N exited" is final.
    if (again.state.status === 'exited' && !again.state.stoppedByUser) return startContainer(engine, id, { ...opts, restart: true });
  }
  return get(engine, id);
}

function statTime(file: string): string {
  try {
    return statSync(file).mtime.toISOString();
  } catch {
    return new Date().toISOString();
  }
}

function shouldRestart(c: Container): boolean {
  const pol = c.config.restartPolicy;
  if (c.state.stoppedByUser) return false;
  if (pol.name === 'always' || pol.name === 'unless-stopped') return true;
  if (pol.name === 'on-failure') {
    return c.state.exitCode !== 0 && (pol.maximumRetryCount === 0 || c.state.restartCount < pol.maximumRetryCount);
  }
  return false;
}

export async function getContainer(engine: Engine, idOrName: string, opts: ContainerRuntimeOptions = {}): Promise<Container> {
  return refreshContainer(engine, get(engine, idOrName), opts);
}

export async function listContainers(engine: Engine, opts: ContainerRuntimeOptions = {}): Promise<Container[]> {
  const out: Container[] = [];
  for (const c of engine.db.listContainers<ContainerStateRecord, ContainerConfigRecord>()) {
    out.push(await refreshContainer(engine, c, opts));
  }
  return out;
}

// -------------------------------------------------------------------------------------------
// stop, kill, wait, restart, pause

export function signalNumber(sig: string | number): number {
  if (typeof sig === 'number') return sig;
  if (/^\d+$/.test(sig)) return Number(sig);
  const name = sig.toUpperCase().startsWith('SIG') ? sig.toUpperCase() : `SIG${sig.toUpperCase()}`;
  const n = (osConstants.signals as Record<string, number>)[name];
  if (n === undefined) throw new Error(`invalid signal: ${sig}`);
  return n;
}

/** Poll until the container's process is gone (or the timeout, in ms, passes). */
async function waitForExit(id: string, timeoutMs: number, opts: ContainerRuntimeOptions): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rt = fastState(id, opts);
    if (!rt || rt.status === 'stopped') return true;
    if (Date.now() >= deadline) return false;
    await sleep(20);
  }
}

export async function killContainer(engine: Engine, idOrName: string, signal: string | number = 'KILL', opts: ContainerRuntimeOptions = {}): Promise<void> {
  const c = await getContainer(engine, idOrName, opts);
  if (c.state.status !== 'running' && c.state.status !== 'paused') throw new Error(`Cannot kill container: ${idOrName}: container ${c.id} is not running`);
  const n = signalNumber(signal);
  if (n === 9 || n === 15) setState(engine, c.id, { stoppedByUser: true });
  await runtimeKill(c.id, String(n), { ...opts, all: n === 9 });
  event(engine, c, 'kill', { signal: String(n) });
}

/** `docker stop`: the stop signal, then KILL after the timeout (seconds); waits for the end. */
export async function stopContainer(
  engine: Engine,
  idOrName: string,
  opts: ContainerRuntimeOptions & { timeout?: number; signal?: string } = {},
): Promise<Container | undefined> {
  const c = await getContainer(engine, idOrName, opts);
  if (c.state.status !== 'running' && c.state.status !== 'paused') return c;
  setState(engine, c.id, { stoppedByUser: true });
  const timeout = opts.timeout ?? c.config.stopTimeout ?? DEFAULT_STOP_TIMEOUT;
  if (c.state.status === 'paused') await runtimeResume(c.id, opts).catch(() => {});
  const sig = signalNumber(opts.signal ?? c.config.stopSignal);
  event(engine, c, 'kill', { signal: String(sig) });
  await runtimeKill(c.id, String(sig), opts).catch(() => {});
  if (!(await waitForExit(c.id, Math.max(0, timeout) * 1000, opts))) {
    event(engine, c, 'kill', { signal: '9' });
    await runtimeKill(c.id, '9', { ...opts, all: true }).catch(() => {});
    await waitForExit(c.id, 10_000, opts);
  }
  const after = await waitFinalized(engine, c.id, opts);
  event(engine, c, 'stop');
  return after;
}

/** After the process ended: once its monitor has recorded the exit code, tear down ourselves; undefined once removed (--rm). */
async function waitFinalized(engine: Engine, id: string, opts: ContainerRuntimeOptions): Promise<Container | undefined> {
  for (let i = 0; ; i++) {
    const c = engine.db.findContainer<ContainerStateRecord, ContainerConfigRecord>(id);
    if (!c) return undefined; // a foreground `run --rm` removed it (it writes no exit file)
    if (!isLive(c.state.status)) return c;
    if (readExit(engine, id) || !monitorAlive(c) || i > 100) return finalize(engine, id, opts);
    await sleep(20);
  }
}

/** `docker wait`: block until the container stops; its exit code. */
export async function waitContainer(engine: Engine, idOrName: string, opts: ContainerRuntimeOptions = {}): Promise<number> {
  const id = get(engine, idOrName).id;
  for (;;) {
    const c = await getContainer(engine, id, opts);
    if (!isLive(c.state.status)) return c.state.exitCode;
    await sleep(50);
  }
}

export async function restartContainer(engine: Engine, idOrName: string, opts: ContainerRuntimeOptions & { timeout?: number; signal?: string } = {}): Promise<Container> {
  await stopContainer(engine, idOrName, opts);
  const c = await startContainer(engine, idOrName, opts);
  event(engine, c, 'restart');
  return c;
}

/**
 * `docker update`: new limits and restart policy. They are recorded (a restart keeps them) and, on
 * a running container, applied to its cgroup through the runtime at once.
 */
export async function updateContainer(
  engine: Engine,
  idOrName: string,
  patch: { resources?: SpecResources; restart?: string },
  opts: ContainerRuntimeOptions = {},
): Promise<Container> {
  const c = await getContainer(engine, idOrName, opts);
  const restartPolicy = patch.restart !== undefined ? parseRestartPolicy(patch.restart) : c.config.restartPolicy;
  if (patch.restart !== undefined && c.config.autoRemove && restartPolicy.name !== 'no') {
    throw new Error('Restart policy cannot be updated because AutoRemove is enabled for the container');
  }
  const resources: SpecResources = { ...c.config.resources };
  for (const [k, v] of Object.entries(patch.resources ?? {}) as [keyof SpecResources, never][]) if (v !== undefined) resources[k] = v;
  // Docker's rule: a new memory limit without --memory-swap keeps swap at twice the memory.
  if (patch.resources?.memory !== undefined && patch.resources.memorySwap === undefined) delete resources.memorySwap;
  const limits = limitResources(resources); // validates before anything changes
  if (isLive(c.state.status)) {
    const file = join(containerPaths(engine, c.id).bundle, 'update.json');
    writeFileSync(file, JSON.stringify(limits));
    try {
      await runtimeUpdate(c.id, file, opts);
    } finally {
      rmSync(file, { force: true });
    }
  }
  const updated = engine.db.updateContainer<ContainerStateRecord, ContainerConfigRecord>(c.id, (cur) => ({ config: { ...cur.config, resources, restartPolicy } }));
  event(engine, updated, 'update');
  return updated;
}

export async function pauseContainer(engine: Engine, idOrName: string, opts: ContainerRuntimeOptions = {}): Promise<void> {
  const c = await getContainer(engine, idOrName, opts);
  if (c.state.status !== 'running') throw new Error(`container ${c.id} is not running`);
  await runtimePause(c.id, opts);
  event(engine, c, 'pause');
}

export async function unpauseContainer(engine: Engine, idOrName: string, opts: ContainerRuntimeOptions = {}): Promise<void> {
  const c = await getContainer(engine, idOrName, opts);
  if (c.state.status !== 'paused') throw new Error(`container ${c.id} is not paused`);
  await runtimeResume(c.id, opts);
  event(engine, c, 'unpause');
}

// -------------------------------------------------------------------------------------------
// rm, prune

/** `docker rm`: the writable layer, the runtime leftovers and (with volumes) anonymous volumes. */
export async function removeContainer(
  engine: Engine,
  idOrName: string,
  rmOpts: { force?: boolean; volumes?: boolean } = {},
  opts: ContainerRuntimeOptions = {},
): Promise<void> {
  const id = get(engine, idOrName).id;
  let removed: Container | undefined;
  // Round again if the container was started (e.g. by its restart policy) while we waited for the lock.
  while (!removed) {
    const c = await getContainer(engine, id, opts);
    if (c.state.status === 'running' || c.state.status === 'paused') {
      if (!rmOpts.force) {
        throw new ConflictError(
          `You cannot remove a ${c.state.status} container ${c.id}. Stop the container before attempting removal or force remove`,
        );
      }
      setState(engine, id, { stoppedByUser: true });
      await runtimeKill(id, '9', { ...opts, all: true }).catch(() => {});
      await waitForExit(id, 10_000, opts);
      await waitFinalized(engine, id, opts);
    }
    if (!engine.db.findContainer(id)) return; // --rm took it meanwhile
    mkdirSync(containerPaths(engine, id).dir, { recursive: true }); // a record whose directory was deleted by hand
    const gone = await unlessGone(withLock(engine, id, async () => {
      const cur = engine.db.findContainer<ContainerStateRecord, ContainerConfigRecord>(id);
      if (!cur) return null;
      const rt = fastState(id, opts);
      if (rt && rt.status !== 'stopped') return undefined;
      await deleteContainer(id, { ...opts, force: true }).catch(() => {});
      removeCgroup(`/kiln/${id}`);
      await detachAll(engine.root, id, cur.state.network, opts.ipamDir).catch(() => {});
      unmountRootfs(engine, id);
      engine.db.deleteContainer(id);
      return cur;
    }));
    if (gone === null || (gone === undefined && !engine.db.findContainer(id))) return; // removed meanwhile
    removed = gone;
  }
  discardFiles(engine, removed, !!rmOpts.volumes);
  event(engine, removed, 'destroy');
}

/** A removed container's directory, conmon socket link and (with `volumes`) anonymous volumes. */
function discardFiles(engine: Engine, c: Container, volumes: boolean): void {
  // Renamed away first (atomic), then deleted without crossing into any mount left behind.
  retire(containerPaths(engine, c.id).dir, join(engine.root, 'tmp'), 'ctr');
  rmSync(join(CONMON_SOCKET_DIR, c.id), { force: true });
  if (!volumes) return;
  const store = new Volumes(engine);
  for (const m of c.config.mounts) {
    if (m.type === 'volume' && m.anonymous && m.name) {
      try {
        store.remove(m.name);
      } catch {
        /* still used by another container */
      }
    }
  }
}

// -------------------------------------------------------------------------------------------
// network connect / disconnect

/**
 * `network connect NET CTR`: NET is kept in the container's config (attached at every start, as
 * Docker does) and, if the container runs, attached now as its next interface (eth1, eth2…); its
 * name resolves for the peers on NET, and theirs for it.
 */
export async function connectNetwork(
  engine: Engine,
  idOrName: string,
  network: string,
  o: { aliases?: string[]; ip?: string } = {},
  opts: ContainerRuntimeOptions = {},
): Promise<void> {
  const c0 = await getContainer(engine, idOrName, opts);
  const net = networkName(network);
  const networks = new Networks(engine.root, { ipamDir: opts.ipamDir });
  const info = net ? networks.get(net) : undefined;
  if (!info) throw new Error(`network ${network} not found`);
  await withLock(engine, c0.id, async () => {
    const c = deriveContainer(engine, get(engine, c0.id), opts).container;
    const mode = c.config.networkMode;
    if (mode === 'host') throw new ConflictError('container cannot be disconnected from host network or connected to host network');
    if (mode === 'none') throw new ConflictError('container cannot be connected to multiple networks with one of the networks in private (none) mode');
    if (mode.startsWith('container:')) throw new ConflictError('container sharing network namespace with another container or host cannot be connected to any other network');
    const on = [networkName(mode), ...(c.config.connectedNetworks ?? []).map((n) => n.name)];
    if (on.includes(info.name)) throw new ConflictError(`endpoint with name ${c.name} already exists in network ${info.name}`);
    if (o.ip !== undefined) checkStaticIp(o.ip, info);
    const entry: ConnectedNetwork = { name: info.name, aliases: o.aliases ?? [], ...(o.ip ? { ip: o.ip } : {}) };
    const running = c.state.status === 'running' || c.state.status === 'paused';
    if (running && c.state.network) {
      const added = await attachOne(connectTarget(engine, c, opts), entry, c.state.network);
      setState(engine, c.id, { network: { ...c.state.network, connected: [...(c.state.network.connected ?? []), added] } });
    }
    engine.db.updateContainer<ContainerStateRecord, ContainerConfigRecord>(c.id, (cur) => ({
      config: { ...cur.config, connectedNetworks: [...(cur.config.connectedNetworks ?? []), entry] },
    }));
  });
}

/** `network disconnect NET CTR`: the reverse of connectNetwork (the network it started on stays). */
export async function disconnectNetwork(engine: Engine, idOrName: string, network: string, opts: ContainerRuntimeOptions = {}): Promise<void> {
  const c0 = await getContainer(engine, idOrName, opts);
  const net = networkName(network) ?? network;
  await withLock(engine, c0.id, async () => {
    const c = deriveContainer(engine, get(engine, c0.id), opts).container;
    if (networkName(c.config.networkMode) === net) {
      throw new ConflictError(`container ${c.id} started on network ${net}: kiln keeps that network for the container's life (disconnect only networks added with network connect)`);
    }
    if (!(c.config.connectedNetworks ?? []).some((n) => n.name === net)) throw new ConflictError(`container ${c.id} is not connected to network ${network}`);
    const attached = c.state.network?.connected?.find((n) => n.name === net);
    if (attached) {
      await new Networks(engine.root, { ipamDir: opts.ipamDir }).disconnect(net, c.id, () => {}, { live: true });
      setState(engine, c.id, { network: { ...c.state.network!, connected: c.state.network!.connected!.filter((n) => n.name !== net) } });
    }
    engine.db.updateContainer<ContainerStateRecord, ContainerConfigRecord>(c.id, (cur) => ({
      config: { ...cur.config, connectedNetworks: (cur.config.connectedNetworks ?? []).filter((n) => n.name !== net) },
    }));
  });
}

/** Removes stopped containers (those `match` accepts, with prune's --filter). */
export async function pruneContainers(engine: Engine, opts: ContainerRuntimeOptions = {}, match: (c: Container) => boolean = () => true): Promise<{ removed: string[]; reclaimed: number }> {
  const removed: string[] = [];
  let reclaimed = 0;
  for (const c of await listContainers(engine, opts)) {
    if (c.state.status !== 'exited' && c.state.status !== 'created' && c.state.status !== 'dead') continue;
    if (!match(c)) continue;
    reclaimed += diskUsage(containerPaths(engine, c.id).upper);
    await removeContainer(engine, c.id, {}, opts);
    removed.push(c.id);
  }
  return { removed, reclaimed };
}
