// `create`: a container record from an image and the create flags (Docker's rules for the
// command, environment, ports, mounts, names and hostname), and its directory. Nothing runs yet.
import { mkdirSync, rmSync } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import type { Engine } from '../engine.js';
import type { HealthConfig } from '../image/types.js';
import { randomHex } from '../util/random.js';
import { containerPaths, event, get, ZERO_TIME, type Container, type ContainerConfigRecord, type ContainerStateRecord } from './containers.js';
import { exposeKeys, mergeEnv, parseAddHost, parseDeviceSpec, parseRestartPolicy } from './container-options.js';
import { checkStaticIp, networkName, Networks, parsePortSpec, type PortMapping } from './network.js';
import { checkContainerName, randomName } from './names.js';
import { defaultRuntimeName, runtimeUnavailable, type RuntimeName } from './runtime-select.js';
import { cleanContainerPath } from './paths.js';
import { normalizeCapability, type SpecResources, type UlimitOption } from './spec.js';
import { Volumes, type MountRecord } from './volumes.js';

export interface CreateOptions {
  image: string;
  name?: string;
  /** arguments after the image: replace the image's CMD */
  cmd?: string[];
  /** --entrypoint: "" clears the image's entrypoint (and its CMD, as Docker does) */
  entrypoint?: string;
  env?: string[];
  workdir?: string;
  user?: string;
  hostname?: string;
  tty?: boolean;
  interactive?: boolean;
  /** parsed -v / --mount / --tmpfs */
  mounts?: MountRecord[];
  readOnly?: boolean;
  publish?: string[];
  network?: string;
  networkAliases?: string[];
  addHost?: string[];
  dns?: string[];
  dnsSearch?: string[];
  resources?: SpecResources;
  shmSize?: number;
  ulimits?: UlimitOption[];
  capAdd?: string[];
  capDrop?: string[];
  securityOpt?: string[];
  privileged?: boolean;
  init?: boolean;
  restart?: string;
  stopSignal?: string;
  stopTimeout?: number;
  autoRemove?: boolean;
  labels?: Record<string, string>;
  healthcheck?: HealthConfig;
  sysctls?: Record<string, string>;
  /** --expose: more ports to expose (PORT[/proto] or a range) */
  expose?: string[];
  /** -P: publish every exposed port on a random host port */
  publishAll?: boolean;
  pidMode?: 'host';
  ipcMode?: 'host';
  utsMode?: 'host';
  cgroupnsMode?: 'host';
  /** --dns-option: the resolv.conf `options` */
  dnsOptions?: string[];
  domainname?: string;
  oomScoreAdj?: number;
  annotations?: Record<string, string>;
  /** --runtime: the OCI runtime (default: runtime-select.ts, or runc for a memory limit) */
  runtime?: RuntimeName;
  /** --device HOST[:CONTAINER][:rwm] */
  devices?: string[];
  /** --group-add: supplementary groups (names from the image's /etc/group, or GIDs) */
  groupAdd?: string[];
  /** --volumes-from CTR[:ro|rw] */
  volumesFrom?: string[];
  /** --ip: a fixed address on a user-defined network */
  ip?: string;
}

/** `--volumes-from CTR[:ro|rw]`: the volumes and bind mounts of another container. */
function mountsFrom(engine: Engine, spec: string): MountRecord[] {
  const [name, mode] = spec.split(':');
  if (mode !== undefined && mode !== 'ro' && mode !== 'rw') throw new Error(`invalid mode for volumes-from: ${mode}`);
  const src = get(engine, name!);
  return src.config.mounts
    .filter((m) => m.type === 'volume' || m.type === 'bind')
    .map((m) => ({ ...m, anonymous: false, ...(mode ? { readonly: mode === 'ro' } : {}) }));
}

/** Resolve the image, merge its config with the options (Docker's rules) and record the container. */
export function createContainer(engine: Engine, opts: CreateOptions): Container {
  const { id: imageId, config: image } = engine.resolveImage(opts.image);
  const ic = image.config ?? {};
  if (opts.name !== undefined) checkContainerName(opts.name);
  // Entrypoint/CMD: --entrypoint replaces the image's entrypoint and drops its CMD.
  const entrypoint = opts.entrypoint !== undefined ? (opts.entrypoint === '' ? [] : [opts.entrypoint]) : [...(ic.Entrypoint ?? [])];
  const cmd = opts.cmd?.length ? [...opts.cmd] : opts.entrypoint !== undefined ? [] : [...(ic.Cmd ?? [])];
  if (entrypoint.length + cmd.length === 0) throw new Error('no command specified');
  const env = mergeEnv(ic.Env ?? [], opts.env ?? []);
  const restartPolicy = parseRestartPolicy(opts.restart);
  if (opts.autoRemove && restartPolicy.name !== 'no') throw new Error('conflicting options: cannot specify both --restart and --rm');
  for (const c of [...(opts.capAdd ?? []), ...(opts.capDrop ?? [])]) normalizeCapability(c);
  // --network container:X joins X's network namespace; X is recorded by its full ID, as Docker does.
  const joined = opts.network?.startsWith('container:') ? get(engine, opts.network.slice('container:'.length)) : undefined;
  const networkMode = joined ? `container:${joined.id}` : opts.network ?? 'bridge';
  if (joined) {
    for (const [given, what] of [
      [opts.hostname, 'hostname'],
      [opts.dns?.length, 'dns'],
      [opts.addHost?.length, 'add-host'],
      [opts.ip, 'ip'],
      [opts.networkAliases?.length, 'network-alias'],
    ] as const)
      if (given) throw new Error(`conflicting options: ${what} and the network mode`);
  }
  const exposedPorts = [...new Set([...Object.keys(ic.ExposedPorts ?? {}), ...(opts.expose ?? []).flatMap(exposeKeys)])];
  const ports = (opts.publish ?? []).flatMap((p) => parsePortSpec(p));
  if (opts.publishAll) {
    // -P: every exposed port not published already, on a host port chosen at start.
    for (const e of exposedPorts) {
      const [port, protocol = 'tcp'] = e.split('/') as [string, PortMapping['protocol']?];
      if (!ports.some((p) => p.containerPort === Number(port) && p.protocol === protocol)) ports.push({ hostPort: 0, containerPort: Number(port), protocol });
    }
  }
  if (ports.length && (networkMode === 'none' || joined)) throw new Error('conflicting options: port publishing and the container type network mode');
  const devices = (opts.devices ?? []).map(parseDeviceSpec);
  const net = networkName(networkMode);
  const userNetwork = net && net !== 'kiln' ? new Networks(engine.root).get(networkMode) : undefined;
  if (net && net !== 'kiln' && !userNetwork) throw new Error(`network ${networkMode} not found`);
  if (opts.ip !== undefined) {
    if (!userNetwork) throw new Error('user specified IP address is supported on user defined networks only');
    checkStaticIp(opts.ip, userNetwork); // before anything starts: the address must fit the network
  }
  const mounts = [...(opts.mounts ?? []), ...(opts.volumesFrom ?? []).flatMap((spec) => mountsFrom(engine, spec))];
  const taken = new Set(mounts.map((m) => m.destination));
  for (const v of Object.keys(ic.Volumes ?? {})) {
    const dst = cleanContainerPath(v);
    if (!taken.has(dst)) mounts.push({ type: 'volume', destination: dst, readonly: false, anonymous: true });
  }
  const id = randomHex();
  const volumes = new Volumes(engine);
  for (const m of mounts) {
    if (m.type !== 'volume') continue;
    if (!m.name) m.name = randomHex();
    volumes.create(m.name, { anonymous: m.anonymous });
  }
  const name = opts.name ?? randomName((n) => engine.db.findContainer(n) !== null);
  const config: ContainerConfigRecord = {
    image: opts.image,
    imageId,
    diffIds: image.rootfs.diff_ids,
    entrypoint,
    cmd,
    env,
    workingDir: opts.workdir ? cleanContainerPath(opts.workdir, ic.WorkingDir || '/') : ic.WorkingDir || '/',
    user: opts.user ?? ic.User ?? '',
    hostname: joined?.config.hostname ?? opts.hostname ?? (networkMode === 'host' || opts.utsMode === 'host' ? osHostname() : id.slice(0, 12)),
    tty: !!opts.tty,
    openStdin: !!opts.interactive,
    labels: { ...(ic.Labels ?? {}), ...(opts.labels ?? {}) },
    stopSignal: opts.stopSignal ?? ic.StopSignal ?? 'SIGTERM',
    ...(opts.stopTimeout !== undefined ? { stopTimeout: opts.stopTimeout } : {}),
    exposedPorts,
    imageVolumes: Object.keys(ic.Volumes ?? {}),
    ...(opts.healthcheck ?? ic.Healthcheck ? { healthcheck: opts.healthcheck ?? ic.Healthcheck } : {}),
    mounts,
    readonlyRootfs: !!opts.readOnly,
    ports,
    networkMode,
    networkAliases: opts.networkAliases ?? [],
    extraHosts: (opts.addHost ?? []).map(parseAddHost),
    dns: opts.dns ?? [],
    dnsSearch: opts.dnsSearch ?? [],
    resources: opts.resources ?? {},
    ...(opts.shmSize !== undefined ? { shmSize: opts.shmSize } : {}),
    ulimits: opts.ulimits ?? [],
    capAdd: opts.capAdd ?? [],
    capDrop: opts.capDrop ?? [],
    securityOpt: opts.securityOpt ?? [],
    privileged: !!opts.privileged,
    init: !!opts.init,
    restartPolicy,
    autoRemove: !!opts.autoRemove,
    sysctls: opts.sysctls ?? {},
    ...(opts.pidMode || opts.ipcMode || opts.utsMode || opts.cgroupnsMode
      ? {
          hostNamespaces: [
            ...(opts.pidMode ? ['pid' as const] : []),
            ...(opts.ipcMode ? ['ipc' as const] : []),
            ...(opts.utsMode ? ['uts' as const] : []),
            ...(opts.cgroupnsMode ? ['cgroup' as const] : []),
          ],
        }
      : {}),
    ...(opts.dnsOptions?.length ? { dnsOptions: [...opts.dnsOptions] } : {}),
    ...(opts.domainname ? { domainname: opts.domainname } : {}),
    ...(opts.oomScoreAdj !== undefined ? { oomScoreAdj: opts.oomScoreAdj } : {}),
    ...(opts.annotations && Object.keys(opts.annotations).length ? { annotations: { ...opts.annotations } } : {}),
    runtime: chooseRuntime(opts),
    ...(devices.length ? { devices } : {}),
    ...(opts.groupAdd?.length ? { groupAdd: [...opts.groupAdd] } : {}),
    ...(opts.ip ? { ip: opts.ip } : {}),
  };
  const p = containerPaths(engine, id);
  for (const d of [p.upper, p.work, p.merged, p.bundle, p.persist]) mkdirSync(d, { recursive: true });
  try {
    const created = engine.db.putContainer<ContainerStateRecord, ContainerConfigRecord>({
      id,
      name,
      imageId,
      state: {
        status: 'created',
        pid: 0,
        exitCode: 0,
        oomKilled: false,
        error: '',
        startedAt: ZERO_TIME,
        finishedAt: ZERO_TIME,
        restartCount: 0,
      },
      config,
    });
    event(engine, created, 'create');
    return created;
  } catch (e) {
    rmSync(p.dir, { recursive: true, force: true });
    throw e;
  }
}

/**
 * The runtime a new container gets: the one asked for, else the default (crun where it runs). A
 * memory limit without --runtime gets runc when it is installed: only runc can keep a stopped
 * container's memory cgroup (`run --keep`) for a foreground run to read its OOM-kill counter.
 */
function chooseRuntime(opts: CreateOptions): RuntimeName {
  if (opts.runtime) {
    const why = runtimeUnavailable(opts.runtime);
    if (why) throw new Error(`OCI runtime ${opts.runtime}: ${why}`);
    return opts.runtime;
  }
  if ((opts.resources?.memory ?? 0) > 0 && runtimeUnavailable('runc') === undefined) return 'runc';
  return defaultRuntimeName();
}
