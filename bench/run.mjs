#!/usr/bin/env node
// Container start latency (issue 4): `kiln run --rm IMAGE true` against `docker run --rm`, `podman
// run --rm` and a bare `runc run` of a prepared bundle (the floor), with the default bridge network
// and with --network none, in one run; then `kiln ps -a` with 100 containers.
//
//   node bench/run.mjs [--runs N] [--only kiln,docker,podman,runc]
import { execFileSync, spawnSync, spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const project = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const opt = (n, d) => { const i = argv.indexOf(n); return i >= 0 ? argv[i + 1] : d; };
const RUNS = Number(opt('--runs', '10'));
const only = opt('--only', 'kiln,docker,podman,runc').split(',');
const work = mkdtempSync(join(tmpdir(), 'kiln-bench-run-'));
const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const sh = (cmd, args, o = {}) => {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 26, ...o });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
};
const time = (fn) => { spawnSync('sync'); const t = process.hrtime.bigint(); fn(); return Number(process.hrtime.bigint() - t) / 1e9; };
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
let stopDaemon = () => {};

const kilnRoot = join(work, 'kiln-root');
const kiln = (args) => sh(process.execPath, [join(project, 'dist/src/cli/main.js'), '--root', kilnRoot, ...args]);
mkdirSync(join(work, 'bb'));
sh('bash', [join(project, 'examples/busybox/make-rootfs.sh'), join(work, 'bb', 'rootfs.tar')]);
kiln(['build', '-q', '-t', 'busybox', '-f', join(project, 'examples/busybox/Dockerfile'), join(work, 'bb')]);
kiln(['save', '-o', join(work, 'busybox.tar'), 'busybox']);

const tools = [];
if (only.includes('kiln')) tools.push({ name: 'kiln', run: (net) => kiln(['run', '--rm', ...(net ? ['--network', net] : []), 'busybox', 'true']) });

if (only.includes('docker') && has('dockerd')) {
  const docker = existsSync('/usr/bin/docker') ? '/usr/bin/docker' : 'docker';
  if (spawnSync(docker, ['info'], { stdio: 'ignore' }).status !== 0) {
    const d = spawn('dockerd', ['--data-root', join(work, 'docker-root'), '--pidfile', join(work, 'dockerd.pid')], { stdio: 'ignore', detached: true });
    d.unref();
    stopDaemon = () => {
      try { process.kill(d.pid); } catch { return; }
      for (let i = 0; i < 40 && spawnSync('kill', ['-0', String(d.pid)]).status === 0; i++) execFileSync('sleep', ['0.25']);
    };
    for (let i = 0; i < 60 && spawnSync(docker, ['info'], { stdio: 'ignore' }).status !== 0; i++) execFileSync('sleep', ['0.5']);
  }
  sh(docker, ['load', '-i', join(work, 'busybox.tar')]);
  tools.push({ name: 'docker', run: (net) => sh(docker, ['run', '--rm', ...(net ? ['--network', net] : []), 'busybox', 'true']) });
}

if (only.includes('podman') && has('podman')) {
  const base = ['--root', join(work, 'podman-root'), '--runroot', join(work, 'podman-run')];
  const env = { ...process.env, CONTAINERS_CONF: '/work/shared/peers/containers.conf', CONTAINERS_REGISTRIES_CONF: '/work/shared/peers/registries.conf' };
  sh('podman', [...base, 'load', '-i', join(work, 'busybox.tar')], { env });
  tools.push({ name: 'podman', run: (net) => sh('podman', [...base, 'run', '--rm', ...(net ? ['--network', net] : []), 'busybox', 'true'], { env }) });
}

if (only.includes('runc') && has('runc')) {
  // The floor: runc run of a prepared bundle on a plain directory rootfs (no network setup).
  const bundle = join(work, 'bundle');
  mkdirSync(join(bundle, 'rootfs'), { recursive: true });
  sh('tar', ['-xf', join(work, 'bb', 'rootfs.tar'), '-C', join(bundle, 'rootfs')]);
  sh('runc', ['spec', '--bundle', bundle]);
  const spec = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8'));
  spec.process.terminal = false;
  spec.process.args = ['true'];
  spec.process.rlimits = [];
  writeFileSync(join(bundle, 'config.json'), JSON.stringify(spec));
  let n = 0;
  tools.push({ name: 'runc', run: () => sh('runc', ['--root', join(work, 'runc-state'), 'run', '--bundle', bundle, `bench-${process.pid}-${n++}`], { stdio: ['ignore', 'pipe', 'pipe'] }) });
}

const results = {};
for (const [label, net] of [['run --rm true (default network)', undefined], ['run --rm true (--network none)', 'none']]) {
  results[label] = {};
  for (const t of tools) {
    t.run(net); // warm-up
    const xs = [];
    for (let i = 0; i < RUNS; i++) xs.push(time(() => t.run(net)));
    results[label][t.name] = median(xs);
  }
}

const names = tools.map((t) => t.name);
const peers = names.filter((n) => n !== 'kiln');
console.log(`\nmedian of ${RUNS} runs, seconds`);
console.log(['scenario'.padEnd(34), ...names.map((n) => n.padStart(8)), ...peers.map((p) => `kiln/${p}`.padStart(12))].join(' '));
for (const [label, r] of Object.entries(results)) {
  console.log([label.padEnd(34), ...names.map((n) => r[n].toFixed(3).padStart(8)), ...peers.map((p) => (r.kiln / r[p]).toFixed(2).padStart(12))].join(' '));
}

if (only.includes('kiln')) {
  for (let i = 0; i < 100; i++) kiln(['create', '--network', 'none', 'busybox', 'true']);
  const xs = [];
  for (let i = 0; i < 5; i++) xs.push(time(() => kiln(['ps', '-a'])));
  console.log(`\nkiln ps -a with 100 containers: ${median(xs).toFixed(3)} s (median of 5)`);
  const ids = kiln(['ps', '-aq']).split(/\s+/).filter(Boolean);
  for (let i = 0; i < ids.length; i += 50) kiln(['rm', '-f', ...ids.slice(i, i + 50)]);
}
kiln(['builder', 'prune', '-a', '-f']);
stopDaemon();
spawnSync('umount', ['-R', join(work, 'docker-root')]);
try { rmSync(work, { recursive: true, force: true, maxRetries: 3 }); } catch (e) { console.error(`note: could not remove ${work}: ${e.message}`); }
