#!/usr/bin/env -S -u NODE_EXTRA_CA_CERTS KILN_EXTRA_CA_CERTS=${NODE_EXTRA_CA_CERTS} node
// The `kiln` command (package.json's bin; setup links /usr/local/bin/kiln here): runs the bundled
// CLI (dist/kiln.cjs, made by `npm run build` from tsc's output) from V8's code cache. Loading ~100
// separate ES modules and compiling them again on every command was most of a small command's time;
// one CommonJS file compiled from a cache is not.
// There is one cache per command word (dist/kiln.cjs.run.<stamp>.cache, ….build.…): V8 keeps the
// functions a run compiled, so each command's cache holds its own path through the code. The stamp
// (the bundle's size and mtime) keeps a cache from being used with another bundle, which V8 checks
// only by length. A missing or rejected cache only costs speed: it is written (atomically) as this
// process exits; `npm run build` deletes the old ones.
// For `build`, it first tries dist/kiln-replay.cjs (src/cli/replay-build.ts, a bundle of its own):
// a rebuild with nothing changed since its last all-cached run is replayed without loading the CLI.
// The shebang moves NODE_EXTRA_CA_CERTS aside: Node would parse that file at every start (~40 ms),
// kiln's HTTPS client loads it when it first connects (src/util/extra-ca.ts).
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
const { createRequire, wrap } = require('node:module');

const dist = path.join(__dirname, '..', 'dist');
/** The first word that is not a global option (only --root takes a value), as cli/main.ts reads it, and its index. */
function commandWord(args) {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--root') i++;
    else if (args[i] === '--kiln-extract-worker') return { word: 'extract-worker', at: i };
    else if (!args[i].startsWith('-')) return { word: /^[a-z][a-z0-9-]{0,31}$/.test(args[i]) ? args[i] : 'other', at: i };
  }
  return { word: 'other', at: args.length };
}

/** A bundle (open) and its stamp (size and mtime), or null when it is missing; read when run. */
function findBundle(file) {
  let fd;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    return null;
  }
  const st = fs.fstatSync(fd);
  return { file, fd, stamp: `${st.size.toString(36)}-${Math.trunc(st.mtimeMs).toString(36)}` };
}

/** Runs a bundle from its code cache for `word`; returns what it exports. */
function run(b, word) {
  const cacheFile = `${b.file}.${word}.${b.stamp}.cache`;
  let cachedData;
  try {
    cachedData = fs.readFileSync(cacheFile);
  } catch {
    /* first run after a build */
  }
  // From the descriptor the stamp was taken from: a bundle renamed over it meanwhile is not mixed in.
  const source = fs.readFileSync(b.fd, 'latin1'); // ASCII (esbuild's charset)
  fs.closeSync(b.fd);
  const script = new vm.Script(wrap(source), { filename: b.file, cachedData });
  if (cachedData === undefined || script.cachedDataRejected) {
    // After the run, so the cache also holds the functions this command compiled; only after a
    // run that succeeded, whose path through the code is the one worth keeping.
    process.once('exit', (code) => {
      if (code !== 0) return;
      try {
        const tmp = `${cacheFile}.${process.pid}.tmp`;
        fs.writeFileSync(tmp, script.createCachedData());
        fs.renameSync(tmp, cacheFile);
      } catch {
        /* read-only install: run without a cache */
      }
    });
  }
  const mod = { exports: {} };
  script.runInThisContext().call(mod.exports, mod.exports, createRequire(b.file), mod, b.file, path.dirname(b.file));
  return mod.exports;
}

const main = findBundle(path.join(dist, 'kiln.cjs'));
if (!main) {
  process.stderr.write(`kiln: ${path.join(dist, 'kiln.cjs')} is missing: run \`npm run build\` first\n`);
  process.exit(1);
}
globalThis.__kilnEntry = __filename;
globalThis.__kilnBundle = main.stamp;
const args = process.argv.slice(2);
const { word, at } = commandWord(args);
// A build whose inputs have not changed since it last ran entirely from the cache is replayed
// (src/cli/replay-build.ts) without loading the CLI; anything else goes on to the build.
if (word === 'build' || (word === 'image' && args[at + 1] === 'build')) {
  const replay = findBundle(path.join(dist, 'kiln-replay.cjs'));
  if (replay && run(replay, 'replay').replayBuild(args, main.stamp)) return;
}
run(main, word);
