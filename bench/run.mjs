#!/usr/bin/env node
// Container start latency (issue 4): `kiln run --rm IMAGE true` (with its default runtime, crun
// where it runs, and with runc as `kiln-runc`) against `docker run --rm`, `podman run --rm` and a
// bare `runc run` / `crun run` of a prepared bundle (the floors), with the default bridge network
// and with --network none, in one run; then `kiln ps -a` with 100 containers.
//
//   node bench/run.mjs [--runs N] [--only kiln,kiln-runc,docker,podman,runc,crun]
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { busyboxArchive, docker, finish, has, kilnCli, median, opt, podman, report, sh, time, workDir } from './lib.mjs';

const RUNS = Number(opt('--runs', '10'));
const only = opt('--only', 'kiln,kiln-runc,docker,podman,runc,crun').split(',');
const work = workDir('kiln-bench-run-');
const kiln = kilnCli(join(work, 'kiln-root'));
busyboxArchive(kiln, work);
kiln(['run', '--rm', '--network', 'none', 'busybox', 'true']); // also writes crun's wrapper, if this host needs it

const tools = [];
if (only.includes('kiln')) tools.push({ name: 'kiln', run: (net) => kiln(['run', '--rm', ...(net ? ['--network', net] : []), 'busybox', 'true']) });
if (only.includes('kiln-runc')) tools.push({ name: 'kiln-runc', run: (net) => kiln(['run', '--rm', '--runtime', 'runc', ...(net ? ['--network', net] : []), 'busybox', 'true']) });

if (only.includes('docker') && has('dockerd')) {
  const cli = docker(work);
  sh(cli, ['load', '-i', join(work, 'busybox.tar')]);
  tools.push({ name: 'docker', run: (net) => sh(cli, ['run', '--rm', ...(net ? ['--network', net] : []), 'busybox', 'true']) });
}

if (only.includes('podman') && has('podman')) {
  const p = podman(work);
  p(['load', '-i', join(work, 'busybox.tar')]);
  tools.push({ name: 'podman', run: (net) => p(['run', '--rm', ...(net ? ['--network', net] : []), 'busybox', 'true']) });
}

if ((only.includes('runc') && has('runc')) || (only.includes('crun') && has('crun'))) {
  // The floors: runc run / crun run of a prepared bundle on a plain directory rootfs (no network
  // setup). crun goes through the wrapper kiln uses on a hybrid cgroup layout, when there is one.
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
  if (only.includes('runc') && has('runc')) {
    tools.push({ name: 'runc', run: () => sh('runc', ['--root', join(work, 'runc-state'), 'run', '--bundle', bundle, `bench-${process.pid}-${n++}`], { stdio: ['ignore', 'pipe', 'pipe'] }) });
  }
  if (only.includes('crun') && has('crun')) {
    const crun = existsSync('/run/kiln/crun-hybrid') ? '/run/kiln/crun-hybrid' : 'crun';
    tools.push({ name: 'crun', run: () => sh(crun, ['--root', join(work, 'crun-state'), 'run', '--bundle', bundle, `bench-${process.pid}-${n++}`], { stdio: ['ignore', 'pipe', 'pipe'] }) });
  }
}

// The tools take turns, one run each per round, so that the machine's drifts (other load, the
// kernel tearing down the last network namespaces in the background, a daemon's own cleanup) fall
// on every tool alike rather than on whichever batch they happen to meet.
const results = {};
for (const [label, net] of [['run --rm true (default network)', undefined], ['run --rm true (--network none)', 'none']]) {
  execFileSync('sleep', ['3']);
  for (const t of tools) t.run(net); // warm-up
  const xs = Object.fromEntries(tools.map((t) => [t.name, []]));
  for (let i = 0; i < RUNS; i++) for (const t of tools) xs[t.name].push(time(() => t.run(net)));
  results[label] = Object.fromEntries(tools.map((t) => [t.name, median(xs[t.name])]));
}

report(results, tools.map((t) => t.name), RUNS, 34);

if (only.includes('kiln')) {
  for (let i = 0; i < 100; i++) kiln(['create', '--network', 'none', 'busybox', 'true']);
  const xs = [];
  for (let i = 0; i < 5; i++) xs.push(time(() => kiln(['ps', '-a'])));
  console.log(`\nkiln ps -a with 100 containers: ${median(xs).toFixed(3)} s (median of 5)`);
  const ids = kiln(['ps', '-aq']).split(/\s+/).filter(Boolean);
  for (let i = 0; i < ids.length; i += 50) kiln(['rm', '-f', ...ids.slice(i, i + 50)]);
}
kiln(['builder', 'prune', '-a', '-f']);
finish(work);
