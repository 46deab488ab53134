// kiln's default seccomp profile. A DENYLIST (defaultAction SCMP_ACT_ALLOW), not a port of Docker's
// allowlist: it refuses, with EPERM, the syscalls Docker's default profile refuses — the kernel
// keyring, module loading, kexec, mount and namespace creation, tracing other processes, clock and
// swap administration, io_uring, BPF, perf — and it lifts a group when the container holds the
// capability Docker's profile ties it to (so --cap-add SYS_ADMIN gives mount/unshare back, as in
// Docker). Syscalls unknown to the host's libseccomp are skipped by runc. What this does not copy:
// Docker's personality(2) argument filter, and the refusal of syscalls newer than the profile
// (an allowlist refuses them by construction; a denylist lets them through).
import type { OciSeccomp, OciSeccompSyscall } from './oci-spec.js';

const EPERM = 1;
const ENOSYS = 38;

/** Always refused: no capability makes Docker's profile allow these. */
const ALWAYS: string[] = [
  'add_key', 'keyctl', 'request_key',
  'create_module', 'get_kernel_syms', 'query_module', 'nfsservctl',
  'kexec_load', 'kexec_file_load',
  'swapon', 'swapoff', 'sysfs', '_sysctl', 'uselib', 'ustat', 'vm86', 'vm86old',
  'io_uring_setup', 'io_uring_enter', 'io_uring_register',
];

/** Refused unless the container holds one of the capabilities (Docker's `includes.caps`). */
const BY_CAPABILITY: { caps: string[]; names: string[] }[] = [
  {
    caps: ['CAP_SYS_ADMIN'],
    names: [
      'mount', 'umount', 'umount2', 'mount_setattr', 'move_mount', 'open_tree', 'fsopen', 'fsconfig',
      'fsmount', 'fspick', 'pivot_root', 'unshare', 'setns', 'quotactl', 'quotactl_fd',
      'lookup_dcookie', 'fanotify_init', 'setdomainname', 'sethostname',
    ],
  },
  { caps: ['CAP_SYS_ADMIN', 'CAP_BPF'], names: ['bpf'] },
  { caps: ['CAP_SYS_ADMIN', 'CAP_PERFMON'], names: ['perf_event_open'] },
  { caps: ['CAP_SYS_ADMIN', 'CAP_SYSLOG'], names: ['syslog'] },
  { caps: ['CAP_DAC_READ_SEARCH'], names: ['open_by_handle_at', 'name_to_handle_at'] },
  { caps: ['CAP_SYS_BOOT'], names: ['reboot'] },
  { caps: ['CAP_SYS_MODULE'], names: ['init_module', 'finit_module', 'delete_module'] },
  { caps: ['CAP_SYS_PACCT'], names: ['acct'] },
  {
    caps: ['CAP_SYS_PTRACE'],
    names: ['ptrace', 'kcmp', 'pidfd_getfd', 'process_madvise', 'process_vm_readv', 'process_vm_writev', 'userfaultfd'],
  },
  { caps: ['CAP_SYS_RAWIO'], names: ['iopl', 'ioperm'] },
  { caps: ['CAP_SYS_TIME'], names: ['settimeofday', 'stime', 'clock_settime', 'clock_settime64', 'clock_adjtime', 'clock_adjtime64', 'adjtimex'] },
  { caps: ['CAP_SYS_TTY_CONFIG'], names: ['vhangup'] },
  { caps: ['CAP_SYS_NICE'], names: ['get_mempolicy', 'mbind', 'set_mempolicy', 'set_mempolicy_home_node', 'move_pages'] },
];

/** clone(2) flags that create namespaces; refused without CAP_SYS_ADMIN, as Docker does. */
const CLONE_NAMESPACE_FLAGS = [
  0x00020000, // CLONE_NEWNS
  0x02000000, // CLONE_NEWCGROUP
  0x04000000, // CLONE_NEWUTS
  0x08000000, // CLONE_NEWIPC
  0x10000000, // CLONE_NEWUSER
  0x20000000, // CLONE_NEWPID
  0x40000000, // CLONE_NEWNET
];

const ARCHITECTURES: Record<string, string[]> = {
  x64: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
  arm64: ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM'],
};

/** The default profile for a container holding `capabilities` (CAP_* names). */
export function defaultSeccompProfile(capabilities: readonly string[]): OciSeccomp {
  const has = new Set(capabilities);
  const denied = [...ALWAYS];
  for (const group of BY_CAPABILITY) {
    if (!group.caps.some((c) => has.has(c))) denied.push(...group.names);
  }
  const syscalls: OciSeccompSyscall[] = [
    { names: [...new Set(denied)].sort(), action: 'SCMP_ACT_ERRNO', errnoRet: EPERM },
  ];
  if (!has.has('CAP_SYS_ADMIN')) {
    for (const flag of CLONE_NAMESPACE_FLAGS) {
      syscalls.push({
        names: ['clone'],
        action: 'SCMP_ACT_ERRNO',
        errnoRet: EPERM,
        args: [{ index: 0, value: flag, valueTwo: flag, op: 'SCMP_CMP_MASKED_EQ' }],
      });
    }
    // glibc falls back to clone(2) when clone3 says ENOSYS; clone3's flags live in memory where
    // seccomp cannot look, so Docker answers ENOSYS to all of it.
    syscalls.push({ names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS });
  }
  return {
    defaultAction: 'SCMP_ACT_ALLOW',
    architectures: ARCHITECTURES[process.arch] ?? [],
    syscalls,
  };
}
