#!/usr/bin/env node
// Build benchmark (issue 3): kiln against Docker with BuildKit and Podman, side by side in one run,
// on the same contexts and the same busybox base image. Prints medians and kiln/peer ratios.
//
//   node bench/build.mjs [--runs N] [--only kiln,docker,podman]
//
// Peers are used only if installed (apt-get install docker.io podman); dockerd is started on a
// private data root if it is not running. `sync` runs before every timed run (machine-notes).
import { writeFileSync, mkdirSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { busyboxArchive, docker, finish, has, kilnCli, median, opt, podman, report, sh, time, workDir } from './lib.mjs';

const RUNS = Number(opt('--runs', '5'));
const only = opt('--only', 'kiln,docker,podman').split(',');
const work = workDir('kiln-bench-');

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
  const k = kilnCli(join(work, 'kiln-root'));
  busyboxArchive(k, work);
  return { name: 'kiln', build: (ctx, extra = []) => k(['build', '-q', ...extra, '-t', 'bench', ctx]), cleanup: () => k(['builder', 'prune', '-a', '-f']) };
}

function dockerTool() {
  if (!has('dockerd') || !has('docker')) return null;
  const cli = docker(work);
  sh(cli, ['load', '-i', join(work, 'busybox.tar')]);
  const env = { ...process.env, DOCKER_BUILDKIT: '1' };
  return { name: 'docker', build: (ctx, extra = []) => sh(cli, ['build', '-q', ...extra, '-t', 'bench', ctx], { env }) };
}

function podmanTool() {
  if (!has('podman')) return null;
  const p = podman(work);
  p(['load', '-i', join(work, 'busybox.tar')]);
  return { name: 'podman', build: (ctx, extra = []) => p(['build', '-q', '--pull=never', ...extra, '-t', 'bench', ctx]) };
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
report(results, tools.map((t) => t.name), RUNS);
for (const t of tools) t.cleanup?.();
finish(work);
