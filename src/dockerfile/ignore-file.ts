// Finding the ignore file for a build. This is the only module of the front end that touches
// the filesystem (everything else is pure): BuildKit prefers `<Dockerfile name>.dockerignore`
// next to the Dockerfile (e.g. `app.Dockerfile.dockerignore`) over `.dockerignore` at the
// root of the context.

import { readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { parseIgnoreFile } from './dockerignore.js';

export interface IgnoreFile {
  /** The file that was read. */
  path: string;
  /** Its patterns, as parseIgnoreFile returns them. */
  patterns: string[];
}

/** The candidate files, in order of preference. */
export function ignoreFileCandidates(dockerfilePath: string, contextDir: string): string[] {
  return [join(dirname(dockerfilePath), basename(dockerfilePath) + '.dockerignore'), join(contextDir, '.dockerignore')];
}

/** Read the ignore file that applies, or undefined when there is none. */
export async function resolveIgnoreFile(dockerfilePath: string, contextDir: string): Promise<IgnoreFile | undefined> {
  for (const path of ignoreFileCandidates(dockerfilePath, contextDir)) {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') continue;
      throw e;
    }
    return { path, patterns: parseIgnoreFile(text) };
  }
  return undefined;
}
