// How kiln starts more of itself — the conmon exit command and the health monitor run the CLI
// again, the registry's extraction pool runs worker threads — and where its own files are. What
// `kiln` runs is the build's bundle (bin/kiln.cjs loads dist/kiln.cjs and sets __kilnEntry); the
// unbundled modules (unit tests, development) fall back to dist/src/cli/main.js.
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

declare global {
  /** The file that runs kiln: set by bin/kiln.cjs, else by the bundle itself. */
  var __kilnEntry: string | undefined;
  /** The bundle's stamp (its size and mtime), set by bin/kiln.cjs. */
  var __kilnBundle: string | undefined;
}

/** Which build of kiln this is, when run from the bundle: a build replay record names it. */
export function bundleStamp(): string | undefined {
  return globalThis.__kilnBundle;
}

/** The script to run with node to start kiln again (its CLI, or a worker of it). */
export function kilnEntry(): string {
  return globalThis.__kilnEntry ?? fileURLToPath(new URL('./cli/main.js', import.meta.url));
}

/** Whether this process runs from the bundle (one file) rather than the separate modules. */
export function isBundled(): boolean {
  return globalThis.__kilnEntry !== undefined;
}

/** The project directory (package.json, node_modules): bin/ and dist/ sit one level below it. */
export function kilnHome(): string {
  return globalThis.__kilnEntry !== undefined ? dirname(dirname(globalThis.__kilnEntry)) : fileURLToPath(new URL('../..', import.meta.url));
}

/** workerData key that marks the registry's layer-extraction workers (see cli/main). */
export const EXTRACT_WORKER_FLAG = '--kiln-extract-worker';
