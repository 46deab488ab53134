// Facts about this kiln and this host, for `kiln version` and `kiln info`.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { arch as osArch, release } from 'node:os';
import { join } from 'node:path';
import { kilnHome } from '../self.js';

/** kiln's version, from its package.json (the one place it is written). */
export function kilnVersion(): string {
  const pkg = JSON.parse(readFileSync(join(kilnHome(), 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

/** Go's GOARCH spelling of this machine's architecture, as image configs and Docker use it. */
export function goArch(): string {
  const a = osArch();
  return a === 'x64' ? 'amd64' : a === 'ia32' ? '386' : a;
}

/** First line of `PROG --version`, or '' when it is not installed. */
export function toolVersion(prog: string): string {
  try {
    return execFileSync(prog, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split('\n')[0]!.trim();
  } catch {
    return '';
  }
}

/** PRETTY_NAME from /etc/os-release. */
export function operatingSystem(): string {
  try {
    return /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? 'Linux';
  } catch {
    return 'Linux';
  }
}

export const kernelVersion = release;
