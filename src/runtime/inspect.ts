// Docker's JSON for containers (`docker container inspect`) and the PORTS text of `docker ps`,
// with Docker's field names, built from a (refreshed) container record.
import type { Engine } from '../engine.js';
import { containerPaths, type Container } from './containers.js';
import type { PortMapping } from './network.js';
import { Volumes } from './volumes.js';

function portKey(p: { containerPort: number; protocol: string }): string {
  return `${p.containerPort}/${p.protocol}`;
}

/** The host ports a container's published ports are bound to: only while it runs (or is paused). */
export function boundPorts(c: Container): PortMapping[] {
  const live = c.state.status === 'running' || c.state.status === 'paused';
  return live && c.state.network ? c.state.network.ports : [];
}

/** NetworkSettings.Ports: every exposed or published port, bound ones with their host side. */
function portsMap(c: Container): Record<string, { HostIp: string; HostPort: string }[] | null> {
  const out: Record<string, { HostIp: string; HostPort: string }[] | null> = {};
  for (const e of c.config.exposedPorts) out[e.includes('/') ? e : `${e}/tcp`] = null;
  const bound = boundPorts(c);
  for (const p of c.config.ports) out[portKey(p)] ??= null;
  for (const p of bound) {
    const k = portKey(p);
    out[k] = [...(out[k] ?? []), { HostIp: p.hostIP ?? '0.0.0.0', HostPort: String(p.hostPort) }];
  }
  return out;
}

function mounts(engine: Engine, c: Container) {
  const volumes = new Volumes(engine);
  return c.config.mounts.map((m) => {
    if (m.type === 'volume') {
      return {
        Type: 'volume',
        Name: m.name,
        Source: volumes.path(m.name!),
        Destination: m.destination,
        Driver: 'local',
        Mode: m.readonly ? 'ro' : 'z',
        RW: !m.readonly,
        Propagation: '',
      };
    }
    if (m.type === 'tmpfs') return { Type: 'tmpfs', Source: '', Destination: m.destination, Mode: '', RW: !m.readonly, Propagation: '' };
    return { Type: 'bind', Source: m.source, Destination: m.destination, Mode: m.readonly ? 'ro' : '', RW: !m.readonly, Propagation: m.propagation ?? 'rprivate' };
  });
}

export function inspectContainer(engine: Engine, c: Container): Record<string, unknown> {
  const p = containerPaths(engine, c.id);
  const cfg = c.config;
  const s = c.state;
  const lowers = cfg.diffIds.length ? engine.layers.lowerDirs(cfg.diffIds) : [];
  const net = s.network;
  const live = s.status === 'running' || s.status === 'paused';
  const argv = [...cfg.entrypoint, ...cfg.cmd];
  const networkName = cfg.networkMode === 'bridge' || cfg.networkMode === 'default' ? 'bridge' : cfg.networkMode;
  return {
    Id: c.id,
    Created: c.created,
    Path: argv[0] ?? '',
    Args: argv.slice(1),
    State: {
      Status: s.status,
      Running: s.status === 'running' || s.status === 'paused',
      Paused: s.status === 'paused',
      Restarting: s.status === 'restarting',
      OOMKilled: s.oomKilled,
      Dead: s.status === 'dead',
      Pid: live ? s.pid : 0,
      ExitCode: s.exitCode,
      Error: s.error,
      StartedAt: s.startedAt,
      FinishedAt: s.finishedAt,
      ...(s.health ? { Health: s.health } : {}),
    },
    Image: cfg.imageId,
    ResolvConfPath: p.resolvConf,
    HostnamePath: p.hostname,
    HostsPath: p.hosts,
    LogPath: p.log,
    Name: `/${c.name}`,
    RestartCount: s.restartCount,
    Driver: 'overlay2',
    Platform: 'linux',
    MountLabel: '',
    ProcessLabel: '',
    AppArmorProfile: '',
    ExecIDs: null,
    HostConfig: {
      Binds: cfg.mounts.filter((m) => m.type === 'bind').map((m) => `${m.source}:${m.destination}${m.readonly ? ':ro' : ''}`),
      NetworkMode: cfg.networkMode,
      PortBindings: Object.fromEntries(
        cfg.ports.map((pm) => [portKey(pm), [{ HostIp: pm.hostIP ?? '', HostPort: pm.hostPort ? String(pm.hostPort) : '' }]]),
      ),
      RestartPolicy: { Name: cfg.restartPolicy.name, MaximumRetryCount: cfg.restartPolicy.maximumRetryCount },
      AutoRemove: cfg.autoRemove,
      Runtime: cfg.runtime ?? 'runc',
      CapAdd: cfg.capAdd.length ? cfg.capAdd : null,
      CapDrop: cfg.capDrop.length ? cfg.capDrop : null,
      Dns: cfg.dns,
      DnsSearch: cfg.dnsSearch,
      DnsOptions: cfg.dnsOptions ?? [],
      ExtraHosts: cfg.extraHosts.length ? cfg.extraHosts.map((h) => `${h.names[0]}:${h.ip}`) : null,
      Privileged: cfg.privileged,
      ReadonlyRootfs: cfg.readonlyRootfs,
      SecurityOpt: cfg.securityOpt.length ? cfg.securityOpt : null,
      Tmpfs: Object.fromEntries(cfg.mounts.filter((m) => m.type === 'tmpfs').map((m) => [m.destination, ''])),
      ShmSize: cfg.shmSize ?? 67108864,
      Memory: cfg.resources.memory ?? 0,
      MemorySwap: cfg.resources.memorySwap ?? (cfg.resources.memory ? 2 * cfg.resources.memory : 0),
      NanoCpus: cfg.resources.cpus ? Math.round(cfg.resources.cpus * 1e9) : 0,
      CpuShares: cfg.resources.cpuShares ?? 0,
      CpuPeriod: cfg.resources.cpuPeriod ?? 0,
      CpuQuota: cfg.resources.cpuQuota ?? 0,
      CpusetCpus: cfg.resources.cpusetCpus ?? '',
      CpusetMems: cfg.resources.cpusetMems ?? '',
      MemoryReservation: cfg.resources.memoryReservation ?? 0,
      MemorySwappiness: cfg.resources.memorySwappiness ?? null,
      OomKillDisable: !!cfg.resources.oomKillDisable,
      OomScoreAdj: cfg.oomScoreAdj ?? 0,
      CgroupnsMode: cfg.hostNamespaces?.includes('cgroup') ? 'host' : 'private',
      ...(cfg.annotations ? { Annotations: cfg.annotations } : {}),
      PidsLimit: cfg.resources.pidsLimit ?? null,
      Ulimits: cfg.ulimits.length ? cfg.ulimits.map((u) => ({ Name: u.name, Soft: u.soft, Hard: u.hard })) : null,
      Init: cfg.init || null,
      Sysctls: Object.keys(cfg.sysctls).length ? cfg.sysctls : undefined,
      PidMode: cfg.hostNamespaces?.includes('pid') ? 'host' : '',
      IpcMode: cfg.hostNamespaces?.includes('ipc') ? 'host' : 'private',
      UTSMode: cfg.hostNamespaces?.includes('uts') ? 'host' : '',
      Devices: (cfg.devices ?? []).map((d) => ({ PathOnHost: d.hostPath, PathInContainer: d.path, CgroupPermissions: d.access })),
      GroupAdd: cfg.groupAdd?.length ? cfg.groupAdd : null,
      LogConfig: { Type: 'k8s-file', Config: {} },
    },
    GraphDriver: {
      Data: {
        LowerDir: [p.init, ...lowers].join(':'),
        MergedDir: p.merged,
        UpperDir: p.upper,
        WorkDir: p.work,
      },
      Name: 'overlay2',
    },
    Mounts: mounts(engine, c),
    Config: {
      Hostname: cfg.hostname,
      Domainname: cfg.domainname ?? '',
      User: cfg.user,
      AttachStdin: cfg.openStdin,
      AttachStdout: true,
      AttachStderr: true,
      ...(cfg.exposedPorts.length || cfg.ports.length
        ? { ExposedPorts: Object.fromEntries([...cfg.exposedPorts, ...cfg.ports.map(portKey)].map((k) => [k.includes('/') ? k : `${k}/tcp`, {}])) }
        : {}),
      Tty: cfg.tty,
      OpenStdin: cfg.openStdin,
      StdinOnce: cfg.openStdin,
      Env: cfg.env,
      Cmd: cfg.cmd.length ? cfg.cmd : null,
      ...(cfg.healthcheck ? { Healthcheck: cfg.healthcheck } : {}),
      Image: cfg.image,
      Volumes: cfg.imageVolumes.length ? Object.fromEntries(cfg.imageVolumes.map((v) => [v, {}])) : null,
      WorkingDir: cfg.workingDir,
      Entrypoint: cfg.entrypoint.length ? cfg.entrypoint : null,
      OnBuild: null,
      Labels: cfg.labels,
      StopSignal: cfg.stopSignal,
      ...(cfg.stopTimeout !== undefined ? { StopTimeout: cfg.stopTimeout } : {}),
    },
    NetworkSettings: {
      Bridge: '',
      SandboxID: live && net ? c.id : '',
      SandboxKey: live && net ? `/run/netns/kiln-${c.id}` : '',
      Ports: portsMap(c),
      Gateway: (live && net?.gateway) || '',
      IPAddress: (live && net?.ip) || '',
      IPPrefixLen: (live && net?.prefixLen) || 0,
      MacAddress: (live && net?.mac) || '',
      Networks: cfg.networkMode.startsWith('container:')
        ? {}
        : cfg.networkMode === 'none' || cfg.networkMode === 'host'
          ? { [cfg.networkMode]: { NetworkID: '', EndpointID: '', Gateway: '', IPAddress: '', IPPrefixLen: 0, MacAddress: '', Aliases: null } }
          : {
              [networkName]: {
                Aliases: cfg.networkAliases.length ? cfg.networkAliases : null,
                NetworkID: net?.networkId ?? '',
                EndpointID: live && net ? c.id : '',
                Gateway: (live && net?.gateway) || '',
                IPAddress: (live && net?.ip) || '',
                IPPrefixLen: (live && net?.prefixLen) || 0,
                MacAddress: (live && net?.mac) || '',
              },
              // Added with `network connect`: in the config always, with an address while running.
              ...Object.fromEntries(
                (cfg.connectedNetworks ?? []).map((n) => {
                  const a = live ? net?.connected?.find((x) => x.name === n.name) : undefined;
                  return [
                    n.name,
                    {
                      Aliases: n.aliases.length ? n.aliases : null,
                      NetworkID: a?.networkId ?? '',
                      EndpointID: a ? `${c.id}-${n.name}` : '',
                      Gateway: a?.gateway ?? '',
                      IPAddress: a?.ip ?? '',
                      IPPrefixLen: a?.prefixLen ?? 0,
                      MacAddress: a?.mac ?? '',
                    },
                  ];
                }),
              ),
            },
    },
  };
}

/** "0.0.0.0:8080->80/tcp, 443/tcp" */
export function portsText(c: Container): string {
  const parts: string[] = [];
  const bound = boundPorts(c);
  for (const p of bound) parts.push(`${p.hostIP ?? '0.0.0.0'}:${p.hostPort}->${p.containerPort}/${p.protocol}`);
  for (const e of c.config.exposedPorts) {
    const k = e.includes('/') ? e : `${e}/tcp`;
    if (!bound.some((p) => portKey(p) === k)) parts.push(k);
  }
  return parts.join(', ');
}
