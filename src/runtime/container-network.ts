// A container's place on networks, beyond what one CNI attachment (network.ts) does: joining
// another container's namespace (--network container:X), the networks `network connect` adds
// (eth1, eth2… beside the eth0 it started with), and undoing all of it at teardown. The record
// shapes live here; containers.ts holds the lifecycle that calls these under the container lock.
import { detachNetwork, Networks, type Endpoint, type PendingAttachment, type PortMapping, type HostsEntry } from './network.js';

/** A running container's attachment to a network, as its record keeps it. */
export interface NetworkState {
  name: string;
  ip: string;
  gateway: string;
  prefixLen: number;
  mac?: string;
  ports: PortMapping[];
  networkId: string;
  /** the interface in the container (eth0 unless added by `network connect`) */
  ifname?: string;
  /** the networks `network connect` added (eth1…), attached while the container runs */
  connected?: NetworkState[];
}

/** A network added with `network connect`: kept in the config, attached at every start. */
export interface ConnectedNetwork {
  name: string;
  aliases: string[];
  ip?: string;
}

/** What --network container:X needs of X: it runs, and where its namespace and /etc files are. */
export interface JoinTarget {
  id: string;
  running: boolean;
  pid: number;
  networkMode: string;
  etcFiles: { hosts: string; resolvConf: string; hostname: string };
}

/**
 * --network container:X: X's namespace (through its running process) and X's hosts, resolv.conf
 * and hostname files, so both see the same names. Nothing to set up or tear down of our own.
 */
export function joinedNamespace(target: JoinTarget): PendingAttachment {
  if (!target.running || !target.pid) throw new Error(`cannot join network of a non running container: ${target.id}`);
  const spec = {
    network: target.networkMode === 'host' ? { mode: 'host' as const } : { mode: 'ns' as const, netnsPath: `/proc/${target.pid}/ns/net` },
    etcFiles: target.etcFiles,
  };
  return { spec, cni: false, done: Promise.resolve({ spec }) };
}

export function endpointState(stateRoot: string, ep: Endpoint): NetworkState {
  return {
    name: ep.network,
    ip: ep.ip,
    gateway: ep.gateway,
    prefixLen: ep.prefixLen,
    ...(ep.mac ? { mac: ep.mac } : {}),
    ports: ep.ports,
    networkId: new Networks(stateRoot).get(ep.network)?.id ?? '',
    ...(ep.ifname !== 'eth0' ? { ifname: ep.ifname } : {}),
  };
}

export interface ConnectTarget {
  stateRoot: string;
  ipamDir?: string;
  containerId: string;
  name: string;
  hostname: string;
  netns: string;
  hostsFile: string;
  extraHosts: HostsEntry[];
}

/** The `network connect` networks of a starting container, as eth1, eth2… in its namespace. */
export async function attachConnected(t: ConnectTarget, nets: ConnectedNetwork[]): Promise<NetworkState[]> {
  const networks = new Networks(t.stateRoot, { ipamDir: t.ipamDir });
  const out: NetworkState[] = [];
  try {
    for (const [i, n] of nets.entries()) out.push(endpointState(t.stateRoot, await connectOne(networks, t, n, `eth${i + 1}`)));
  } catch (e) {
    for (const n of out) await networks.disconnect(n.name, t.containerId).catch(() => {});
    throw e;
  }
  return out;
}

/** One more network for a running container, on the first free ethN. */
export async function attachOne(t: ConnectTarget, n: ConnectedNetwork, current: NetworkState): Promise<NetworkState> {
  const used = new Set((current.connected ?? []).map((x) => x.ifname));
  let i = 1;
  while (used.has(`eth${i}`)) i++;
  return endpointState(t.stateRoot, await connectOne(new Networks(t.stateRoot, { ipamDir: t.ipamDir }), t, n, `eth${i}`));
}

function connectOne(networks: Networks, t: ConnectTarget, n: ConnectedNetwork, ifname: string): Promise<Endpoint> {
  return networks.connect({
    network: n.name,
    containerId: t.containerId,
    name: t.name,
    hostname: t.hostname,
    aliases: n.aliases,
    netns: t.netns,
    hostsFile: t.hostsFile,
    extraHosts: t.extraHosts,
    ...(n.ip ? { ip: n.ip } : {}),
    ifname,
  });
}

/** Undoes a container's attachments: the connected networks, then its own (and its namespace). */
export async function detachAll(stateRoot: string, id: string, network: NetworkState | undefined, ipamDir?: string): Promise<void> {
  const networks = new Networks(stateRoot, { ipamDir });
  await Promise.all((network?.connected ?? []).map((n) => networks.disconnect(n.name, id).catch(() => {})));
  await detachNetwork({ stateRoot, containerId: id, network: network?.name, ipamDir });
}
