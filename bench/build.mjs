#!/usr/bin/env node
// Build benchmark (issue 3): kiln against Docker with BuildKit and Podman, side by side in one run,
// on the same contexts and the same busybox base image. Prints medians and kiln/peer ratios.
//
//   node bench/build.mjs [--runs N] [--only kiln,docker,podman]
//
// Peers are used only if installed (apt-get install docker.io podman); dockerd is started on a
// private data root if it is not running. `sync` runs before every timed run (machine-notes).
import { execFileSync, spawnSync, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, mkdirSync, rmSync, existsSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';

const project = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const opt = (n, d) => { const i = argv.indexOf(n); return i >= 0 ? argv[i + 1] : d; };
const RUNS = Number(opt('--runs', '5'));
const only = opt('--only', 'kiln,docker,podman').split(',');
const work = mkdtempSync(join(tmpdir(), 'kiln-bench-'));
const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const sh = (cmd, args, o = {}) => {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 28, ...o });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
};
const time = (fn) => { spawnSync('sync'); const t = process.hrtime.bigint(); fn(); return Number(process.hrtime.bigint() - t) / 1e9; };
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

// ---- contexts --------------------------------------------------------------------------------
function makeContexts() {
  const cold = join(work, 'cold');
  mkdirSync(join(cold, 'src'), { recursive: true });
  for (let i = 0; i < 20; i++) writeFileSync(join(cold, 'src', `f${i}.txt`), `file ${i}\n`);
  writeFileSync(join(cold, 'Dockerfile'), [
    'FROM busybox', 'ARG VERSION=1', 'ENV APP_HOME=/app', 'WORKDIR /app', 'COPY src/ ./src/',
    'RUN cat src/*.txt | wc -l > count.txt', 'RUN mkdir -p /data && echo $VERSION > /data/version', 'CMD ["cat", "/app/count.txt"]', '',
  ].join('\n'));
  const onefile = join(work, 'onefile');
  mkdirSync(join(onefile, 'files'), { recursive: true });
  for (let i = 0; i < 1000; i++) writeFileSync(join(onefile, 'files', `f${i}.txt`), `content ${i}\n`);
  writeFileSync(join(onefile, 'Dockerfile'), 'FROM busybox\nRUN echo prepare > /prep\nCOPY files/ /files/\nRUN ls /files | wc -l > /count\n');
  const big = join(work, 'big');
  for (let d = 0; d < 100; d++) {
    mkdirSync(join(big, 'data', `d${d}`), { recursive: true });
    for (let i = 0; i < 100; i++) writeFileSync(join(big, 'data', `d${d}`, `f${i}.bin`), randomBytes(20 * 1024));
  }
  writeFileSync(join(big, 'Dockerfile'), 'FROM busybox\nCOPY data/ /data/\n');
  return { cold, onefile, big };
}

// ---- tools -----------------------------------------------------------------------------------
function kilnTool() {
  const root = join(work, 'kiln-root');
  const k = (args) => sh(process.execPath, [join(project, 'dist/src/cli/main.js'), '--root', root, ...args]);
  sh('bash', [join(project, 'examples/busybox/make-rootfs.sh'), join(work, 'rootfs.tar')]);
  const bbctx = join(work, 'bbctx'); mkdirSync(bbctx); sh('cp', [join(work, 'rootfs.tar'), bbctx]);
  k(['build', '-q', '-t', 'busybox', '-f', join(project, 'examples/busybox/Dockerfile'), bbctx]);
  k(['save', '-o', join(work, 'busybox.tar'), 'busybox']);
  return { name: 'kiln', build: (ctx, extra = []) => k(['build', '-q', ...extra, '-t', 'bench', ctx]), cleanup: () => k(['builder', 'prune', '-a', '-f']) };
}

let stopDaemon = () => {};
function dockerTool() {
  if (!has('dockerd') || !has('docker')) return null;
  const docker = existsSync('/usr/bin/docker') ? '/usr/bin/docker' : 'docker';
  if (spawnSync(docker, ['info'], { stdio: 'ignore' }).status !== 0) {
    // Our own daemon on a private data root, stopped when the benchmark ends.
    const d = spawn('dockerd', ['--data-root', join(work, 'docker-root'), '--pidfile', join(work, 'dockerd.pid')], { stdio: 'ignore', detached: true });
    d.unref();
    stopDaemon = () => {
      try { process.kill(d.pid); } catch { return; }
      for (let i = 0; i < 40 && spawnSync('kill', ['-0', String(d.pid)]).status === 0; i++) execFileSync('sleep', ['0.25']);
    };
    for (let i = 0; i < 60 && spawnSync(docker, ['info'], { stdio: 'ignore' }).status !== 0; i++) execFileSync('sleep', ['0.5']);
  }
  sh(docker, ['load', '-i', join(work, 'busybox.tar')]);
  const env = { ...process.env, DOCKER_BUILDKIT: '1' };
  return { name: 'docker', build: (ctx, extra = []) => sh(docker, ['build', '-q', ...extra, '-t', 'bench', ctx], { env }) };
}

function podmanTool() {
  if (!has('podman')) return null;
  const root = join(work, 'podman-root');
  const peers = '/work/shared/peers';
  const base = ['--root', root, '--runroot', join(work, 'podman-run'), '--storage-driver', 'overlay'];
  const env = { ...process.env, CONTAINERS_CONF: join(peers, 'containers.conf'), CONTAINERS_REGISTRIES_CONF: join(peers, 'registries.conf') };
  sh('podman', [...base, 'load', '-i', join(work, 'busybox.tar')], { env });
  return { name: 'podman', build: (ctx, extra = []) => sh('podman', [...base, 'build', '-q', '--pull=never', ...extra, '-t', 'bench', ctx], { env }) };
}

// ---- scenarios -------------------------------------------------------------------------------
const ctxs = makeContexts();
const tools = [kilnTool(), only.includes('docker') ? dockerTool() : null, only.includes('podman') ? podmanTool() : null].filter(Boolean).filter((t) => only.includes(t.name));
const scenarios = {
  'cold build (8 steps)': (t) => time(() => t.build(ctxs.cold, ['--no-cache'])),
  'no-op rebuild': (t) => { t.build(ctxs.cold); return time(() => t.build(ctxs.cold)); },
  'one file changed of 1,000': (t) => { t.build(ctxs.onefile); appendFileSync(join(ctxs.onefile, 'files', 'f7.txt'), 'x'); return time(() => t.build(ctxs.onefile)); },
  'COPY 10,000 files / 200 MB': (t) => time(() => t.build(ctxs.big, ['--no-cache'])),
};
const results = {};
for (const [name, fn] of Object.entries(scenarios)) {
  results[name] = {};
  for (const t of tools) {
    const xs = [];
    for (let i = 0; i < RUNS; i++) xs.push(fn(t));
    results[name][t.name] = median(xs);
  }
}
// ---- report ----------------------------------------------------------------------------------
const names = tools.map((t) => t.name);
const peers = names.filter((n) => n !== 'kiln');
console.log(`\nmedian of ${RUNS} runs, seconds`);
console.log(['scenario'.padEnd(30), ...names.map((n) => n.padStart(9)), ...peers.map((p) => `kiln/${p}`.padStart(13))].join(' '));
for (const [name, r] of Object.entries(results)) {
  console.log([name.padEnd(30), ...names.map((n) => r[n].toFixed(3).padStart(9)), ...peers.map((p) => (r.kiln / r[p]).toFixed(2).padStart(13))].join(' '));
}
for (const t of tools) t.cleanup?.();
stopDaemon();
spawnSync('umount', ['-R', join(work, 'docker-root')]);
try { rmSync(work, { recursive: true, force: true, maxRetries: 3 }); } catch (e) { console.error(`note: could not remove ${work}: ${e.message}`); }
