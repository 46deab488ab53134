// What the side-by-side benchmarks share: options, running commands, timing (with `sync` before
// each timed run: machine-notes), medians, a private dockerd when none runs, and the report table.
import { execFileSync, spawnSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const project = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
export const opt = (name, dflt) => { const i = argv.indexOf(name); return i >= 0 ? argv[i + 1] : dflt; };
export const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
export const workDir = (prefix) => mkdtempSync(join(tmpdir(), prefix));

export function sh(cmd, args, o = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 28, ...o });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

export const time = (fn) => { spawnSync('sync'); const t = process.hrtime.bigint(); fn(); return Number(process.hrtime.bigint() - t) / 1e9; };
export const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

/** kiln from this checkout's build, on its own state directory. */
export const kilnCli = (root) => (args) => sh(join(project, 'bin/kiln.cjs'), ['--root', root, ...args]);

/** Builds the local busybox image in kiln and saves it for the peers to load. */
export function busyboxArchive(kiln, work) {
  mkdirSync(join(work, 'bb'), { recursive: true });
  sh('bash', [join(project, 'examples/busybox/make-rootfs.sh'), join(work, 'bb', 'rootfs.tar')]);
  kiln(['build', '-q', '-t', 'busybox', '-f', join(project, 'examples/busybox/Dockerfile'), join(work, 'bb')]);
  kiln(['save', '-o', join(work, 'busybox.tar'), 'busybox']);
  return join(work, 'busybox.tar');
}

let stopDaemon = () => {};

/** The docker CLI, with a daemon of our own on a private data root if none is running. */
export function docker(work) {
  const cli = existsSync('/usr/bin/docker') ? '/usr/bin/docker' : 'docker';
  if (spawnSync(cli, ['info'], { stdio: 'ignore' }).status !== 0) {
    const d = spawn('dockerd', ['--data-root', join(work, 'docker-root'), '--pidfile', join(work, 'dockerd.pid')], { stdio: 'ignore', detached: true });
    d.unref();
    stopDaemon = () => {
      try { process.kill(d.pid); } catch { return; }
      for (let i = 0; i < 40 && spawnSync('kill', ['-0', String(d.pid)]).status === 0; i++) execFileSync('sleep', ['0.25']);
    };
    for (let i = 0; i < 60 && spawnSync(cli, ['info'], { stdio: 'ignore' }).status !== 0; i++) execFileSync('sleep', ['0.5']);
  }
  return cli;
}

/** Podman with the peers' settings and a private store under `work`. */
export function podman(work) {
  const base = ['--root', join(work, 'podman-root'), '--runroot', join(work, 'podman-run'), '--storage-driver', 'overlay'];
  const env = { ...process.env, CONTAINERS_CONF: '/work/shared/peers/containers.conf', CONTAINERS_REGISTRIES_CONF: '/work/shared/peers/registries.conf' };
  return (args) => sh('podman', [...base, ...args], { env });
}

/** Stops our dockerd (if we started one) and removes the work dir. */
export function finish(work) {
  stopDaemon();
  spawnSync('umount', ['-R', join(work, 'docker-root')]);
  try { rmSync(work, { recursive: true, force: true, maxRetries: 3 }); } catch (e) { console.error(`note: could not remove ${work}: ${e.message}`); }
}

/** Medians per scenario and tool, and kiln's ratio to each peer. */
export function report(results, names, runs, width = 30) {
  const peers = names.filter((n) => n !== 'kiln');
  console.log(`\nmedian of ${runs} runs, seconds`);
  console.log(['scenario'.padEnd(width), ...names.map((n) => n.padStart(9)), ...peers.map((p) => `kiln/${p}`.padStart(13))].join(' '));
  for (const [name, r] of Object.entries(results)) {
    console.log([name.padEnd(width), ...names.map((n) => r[n].toFixed(3).padStart(9)), ...peers.map((p) => (r.kiln / r[p]).toFixed(2).padStart(13))].join(' '));
  }
}
