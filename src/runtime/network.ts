// Container networking through the CNI plugins in /usr/lib/cni (machine-notes §5): a network
// namespace per container (made in-process, with lo up: src/sys/netns.ts), the chain
// bridge(+host-local) → portmap → tuning on eth0, and forwarding/masquerading set once per network
// (netfilter.ts) instead of per container. The ADD result is cached with the runtimeConfig and the
// plugins run, and all three are handed back on DEL (without them portmap leaves rules behind).
//
// Networks live as conflist files in <state>/networks/<name>.conflist (a "kiln" key keeps our
// metadata); the default network "kiln" (bridge kiln0, 10.213.0.0/24) is created on first use.
// Name resolution between containers of one network is /etc/hosts: each container's hosts file
// lists its peers at start, and the running peers' files are rewritten in place (they are bind
// mounts) when a container joins or leaves.
import { execFile, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { LOCK_EX, flock } from '../sys/fs.js';
import { createNamedNetns, deleteNamedNetns } from '../sys/netns.js';
import { withFileLock } from './lock.js';
import { ensureBridgeRules, removeBridgeRules } from './netfilter.js';
import { randomHex } from '../util/random.js';
import { recordEvent } from '../store/event-log.js';

export const CNI_PATH = '/usr/lib/cni';
export const CNI_VERSION = '1.0.0';
/** host-local's allocations, keyed by network name; tmpfs, like the network namespaces. */
export const DEFAULT_IPAM_DIR = '/run/kiln/ipam';
export const DEFAULT_NETWORK = 'kiln';
const DEFAULT_SUBNET_INDEX = 0; // 10.213.0.0/24 on kiln0; named networks take 10.213.1-254.0/24

export interface PortMapping {
  hostIP?: string;
  hostPort: number;
  containerPort: number;
  protocol: 'tcp' | 'udp' | 'sctp';
}

export interface NetworkInfo {
  name: string;
  id: string;
  driver: 'bridge';
  bridge: string;
  subnet: string;
  gateway: string;
  created: string;
  internal: boolean;
  labels: Record<string, string>;
}

interface Conflist {
  cniVersion: string;
  name: string;
  plugins: Record<string, unknown>[];
  kiln: Omit<NetworkInfo, 'name'>;
}

export interface CniResult {
  cniVersion?: string;
  interfaces?: { name: string; mac?: string; sandbox?: string }[];
  ips?: { address: string; gateway?: string; interface?: number }[];
  routes?: { dst: string; gw?: string }[];
  dns?: unknown;
}

/** What a container's attachment to a network leaves on disk (also the DEL cache). */
export interface Endpoint {
  containerId: string;
  name: string;
  aliases: string[];
  network: string;
  netns: string;
  ifname: string;
  ip: string;
  gateway: string;
  mac?: string;
  prefixLen: number;
  hostsFile?: string;
  /** --add-host entries, kept when the hosts file is rewritten */
  extraHosts?: HostsEntry[];
  hostname: string;
  ports: PortMapping[];
  result: CniResult;
  runtimeConfig: Record<string, unknown>;
  /** the plugin confs ADD ran, for a DEL of exactly those (absent: written by an older kiln) */
  plugins?: Record<string, unknown>[];
}

export class CniError extends Error {
  constructor(
    readonly plugin: string,
    readonly command: string,
    message: string,
  ) {
    super(`CNI ${plugin} ${command}: ${message}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Network namespaces

export const NETNS_DIR = '/run/netns';

export function netnsName(containerId: string): string {
  return `kiln-${containerId}`;
}

function run(cmd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, (err, stdout, stderr) => {
      if (err && typeof (err as NodeJS.ErrnoException).code === 'string') return reject(err);
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** Create /run/netns/kiln-<id> with lo up (idempotent) and return its path. */
export function createNetns(containerId: string): string {
  const path = join(NETNS_DIR, netnsName(containerId));
  if (!existsSync(path)) createNamedNetns(path);
  return path;
}

export function deleteNetns(containerId: string): void {
  deleteNamedNetns(join(NETNS_DIR, netnsName(containerId)));
}

// ---------------------------------------------------------------------------------------------
// CNI plugin invocation

interface InvokeOptions {
  command: 'ADD' | 'DEL' | 'CHECK';
  containerId: string;
  /** '' on DEL once the namespace is gone (CNI allows it for DEL only) */
  netns: string;
  ifname: string;
  cniPath?: string;
}

/** Run one plugin: config on stdin, result (or a CNI error object) on stdout. */
export function invokePlugin(conf: Record<string, unknown>, opts: InvokeOptions): Promise<CniResult> {
  const type = String(conf.type);
  const cniPath = opts.cniPath ?? CNI_PATH;
  return new Promise((resolve, reject) => {
    const child = spawn(join(cniPath, type), [], {
      env: {
        PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
        CNI_COMMAND: opts.command,
        CNI_CONTAINERID: opts.containerId,
        CNI_NETNS: opts.netns,
        CNI_IFNAME: opts.ifname,
        CNI_PATH: cniPath,
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => reject(new CniError(type, opts.command, e.message)));
    child.on('close', (code) => {
      const text = Buffer.concat(out).toString('utf8').trim();
      if (code !== 0) {
        let msg = Buffer.concat(err).toString('utf8').trim() || `exit ${code}`;
        try {
          const e = JSON.parse(text) as { msg?: string; details?: string };
          msg = [e.msg, e.details].filter(Boolean).join(': ') || msg;
        } catch {
          /* not JSON */
        }
        return reject(new CniError(type, opts.command, msg));
      }
      try {
        resolve(text ? (JSON.parse(text) as CniResult) : {});
      } catch {
        reject(new CniError(type, opts.command, `bad result: ${text.slice(0, 200)}`));
      }
    });
    child.stdin.end(JSON.stringify(conf));
  });
}

function pluginConf(
  list: Conflist,
  plugin: Record<string, unknown>,
  prevResult: CniResult | undefined,
  runtimeConfig: Record<string, unknown>,
): Record<string, unknown> {
  const conf: Record<string, unknown> = { ...plugin, name: list.name, cniVersion: list.cniVersion };
  if (prevResult) conf.prevResult = prevResult;
  // runtimeConfig goes only to plugins that declare the capability (CNI conventions).
  const caps = (plugin.capabilities ?? {}) as Record<string, boolean>;
  const rc = Object.fromEntries(Object.entries(runtimeConfig).filter(([k]) => caps[k]));
  if (Object.keys(rc).length) conf.runtimeConfig = rc;
  delete conf.capabilities;
  return conf;
}

/**
 * Plugins of the chain that have something to do for this attachment: portmap only with port
 * mappings, tuning only with settings (sysctl, mac, mtu…). Skipping a no-op saves a process and,
 * for portmap, ~100 ms of iptables work on DEL. Per-container masquerading (bridge ipMasq) and
 * the firewall plugin, which conflists of older kilns still list, are left to netfilter.ts.
 */
function activePlugins(list: Conflist, runtimeConfig: Record<string, unknown>): Record<string, unknown>[] {
  return list.plugins
    .filter((p) => {
      if (p.type === 'portmap') return ((runtimeConfig.portMappings as unknown[] | undefined) ?? []).length > 0;
      if (p.type === 'tuning') return Object.keys(p).some((k) => !['type', 'capabilities'].includes(k));
      return p.type !== 'firewall';
    })
    // The bridge takes `ips` (--ip) for its host-local IPAM, also in conflists written before it did.
    .map((p) => (p.type === 'bridge' ? { ...p, ipMasq: false, capabilities: { ...(p.capabilities as object | undefined), ips: true } } : p));
}

async function addChain(
  list: Conflist,
  plugins: Record<string, unknown>[],
  opts: Omit<InvokeOptions, 'command'>,
  runtimeConfig: Record<string, unknown>,
): Promise<CniResult> {
  let prev: CniResult | undefined;
  try {
    for (const plugin of plugins) {
      prev = await invokePlugin(pluginConf(list, plugin, prev, runtimeConfig), { ...opts, command: 'ADD' });
    }
  } catch (e) {
    // Undo what was done (CNI: plugins tolerate DEL of what they never added).
    await delChain(list, plugins, opts, prev, runtimeConfig).catch(() => {});
    throw e;
  }
  return prev ?? {};
}

/**
 * DEL every plugin ADD ran, with the cached ADD result and the same runtimeConfig. The plugins
 * here undo independent things (portmap its chains, bridge the veth and the IP lease), so they
 * run concurrently rather than in reverse order: wall time is the slowest one, not the sum.
 */
async function delChain(
  list: Conflist,
  plugins: Record<string, unknown>[],
  opts: Omit<InvokeOptions, 'command'>,
  prevResult: CniResult | undefined,
  runtimeConfig: Record<string, unknown>,
): Promise<void> {
  const results = await Promise.allSettled(
    plugins.map((plugin) => invokePlugin(pluginConf(list, plugin, prevResult, runtimeConfig), { ...opts, command: 'DEL' })),
  );
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

// ---------------------------------------------------------------------------------------------
// Files a container gets: /etc/hosts, /etc/hostname, /etc/resolv.conf

const HOSTS_BASE = [
  '127.0.0.1\tlocalhost',
  '::1\tlocalhost ip6-localhost ip6-loopback',
  'fe00::0\tip6-localnet',
  'ff00::0\tip6-mcastprefix',
  'ff02::1\tip6-allnodes',
  'ff02::2\tip6-allrouters',
];

export interface HostsEntry {
  ip: string;
  names: string[];
}

/** Docker's /etc/hosts: localhost lines, extra hosts (--add-host), peers, then the container itself. */
/** One /etc/hosts line per entry ("IP<TAB>names"). */
export function hostsLines(entries: readonly HostsEntry[]): string[] {
  return entries.map((e) => `${e.ip}\t${[...new Set(e.names)].join(' ')}`);
}

export function renderHosts(opts: { hostname: string; ip?: string; extra?: HostsEntry[]; peers?: HostsEntry[] }): string {
  const lines = [...HOSTS_BASE, ...hostsLines([...(opts.extra ?? []), ...(opts.peers ?? [])])];
  if (opts.ip) lines.push(`${opts.ip}\t${opts.hostname}`);
  return lines.join('\n') + '\n';
}

/**
 * The container's resolv.conf: the host's, with loopback nameservers (a local stub resolver the
 * container cannot reach) removed, and Docker's fallback (8.8.8.8, 8.8.4.4) when none is left.
 * With the host's network the host file is kept as is.
 */
export function renderResolvConf(hostText: string, opts: { hostNetwork?: boolean; dns?: string[]; dnsSearch?: string[]; dnsOptions?: string[] } = {}): string {
  if (opts.hostNetwork && !opts.dns?.length && !opts.dnsSearch?.length && !opts.dnsOptions?.length) return hostText;
  const lines = hostText.split('\n');
  const keep = lines.filter((l) => {
    const m = /^\s*nameserver\s+(\S+)/.exec(l);
    if (m) return !opts.dns?.length && !/^127\.|^::1$/.test(m[1]!);
    if (opts.dnsSearch?.length && /^\s*(search|domain)\s/.test(l)) return false;
    if (opts.dnsOptions?.length && /^\s*options\s/.test(l)) return false;
    return l.trim() !== '';
  });
  const servers = opts.dns?.length ? opts.dns : keep.some((l) => /^\s*nameserver\s/.test(l)) ? [] : ['8.8.8.8', '8.8.4.4'];
  const out = [
    ...(opts.dnsSearch?.length ? [`search ${opts.dnsSearch.join(' ')}`] : []),
    ...keep,
    ...servers.map((s) => `nameserver ${s}`),
    ...(opts.dnsOptions?.length ? [`options ${opts.dnsOptions.join(' ')}`] : []),
  ];
  return out.join('\n') + '\n';
}

export function hostResolvConf(): string {
  let text: string;
  try {
    text = readFileSync('/etc/resolv.conf', 'utf8');
  } catch {
    return '';
  }
  // systemd-resolved's stub: the real upstream list is next to it.
  if (/^nameserver 127\.0\.0\.53$/m.test(text) && existsSync('/run/systemd/resolve/resolv.conf')) {
    return readFileSync('/run/systemd/resolve/resolv.conf', 'utf8');
  }
  return text;
}

// ---------------------------------------------------------------------------------------------
// Port specs: -p [ip:][hostPort:]containerPort[/proto], ranges allowed

export function parsePortSpec(spec: string): PortMapping[] {
  let rest = spec.trim();
  let protocol: PortMapping['protocol'] = 'tcp';
  const slash = rest.lastIndexOf('/');
  if (slash >= 0) {
    const p = rest.slice(slash + 1).toLowerCase();
    if (p !== 'tcp' && p !== 'udp' && p !== 'sctp') throw new Error(`invalid proto: ${p}`);
    protocol = p;
    rest = rest.slice(0, slash);
  }
  let hostIP: string | undefined;
  const v6 = /^\[([0-9a-fA-F:.]+)\]:(.*)$/.exec(rest);
  let parts: string[];
  if (v6) {
    hostIP = v6[1];
    parts = ['', ...v6[2]!.split(':')];
  } else parts = rest.split(':');
  let hostPart = '';
  let ctrPart: string;
  if (parts.length === 1) ctrPart = parts[0]!;
  else if (parts.length === 2) [hostPart, ctrPart] = parts as [string, string];
  else if (parts.length === 3) {
    hostIP ??= parts[0] || undefined;
    hostPart = parts[1]!;
    ctrPart = parts[2]!;
  } else throw new Error(`invalid port format: ${spec}`);
  if (hostIP && !v6 && !/^\d{1,3}(\.\d{1,3}){3}$/.test(hostIP)) throw new Error(`invalid IP address: ${hostIP}`);
  const range = (s: string): [number, number] => {
    const m = /^(\d+)(?:-(\d+))?$/.exec(s);
    if (!m) throw new Error(`invalid port: ${s || spec}`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (a < 1 || b > 65535 || b < a) throw new Error(`invalid port range: ${s}`);
    return [a, b];
  };
  const [c0, c1] = range(ctrPart);
  const hostRange = hostPart === '' ? undefined : range(hostPart);
  if (hostRange && hostRange[1] - hostRange[0] !== c1 - c0) {
    throw new Error(`invalid ranges specified for container and host Ports: ${ctrPart} and ${hostPart}`);
  }
  const out: PortMapping[] = [];
  for (let i = 0; i <= c1 - c0; i++) {
    out.push({ ...(hostIP ? { hostIP } : {}), hostPort: hostRange ? hostRange[0] + i : 0, containerPort: c0 + i, protocol });
  }
  return out;
}

/** A free port on the host (hostPort 0 = "pick one", as Docker does). */
export function freePort(hostIP = '0.0.0.0'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, hostIP, () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Networks of one state directory

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

function subnetOf(index: number): { subnet: string; gateway: string; bridge: string } {
  return { subnet: `10.213.${index}.0/24`, gateway: `10.213.${index}.1`, bridge: `kiln${index}` };
}

/** Docker's checks for `--ip`: a user-defined network, an address inside its subnet, not the gateway. */
export function checkStaticIp(ip: string, info: NetworkInfo): void {
  if (info.name === DEFAULT_NETWORK) throw new Error('user specified IP address is supported on user defined networks only');
  if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(ip) || ip.split('.').some((o) => Number(o) > 255)) throw new Error(`invalid IPv4 address: ${ip}`);
  const [net, bits] = info.subnet.split('/') as [string, string];
  const mask = (0xffffffff << (32 - Number(bits))) >>> 0;
  const base = ipToInt(net);
  const n = ipToInt(ip);
  if (((n & mask) >>> 0) !== base || n === base || n === (base | (~mask >>> 0)) >>> 0) throw new Error(`invalid IP address ${ip}: it is not usable in the subnet ${info.subnet}`);
  if (ip === info.gateway) throw new Error(`invalid IP address ${ip}: it is the gateway of ${info.name}`);
}

/**
 * `network create --subnet 10.5.0.0/24 [--gateway 10.5.0.254]`: an IPv4 pool as Docker checks it
 * (the address is the network's, the gateway inside it; by default its first address).
 */
export function parseSubnet(subnet: string, gateway?: string): { subnet: string; gateway: string } {
  const m = /^(\d{1,3}(?:\.\d{1,3}){3})\/(\d{1,2})$/.exec(subnet.trim());
  if (!m || m[1]!.split('.').some((o) => Number(o) > 255)) throw new Error(`invalid subnet ${subnet}: expected an IPv4 CIDR such as 10.5.0.0/24`);
  const bits = Number(m[2]);
  if (bits < 8 || bits > 30) throw new Error(`invalid subnet ${subnet}: the prefix must be between /8 and /30`);
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  const base = ipToInt(m[1]!);
  if ((base & mask) >>> 0 !== base) throw new Error(`invalid subnet ${subnet}: it is not the network address (${intToIp((base & mask) >>> 0)}/${bits})`);
  const gw = gateway ?? intToIp(base + 1);
  if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(gw)) throw new Error(`invalid gateway ${gw}`);
  const g = ipToInt(gw);
  const broadcast = (base | (~mask >>> 0)) >>> 0;
  if (g <= base || g >= broadcast) throw new Error(`no matching subnet for gateway ${gw}: it is not inside ${subnet}`);
  return { subnet: `${m[1]}/${bits}`, gateway: gw };
}

function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

function ipToInt(ip: string): number {
  return ip.split('.').reduce((a, o) => (a << 8) + Number(o), 0) >>> 0;
}

function overlaps(a: string, b: string): boolean {
  const [ai, al] = a.split('/') as [string, string];
  const [bi, bl] = b.split('/') as [string, string];
  const len = Math.min(Number(al), Number(bl));
  const mask = len === 0 ? 0 : (~0 << (32 - len)) >>> 0;
  return ((ipToInt(ai) & mask) >>> 0) === ((ipToInt(bi) & mask) >>> 0);
}

export class Networks {
  readonly dir: string;
  readonly ipamDir: string;
  readonly cniPath: string;

  constructor(private readonly stateRoot: string, opts: { ipamDir?: string; cniPath?: string } = {}) {
    this.dir = join(stateRoot, 'networks');
    this.ipamDir = opts.ipamDir ?? DEFAULT_IPAM_DIR;
    this.cniPath = opts.cniPath ?? CNI_PATH;
  }

  private confFile(name: string): string {
    return join(this.dir, `${name}.conflist`);
  }

  private endpointsDir(name: string): string {
    return join(this.dir, `${name}.endpoints`);
  }

  private readConflist(name: string): Conflist | undefined {
    try {
      return JSON.parse(readFileSync(this.confFile(name), 'utf8')) as Conflist;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  private info(list: Conflist): NetworkInfo {
    return { name: list.name, ...list.kiln };
  }

  get(name: string): NetworkInfo | undefined {
    if (name === DEFAULT_NETWORK || name === 'bridge') return this.info(this.ensureDefaultList());
    const byName = this.readConflist(name);
    if (byName) return this.info(byName);
    // By ID prefix, as Docker accepts.
    const hits = this.list().filter((n) => n.id.startsWith(name));
    return hits.length === 1 ? hits[0] : undefined;
  }

  list(): NetworkInfo[] {
    this.ensureDefaultList();
    const out: NetworkInfo[] = [];
    for (const f of readdirSync(this.dir)) {
      if (!f.endsWith('.conflist')) continue;
      const list = this.readConflist(f.slice(0, -'.conflist'.length));
      if (list) out.push(this.info(list));
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  /** The networks' names, from the conflist file names (no file is read). */
  private names(): string[] {
    return readdirSync(this.dir)
      .filter((f) => f.endsWith('.conflist'))
      .map((f) => f.slice(0, -'.conflist'.length));
  }

  private ensureDefaultList(): Conflist {
    const existing = this.readConflist(DEFAULT_NETWORK);
    if (existing) return existing;
    return this.write(DEFAULT_NETWORK, DEFAULT_SUBNET_INDEX, {});
  }

  private write(name: string, index: number, opts: { internal?: boolean; labels?: Record<string, string> }, pool?: { subnet: string; gateway: string }): Conflist {
    const { bridge } = subnetOf(index);
    const { subnet, gateway } = pool ?? subnetOf(index);
    const id = randomHex();
    const list: Conflist = {
      cniVersion: CNI_VERSION,
      name,
      plugins: [
        {
          type: 'bridge',
          bridge,
          isGateway: true,
          ipMasq: false, // per network, not per container: netfilter.ts
          hairpinMode: true,
          ipam: {
            type: 'host-local',
            routes: opts.internal ? [] : [{ dst: '0.0.0.0/0' }],
            ranges: [[{ subnet, gateway }]],
            dataDir: this.ipamDir,
          },
        },
        { type: 'portmap', capabilities: { portMappings: true }, snat: true },
        { type: 'tuning' },
      ],
      kiln: {
        id,
        driver: 'bridge',
        bridge,
        subnet,
        gateway,
        created: new Date().toISOString(),
        internal: !!opts.internal,
        labels: opts.labels ?? {},
      },
    };
    mkdirSync(this.dir, { recursive: true });
    const tmp = this.confFile(name) + '.tmp';
    writeFileSync(tmp, JSON.stringify(list, null, 2) + '\n');
    renameSync(tmp, this.confFile(name));
    return list;
  }

  /** `kiln network create NAME`: the next free 10.213.N.0/24 not used by this host's interfaces. */
  create(name: string, opts: { internal?: boolean; labels?: Record<string, string>; subnet?: string; gateway?: string } = {}): NetworkInfo {
    if (!NAME_RE.test(name)) throw new Error(`invalid network name "${name}": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
    if (name === DEFAULT_NETWORK || name === 'bridge' || name === 'host' || name === 'none') {
      throw new Error(`network with name ${name} already exists`);
    }
    return this.withLock(() => {
      if (this.readConflist(name)) throw new Error(`network with name ${name} already exists`);
      const taken = new Set(this.list().map((n) => n.subnet));
      const hostNets: string[] = [];
      for (const [ifname, addrs] of Object.entries(networkInterfaces())) {
        for (const a of addrs ?? []) if (a.family === 'IPv4' && a.cidr && !ifname.startsWith('kiln')) hostNets.push(a.cidr);
      }
      if (opts.subnet !== undefined) {
        // --subnet/--gateway: the user's pool, on the first free bridge name.
        const pool = parseSubnet(opts.subnet, opts.gateway);
        const clash = [...taken, ...hostNets].find((t) => overlaps(t, pool.subnet));
        if (clash) throw new Error(`invalid pool request: Pool overlaps with other one on this address space (${clash})`);
        const bridges = new Set(this.list().map((n) => n.bridge));
        for (let i = 1; i < 4096; i++) {
          if (!bridges.has(subnetOf(i).bridge)) return this.info(this.write(name, i, opts, pool));
        }
        throw new Error('no free bridge name left');
      }
      for (let i = 1; i < 255; i++) {
        const { subnet } = subnetOf(i);
        if (taken.has(subnet) || hostNets.some((h) => overlaps(h, subnet))) continue;
        const made = this.info(this.write(name, i, opts));
        recordEvent(this.stateRoot, 'network', 'create', made.id, { name, type: made.driver });
        return made;
      }
      throw new Error('no free subnet left in 10.213.0.0/16');
    });
  }

  /** `kiln network rm NAME`: refused while containers are attached; deletes the bridge. */
  async remove(name: string): Promise<void> {
    const info = this.get(name);
    if (!info) throw new Error(`network ${name} not found`);
    if (info.name === DEFAULT_NETWORK) throw new Error(`${info.name} is a pre-defined network and cannot be removed`);
    const eps = this.endpoints(info.name);
    if (eps.length) throw new Error(`error while removing network: network ${info.name} id ${info.id} has active endpoints`);
    rmSync(this.confFile(info.name), { force: true });
    rmSync(this.endpointsDir(info.name), { recursive: true, force: true });
    rmSync(join(this.ipamDir, info.name), { recursive: true, force: true });
    await removeBridgeRules({ bridge: info.bridge, subnet: info.subnet, internal: info.internal });
    await run('ip', ['link', 'delete', info.bridge, 'type', 'bridge']);
    recordEvent(this.stateRoot, 'network', 'destroy', info.id, { name: info.name, type: info.driver });
  }

  endpoints(network: string): Endpoint[] {
    const dir = this.endpointsDir(network);
    let files: string[];
    try {
      files = readdirSync(dir);
    } catch {
      return [];
    }
    const out: Endpoint[] = [];
    for (const f of files) {
      if (!f.endsWith('.json')) continue;
      try {
        out.push(JSON.parse(readFileSync(join(dir, f), 'utf8')) as Endpoint);
      } catch {
        /* half-written: skip */
      }
    }
    return out;
  }

  endpoint(network: string, containerId: string): Endpoint | undefined {
    try {
      return JSON.parse(readFileSync(join(this.endpointsDir(network), `${containerId}.json`), 'utf8')) as Endpoint;
    } catch {
      return undefined;
    }
  }

  /**
   * Attach a container's netns to `network`: ADD the chain on eth0 (lo is up already: createNetns)
   * while the network's own rules are checked, record the endpoint (with the ADD result for DEL),
   * write the container's hosts file with its peers, and add it to the running peers' hosts files.
   */
  async connect(opts: {
    network: string;
    containerId: string;
    name: string;
    hostname: string;
    aliases?: string[];
    netns: string;
    ports?: PortMapping[];
    hostsFile?: string;
    extraHosts?: HostsEntry[];
    ip?: string;
    /** the interface in the container: eth0 for the network it was started on, eth1… for `network connect` */
    ifname?: string;
  }): Promise<Endpoint> {
    const ifname = opts.ifname ?? 'eth0';
    const info = this.get(opts.network);
    if (!info) throw new Error(`network ${opts.network} not found`);
    if (opts.ip !== undefined) checkStaticIp(opts.ip, info);
    const list = this.readConflist(info.name)!;
    const ports: PortMapping[] = [];
    for (const p of opts.ports ?? []) ports.push(p.hostPort ? p : { ...p, hostPort: await freePort(p.hostIP) });
    const runtimeConfig: Record<string, unknown> = {
      portMappings: ports.map((p) => ({
        hostPort: p.hostPort,
        containerPort: p.containerPort,
        protocol: p.protocol,
        ...(p.hostIP ? { hostIP: p.hostIP } : {}),
      })),
      // host-local hands out exactly this address (or fails if it is taken).
      ...(opts.ip !== undefined ? { ips: [`${opts.ip}/${info.subnet.split('/')[1]}`] } : {}),
    };
    // A network added to a running container (eth1…) routes its own subnet only: the default
    // route stays with the network the container started on, as Docker keeps one gateway.
    const plugins = activePlugins(list, runtimeConfig).map((p) =>
      ifname !== 'eth0' && p.type === 'bridge' ? { ...p, isDefaultGateway: false, ipam: { ...(p.ipam as object), routes: [] } } : p,
    );
    const base = { containerId: opts.containerId, netns: opts.netns, cniPath: this.cniPath, ifname };
    const [added, ruled] = await Promise.allSettled([
      addChain(list, plugins, base, runtimeConfig),
      ensureBridgeRules({ bridge: info.bridge, subnet: info.subnet, internal: info.internal }),
    ]);
    if (added.status === 'rejected') throw added.reason;
    const result = added.value;
    if (ruled.status === 'rejected') {
      await delChain(list, plugins, base, result, runtimeConfig).catch(() => {});
      throw ruled.reason;
    }
    const ip4 = result.ips?.find((i) => i.address.includes('.'));
    if (!ip4) throw new Error(`CNI ${info.name}: no IPv4 address in the result`);
    const [ip, prefix] = ip4.address.split('/') as [string, string];
    const iface = ip4.interface !== undefined ? result.interfaces?.[ip4.interface] : undefined;
    const ep: Endpoint = {
      containerId: opts.containerId,
      name: opts.name,
      aliases: opts.aliases ?? [],
      network: info.name,
      netns: opts.netns,
      ifname,
      ip,
      prefixLen: Number(prefix),
      gateway: ip4.gateway ?? info.gateway,
      ...(iface?.mac ? { mac: iface.mac } : {}),
      ...(opts.hostsFile ? { hostsFile: opts.hostsFile } : {}),
      ...(opts.extraHosts?.length ? { extraHosts: opts.extraHosts } : {}),
      hostname: opts.hostname,
      ports,
      result,
      runtimeConfig,
      plugins,
    };
    await this.withLockAsync(async () => {
      const dir = this.endpointsDir(info.name);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, `${opts.containerId}.json.tmp`), JSON.stringify(ep));
      renameSync(join(dir, `${opts.containerId}.json.tmp`), join(dir, `${opts.containerId}.json`));
      this.refreshHosts(info.name);
    });
    recordEvent(this.stateRoot, 'network', 'connect', info.id, { container: opts.containerId, name: info.name, type: info.driver });
    return ep;
  }

  /**
   * Detach (idempotent): DEL with the cached result, forget the endpoint, update peers' hosts.
   * `beforeDel` runs first: detachNetwork deletes the namespace there, so the bridge plugin's DEL
   * (CNI_NETNS empty) only releases the IP, and the kernel drops the veth with the namespace
   * instead of the plugin waiting ~20 ms for its deletion. Endpoints of an older kiln (no recorded
   * plugins: per-container masquerade rules that only a DEL with the namespace removes) keep the
   * old order.
   */
  async disconnect(network: string, containerId: string, beforeDel: () => void = () => {}, o: { live?: boolean } = {}): Promise<void> {
    const info = this.get(network);
    if (!info) return beforeDel();
    const ep = this.endpoint(info.name, containerId);
    if (!ep) return beforeDel();
    const list = this.readConflist(info.name)!;
    // `live`: the namespace stays (network disconnect of a running container), so the plugin must
    // enter it to remove the interface.
    const legacy = !ep.plugins || !!o.live;
    if (!legacy) beforeDel();
    const base = { containerId, netns: legacy ? ep.netns : '', cniPath: this.cniPath, ifname: ep.ifname };
    try {
      await delChain(list, ep.plugins ?? list.plugins, base, ep.result, ep.runtimeConfig);
    } finally {
      if (legacy) beforeDel();
    }
    await this.withLockAsync(async () => {
      rmSync(join(this.endpointsDir(info.name), `${containerId}.json`), { force: true });
      this.refreshHosts(info.name);
      // The container's own hosts file, through a network it is still on: without this network's peers.
      const still = this.names().find((n) => n !== info.name && this.endpoint(n, containerId));
      if (still) this.refreshHosts(still);
    });
    recordEvent(this.stateRoot, 'network', 'disconnect', info.id, { container: containerId, name: info.name, type: info.driver });
  }

  /** Rewrite, in place, the hosts file of every endpoint of `network` with its current peers. */
  private refreshHosts(network: string): void {
    const eps = this.endpoints(network);
    const others = this.names().filter((n) => n !== network);
    const read = new Map<string, Endpoint[]>([[network, eps]]);
    const endpointsOf = (n: string) => read.get(n) ?? read.set(n, this.endpoints(n)).get(n)!;
    for (const ep of eps) {
      if (!ep.hostsFile || !existsSync(ep.hostsFile)) continue;
      // A container on several networks (`network connect`) knows the peers on each of them; its
      // own name goes with the address of the interface it was started with (eth0). Other
      // networks are read only when the container has an endpoint there.
      const mine = [network, ...others.filter((n) => existsSync(join(this.endpointsDir(n), `${ep.containerId}.json`)))];
      const all = mine.flatMap(endpointsOf);
      const peers = all
        .filter((p) => p.containerId !== ep.containerId)
        .map((p) => ({ ip: p.ip, names: [p.name, p.containerId.slice(0, 12), ...p.aliases] }));
      const primary = all.find((e) => e.containerId === ep.containerId && e.ifname === 'eth0') ?? ep;
      writeFileSync(ep.hostsFile, renderHosts({ hostname: ep.hostname, ip: primary.ip, extra: ep.extraHosts, peers }));
    }
  }

  private withLock<T>(fn: () => T): T {
    mkdirSync(this.dir, { recursive: true });
    const fd = openSync(join(this.dir, '.lock'), 'a');
    try {
      flock(fd, LOCK_EX);
      return fn();
    } finally {
      closeSync(fd);
    }
  }

  private withLockAsync<T>(fn: () => Promise<T>): Promise<T> {
    return withFileLock(join(this.dir, '.lock'), fn);
  }
}

// ---------------------------------------------------------------------------------------------
// One call for a container's (or a build step's) network: the namespace, the CNI attachment and
// the three /etc files, for any of Docker's modes.

export type NetworkMode = 'bridge' | 'none' | 'host' | (string & {});

export interface NetworkAttachment {
  /** what generateSpec needs */
  spec: { network: { mode: 'none' | 'host' | 'ns'; netnsPath?: string }; etcFiles: { hosts: string; resolvConf: string; hostname: string } };
  /** the CNI network joined (bridge mode or a named network) */
  network?: string;
  endpoint?: Endpoint;
}

export interface AttachOptions {
  stateRoot: string;
  containerId: string;
  /** container name, resolvable by peers on the same network */
  name: string;
  hostname: string;
  mode: NetworkMode;
  /** directory for hosts, resolv.conf and hostname (the container's dir) */
  etcDir: string;
  ports?: PortMapping[];
  aliases?: string[];
  extraHosts?: HostsEntry[];
  dns?: string[];
  dnsSearch?: string[];
  /** --dns-option: replaces the host's `options` */
  dnsOptions?: string[];
  ipamDir?: string;
  /** --ip: a fixed IPv4 address on a user-defined network */
  ip?: string;
}

/** Resolve Docker's spelling: "bridge" and "default" mean kiln's default network. */
export function networkName(mode: NetworkMode): string | undefined {
  if (mode === 'none' || mode === 'host' || mode.startsWith('container:')) return undefined;
  return mode === 'bridge' || mode === 'default' ? DEFAULT_NETWORK : mode;
}

export async function attachNetwork(opts: AttachOptions): Promise<NetworkAttachment> {
  return beginAttach(opts).done;
}

export interface PendingAttachment {
  /** what generateSpec needs, known before any plugin has finished */
  spec: NetworkAttachment['spec'];
  /** whether CNI plugins configure the namespace (`done` then takes a while) */
  cni: boolean;
  /** settles once the namespace is configured (at once without CNI) */
  done: Promise<NetworkAttachment>;
}

/**
 * attachNetwork in two halves: the /etc files and the namespace now, the CNI ADD in `done`
 * (its plugins already started), so a caller can build the OCI config, or even start the
 * runtime, while the plugins run. Errors found before any plugin runs are thrown here.
 */
export function beginAttach(opts: AttachOptions): PendingAttachment {
  mkdirSync(opts.etcDir, { recursive: true });
  const etcFiles = {
    hosts: join(opts.etcDir, 'hosts'),
    resolvConf: join(opts.etcDir, 'resolv.conf'),
    hostname: join(opts.etcDir, 'hostname'),
  };
  const host = opts.mode === 'host';
  writeFileSync(etcFiles.hostname, opts.hostname + '\n');
  writeFileSync(etcFiles.resolvConf, renderResolvConf(hostResolvConf(), { hostNetwork: host, dns: opts.dns, dnsSearch: opts.dnsSearch, dnsOptions: opts.dnsOptions }));
  if (host) {
    let hosts = '';
    try {
      hosts = readFileSync('/etc/hosts', 'utf8');
    } catch {
      hosts = renderHosts({ hostname: opts.hostname });
    }
    for (const e of opts.extraHosts ?? []) hosts += `${e.ip}\t${e.names.join(' ')}\n`;
    writeFileSync(etcFiles.hosts, hosts);
    const spec = { network: { mode: 'host' as const }, etcFiles };
    return { spec, cni: false, done: Promise.resolve({ spec }) };
  }
  writeFileSync(etcFiles.hosts, renderHosts({ hostname: opts.hostname, extra: opts.extraHosts }));
  const net = networkName(opts.mode);
  if (!net) {
    if (opts.ports?.length) throw new Error('port publishing needs a network (not --network none)');
    const spec = { network: { mode: 'none' as const }, etcFiles };
    return { spec, cni: false, done: Promise.resolve({ spec }) };
  }
  const networks = new Networks(opts.stateRoot, { ipamDir: opts.ipamDir });
  if (!networks.get(net)) throw new Error(`network ${net} not found`);
  const netns = createNetns(opts.containerId);
  const spec = { network: { mode: 'ns' as const, netnsPath: netns }, etcFiles };
  const connected = networks.connect({
    network: net,
    containerId: opts.containerId,
    name: opts.name,
    hostname: opts.hostname,
    aliases: opts.aliases,
    netns,
    ports: opts.ports,
    hostsFile: etcFiles.hosts,
    extraHosts: opts.extraHosts,
    ip: opts.ip,
  });
  const done = connected.then(
    (endpoint) => ({ spec, network: endpoint.network, endpoint }),
    (e: unknown) => {
      try {
        deleteNetns(opts.containerId);
      } catch {
        /* the attach error is the one to report */
      }
      throw e;
    },
  );
  return { spec, cni: true, done };
}

/** Undo attachNetwork (idempotent; safe after a crash halfway). */
export async function detachNetwork(opts: { stateRoot: string; containerId: string; network?: string; ipamDir?: string }): Promise<void> {
  if (!opts.network) return deleteNetns(opts.containerId);
  let netnsError: unknown;
  const dropNetns = () => {
    try {
      deleteNetns(opts.containerId);
    } catch (e) {
      netnsError = e;
    }
  };
  await new Networks(opts.stateRoot, { ipamDir: opts.ipamDir }).disconnect(opts.network, opts.containerId, dropNetns);
  if (netnsError) throw netnsError;
}
