// What this host allows a container to ask for: the capability bounding set and the rlimit hard
// limits of our own process (runc is our child, so it inherits both). Read once from /proc and
// cached; nothing here is hard-coded to one machine.
import { readFileSync } from 'node:fs';

/** Linux capability names by bit number (include/uapi/linux/capability.h). */
export const CAPABILITY_NAMES: readonly string[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL',
  'CAP_SETGID', 'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST', 'CAP_NET_ADMIN', 'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER',
  'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE', 'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP', 'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
];

/** Capabilities named in a hex mask as printed in /proc/<pid>/status (CapBnd: 000001fffeffffff). */
export function capabilitiesFromMask(hex: string): string[] {
  const mask = BigInt('0x' + hex.trim());
  return CAPABILITY_NAMES.filter((_, bit) => (mask >> BigInt(bit)) & 1n);
}

let boundingCache: string[] | undefined;

/** The host's capability bounding set (what a privileged container may get at most). */
export function hostBoundingCapabilities(): string[] {
  if (!boundingCache) {
    const m = /^CapBnd:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    boundingCache = m ? capabilitiesFromMask(m[1]!) : [...CAPABILITY_NAMES];
  }
  return boundingCache;
}

/** RLIM_INFINITY as it appears in config.json; serializeSpec writes it as 18446744073709551615. */
export const RLIM_INFINITY = 2 ** 64;

const LIMIT_NAMES: Record<string, string> = {
  'Max cpu time': 'RLIMIT_CPU',
  'Max file size': 'RLIMIT_FSIZE',
  'Max data size': 'RLIMIT_DATA',
  'Max stack size': 'RLIMIT_STACK',
  'Max core file size': 'RLIMIT_CORE',
  'Max resident set': 'RLIMIT_RSS',
  'Max processes': 'RLIMIT_NPROC',
  'Max open files': 'RLIMIT_NOFILE',
  'Max locked memory': 'RLIMIT_MEMLOCK',
  'Max address space': 'RLIMIT_AS',
  'Max file locks': 'RLIMIT_LOCKS',
  'Max pending signals': 'RLIMIT_SIGPENDING',
  'Max msgqueue size': 'RLIMIT_MSGQUEUE',
  'Max nice priority': 'RLIMIT_NICE',
  'Max realtime priority': 'RLIMIT_RTPRIO',
  'Max realtime timeout': 'RLIMIT_RTTIME',
};

export interface HostLimit {
  soft: number;
  hard: number;
}

/** Parse /proc/<pid>/limits into RLIMIT_* → {soft, hard} ("unlimited" = RLIM_INFINITY). */
export function parseProcLimits(text: string): Record<string, HostLimit> {
  const out: Record<string, HostLimit> = {};
  for (const line of text.split('\n').slice(1)) {
    const name = Object.keys(LIMIT_NAMES).find((n) => line.startsWith(n + ' '));
    if (!name) continue;
    const [soft, hard] = line.slice(name.length).trim().split(/\s+/);
    const num = (v: string | undefined) => (v === 'unlimited' || v === undefined ? RLIM_INFINITY : Number(v));
    out[LIMIT_NAMES[name]!] = { soft: num(soft), hard: num(hard) };
  }
  return out;
}

let limitsCache: Record<string, HostLimit> | undefined;

export function hostLimits(): Record<string, HostLimit> {
  limitsCache ??= parseProcLimits(readFileSync('/proc/self/limits', 'utf8'));
  return limitsCache;
}

/** Docker's rlimit names (`--ulimit nofile=…`) → RLIMIT_NOFILE. */
export function rlimitType(name: string): string {
  const t = 'RLIMIT_' + name.toUpperCase().replace(/^RLIMIT_/, '');
  if (!Object.values(LIMIT_NAMES).includes(t)) throw new Error(`invalid ulimit type: ${name}`);
  return t;
}
