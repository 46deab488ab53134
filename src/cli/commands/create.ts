// `kiln create IMAGE [CMD…]` and the container flags it shares with `kiln run`, in Docker's
// spelling and meaning. Parsing only; the work is in src/runtime/containers.ts.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { CliError, type CliContext } from '../context.js';
import type { Engine } from '../../engine.js';
import { NotFoundError } from '../../store/errors.js';
import { isRuntimeName, RUNTIME_NAMES } from '../../runtime/runtime-select.js';
import type { Container } from '../../runtime/containers.js';
import { createContainer, type CreateOptions } from '../../runtime/container-create.js';
import { parseBytes, parseMountSpec, parseTmpfsSpec, parseVolumeSpec } from '../../runtime/volumes.js';
import type { SpecResources, UlimitOption } from '../../runtime/spec.js';
import type { HealthConfig } from '../../image/types.js';

const collect = (v: string, prev: string[] = []) => [...prev, v];

/** The cgroup limit flags, shared with `kiln update`. */
export function addResourceFlags(cmd: Command): Command {
  return cmd
    .option('-m, --memory <bytes>', 'memory limit (e.g. 64m)')
    .option('--memory-swap <bytes>', 'swap limit equal to memory plus swap: -1 for unlimited swap')
    .option('--memory-reservation <bytes>', 'memory soft limit')
    .option('--cpus <n>', 'number of CPUs')
    .option('-c, --cpu-shares <n>', 'CPU shares (relative weight)')
    .option('--cpuset-cpus <list>', 'CPUs in which to allow execution (0-3, 0,1)')
    .option('--cpuset-mems <list>', 'memory nodes in which to allow execution (0-3, 0,1)')
    .option('--cpu-period <us>', 'limit CPU CFS (Completely Fair Scheduler) period')
    .option('--cpu-quota <us>', 'limit CPU CFS (Completely Fair Scheduler) quota')
    .option('--blkio-weight <n>', 'block IO (relative weight), between 10 and 1000, or 0 to disable')
    .option('--pids-limit <n>', 'tune container pids limit (-1 for unlimited)');
}

export interface ResourceFlags {
  memory?: string;
  memorySwap?: string;
  memoryReservation?: string;
  cpus?: string;
  cpuShares?: string;
  cpusetCpus?: string;
  cpusetMems?: string;
  cpuPeriod?: string;
  cpuQuota?: string;
  blkioWeight?: string;
  pidsLimit?: string;
}

/** The limits given with addResourceFlags' flags (undefined where a flag was not given). */
export function parseResources(f: ResourceFlags): SpecResources {
  return {
    memory: bytes(f.memory, '--memory'),
    memorySwap: bytes(f.memorySwap, '--memory-swap'),
    memoryReservation: bytes(f.memoryReservation, '--memory-reservation'),
    cpus: numeric(f.cpus, '--cpus'),
    cpuShares: numeric(f.cpuShares, '--cpu-shares'),
    ...(f.cpusetCpus ? { cpusetCpus: f.cpusetCpus } : {}),
    ...(f.cpusetMems ? { cpusetMems: f.cpusetMems } : {}),
    cpuPeriod: numeric(f.cpuPeriod, '--cpu-period'),
    cpuQuota: numeric(f.cpuQuota, '--cpu-quota'),
    pidsLimit: numeric(f.pidsLimit, '--pids-limit'),
  };
}

/**
 * --blkio-weight: this host's blkio controller has no weight file (no BFQ/CFQ), so, as Docker
 * does on such a kernel, the weight is dropped with a warning rather than failing the start.
 */
export function warnBlkioWeight(v: string | undefined): void {
  if (v === undefined || v === '0') return;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 10 || n > 1000) throw new CliError(`invalid argument "${v}" for "--blkio-weight" flag: range of blkio weight is from 10 to 1000`, 125);
  if (!existsSync('/sys/fs/cgroup/blkio/blkio.weight') && !existsSync('/sys/fs/cgroup/blkio/blkio.bfq.weight')) {
    process.stderr.write('WARNING: Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.\n');
  } else throw new CliError('--blkio-weight is not supported by kiln yet', 125);
}

/** The flags of `docker create` / `docker run` (run adds --rm's partner -d and friends itself). */
export function addContainerFlags(cmd: Command): Command {
  const c = cmd
    .helpOption('--help', 'display help for command')
    .option('--name <name>', 'assign a name to the container')
    .option('--rm', 'automatically remove the container when it exits')
    .option('-e, --env <k=v>', 'set environment variables; repeatable', collect, [])
    .option('--env-file <file>', 'read a file of environment variables; repeatable', collect, [])
    .option('-w, --workdir <dir>', 'working directory inside the container')
    .option('-u, --user <user>', 'username or UID (format: <name|uid>[:<group|gid>])')
    .option('--entrypoint <cmd>', 'overwrite the default ENTRYPOINT of the image')
    .option('-i, --interactive', 'keep STDIN open even if not attached')
    .option('-t, --tty', 'allocate a pseudo-TTY')
    .option('-v, --volume <spec>', 'bind mount a volume: [SRC:]DST[:ro]; repeatable', collect, [])
    .option('--mount <spec>', 'attach a filesystem mount: type=bind|volume|tmpfs,…; repeatable', collect, [])
    .option('--tmpfs <spec>', 'mount a tmpfs directory: DIR[:opts]; repeatable', collect, [])
    .option('--read-only', "mount the container's root filesystem as read only")
    .option('-p, --publish <spec>', "publish a container's port to the host: [IP:]HOST:CTR[/proto]; repeatable", collect, [])
    .option('--network <net>', 'connect to a network: bridge, none, host, container:NAME|ID or a network name', 'bridge')
    .option('--net <net>', 'alias of --network')
    .option('--network-alias <alias>', 'add a network-scoped alias; repeatable', collect, [])
    .option('-h, --hostname <name>', 'container host name')
    .option('--add-host <host:ip>', 'add a custom host-to-IP mapping; repeatable', collect, [])
    .option('--dns <ip>', 'set custom DNS servers; repeatable', collect, [])
    .option('--dns-search <domain>', 'set custom DNS search domains; repeatable', collect, [])
    .option('--dns-option <opt>', 'set DNS options (resolv.conf `options`); repeatable', collect, [])
    .option('--dns-opt <opt>', 'alias of --dns-option', collect, [])
    .option('--domainname <name>', 'container NIS domain name');
  return addResourceFlags(c)
    .option('--shm-size <bytes>', 'size of /dev/shm (default 64m)')
    .option('--ulimit <name=soft[:hard]>', 'ulimit options; repeatable', collect, [])
    .option('--cap-add <cap>', 'add Linux capabilities; repeatable', collect, [])
    .option('--cap-drop <cap>', 'drop Linux capabilities; repeatable', collect, [])
    .option('--security-opt <opt>', 'security options (no-new-privileges, seccomp=unconfined|FILE); repeatable', collect, [])
    .option('--privileged', 'give extended privileges to this container')
    .option('--init', 'run an init inside the container that forwards signals and reaps processes')
    .option('--restart <policy>', 'restart policy: no, on-failure[:N], always, unless-stopped', 'no')
    .option('--stop-signal <sig>', 'signal to stop the container')
    .option('--stop-timeout <s>', 'timeout (in seconds) to stop a container')
    .option('--health-cmd <cmd>', 'command to run to check health')
    .option('--health-interval <d>', 'time between running the check (ms|s|m|h)')
    .option('--health-timeout <d>', 'maximum time to allow one check to run (ms|s|m|h)')
    .option('--health-retries <n>', 'consecutive failures needed to report unhealthy')
    .option('--health-start-period <d>', 'start period for the container to initialize (ms|s|m|h)')
    .option('--no-healthcheck', 'disable any container-specified HEALTHCHECK')
    .option('-l, --label <k=v>', 'set metadata on a container; repeatable', collect, [])
    .option('--sysctl <k=v>', 'sysctl options; repeatable', collect, [])
    .option('--platform <p>', 'platform (only the host platform runs here)')
    .option('--pull <policy>', 'pull image before running: missing, always, never', 'missing')
    .option('--expose <port>', 'expose a port or a range of ports; repeatable', collect, [])
    .option('-P, --publish-all', 'publish all exposed ports to random host ports')
    .option('--cidfile <file>', 'write the container ID to the file')
    .option('--label-file <file>', 'read in a line delimited file of labels; repeatable', collect, [])
    .option('--pid <mode>', 'PID namespace to use: host')
    .option('--ipc <mode>', 'IPC mode to use: private, shareable or host')
    .option('--uts <mode>', 'UTS namespace to use: host')
    .option('--device <spec>', 'add a host device: HOST[:CONTAINER][:rwm]; repeatable', collect, [])
    .option('--group-add <group>', 'add additional groups to join; repeatable', collect, [])
    .option('--volumes-from <ctr[:ro|rw]>', 'mount volumes from the specified container; repeatable', collect, [])
    .option('--log-driver <driver>', 'logging driver: json-file, k8s-file or local (all: kiln\'s log file)')
    .option('--log-opt <k=v>', 'log driver options (accepted; kiln keeps one log file); repeatable', collect, [])
    .option('--runtime <name>', `OCI runtime for the container (${RUNTIME_NAMES.join(' or ')}; default: crun where it runs)`)
    .option('--memory-swappiness <n>', 'tune container memory swappiness (0 to 100)', '-1')
    .option('--oom-kill-disable', 'disable OOM Killer')
    .option('--oom-score-adj <n>', "tune host's OOM preferences (-1000 to 1000)")
    .option('--annotation <k=v>', 'add an annotation to the container (passed through to the OCI runtime); repeatable', collect, [])
    .option('--cgroupns <mode>', 'cgroup namespace to use: host or private')
    .option('--userns <mode>', 'user namespace to use: host (kiln runs no user namespaces)')
    .option('--storage-opt <opt>', 'storage driver options (not supported: overlay layers have no quota)', collect, [])
    .option('-q, --quiet', 'suppress the pull output')
    .option('--ip <address>', 'IPv4 address on a user-defined network (e.g. 10.5.0.10)');
}

export interface ContainerFlags extends ResourceFlags {
  name?: string;
  env: string[];
  envFile: string[];
  workdir?: string;
  user?: string;
  entrypoint?: string;
  interactive?: boolean;
  tty?: boolean;
  volume: string[];
  mount: string[];
  tmpfs: string[];
  readOnly?: boolean;
  publish: string[];
  network: string;
  net?: string;
  networkAlias: string[];
  hostname?: string;
  addHost: string[];
  dns: string[];
  dnsSearch: string[];
  shmSize?: string;
  ulimit: string[];
  capAdd: string[];
  capDrop: string[];
  securityOpt: string[];
  privileged?: boolean;
  init?: boolean;
  restart: string;
  stopSignal?: string;
  stopTimeout?: string;
  healthCmd?: string;
  healthInterval?: string;
  healthTimeout?: string;
  healthRetries?: string;
  healthStartPeriod?: string;
  healthcheck: boolean;
  label: string[];
  sysctl: string[];
  pull: string;
  rm?: boolean;
  expose: string[];
  publishAll?: boolean;
  cidfile?: string;
  labelFile: string[];
  pid?: string;
  ipc?: string;
  uts?: string;
  device: string[];
  groupAdd: string[];
  volumesFrom: string[];
  logDriver?: string;
  logOpt: string[];
  runtime?: string;
  ip?: string;
  dnsOption: string[];
  dnsOpt: string[];
  domainname?: string;
  memorySwappiness: string;
  oomKillDisable?: boolean;
  oomScoreAdj?: string;
  annotation: string[];
  cgroupns?: string;
  userns?: string;
  storageOpt: string[];
  quiet?: boolean;
}

/** `--label-file`: KEY=VALUE lines (a bare KEY is an empty label); # comments. */
function readLabelFile(file: string): string[] {
  return readFileSync(file, 'utf8')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
}

function namespaceMode(v: string | undefined, flag: string, allowed: string[]): string | undefined {
  if (v === undefined || v === '' || v === 'private') return undefined;
  if (!allowed.includes(v)) throw new CliError(`invalid ${flag} mode ${JSON.stringify(v)}: use ${['private', ...allowed].join(' or ')}`, 125);
  return v;
}

/** `--env-file`: KEY=VALUE lines; a bare KEY takes the host's value; # comments. */
export function readEnvFile(file: string): string[] {
  const out: string[] = [];
  for (const raw of readFileSync(file, 'utf8').split('\n')) {
    const line = raw.replace(/^\s+/, '').replace(/\r$/, '');
    if (!line || line.startsWith('#')) continue;
    if (line.includes('=')) out.push(line);
    else if (process.env[line.trim()] !== undefined) out.push(`${line.trim()}=${process.env[line.trim()]}`);
  }
  return out;
}

function numeric(v: string | undefined, what: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new CliError(`invalid argument "${v}" for "${what}" flag`, 125);
  return n;
}

function bytes(v: string | undefined, what: string): number | undefined {
  if (v === undefined) return undefined;
  if (v === '-1') return -1;
  try {
    return parseBytes(v);
  } catch {
    throw new CliError(`invalid argument "${v}" for "${what}" flag: invalid size: '${v}'`, 125);
  }
}

/** Go durations as Docker's health flags take them: 30s, 1m30s, 500ms → nanoseconds. */
function durationNs(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const units: Record<string, number> = { ns: 1, us: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
  let total = 0;
  const re = /(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)/g;
  let m: RegExpExecArray | null;
  let seen = '';
  while ((m = re.exec(v))) {
    total += Number(m[1]) * units[m[2]!]!;
    seen += m[0];
  }
  if (seen !== v) throw new CliError(`invalid duration: ${v}`, 125);
  return Math.round(total);
}

function parseUlimit(s: string): UlimitOption {
  const m = /^([a-z_]+)=(-?\d+)(?::(-?\d+))?$/i.exec(s);
  if (!m) throw new CliError(`invalid argument "${s}" for "--ulimit" flag: invalid ulimit argument: ${s}`, 125);
  const soft = Number(m[2]);
  return { name: m[1]!, soft, hard: m[3] === undefined ? soft : Number(m[3]) };
}

function keyValues(list: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of list) {
    const i = kv.indexOf('=');
    out[i < 0 ? kv : kv.slice(0, i)] = i < 0 ? '' : kv.slice(i + 1);
  }
  return out;
}

/** Flags → CreateOptions (throws CliError 125 on a bad flag, as Docker's CLI exits 125). */
export function createOptions(image: string, cmd: string[], f: ContainerFlags): CreateOptions {
  try {
    const env = [...f.envFile.flatMap(readEnvFile), ...f.env];
    let healthcheck: HealthConfig | undefined;
    if (!f.healthcheck) healthcheck = { Test: ['NONE'] };
    else if (f.healthCmd) {
      healthcheck = {
        Test: ['CMD-SHELL', f.healthCmd],
        ...(f.healthInterval ? { Interval: durationNs(f.healthInterval) } : {}),
        ...(f.healthTimeout ? { Timeout: durationNs(f.healthTimeout) } : {}),
        ...(f.healthStartPeriod ? { StartPeriod: durationNs(f.healthStartPeriod) } : {}),
        ...(f.healthRetries ? { Retries: numeric(f.healthRetries, '--health-retries') } : {}),
      };
    }
    const stopTimeout = numeric(f.stopTimeout, '--stop-timeout');
    const oomScoreAdj = numeric(f.oomScoreAdj, '--oom-score-adj');
    if (oomScoreAdj !== undefined && (!Number.isInteger(oomScoreAdj) || oomScoreAdj < -1000 || oomScoreAdj > 1000)) {
      throw new CliError(`Invalid value ${f.oomScoreAdj}, range for oom score adj is [-1000, 1000]`, 125);
    }
    if (f.userns !== undefined && f.userns !== '' && f.userns !== 'host') throw new CliError(`invalid --userns mode ${JSON.stringify(f.userns)}: kiln runs containers in the host's user namespace (host)`, 125);
    if (f.storageOpt.length) throw new CliError('--storage-opt is not supported: kiln\'s overlay layers have no size quota', 125);
    if (f.cgroupns !== undefined && f.cgroupns !== 'host' && f.cgroupns !== 'private') throw new CliError(`invalid cgroup namespace mode: ${f.cgroupns}`, 125);
    warnBlkioWeight(f.blkioWeight);
    const resources = parseResources(f);
    const swappiness = numeric(f.memorySwappiness, '--memory-swappiness');
    if (swappiness !== undefined && swappiness !== -1) resources.memorySwappiness = swappiness;
    if (f.oomKillDisable) {
      resources.oomKillDisable = true;
      if (!resources.memory) process.stderr.write("WARNING: Disabling the OOM killer on containers without setting a '-m/--memory' limit may be dangerous.\n");
    }
    const dnsOptions = [...f.dnsOption, ...f.dnsOpt];
    return {
      image,
      ...(f.name !== undefined ? { name: f.name } : {}),
      cmd,
      ...(f.entrypoint !== undefined ? { entrypoint: f.entrypoint } : {}),
      env,
      ...(f.workdir ? { workdir: f.workdir } : {}),
      ...(f.user !== undefined ? { user: f.user } : {}),
      ...(f.hostname ? { hostname: f.hostname } : {}),
      tty: !!f.tty,
      interactive: !!f.interactive,
      mounts: [...f.volume.map((v) => parseVolumeSpec(v)), ...f.mount.map((m) => parseMountSpec(m)), ...f.tmpfs.map(parseTmpfsSpec)],
      readOnly: !!f.readOnly,
      publish: f.publish,
      network: f.net ?? f.network,
      networkAliases: f.networkAlias,
      addHost: f.addHost,
      dns: f.dns,
      dnsSearch: f.dnsSearch,
      ...(dnsOptions.length ? { dnsOptions } : {}),
      ...(f.domainname ? { domainname: f.domainname } : {}),
      ...(oomScoreAdj !== undefined ? { oomScoreAdj } : {}),
      ...(f.annotation.length ? { annotations: keyValues(f.annotation) } : {}),
      ...(f.cgroupns === 'host' ? { cgroupnsMode: 'host' as const } : {}),
      resources,
      ...(f.runtime !== undefined && isRuntimeName(f.runtime) ? { runtime: f.runtime } : {}),
      ...(f.shmSize ? { shmSize: bytes(f.shmSize, '--shm-size') } : {}),
      ulimits: f.ulimit.map(parseUlimit),
      capAdd: f.capAdd,
      capDrop: f.capDrop,
      securityOpt: f.securityOpt,
      privileged: !!f.privileged,
      init: !!f.init,
      restart: f.restart,
      ...(f.stopSignal ? { stopSignal: f.stopSignal } : {}),
      ...(stopTimeout !== undefined ? { stopTimeout } : {}),
      autoRemove: !!f.rm,
      labels: keyValues([...f.labelFile.flatMap(readLabelFile), ...f.label]),
      expose: f.expose,
      publishAll: !!f.publishAll,
      ...(namespaceMode(f.pid, '--pid', ['host']) ? { pidMode: 'host' as const } : {}),
      ...(namespaceMode(f.ipc, '--ipc', ['host', 'shareable']) === 'host' ? { ipcMode: 'host' as const } : {}),
      ...(namespaceMode(f.uts, '--uts', ['host']) ? { utsMode: 'host' as const } : {}),
      devices: f.device,
      groupAdd: f.groupAdd,
      volumesFrom: f.volumesFrom,
      ...(f.ip !== undefined ? { ip: f.ip } : {}),
      ...(healthcheck ? { healthcheck } : {}),
      sysctls: keyValues(f.sysctl),
    };
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError((e as Error).message, 125);
  }
}

/** Create, pulling the image first when it is missing (Docker prints "Unable to find image…"). */
export async function createFromFlags(ctx: CliContext, image: string, cmd: string[], f: ContainerFlags): Promise<Container> {
  if (f.runtime !== undefined && !isRuntimeName(f.runtime)) throw new CliError(`unknown or invalid runtime name: ${f.runtime} (kiln knows ${RUNTIME_NAMES.join(', ')})`, 125);
  if (f.logDriver !== undefined && !['json-file', 'k8s-file', 'local'].includes(f.logDriver)) {
    throw new CliError(`logging driver ${JSON.stringify(f.logDriver)} is not supported: kiln keeps each container's output in one log file (json-file, k8s-file, local)`, 125);
  }
  if (f.cidfile !== undefined && existsSync(f.cidfile)) {
    throw new CliError(`Container ID file found, make sure the other container isn't running or delete ${f.cidfile}`, 125);
  }
  const c = await createWithPull(ctx, image, cmd, f);
  if (f.cidfile !== undefined) writeFileSync(f.cidfile, c.id);
  return c;
}

async function createWithPull(ctx: CliContext, image: string, cmd: string[], f: ContainerFlags): Promise<Container> {
  const opts = createOptions(image, cmd, f);
  const engine = ctx.engine();
  if (f.pull === 'always') await pull(engine, image, !!f.quiet);
  try {
    return createContainer(engine, opts);
  } catch (e) {
    if (e instanceof NotFoundError && e.kind === 'image' && f.pull !== 'never') {
      if (!f.quiet) process.stderr.write(`Unable to find image '${image}' locally\n`);
      await pull(engine, image, !!f.quiet);
      try {
        return createContainer(engine, opts);
      } catch (e2) {
        throw new CliError((e2 as Error).message, 125);
      }
    }
    throw new CliError((e as Error).message, 125);
  }
}

async function pull(engine: Engine, image: string, quiet: boolean): Promise<void> {
  try {
    const { pullImage } = await import('../../registry/pull.js');
    const { progressFor } = await import('../../registry/progress.js');
    await pullImage(engine, image, quiet ? {} : { progress: progressFor(process.stderr, 'auto') });
  } catch (e) {
    throw new CliError((e as Error).message, 125);
  }
}

export function register(program: Command, ctx: CliContext): void {
  addContainerFlags(
    program
      .command('create')
      .description('Create a new container')
      .argument('<image>', 'image to create the container from')
      .argument('[command...]', 'command and arguments (replace the image CMD)')
      .passThroughOptions(),
  ).action(async (image: string, cmd: string[], f: ContainerFlags) => {
    const c = await createFromFlags(ctx, image, cmd, f);
    process.stdout.write(`${c.id}\n`);
  });
}
