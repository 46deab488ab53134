// The network of RUN steps (`--network default`): one bridge-attached network namespace per state
// directory, made on first use and reused by every later step and build, like BuildKit's pool of
// prepared namespaces. CNI setup costs ~0.3 s; paying it once keeps RUN steps fast. It lives until
// `kiln builder prune -a` (or a reboot clears /run, after which it is made again).
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Engine } from '../engine.js';
import { attachNetwork, detachNetwork, NETNS_DIR, netnsName } from '../runtime/network.js';

interface SandboxRecord {
  containerId: string;
  network?: string;
  netnsPath: string;
  etcDir: string;
}

const recordFile = (engine: Engine) => join(engine.root, 'build', 'sandbox.json');

function sandboxId(engine: Engine): string {
  return `build-${createHash('sha256').update(engine.root).digest('hex').slice(0, 16)}`;
}

let pending: Promise<SandboxRecord> | undefined;

/** The build sandbox's netns and /etc files, created if missing. */
export function buildSandbox(engine: Engine): Promise<SandboxRecord> {
  pending ??= ensure(engine).finally(() => (pending = undefined));
  return pending;
}

async function ensure(engine: Engine): Promise<SandboxRecord> {
  try {
    const rec = JSON.parse(readFileSync(recordFile(engine), 'utf8')) as SandboxRecord;
    if (existsSync(rec.netnsPath) && existsSync(join(rec.etcDir, 'resolv.conf'))) return rec;
  } catch {
    /* none yet, or torn: make one */
  }
  const containerId = sandboxId(engine);
  const etcDir = join(engine.root, 'build', 'sandbox-etc');
  mkdirSync(etcDir, { recursive: true });
  // Leftovers of an earlier sandbox (after a reboot or a crash) go first, so IPs and rules are not leaked.
  await detachNetwork({ stateRoot: engine.root, containerId, network: 'kiln' }).catch(() => {});
  const att = await attachNetwork({ stateRoot: engine.root, containerId, name: containerId, hostname: 'buildkitsandbox', mode: 'bridge', etcDir });
  const rec: SandboxRecord = { containerId, network: att.network, netnsPath: att.spec.network.netnsPath ?? join(NETNS_DIR, netnsName(containerId)), etcDir };
  writeFileSync(recordFile(engine), JSON.stringify(rec));
  return rec;
}

/** Tears the sandbox down (builder prune -a). */
export async function removeBuildSandbox(engine: Engine): Promise<boolean> {
  let rec: SandboxRecord;
  try {
    rec = JSON.parse(readFileSync(recordFile(engine), 'utf8')) as SandboxRecord;
  } catch {
    return false;
  }
  await detachNetwork({ stateRoot: engine.root, containerId: rec.containerId, network: rec.network });
  rmSync(recordFile(engine), { force: true });
  return true;
}
