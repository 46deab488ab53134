#!/usr/bin/env node
// Registry benchmark (issue 5): kiln against `docker pull/push`, `podman pull/push` and
// `skopeo copy`, side by side in one run, against the same local CNCF Distribution registry
// (Debian's docker-registry on a free 127.0.0.1 port, temporary storage). Prints medians and
// kiln/peer ratios, and checks the targets.
//
//   node bench/registry.mjs [--runs N] [--only kiln,docker,podman,skopeo] [--scenarios cold,warm,push]
//                           [--layers 20] [--layer-mb 5] [--big-mb 200] [--keep]
//                           [--variant NAME:ENV=V[+ENV=V…]] [--variant NAME@/other/bin/kiln.cjs]
//
// --variant adds another kiln to the same run (repeatable): this kiln with extra environment
// (e.g. `zlib:KILN_GZIP=zlib`, `inline:KILN_EXTRACT_WORKERS=0`), or another build of kiln (e.g. a
// clone of an older commit) — for before/after comparisons under the same conditions.
//
// Scenarios:
//   cold  pull of a 20-layer image (5 MB of random data per layer) into an empty store
//         (kiln/docker/podman: `rmi` of the image first; skopeo: `copy docker://… dir:` into a new dir)
//   warm  the same pull again, every layer present (skopeo has no store: not measured)
//   push  push of a one-layer image of 200 MiB of random data that the tool has never pushed, into
//         a freshly wiped registry, so every tool has to compress and upload the layer:
//         kiln builds the image into a fresh root first (untimed), docker and podman `load` it from
//         a docker-archive made by `kiln save`, skopeo copies that archive (docker-archive: → docker://).
//
// Peers are used only if installed. Docker runs on a private dockerd (own socket, data root and
// exec root, no bridge and no iptables changes) started here and stopped at the end; Podman gets a
// private --root/--runroot and the settings in /work/shared/peers. `sync` runs before every timed
// run (machine-notes). Runs are interleaved (run 1 of every tool, then run 2, ...).
import { execFileSync, spawnSync, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, mkdirSync, rmSync, existsSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir, loadavg } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';

const project = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const opt = (n, d) => { const i = argv.indexOf(n); return i >= 0 ? argv[i + 1] : d; };
const RUNS = Number(opt('--runs', '5'));
const only = opt('--only', 'kiln,docker,podman,skopeo').split(',');
const scenarioNames = opt('--scenarios', 'cold,warm,push').split(',');
const LAYERS = Number(opt('--layers', '20'));
const LAYER_MB = Number(opt('--layer-mb', '5'));
const BIG_MB = Number(opt('--big-mb', '200'));
const keep = argv.includes('--keep');
const variants = argv.flatMap((a, i) => (a === '--variant' ? [argv[i + 1]] : [])).map((v) => {
  const at = v.indexOf('@');
  if (at > 0) return { name: v.slice(0, at), main: resolve(v.slice(at + 1)), env: {} };
  const [name, rest = ''] = v.split(/:(.*)/s);
  return { name, main: null, env: Object.fromEntries(rest.split('+').filter(Boolean).map((kv) => kv.split(/=(.*)/s).slice(0, 2))) };
});
const work = mkdtempSync(join(tmpdir(), 'kiln-rbench-'));
const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const sh = (cmd, args, o = {}) => {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 28, ...o });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
};
const time = (fn) => { spawnSync('sync'); const t = process.hrtime.bigint(); fn(); return Number(process.hrtime.bigint() - t) / 1e9; };
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const log = (s) => process.stderr.write(`[bench] ${s}\n`);

// ---- registry --------------------------------------------------------------------------------
// Same config as test/helpers/registry.ts (plus the in-memory blob descriptor cache of the anchor
// measurements' peers/registry-config.yml). Restarting on the same port with new storage = wipe.
async function freePort() {
  return new Promise((res, rej) => {
    const s = net.createServer();
    s.on('error', rej);
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => res(p)); });
  });
}
const registry = { port: await freePort(), child: null, n: 0 };
registry.host = `127.0.0.1:${registry.port}`;
async function startRegistry() {
  const dir = join(work, `registry-${registry.n++}`);
  mkdirSync(join(dir, 'storage'), { recursive: true });
  writeFileSync(join(dir, 'config.yml'), `version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: ${join(dir, 'storage')}
  cache:
    blobdescriptor: inmemory
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: ${registry.host}
`);
  const child = spawn('/usr/bin/docker-registry', ['serve', join(dir, 'config.yml')], { stdio: 'ignore', env: { PATH: process.env.PATH, HOME: dir } });
  let exited = false;
  child.once('exit', () => (exited = true));
  for (const deadline = Date.now() + 10_000; ;) {
    if (exited) throw new Error('docker-registry exited at start');
    const ok = await new Promise((r) => http.get(`http://${registry.host}/v2/`, (res) => { res.resume(); r(true); }).on('error', () => r(false)));
    if (ok) break;
    if (Date.now() > deadline) throw new Error('docker-registry did not answer within 10s');
    await new Promise((r) => setTimeout(r, 25));
  }
  registry.child = child;
  registry.dir = dir;
}
async function stopRegistry() {
  const c = registry.child;
  if (!c || c.exitCode !== null || c.signalCode !== null) return;
  const gone = new Promise((r) => c.once('exit', r));
  c.kill('SIGTERM');
  await gone;
  rmSync(registry.dir, { recursive: true, force: true });
}
async function wipeRegistry() { await stopRegistry(); await startRegistry(); }

// ---- test images -----------------------------------------------------------------------------
const ref20 = `${registry.host}/kbench/layers${LAYERS}:latest`;
const refBig = `${registry.host}/kbench/big:latest`;
function makeContexts() {
  const many = join(work, 'ctx-many');
  mkdirSync(many);
  const lines = ['FROM scratch'];
  for (let i = 0; i < LAYERS; i++) {
    const name = `f${String(i).padStart(2, '0')}.bin`;
    writeFileSync(join(many, name), randomBytes(LAYER_MB << 20));
    lines.push(`COPY ${name} /data/${name}`);
  }
  writeFileSync(join(many, 'Dockerfile'), lines.join('\n') + '\n');
  const big = join(work, 'ctx-big');
  mkdirSync(big);
  writeFileSync(join(big, 'big.bin'), Buffer.alloc(0));
  for (let i = 0; i < BIG_MB; i += 8) writeFileSync(join(big, 'big.bin'), randomBytes(Math.min(8, BIG_MB - i) << 20), { flag: 'a' });
  writeFileSync(join(big, 'Dockerfile'), 'FROM scratch\nCOPY big.bin /big.bin\n');
  return { many, big };
}

// ---- tools -----------------------------------------------------------------------------------
const kilnMain = join(project, 'bin/kiln.cjs');
const kiln = (root, args, o) => sh(kilnMain, ['--root', root, ...args], o);

function kilnTool(ctxs, v = { name: 'kiln', main: kilnMain, env: {} }) {
  const main = v.main ?? kilnMain;
  const env = { ...process.env, ...v.env };
  const k = (root, args) => sh(main, ['--root', root, ...args], { env });
  const root = join(work, `${v.name}-root`);
  const pushRoot = join(work, `${v.name}-push-root`);
  const tag = refBig.replace(':latest', `:${v.name}`);
  return {
    name: v.name,
    resetPull: () => { spawnSync(main, ['--root', root, 'rmi', '-f', ref20], { stdio: 'ignore', env }); },
    pull: () => k(root, ['pull', '-q', ref20]),
    preparePush: () => {
      rmSync(pushRoot, { recursive: true, force: true });
      k(pushRoot, ['build', '-q', '-t', tag, ctxs.big]);
    },
    push: () => k(pushRoot, ['push', '-q', tag]),
  };
}

let dockerd = null;
function dockerTool(archive) {
  if (!has('dockerd') || !existsSync('/usr/bin/docker')) return null;
  // Debian's client (20.10, same as the daemon); a newer CLI may come first on PATH.
  const dir = join(work, 'docker');
  mkdirSync(dir);
  const sock = join(dir, 'd.sock');
  const env = { ...process.env, DOCKER_HOST: `unix://${sock}` };
  dockerd = spawn('dockerd', ['--data-root', join(dir, 'data'), '--exec-root', join(dir, 'x'), '-H', `unix://${sock}`, '--pidfile', join(dir, 'd.pid'),
    '--bridge=none', '--iptables=false', '--ip-masq=false', '--ip-forward=false'], { stdio: ['ignore', 'ignore', 'ignore'] });
  const d = (args) => sh('/usr/bin/docker', args, { env });
  for (let i = 0; i < 120 && spawnSync('/usr/bin/docker', ['info'], { env, stdio: 'ignore' }).status !== 0; i++) execFileSync('sleep', ['0.25']);
  d(['load', '-q', '-i', archive]);
  d(['tag', refBig, refBig.replace(':latest', ':docker')]);
  return {
    name: 'docker',
    resetPull: () => { spawnSync('/usr/bin/docker', ['rmi', '-f', ref20], { env, stdio: 'ignore' }); },
    pull: () => d(['pull', '-q', ref20]),
    preparePush: () => {},
    push: () => d(['push', '-q', refBig.replace(':latest', ':docker')]),
  };
}

function podmanTool(archive) {
  if (!has('podman')) return null;
  const peers = '/work/shared/peers';
  const base = ['--root', join(work, 'podman-root'), '--runroot', join(work, 'podman-run'), '--storage-driver', 'overlay'];
  const env = { ...process.env, CONTAINERS_CONF: join(peers, 'containers.conf'), CONTAINERS_REGISTRIES_CONF: join(peers, 'registries.conf') };
  const p = (args) => sh('podman', [...base, ...args], { env });
  p(['load', '-q', '-i', archive]);
  p(['tag', refBig, refBig.replace(':latest', ':podman')]);
  return {
    name: 'podman',
    resetPull: () => { spawnSync('podman', [...base, 'rmi', '-f', ref20], { env, stdio: 'ignore' }); },
    pull: () => p(['pull', '-q', '--tls-verify=false', ref20]),
    preparePush: () => {},
    push: () => p(['push', '-q', '--tls-verify=false', refBig.replace(':latest', ':podman')]),
    cleanup: () => spawnSync('podman', [...base, 'rmi', '-a', '-f'], { env, stdio: 'ignore' }),
  };
}

function skopeoTool(archive) {
  if (!has('skopeo')) return null;
  const dest = join(work, 'skopeo-dir');
  return {
    name: 'skopeo',
    noWarm: true,
    resetPull: () => rmSync(dest, { recursive: true, force: true }),
    pull: () => sh('skopeo', ['copy', '-q', '--src-tls-verify=false', `docker://${ref20}`, `dir:${dest}`]),
    preparePush: () => {},
    push: () => sh('skopeo', ['copy', '-q', '--dest-tls-verify=false', `docker-archive:${archive}`, `docker://${refBig.replace(':latest', ':skopeo')}`]),
  };
}

// ---- setup -----------------------------------------------------------------------------------
const tools = [];
const load0 = loadavg().map((x) => x.toFixed(2)).join(' ');
try {
  await startRegistry();
  log(`registry on ${registry.host}; making ${LAYERS} x ${LAYER_MB} MB and ${BIG_MB} MiB contexts in ${work}`);
  const ctxs = makeContexts();
  const seed = join(work, 'kiln-seed');
  log('kiln build + push of both images (untimed)');
  kiln(seed, ['build', '-q', '-t', ref20, ctxs.many]);
  kiln(seed, ['build', '-q', '-t', refBig, ctxs.big]);
  kiln(seed, ['push', '-q', ref20]);
  const archive = join(work, 'big.tar');
  kiln(seed, ['save', '-o', archive, refBig]);
  rmSync(seed, { recursive: true, force: true });

  tools.push(kilnTool(ctxs));
  for (const v of variants) tools.push(kilnTool(ctxs, v));
  log('starting peers');
  const makers = { docker: dockerTool, podman: podmanTool, skopeo: skopeoTool };
  for (const name of ['docker', 'podman', 'skopeo']) if (only.includes(name)) { const t = makers[name](archive); if (t) tools.push(t); else log(`${name}: not installed, skipped`); }

  // ---- scenarios -------------------------------------------------------------------------------
  const scenarios = {
    cold: { label: `cold pull (${LAYERS} x ${LAYER_MB} MB)`, prepare: (t) => t.resetPull(), run: (t) => t.pull() },
    warm: { label: 'warm re-pull (all present)', skip: (t) => t.noWarm, prepare: () => {}, run: (t) => t.pull() },
    push: { label: `push (1 x ${BIG_MB} MiB layer)`, prepare: async (t) => { t.preparePush(); await wipeRegistry(); }, run: (t) => t.push() },
  };
  const results = {};
  const samples = {};
  for (const s of scenarioNames) {
    const sc = scenarios[s];
    if (!sc) throw new Error(`unknown scenario ${s}`);
    results[s] = {};
    samples[s] = {};
    if (s === 'push') log(`push: each run wipes the registry first`);
    for (let i = 0; i < RUNS; i++) {
      for (const t of tools) {
        if (sc.skip?.(t)) continue;
        if (s === 'warm' && i === 0) t.pull(); // make sure everything is present
        await sc.prepare(t);
        const secs = time(() => sc.run(t));
        (samples[s][t.name] ??= []).push(secs);
        log(`${s} ${t.name} run ${i + 1}: ${secs.toFixed(3)} s`);
      }
    }
    for (const [n, xs] of Object.entries(samples[s])) results[s][n] = median(xs);
    if (s === 'push') await wipeRegistry();
  }

  // ---- report ----------------------------------------------------------------------------------
  const names = tools.map((t) => t.name);
  const peers = names.filter((n) => n !== 'kiln');
  const cell = (v) => (v === undefined ? '-' : v.toFixed(3)).padStart(9);
  const ratio = (a, b) => (a === undefined || b === undefined ? '-' : (a / b).toFixed(2)).padStart(13);
  console.log(`\nmedian of ${RUNS} runs, seconds (registry ${registry.host}, ${new Date().toISOString()}, load average at start ${load0}, now ${loadavg().map((x) => x.toFixed(2)).join(' ')})`);
  console.log(['scenario'.padEnd(30), ...names.map((n) => n.padStart(9)), ...peers.map((p) => `kiln/${p}`.padStart(13))].join(' '));
  for (const s of scenarioNames) {
    const r = results[s];
    console.log([scenarios[s].label.padEnd(30), ...names.map((n) => cell(r[n])), ...peers.map((p) => ratio(r.kiln, r[p]))].join(' '));
  }
  console.log('\nsamples (s):');
  for (const s of scenarioNames) for (const [n, xs] of Object.entries(samples[s])) console.log(`  ${s.padEnd(5)} ${n.padEnd(7)} ${xs.map((x) => x.toFixed(3)).join(' ')}`);
  const targets = [];
  const r = results;
  if (r.cold && r.cold.kiln !== undefined) {
    const best = Math.min(...['docker', 'podman'].map((p) => r.cold[p]).filter((x) => x !== undefined));
    if (Number.isFinite(best)) targets.push(`cold pull: kiln/faster peer = ${(r.cold.kiln / best).toFixed(2)} (target <= 0.75)`);
  }
  if (r.warm?.docker !== undefined) targets.push(`warm re-pull: kiln/docker = ${(r.warm.kiln / r.warm.docker).toFixed(2)} (target <= 1.00)`);
  if (r.push?.podman !== undefined) targets.push(`push: kiln/podman = ${(r.push.kiln / r.push.podman).toFixed(2)} (target <= 0.80)`);
  if (targets.length) console.log('\ntargets:\n  ' + targets.join('\n  '));
} finally {
  for (const t of tools) t.cleanup?.();
  await stopRegistry();
  if (dockerd && dockerd.exitCode === null) {
    const gone = new Promise((r) => dockerd.once('exit', r));
    dockerd.kill('SIGTERM');
    const timer = setTimeout(() => dockerd.kill('SIGKILL'), 15_000);
    await gone;
    clearTimeout(timer);
  }
  // Nothing may stay mounted under the work dir before it is removed (podman/docker overlays).
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4]).filter((m) => m && m.startsWith(work + '/'));
  for (const m of mounts.sort((a, b) => b.length - a.length)) spawnSync('umount', ['-l', m]);
  if (keep) log(`kept ${work}`);
  else rmSync(work, { recursive: true, force: true, maxRetries: 3 });
}
