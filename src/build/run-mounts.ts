// RUN --mount: turns each mount of the instruction into a runtime mount on the host — a bind of a
// context directory (writes discarded through a private overlay, as BuildKit does with rw), of
// another stage or image, a persistent cache directory, a tmpfs, or a secret file. Everything made
// here is released after the step.
import { createHash } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { relaySocket } from './socket-relay.js';
import { join, posix } from 'node:path';
import type { Engine } from '../engine.js';
import type { Digest } from '../image/types.js';
import { mountOverlay, unmountOverlay } from '../layers/overlay.js';
import type { SpecMount } from '../runtime/spec.js';
import type { BuildContext } from './build-context.js';
import type { StageState } from './executor.js';
import { resolveInRoot } from '../runtime/paths.js';
import type { RunMount } from '../dockerfile/run-mount.js';

export interface RunMountEnv {
  context: BuildContext;
  secrets: Record<string, { src?: string; env?: string }>;
  /** `build --ssh ID=SOCKET`: agent sockets by ID */
  ssh: Record<string, string>;
  /** `build --build-context NAME=DIR`: the directory a `from=NAME` names, if it is one */
  namedDir?: (name: string) => string | undefined;
  stageRefs: Map<string, number>;
  stageResult: (index: number) => Promise<StageState>;
  resolveImage: (ref: string) => Promise<{ id: Digest; config: { rootfs: { diff_ids: Digest[] } } }>;
}

export interface ResolvedMounts {
  specs: SpecMount[];
  /** Environment variables from `type=secret,env=NAME`. */
  env: string[];
  release(): Promise<void>;
}

export async function resolveRunMounts(engine: Engine, mounts: RunMount[], env: RunMountEnv, workdir: string): Promise<ResolvedMounts> {
  const specs: SpecMount[] = [];
  const extraEnv: string[] = [];
  const cleanups: (() => void)[] = [];
  const scratch = engine.tmpDir('mounts-');
  cleanups.push(() => rmSync(scratch, { recursive: true, force: true }));
  let n = 0;
  let sshCount = 0;
  const target = (t: string) => (posix.isAbsolute(t) ? t : posix.join(workdir, t));
  try {
    for (const m of mounts) {
      const dir = join(scratch, String(n++));
      switch (m.type) {
        case 'bind': {
          const root = m.from !== undefined ? await viewOf(engine, m.from, env, dir, cleanups) : await env.context.mountView();
          const src = resolveInRoot(root, m.source || '/');
          if (!existsSync(src)) throw new Error(`failed to mount ${m.target}: ${m.source}: not found`);
          if (!m.readOnly) {
            // rw: the step may write, but nothing it writes survives the step.
            const upper = join(dir, 'upper');
            const work = join(dir, 'work');
            const merged = join(dir, 'merged');
            for (const d of [upper, work, merged]) mkdirSync(d, { recursive: true });
            mountOverlay({ lower: [src], upper, work, target: merged });
            cleanups.push(() => unmountOverlay(merged));
            specs.push({ type: 'bind', source: merged, destination: target(m.target!) });
          } else {
            specs.push({ type: 'bind', source: src, destination: target(m.target!), readonly: true });
          }
          break;
        }
        case 'cache': {
          // One directory per cache id (default: the target path), kept across builds.
          const id = m.id ?? target(m.target!);
          const cacheDir = join(engine.root, 'cache-mounts', createHash('sha256').update(id).digest('hex').slice(0, 32));
          if (!existsSync(cacheDir)) {
            mkdirSync(cacheDir, { recursive: true });
            chmodSync(cacheDir, m.mode ?? 0o755);
            chownSync(cacheDir, m.uid ?? 0, m.gid ?? 0);
          }
          specs.push({ type: 'bind', source: cacheDir, destination: target(m.target!), readonly: m.readOnly });
          break;
        }
        case 'tmpfs':
          specs.push({ type: 'tmpfs', destination: target(m.target!), size: m.size });
          break;
        case 'secret': {
          const id = m.id ?? (m.target ? posix.basename(m.target) : undefined);
          const sec = id !== undefined ? env.secrets[id] : undefined;
          let value: Buffer | undefined;
          if (sec?.src && existsSync(sec.src)) value = readFileSync(sec.src);
          else if (sec?.env && process.env[sec.env] !== undefined) value = Buffer.from(process.env[sec.env]!);
          if (value === undefined) {
            if (m.required) throw new Error(`secret ${id ?? '(no id)'}: not found`);
            break;
          }
          if (m.env) extraEnv.push(`${m.env}=${value.toString('utf8')}`);
          if (m.env && !m.target) break;
          mkdirSync(dir, { recursive: true });
          const file = join(dir, 'secret');
          writeFileSync(file, value, { mode: m.mode ?? 0o400 });
          chownSync(file, m.uid ?? 0, m.gid ?? 0);
          specs.push({ type: 'bind', source: file, destination: m.target ? target(m.target) : `/run/secrets/${id}`, readonly: true });
          break;
        }
        case 'ssh': {
          // BuildKit's way: a socket of our own (with the mount's uid/gid/mode) relays each
          // connection to the agent given with `build --ssh ID[=SOCKET]`; SSH_AUTH_SOCK points at it.
          const id = m.id ?? 'default';
          const agent = env.ssh[id];
          if (agent === undefined) {
            if (m.required) throw new Error(`no SSH key ${JSON.stringify(id)} forwarded from the client (use kiln build --ssh ${id}[=SOCKET])`);
            break;
          }
          mkdirSync(dir, { recursive: true });
          const sock = join(dir, 'ssh.sock');
          const server = await relaySocket(sock, agent);
          cleanups.push(() => server.close());
          chmodSync(sock, m.mode ?? 0o600);
          chownSync(sock, m.uid ?? 0, m.gid ?? 0);
          const dest = m.target ? target(m.target) : `/run/buildkit/ssh_agent.${sshCount++}`;
          specs.push({ type: 'bind', source: sock, destination: dest, readonly: false });
          extraEnv.push(`SSH_AUTH_SOCK=${dest}`);
          break;
        }
      }
    }
  } catch (e) {
    for (const c of cleanups.reverse()) c();
    throw e;
  }
  return {
    specs,
    env: extraEnv,
    async release() {
      for (const c of cleanups.reverse()) {
        try {
          c();
        } catch {
          /* keep releasing the rest */
        }
      }
    },
  };
}

/** A read-only root filesystem for `from=`: a stage of this build or an image. */
async function viewOf(engine: Engine, from: string, env: RunMountEnv, dir: string, cleanups: (() => void)[]): Promise<string> {
  const idx = env.stageRefs.get(from.toLowerCase());
  // A local directory context (`--build-context NAME=DIR`) is mounted as it is.
  const named = idx === undefined ? env.namedDir?.(from) : undefined;
  if (named !== undefined) return named;
  const diffIds = idx !== undefined ? (await env.stageResult(idx)).config.rootfs.diff_ids : (await env.resolveImage(from)).config.rootfs.diff_ids;
  const root = join(dir, 'view');
  mkdirSync(root, { recursive: true });
  const lower = engine.layers.lowerDirs(diffIds);
  if (lower.length) {
    mountOverlay({ lower, target: root });
    cleanups.push(() => unmountOverlay(root));
  }
  return root;
}

