#!/usr/bin/env -S -u NODE_EXTRA_CA_CERTS KILN_EXTRA_CA_CERTS=${NODE_EXTRA_CA_CERTS} node
// The `kiln` command (package.json's bin; setup links /usr/local/bin/kiln here): runs the bundled CLI (dist/kiln.cjs, made by `npm run build` from tsc's
// output) with V8's code cache for it (dist/kiln.cjs.cache). Loading ~100 separate ES modules and
// compiling them again on every command was most of a small command's time; one CommonJS file
// compiled from a cache is not. A missing or stale cache only costs speed: when V8 has none or
// rejects it, it is written again (atomically) as this process exits.
// The shebang moves NODE_EXTRA_CA_CERTS aside: Node would parse that file at every start (~40 ms),
// kiln's HTTPS client loads it when it first connects (src/util/extra-ca.ts).
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
const { createRequire, wrap } = require('node:module');

const bundle = path.join(__dirname, '..', 'dist', 'kiln.cjs');
const cacheFile = `${bundle}.cache`;
let source;
try {
  source = fs.readFileSync(bundle, 'utf8');
} catch {
  process.stderr.write(`kiln: ${bundle} is missing: run \`npm run build\` first\n`);
  process.exit(1);
}
let cachedData;
try {
  cachedData = fs.readFileSync(cacheFile);
} catch {
  /* first run after a build */
}
const script = new vm.Script(wrap(source), { filename: bundle, cachedData });
if (cachedData === undefined || script.cachedDataRejected) {
  // After the run, so the cache also holds the functions this command compiled.
  process.once('exit', () => {
    try {
      const tmp = `${cacheFile}.${process.pid}.tmp`;
      fs.writeFileSync(tmp, script.createCachedData());
      fs.renameSync(tmp, cacheFile);
    } catch {
      /* read-only install: run without a cache */
    }
  });
}
globalThis.__kilnEntry = __filename;
const mod = { exports: {} };
script.runInThisContext().call(mod.exports, mod.exports, createRequire(bundle), mod, bundle, path.dirname(bundle));
