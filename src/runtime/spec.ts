// OCI runtime config.json generation: Docker's defaults (mounts, capabilities, masked and read-only
// paths, seccomp, /dev/shm of 64m, cgroup resources), clamped to what this host can grant
// (capability bounding set, rlimit hard limits). Pure apart from reading /proc/self once (cached).
import { availableParallelism } from 'node:os';
import type { OciDeviceCgroup, OciMount, OciNamespace, OciResources, OciRlimit, OciSeccomp, OciSpec } from './oci-spec.js';
import { CAPABILITY_NAMES, RLIM_INFINITY, hostBoundingCapabilities, hostLimits, rlimitType, type HostLimit } from './host.js';
import { defaultSeccompProfile } from './seccomp.js';
import { cleanContainerPath } from './paths.js';

export const OCI_VERSION = '1.0.2-dev'; // what the host's runc 1.1 writes in `runc spec`
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
export const DEFAULT_SHM_SIZE = 64 * 1024 * 1024;

/** Docker's default capability set (moby oci/caps/defaults.go). */
export const DEFAULT_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW',
  'CAP_SETGID', 'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
];

export const DEFAULT_MASKED_PATHS: readonly string[] = [
  '/proc/asound', '/proc/acpi', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list',
  '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware', '/sys/devices/virtual/powercap',
];

export const DEFAULT_READONLY_PATHS: readonly string[] = [
  '/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger',
];

export type SpecMount =
  | {
      type: 'bind' | 'volume'; // a volume is a bind mount of <state>/volumes/<name>/_data
      source: string;
      destination: string;
      readonly?: boolean;
      propagation?: 'rprivate' | 'private' | 'rshared' | 'shared' | 'rslave' | 'slave';
    }
  | { type: 'tmpfs'; destination: string; size?: number; mode?: number; options?: string[] };

export interface SpecUser {
  uid: number;
  gid: number;
  additionalGids?: number[];
  umask?: number;
}

export interface SpecResources {
  /** bytes (-m) */
  memory?: number;
  /** bytes of memory+swap (--memory-swap); -1 = unlimited; unset with memory = 2×memory (Docker) */
  memorySwap?: number;
  memoryReservation?: number;
  /** --cpus: fractional CPUs → CFS quota over a 100 ms period */
  cpus?: number;
  cpuShares?: number;
  cpusetCpus?: string;
  /** --cpu-period / --cpu-quota: the CFS period and quota in µs (the raw form of --cpus) */
  cpuPeriod?: number;
  cpuQuota?: number;
  cpusetMems?: string;
  /** --memory-swappiness 0–100; -1 (or unset) leaves the host's */
  memorySwappiness?: number;
  /** --oom-kill-disable */
  oomKillDisable?: boolean;
  /** --pids-limit; 0 or negative = unlimited */
  pidsLimit?: number;
}

export interface UlimitOption {
  name: string; // nofile, nproc, core … (Docker's spelling) or RLIMIT_NOFILE
  soft: number; // -1 = unlimited
  hard: number;
}

export interface ContainerSpecOptions {
  /** container ID: names the cgroup (/kiln/<id>) unless cgroupsPath is given */
  id: string;
  args: string[];
  env?: string[];
  cwd?: string;
  user?: SpecUser;
  hostname?: string;
  /** absolute path of the root filesystem (a mounted overlay, or a plain directory) */
  rootfs: string;
  readonlyRootfs?: boolean;
  terminal?: boolean;
  /** none: own netns with lo only (runc brings it up); host: no netns; ns: join netnsPath */
  network?: { mode: 'none' | 'host' | 'ns'; netnsPath?: string };
  /** files bind-mounted at /etc/hosts, /etc/resolv.conf, /etc/hostname */
  etcFiles?: { hosts?: string; resolvConf?: string; hostname?: string };
  mounts?: SpecMount[];
  capAdd?: string[];
  capDrop?: string[];
  privileged?: boolean;
  /** default (kiln's profile, see seccomp.ts) | unconfined | a profile */
  seccomp?: 'default' | 'unconfined' | OciSeccomp;
  noNewPrivileges?: boolean;
  ulimits?: UlimitOption[];
  resources?: SpecResources;
  cgroupsPath?: string;
  shmSize?: number;
  sysctls?: Record<string, string>;
  annotations?: Record<string, string>;
  /** host path of an init binary (tini/catatonit) mounted at /sbin/docker-init and run as PID 1 */
  initPath?: string;
  /** namespaces shared with the host (--pid/--ipc/--uts host, --cgroupns host) */
  hostNamespaces?: ('pid' | 'ipc' | 'uts' | 'cgroup')[];
  /** --domainname */
  domainname?: string;
  /** --oom-score-adj, -1000…1000 */
  oomScoreAdj?: number;
  /** host devices made available (--device) */
  devices?: DeviceMapping[];
}

/** A host device node given to a container (`--device`), with the numbers read from the host. */
export interface DeviceMapping {
  hostPath: string;
  /** where it appears in the container */
  path: string;
  type: 'c' | 'b';
  major: number;
  minor: number;
  fileMode: number;
  /** cgroup access: some of r, w, m */
  access: string;
}

/** A capability named as Docker accepts it: "NET_ADMIN", "cap_net_admin", "ALL". */
export function normalizeCapability(name: string): string {
  const up = name.trim().toUpperCase();
  if (up === 'ALL') return 'ALL';
  const full = up.startsWith('CAP_') ? up : 'CAP_' + up;
  if (!CAPABILITY_NAMES.includes(full)) throw new Error(`unknown capability: "${name}"`);
  return full;
}

/** Docker's rule: start from the default set (all host caps when privileged), then drop, then add. */
export function effectiveCapabilities(opts: Pick<ContainerSpecOptions, 'capAdd' | 'capDrop' | 'privileged'>): string[] {
  const host = hostBoundingCapabilities();
  if (opts.privileged) return [...host];
  const add = (opts.capAdd ?? []).map(normalizeCapability);
  const drop = (opts.capDrop ?? []).map(normalizeCapability);
  let caps = drop.includes('ALL') ? [] : DEFAULT_CAPABILITIES.filter((c) => !drop.includes(c));
  if (add.includes('ALL')) caps = [...CAPABILITY_NAMES];
  else caps = [...caps, ...add.filter((c) => !caps.includes(c))];
  // Nothing may ask for a capability the host's bounding set lacks: runc would fail with
  // "unable to apply caps: operation not permitted".
  const missing = add.filter((c) => c !== 'ALL' && !host.includes(c));
  if (missing.length) throw new Error(`capability not available on this host: ${missing.join(', ')}`);
  return caps.filter((c) => host.includes(c));
}

/** Docker's environment: PATH (if the image has none), HOSTNAME, TERM with a tty, then the env. */
export function containerEnv(env: readonly string[], opts: { hostname?: string; terminal?: boolean }): string[] {
  const out: string[] = [`PATH=${DEFAULT_PATH}`];
  if (opts.hostname) out.push(`HOSTNAME=${opts.hostname}`);
  if (opts.terminal) out.push('TERM=xterm');
  for (const kv of env) {
    const key = kv.includes('=') ? kv.slice(0, kv.indexOf('=')) : kv;
    const at = out.findIndex((e) => e.slice(0, e.indexOf('=')) === key);
    if (at >= 0) out[at] = kv;
    else out.push(kv);
  }
  return out;
}

function clampLimit(type: string, soft: number, hard: number, host: HostLimit | undefined): OciRlimit {
  const inf = (v: number) => (v < 0 ? RLIM_INFINITY : v);
  let h = inf(hard);
  let s = inf(soft);
  if (host && h > host.hard) h = host.hard; // raising a hard limit needs CAP_SYS_RESOURCE
  if (s > h) s = h;
  return { type, soft: s, hard: h };
}

function rlimits(opts: ContainerSpecOptions): OciRlimit[] {
  const host = hostLimits();
  const out = new Map<string, OciRlimit>();
  // Podman's default (Docker's daemon gives containers its own 1048576): as many files as the host allows.
  out.set('RLIMIT_NOFILE', clampLimit('RLIMIT_NOFILE', 1048576, 1048576, host.RLIMIT_NOFILE));
  for (const u of opts.ulimits ?? []) {
    const type = rlimitType(u.name);
    if (u.soft >= 0 && u.hard >= 0 && u.soft > u.hard) {
      throw new Error(`ulimit soft limit must be less than or equal to hard limit: ${u.soft} > ${u.hard}`);
    }
    out.set(type, clampLimit(type, u.soft, u.hard, host[type]));
  }
  return [...out.values()];
}

const DEFAULT_DEVICES: OciDeviceCgroup[] = [
  { allow: false, access: 'rwm' },
  { allow: true, type: 'c', access: 'm' },
  { allow: true, type: 'b', access: 'm' },
  { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' }, // null
  { allow: true, type: 'c', major: 1, minor: 8, access: 'rwm' }, // random
  { allow: true, type: 'c', major: 1, minor: 7, access: 'rwm' }, // full
  { allow: true, type: 'c', major: 5, minor: 0, access: 'rwm' }, // tty
  { allow: true, type: 'c', major: 1, minor: 5, access: 'rwm' }, // zero
  { allow: true, type: 'c', major: 1, minor: 9, access: 'rwm' }, // urandom
  { allow: true, type: 'c', major: 136, access: 'rwm' }, // pts
  { allow: true, type: 'c', major: 5, minor: 2, access: 'rwm' }, // ptmx
  { allow: true, type: 'c', major: 10, minor: 200, access: 'rwm' }, // net/tun
];

/** The cgroup limits `kiln update` changes on a running container (no device rules). */
export function limitResources(r: SpecResources): OciResources {
  const { devices: _devices, ...limits } = resources({ id: '', args: ['x'], rootfs: '/', resources: r });
  return limits;
}

function resources(opts: ContainerSpecOptions): OciResources {
  const r = opts.resources ?? {};
  const out: OciResources = {
    devices: opts.privileged
      ? [{ allow: true, access: 'rwm' }]
      : [...DEFAULT_DEVICES.map((d) => ({ ...d })), ...(opts.devices ?? []).map((d) => ({ allow: true, type: d.type, major: d.major, minor: d.minor, access: d.access }))],
  };
  if (r.memory !== undefined && r.memory > 0) {
    if (r.memory < 6 * 1024 * 1024) throw new Error('Minimum memory limit allowed is 6MB');
    let swap: number | undefined;
    if (r.memorySwap === undefined || r.memorySwap === 0) swap = 2 * r.memory;
    else if (r.memorySwap < 0) swap = -1;
    else if (r.memorySwap < r.memory) {
      throw new Error('Minimum memoryswap limit should be larger than memory limit, see usage');
    } else swap = r.memorySwap;
    out.memory = { limit: r.memory, swap };
  } else if (r.memorySwap !== undefined && r.memorySwap > 0) {
    throw new Error('You should always set the Memory limit when using Memoryswap limit, see usage');
  }
  if (r.memoryReservation !== undefined && r.memoryReservation > 0) {
    out.memory = { ...out.memory, reservation: r.memoryReservation };
  }
  if (r.cpus !== undefined && r.cpus > 0) {
    const ncpu = availableParallelism();
    if (r.cpus < 0.01 || r.cpus > ncpu) {
      throw new Error(`range of CPUs is from 0.01 to ${ncpu}.00, as there are only ${ncpu} CPUs available`);
    }
    out.cpu = { period: 100000, quota: Math.round(r.cpus * 100000) };
  }
  if (r.cpuShares !== undefined && r.cpuShares > 0) out.cpu = { ...out.cpu, shares: r.cpuShares };
  if (r.cpusetCpus) out.cpu = { ...out.cpu, cpus: r.cpusetCpus };
  // Docker's checks and messages for the raw CFS values.
  if (r.cpus && r.cpuPeriod) throw new Error('Conflicting options: Nano CPUs and CPU Period cannot both be set');
  if (r.cpus && r.cpuQuota) throw new Error('Conflicting options: Nano CPUs and CPU Quota cannot both be set');
  if (r.cpuPeriod !== undefined && r.cpuPeriod !== 0) {
    if (r.cpuPeriod < 1000 || r.cpuPeriod > 1000000) throw new Error('CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)');
    out.cpu = { ...out.cpu, period: r.cpuPeriod };
  }
  if (r.cpuQuota !== undefined && r.cpuQuota !== 0) {
    if (r.cpuQuota > 0 && r.cpuQuota < 1000) throw new Error('CPU cfs quota can not be less than 1ms (i.e. 1000)');
    out.cpu = { ...out.cpu, quota: r.cpuQuota };
  }
  if (r.cpusetMems) out.cpu = { ...out.cpu, mems: r.cpusetMems };
  if (r.memorySwappiness !== undefined && r.memorySwappiness !== -1) {
    if (!Number.isInteger(r.memorySwappiness) || r.memorySwappiness < 0 || r.memorySwappiness > 100) {
      throw new Error(`Invalid value: ${r.memorySwappiness}, valid memory swappiness range is 0-100`);
    }
    out.memory = { ...out.memory, swappiness: r.memorySwappiness };
  }
  if (r.oomKillDisable) out.memory = { ...out.memory, disableOOMKiller: true };
  if (r.pidsLimit !== undefined && r.pidsLimit !== 0) out.pids = { limit: r.pidsLimit > 0 ? r.pidsLimit : -1 };
  return out;
}

function defaultMounts(opts: ContainerSpecOptions): OciMount[] {
  const shm = opts.shmSize ?? DEFAULT_SHM_SIZE;
  return [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    {
      destination: '/dev/pts',
      type: 'devpts',
      source: 'devpts',
      options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
    },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', opts.privileged ? 'rw' : 'ro'] },
    {
      destination: '/sys/fs/cgroup',
      type: 'cgroup',
      source: 'cgroup',
      options: ['nosuid', 'noexec', 'nodev', 'relatime', opts.privileged ? 'rw' : 'ro'],
    },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    // --ipc host: POSIX shared memory is the host's /dev/shm (as Docker); mqueue follows the namespace.
    opts.hostNamespaces?.includes('ipc')
      ? { destination: '/dev/shm', type: 'bind', source: '/dev/shm', options: ['rbind', 'nosuid', 'noexec', 'nodev'] }
      : {
          destination: '/dev/shm',
          type: 'tmpfs',
          source: 'shm',
          options: ['nosuid', 'noexec', 'nodev', 'mode=1777', `size=${shm}`],
        },
  ];
}

function userMount(m: SpecMount): OciMount {
  if (m.type === 'tmpfs') {
    // Docker's --tmpfs defaults (noexec,nosuid,nodev), then the caller's options.
    const options = ['nosuid', 'nodev', 'noexec', ...(m.options ?? [])];
    if (m.size !== undefined) options.push(`size=${m.size}`);
    if (m.mode !== undefined) options.push(`mode=${m.mode.toString(8).padStart(4, '0')}`);
    return { destination: m.destination, type: 'tmpfs', source: 'tmpfs', options };
  }
  return {
    destination: m.destination,
    type: 'bind',
    source: m.source,
    options: ['rbind', m.propagation ?? 'rprivate', m.readonly ? 'ro' : 'rw'],
  };
}

const depth = (p: string) => p.split('/').filter(Boolean).length;

function cleanPath(p: string): string {
  if (!p.startsWith('/')) throw new Error(`invalid mount path: '${p}' mount path must be absolute`);
  return cleanContainerPath(p);
}

function mounts(opts: ContainerSpecOptions): OciMount[] {
  const user: OciMount[] = [];
  const etc = opts.etcFiles ?? {};
  const etcBind = (source: string, destination: string): OciMount => ({
    destination,
    type: 'bind',
    source,
    options: ['rbind', 'rprivate', 'rw'],
  });
  if (etc.hostname) user.push(etcBind(etc.hostname, '/etc/hostname'));
  if (etc.hosts) user.push(etcBind(etc.hosts, '/etc/hosts'));
  if (etc.resolvConf) user.push(etcBind(etc.resolvConf, '/etc/resolv.conf'));
  if (opts.initPath) {
    user.push({ destination: '/sbin/docker-init', type: 'bind', source: opts.initPath, options: ['rbind', 'rprivate', 'ro'] });
  }
  const seen = new Set<string>();
  const explicit: OciMount[] = [];
  for (const m of opts.mounts ?? []) {
    const dest = cleanPath(m.destination);
    if (seen.has(dest)) throw new Error(`Duplicate mount point: ${dest}`);
    seen.add(dest);
    explicit.push(userMount({ ...m, destination: dest }));
  }
  // An explicit mount replaces a default or /etc file at the same place (e.g. --tmpfs /dev/shm).
  const all = [...user.filter((m) => !seen.has(m.destination)), ...explicit];
  const defaults = defaultMounts(opts).filter((m) => !seen.has(m.destination));
  // Parents before children (Docker sorts by the number of path components); the sort is stable.
  all.sort((a, b) => depth(a.destination) - depth(b.destination));
  return [...defaults, ...all];
}

function namespaces(opts: ContainerSpecOptions): OciNamespace[] {
  const shared = new Set(opts.hostNamespaces ?? []);
  const ns: OciNamespace[] = (['pid', 'ipc', 'uts', 'mount', 'cgroup'] as const).filter((t) => !shared.has(t as 'pid' | 'cgroup')).map((type) => ({ type }));
  const net = opts.network ?? { mode: 'none' };
  if (net.mode === 'none') ns.push({ type: 'network' });
  else if (net.mode === 'ns') {
    if (!net.netnsPath) throw new Error('network mode "ns" needs netnsPath');
    ns.push({ type: 'network', path: net.netnsPath });
  }
  return ns;
}

export function generateSpec(opts: ContainerSpecOptions): OciSpec {
  if (!opts.args.length) throw new Error('no command specified');
  if (!opts.rootfs.startsWith('/')) throw new Error(`rootfs must be an absolute path: ${opts.rootfs}`);
  const caps = effectiveCapabilities(opts);
  const user = opts.user ?? { uid: 0, gid: 0 };
  // As Docker: the same list bounding, effective and permitted (execve as a non-root uid clears
  // effective/permitted by itself), none inheritable (CVE-2022-24769).
  const capabilities = { bounding: caps, effective: [...caps], permitted: [...caps] };
  let seccomp: OciSeccomp | undefined;
  if (opts.privileged || opts.seccomp === 'unconfined') seccomp = undefined;
  else if (opts.seccomp === undefined || opts.seccomp === 'default') seccomp = defaultSeccompProfile(caps);
  else seccomp = opts.seccomp;

  const args = opts.initPath ? ['/sbin/docker-init', '--', ...opts.args] : [...opts.args];
  const spec: OciSpec = {
    ociVersion: OCI_VERSION,
    process: {
      terminal: !!opts.terminal,
      user: {
        uid: user.uid,
        gid: user.gid,
        ...(user.additionalGids?.length ? { additionalGids: [...user.additionalGids] } : {}),
        ...(user.umask !== undefined ? { umask: user.umask } : {}),
      },
      args,
      env: containerEnv(opts.env ?? [], { hostname: opts.hostname, terminal: opts.terminal }),
      cwd: opts.cwd || '/',
      capabilities,
      rlimits: rlimits(opts),
      noNewPrivileges: !!opts.noNewPrivileges,
      ...(opts.oomScoreAdj !== undefined ? { oomScoreAdj: opts.oomScoreAdj } : {}),
    },
    root: { path: opts.rootfs, readonly: !!opts.readonlyRootfs },
    // With the host's UTS namespace the host name is the host's own.
    hostname: opts.hostNamespaces?.includes('uts') ? undefined : opts.hostname,
    mounts: mounts(opts),
    linux: {
      namespaces: namespaces(opts),
      cgroupsPath: opts.cgroupsPath ?? `/kiln/${opts.id}`,
      resources: resources(opts),
      ...(opts.devices?.length ? { devices: opts.devices.map((d) => ({ path: d.path, type: d.type, major: d.major, minor: d.minor, fileMode: d.fileMode, uid: 0, gid: 0 })) } : {}),
      ...(opts.sysctls && Object.keys(opts.sysctls).length ? { sysctl: { ...opts.sysctls } } : {}),
      ...(seccomp ? { seccomp } : {}),
      ...(opts.privileged
        ? {}
        : { maskedPaths: [...DEFAULT_MASKED_PATHS], readonlyPaths: [...DEFAULT_READONLY_PATHS] }),
    },
  };
  if (spec.hostname === undefined) delete spec.hostname;
  if (opts.domainname && !opts.hostNamespaces?.includes('uts')) {
    spec.domainname = opts.domainname;
    // runc 1.1 ignores `domainname`; the UTS-namespaced sysctl sets it with any runtime.
    spec.linux!.sysctl = { 'kernel.domainname': opts.domainname, ...spec.linux!.sysctl };
  }
  if (opts.annotations && Object.keys(opts.annotations).length) spec.annotations = { ...opts.annotations };
  return spec;
}

/** config.json text; RLIM_INFINITY is written as the exact uint64 Go expects. */
export function serializeSpec(spec: OciSpec): string {
  return JSON.stringify(spec, null, 2).replace(/: 18446744073709552000\b/g, ': 18446744073709551615');
}
