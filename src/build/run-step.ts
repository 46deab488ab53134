// RUN: one process in a fresh container (own PID, mount, UTS, IPC namespaces; a network namespace
// unless --network host) on a snapshot of the parent's layers, through the OCI runtime. Whatever
// it wrote becomes the step's layer; the runtime's mount-point stubs do not.
import { randomHex } from '../util/random.js';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { Engine } from '../engine.js';
import type { Digest } from '../image/types.js';
import { generateSpec, type SpecMount } from '../runtime/spec.js';
import { runOnce } from '../runtime/oci-runtime.js';
import { resolveUser } from '../runtime/user.js';
import { attachNetwork, detachNetwork, hostsLines, type HostsEntry, type NetworkAttachment } from '../runtime/network.js';
import { readFileSync, writeFileSync } from 'node:fs';
import { buildSandbox } from './build-network.js';
import { recordStepContainer } from './step-container.js';
import { recordStubs, removeMountStubs, withSnapshot, type CommitResult } from './snapshot.js';

export type BuildNetwork = 'default' | 'none' | 'host';

/** A RUN step: the process (see ProcessInRootfs) and the layers it runs on. */
export interface RunStepInput extends Omit<ProcessInRootfs, 'containerId' | 'rootfs' | 'upper' | 'scratch' | 'stdin'> {
  diffIds: Digest[];
  /** The parent step's image (what `kiln ps` shows for the step's container). */
  imageId: Digest;
  stdin?: Buffer;
  sourceDateEpoch?: number;
  onContainer?: (id: string) => void;
}

export interface RunStepResult {
  exitCode: number;
  containerId: string;
  layer: CommitResult | null;
}

export interface ProcessInRootfs {
  containerId: string;
  /** The mounted root filesystem and the upper dir its changes land in. */
  rootfs: string;
  upper: string;
  /** Private scratch space (bundle, /etc files) on the state filesystem. */
  scratch: string;
  argv: string[];
  env: string[];
  cwd: string;
  user?: string;
  network: BuildNetwork;
  /** `build --add-host`: more /etc/hosts lines for the step */
  extraHosts?: HostsEntry[];
  /** Mounts resolved to host paths (cache dirs, context binds, secrets, tmpfs). */
  mounts: SpecMount[];
  stdin?: Buffer | 'inherit';
  tty?: boolean;
  onOutput?: (data: Buffer, stream: 'stdout' | 'stderr') => void;
}

/**
 * Runs one process in a mounted root filesystem through the OCI runtime and returns its exit
 * code. The runtime's mount-point stubs are removed from the upper dir afterwards. Used by RUN
 * steps and by `kiln builder run`.
 */
export async function runInRootfs(engine: Engine, p: ProcessInRootfs): Promise<number> {
  let net: NetworkAttachment['spec'];
  let detach: (() => Promise<void>) | undefined;
  if (p.network === 'default') {
    const sb = await buildSandbox(engine);
    const etcFiles = { hosts: join(sb.etcDir, 'hosts'), resolvConf: join(sb.etcDir, 'resolv.conf'), hostname: join(sb.etcDir, 'hostname') };
    if (p.extraHosts?.length) {
      // The sandbox's hosts file is shared by every build: this step gets its own copy plus the lines.
      const own = join(p.scratch, 'hosts');
      writeFileSync(own, readFileSync(etcFiles.hosts, 'utf8') + hostsLines(p.extraHosts).map((l) => `${l}\n`).join(''));
      etcFiles.hosts = own;
    }
    net = { network: { mode: 'ns', netnsPath: sb.netnsPath }, etcFiles };
  } else {
    const hostname = p.containerId.slice(0, 12);
    const att = await attachNetwork({ stateRoot: engine.root, containerId: p.containerId, name: hostname, hostname, mode: p.network, etcDir: join(p.scratch, 'etc'), extraHosts: p.extraHosts });
    net = att.spec;
    if (att.network) detach = () => detachNetwork({ stateRoot: engine.root, containerId: p.containerId, network: att.network });
  }
  try {
    const user = resolveUser(p.rootfs, p.user);
    const spec = generateSpec({
      id: p.containerId,
      args: p.argv,
      env: p.env,
      cwd: p.cwd,
      user: { uid: user.uid, gid: user.gid, additionalGids: user.additionalGids },
      hostname: 'buildkitsandbox',
      rootfs: p.rootfs,
      network: net.network,
      etcFiles: net.etcFiles,
      mounts: p.mounts,
      terminal: p.tty,
    });
    const stubs = recordStubs(p.rootfs, (spec.mounts ?? []).map((m) => m.destination));
    try {
      const result = await runOnce({
        id: p.containerId,
        bundleDir: join(p.scratch, 'bundle'),
        spec,
        tty: p.tty,
        stdin: p.stdin === 'inherit' ? 'inherit' : p.stdin ? Readable.from([p.stdin]) : undefined,
        stdout: p.onOutput ? (b) => p.onOutput!(b, 'stdout') : undefined,
        stderr: p.onOutput ? (b) => p.onOutput!(b, 'stderr') : undefined,
      });
      // The runtime's reason the process never ran, once, in the step's output (it is held back
      // from the container's stderr, see runOnce).
      if (result.startError) p.onOutput?.(Buffer.from(`${result.startError}\n`), 'stderr');
      return result.exitCode;
    } finally {
      removeMountStubs(p.upper, stubs);
    }
  } finally {
    await detach?.();
  }
}

export async function runStep(engine: Engine, input: RunStepInput): Promise<RunStepResult> {
  const containerId = randomHex();
  input.onContainer?.(containerId);
  const forget = recordStepContainer(engine, containerId, input.imageId, input.argv, input.env, input.cwd);
  const { value: exitCode, layer } = await withSnapshot(
    engine,
    input.diffIds,
    async (s) => {
      const exitCode = await runInRootfs(engine, { ...input, containerId, rootfs: s.mount(), upper: s.upper, scratch: s.scratch });
      // A failed step leaves nothing behind: throwing skips the commit and removes the snapshot.
      if (exitCode !== 0) throw new StepFailed(exitCode);
      return exitCode;
    },
    { keepEmpty: true, sourceDateEpoch: input.sourceDateEpoch },
  )
    .catch((e: unknown) => {
      if (e instanceof StepFailed) return { value: e.exitCode, layer: null };
      throw e;
    })
    .finally(forget);
  return { exitCode, containerId, layer };
}

class StepFailed extends Error {
  constructor(readonly exitCode: number) {
    super(`exit code ${exitCode}`);
  }
}
