// The network of RUN steps (`--network default`): one bridge-attached network namespace per state
// directory, made on first use and reused by every later step and build, like BuildKit's pool of
// prepared namespaces: CNI setup and teardown cost ~0.15-0.3 s, paid once rather than per step.
//
// Its CNI state (the cached ADD result that a clean DEL needs) lives under /run/kiln, beside the
// IP leases, not in the state directory: a state directory can be deleted (tests, benchmarks)
// while its sandbox still holds an IP and firewall rules. Each time a sandbox is needed, sandboxes
// whose state directory is gone are torn down properly. A reboot clears /run: netns, leases and
// this state go together, and the next build makes a new sandbox.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import type { Engine } from '../engine.js';
import { attachNetwork, detachNetwork, NETNS_DIR, netnsName } from '../runtime/network.js';

const SANDBOXES = '/run/kiln/build-sandboxes';

interface SandboxRecord {
  /** The state directory the sandbox serves. */
  root: string;
  containerId: string;
  network?: string;
  netnsPath: string;
  /** hosts, resolv.conf and hostname for the steps. */
  etcDir: string;
}

export type BuildSandbox = SandboxRecord;

const dirOf = (id: string) => join(SANDBOXES, id);
const recordOf = (id: string) => join(dirOf(id), 'sandbox.json');

function sandboxId(root: string): string {
  return `build-${createHash('sha256').update(root).digest('hex').slice(0, 16)}`;
}

function readRecord(id: string): SandboxRecord | undefined {
  try {
    return JSON.parse(readFileSync(recordOf(id), 'utf8')) as SandboxRecord;
  } catch {
    return undefined;
  }
}

let pending: Promise<SandboxRecord> | undefined;

/** The build sandbox of this state directory: its netns and /etc files, created if missing. */
export function buildSandbox(engine: Engine): Promise<SandboxRecord> {
  pending ??= ensure(engine.root).finally(() => (pending = undefined));
  return pending;
}

async function ensure(root: string): Promise<SandboxRecord> {
  const id = sandboxId(root);
  const rec = readRecord(id);
  if (rec && existsSync(rec.netnsPath) && existsSync(join(rec.etcDir, 'resolv.conf'))) return rec;
  await sweepOrphans();
  // Leftovers of a half-made sandbox (a crash during setup) go first, so no IP or rule leaks.
  await teardown(id, rec?.network ?? 'kiln');
  const dir = dirOf(id);
  const etcDir = join(dir, 'etc');
  mkdirSync(etcDir, { recursive: true });
  const att = await attachNetwork({ stateRoot: dir, containerId: id, name: id, hostname: 'buildkitsandbox', mode: 'bridge', etcDir });
  const made: SandboxRecord = { root, containerId: id, network: att.network, netnsPath: att.spec.network.netnsPath ?? join(NETNS_DIR, netnsName(id)), etcDir };
  writeFileSync(`${recordOf(id)}.tmp`, JSON.stringify(made));
  renameSync(`${recordOf(id)}.tmp`, recordOf(id));
  return made;
}

async function teardown(id: string, network: string | undefined): Promise<void> {
  // Without its CNI state only the namespace can go (detachNetwork always deletes it).
  const known = existsSync(dirOf(id));
  await detachNetwork({ stateRoot: dirOf(id), containerId: id, network: known ? network : undefined }).catch(() => {});
  rmSync(dirOf(id), { recursive: true, force: true });
}

/** Sandboxes whose state directory no longer exists. */
async function sweepOrphans(): Promise<void> {
  let ids: string[] = [];
  try {
    ids = readdirSync(SANDBOXES);
  } catch {
    return;
  }
  for (const id of ids) {
    const rec = readRecord(id);
    if (rec && !existsSync(rec.root)) await teardown(id, rec.network);
  }
}

/** Tears this state directory's sandbox down (`kiln builder prune -a`). */
export async function removeBuildSandbox(engine: Engine): Promise<boolean> {
  const id = sandboxId(engine.root);
  const rec = readRecord(id);
  if (!rec && !existsSync(dirOf(id))) return false;
  await teardown(id, rec?.network ?? 'kiln');
  return true;
}
