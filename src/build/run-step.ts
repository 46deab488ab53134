// RUN: one process in a fresh container (own PID, mount, UTS, IPC namespaces; a network namespace
// unless --network host) on a snapshot of the parent's layers, through the OCI runtime. Whatever
// it wrote becomes the step's layer; the runtime's mount-point stubs do not.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { Engine } from '../engine.js';
import type { Digest } from '../image/types.js';
import { generateSpec, type SpecMount } from '../runtime/spec.js';
import { runOnce } from '../runtime/runc.js';
import { resolveUser } from '../runtime/user.js';
import { attachNetwork, type NetworkAttachment } from '../runtime/network.js';
import { buildSandbox } from './build-network.js';
import { recordStubs, removeMountStubs, withSnapshot, type CommitResult } from './snapshot.js';

export type BuildNetwork = 'default' | 'none' | 'host';

export interface RunStepInput {
  diffIds: Digest[];
  argv: string[];
  env: string[];
  cwd: string;
  user?: string;
  network: BuildNetwork;
  /** Mounts resolved to host paths by the executor (cache dirs, context binds, secrets, tmpfs). */
  mounts: SpecMount[];
  stdin?: Buffer;
  sourceDateEpoch?: number;
  onContainer?: (id: string) => void;
  onOutput: (data: Buffer, stream: 'stdout' | 'stderr') => void;
}

export interface RunStepResult {
  exitCode: number;
  containerId: string;
  layer: CommitResult | null;
}

export async function runStep(engine: Engine, input: RunStepInput): Promise<RunStepResult> {
  const containerId = randomBytes(32).toString('hex');
  input.onContainer?.(containerId);
  const { value: exitCode, layer } = await withSnapshot(
    engine,
    input.diffIds,
    async (s) => {
      let net: NetworkAttachment['spec'];
      if (input.network === 'default') {
        const sb = await buildSandbox(engine);
        const etcFiles = { hosts: join(sb.etcDir, 'hosts'), resolvConf: join(sb.etcDir, 'resolv.conf'), hostname: join(sb.etcDir, 'hostname') };
        net = { network: { mode: 'ns', netnsPath: sb.netnsPath }, etcFiles };
      } else {
        const hostname = containerId.slice(0, 12);
        net = (await attachNetwork({ stateRoot: engine.root, containerId, name: hostname, hostname, mode: input.network, etcDir: join(s.scratch, 'etc') })).spec;
      }
      const user = resolveUser(s.merged, input.user);
      const spec = generateSpec({
        id: containerId,
        args: input.argv,
        env: input.env,
        cwd: input.cwd,
        user: { uid: user.uid, gid: user.gid, additionalGids: user.additionalGids },
        hostname: 'buildkitsandbox',
        rootfs: s.merged,
        network: net.network,
        etcFiles: net.etcFiles,
        mounts: input.mounts,
      });
      const stubs = recordStubs(s.merged, (spec.mounts ?? []).map((m) => m.destination));
      const result = await runOnce({
        id: containerId,
        bundleDir: join(s.scratch, 'bundle'),
        spec,
        stdin: input.stdin ? Readable.from([input.stdin]) : undefined,
        stdout: (b) => input.onOutput(b, 'stdout'),
        stderr: (b) => input.onOutput(b, 'stderr'),
      });
      // A failed step leaves nothing behind: throwing skips the commit and removes the snapshot.
      if (result.exitCode !== 0) throw new StepFailed(result.exitCode);
      removeMountStubs(s.upper, stubs);
      return result.exitCode;
    },
    { keepEmpty: true, sourceDateEpoch: input.sourceDateEpoch },
  ).catch((e: unknown) => {
    if (e instanceof StepFailed) return { value: e.exitCode, layer: null };
    throw e;
  });
  return { exitCode, containerId, layer };
}

class StepFailed extends Error {
  constructor(readonly exitCode: number) {
    super(`exit code ${exitCode}`);
  }
}
