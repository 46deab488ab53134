// A program's path from $PATH, as a shell finds it: the first executable file of that name.
// Looked up once per process (each lookup is a stat per PATH entry).
import { accessSync, constants as fsc } from 'node:fs';
import { delimiter, join } from 'node:path';

const found = new Map<string, string | undefined>();

/** The absolute path of `bin` on $PATH, or undefined when it is not installed. */
export function findOnPath(bin: string): string | undefined {
  if (found.has(bin)) return found.get(bin);
  let path: string | undefined;
  for (const dir of (process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin').split(delimiter)) {
    if (!dir) continue;
    try {
      accessSync(join(dir, bin), fsc.X_OK);
      path = join(dir, bin);
      break;
    } catch {
      /* not here */
    }
  }
  found.set(bin, path);
  return path;
}
