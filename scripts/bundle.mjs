// `npm run build`, after tsc: bundles the CLI (dist/src/cli/main.js and everything it imports,
// commander and tar-stream included) into one CommonJS file, dist/kiln.cjs, for bin/kiln.cjs;
// then runs it once so bin/kiln.cjs writes V8's code cache for it. The native addons (better-sqlite3,
// koffi) stay in node_modules. import.meta.url becomes the bundle's own URL (only koffi's
// createRequire uses it there); src/self.ts knows where kiln's files are from __kilnEntry.
import { build } from 'esbuild';
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'kiln.cjs');
const result = await build({
  entryPoints: [join(root, 'dist', 'src', 'cli', 'main.js')],
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  external: ['better-sqlite3', 'koffi'],
  define: { 'import.meta.url': '__kilnUrl' },
  banner: { js: "globalThis.__kilnEntry ??= __filename;\nvar __kilnUrl = require('node:url').pathToFileURL(__filename).href;" },
  write: false,
  logLevel: 'warning',
});
// bin/kiln.cjs wraps the source in a function: a #! line would no longer be the first. Renamed
// into place, so a kiln running meanwhile (a conmon exit command, say) never reads half a file.
writeFileSync(`${out}.tmp`, result.outputFiles[0].text.replace(/^#!.*\n/, ''));
rmSync(`${out}.cache`, { force: true });
renameSync(`${out}.tmp`, out);
const warm = spawnSync(process.execPath, [join(root, 'bin', 'kiln.cjs'), '--help'], { stdio: ['ignore', 'ignore', 'inherit'] });
if (warm.status !== 0) throw new Error(`bin/kiln.cjs --help failed (${warm.status}) after bundling`);
