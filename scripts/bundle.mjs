// `npm run build`, after tsc: bundles the CLI (dist/src/cli/main.js and everything it imports,
// commander, tar-stream and better-sqlite3's JavaScript included) into one CommonJS file,
// dist/kiln.cjs, for bin/kiln.cjs, and the build replay (src/cli/replay-build.js) into
// dist/kiln-replay.cjs; deletes the code caches of the previous bundles; then runs
// `kiln --help` once as a check. The native addons (better-sqlite3's, koffi's) stay in
// node_modules and are opened by path. import.meta.url becomes the bundle's own URL; src/self.ts
// knows where kiln's files are from __kilnEntry.
import { build } from 'esbuild';
import { readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// Node's built-in modules that its own start-up has not already loaded cost ~1–4 ms each to load
// (child_process pulls in net, stream, dgram…). Each import of one becomes an object that loads it
// on first use: `images` never pays for http, tls or worker_threads. Named imports compile to
// property reads (`(0, import_x.spawn)(…)`), so laziness needs no change in kiln's sources.
const LAZY = "Symbol.for('kiln.lazy-builtin')";
const TO_ESM = /var __toESM ?= ?\(mod, ?isNodeMode, ?target\) ?=> ?\(/;
const LAZY_BUILTINS = ['stream', 'string_decoder', 'child_process', 'os', 'timers/promises', 'fs/promises', 'zlib', 'worker_threads', 'readline', 'net', 'tls', 'https', 'http', 'crypto', 'stream/promises', 'dns', 'dgram', 'tty', 'v8', 'perf_hooks', 'util'];
const lazyBuiltins = {
  name: 'lazy-builtins',
  setup(b) {
    const filter = new RegExp(`^(node:)?(${LAZY_BUILTINS.map((m) => m.replace('/', '\\/')).join('|')})$`);
    b.onResolve({ filter }, (args) =>
      args.namespace === 'lazy-builtin' ? { path: args.path, external: true } : { path: args.path.replace(/^node:/, ''), namespace: 'lazy-builtin' });
    b.onLoad({ filter: /.*/, namespace: 'lazy-builtin' }, (args) => ({
      loader: 'js',
      // The kiln.lazy mark tells esbuild's import interop (__toESM, patched below) to use the
      // object as it is rather than copy every export, which would load the module at once.
      contents: `let m; const load = () => (m ??= require(${JSON.stringify(`node:${args.path}`)}));
module.exports = new Proxy({}, {
  get: (_, k) => (k === ${LAZY} ? true : k === 'default' ? load() : load()[k]),
  has: (_, k) => k in load(),
  ownKeys: () => Reflect.ownKeys(load()),
  getOwnPropertyDescriptor: (_, k) => { const d = Reflect.getOwnPropertyDescriptor(load(), k); return d && { ...d, configurable: true }; },
});`,
    }));
  },
};

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** One bundle: `entry` (tsc's output) and everything it imports, into `out`, renamed into place. */
async function bundle(entry, out) {
  const result = await build({
    entryPoints: [join(root, 'dist', entry)],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    // better-sqlite3's JavaScript is bundled (store/db.ts hands it its addon by path); koffi is
    // loaded only when a syscall is needed.
    external: ['koffi'],
    define: { 'import.meta.url': '__kilnUrl' },
    banner: { js: "globalThis.__kilnEntry ??= __filename;\nvar __kilnUrl = require('node:url').pathToFileURL(__filename).href;" },
    write: false,
    logLevel: 'warning',
    plugins: [lazyBuiltins],
    // Less to read and hash on every start; identifiers kept, so stack traces (--debug) still read.
    minifyWhitespace: true,
    minifySyntax: true,
    charset: 'ascii', // bin/kiln.cjs reads it as latin1, which needs no decoding
  });
  // bin/kiln.cjs wraps the source in a function: a #! line would no longer be the first. Renamed
  // into place, so a kiln running meanwhile (a conmon exit command, say) never reads half a file.
  const text = result.outputFiles[0].text.replace(/^#!.*\n/, '');
  if (!TO_ESM.test(text)) throw new Error("esbuild's __toESM helper changed: update scripts/bundle.mjs's lazy-builtins patch");
  writeFileSync(`${out}.tmp`, text.replace(TO_ESM, (m) => `${m.slice(0, -1)}mod?.[${LAZY}]?mod:(`));
  renameSync(`${out}.tmp`, out);
}

const out = join(root, 'dist', 'kiln.cjs');
// The replay of an unchanged build (src/cli/replay-build.ts), which bin/kiln.cjs tries before
// loading the CLI: a small bundle of its own, so that a replay never loads the whole of kiln.
await bundle(join('src', 'cli', 'replay-build.js'), join(root, 'dist', 'kiln-replay.cjs'));
await bundle(join('src', 'cli', 'main.js'), out);
// Code caches of earlier bundles (bin/kiln.cjs names them after the bundle's size and mtime).
for (const f of readdirSync(dirname(out))) if (/^kiln(-replay)?\.cjs\.(.*\.)?cache$/.test(f)) rmSync(join(dirname(out), f), { force: true });
const warm = spawnSync(process.execPath, [join(root, 'bin', 'kiln.cjs'), '--help'], { stdio: ['ignore', 'ignore', 'inherit'] });
if (warm.status !== 0) throw new Error(`bin/kiln.cjs --help failed (${warm.status}) after bundling`);
