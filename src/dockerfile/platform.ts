// Platform strings ("linux/amd64", "linux/arm/v7", "arm64", ...) normalized the way
// containerd's platforms.Parse/Format do, and the predefined platform build args
// (TARGETPLATFORM, TARGETOS, ... BUILDPLATFORM, ...).

import { FrontendError } from './errors.js';

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export class PlatformError extends FrontendError {
  override readonly name = 'PlatformError';
}

const KNOWN_OS = new Set([
  'aix', 'android', 'darwin', 'dragonfly', 'freebsd', 'hurd', 'illumos', 'ios', 'js', 'linux', 'nacl',
  'netbsd', 'openbsd', 'plan9', 'solaris', 'windows', 'zos',
]);

/** The platform kiln builds for and on (this machine). */
export const DEFAULT_PLATFORM: Platform = { os: 'linux', architecture: 'amd64' };

function normalizeArch(arch: string, variant: string): [string, string] {
  let a = arch.toLowerCase();
  let v = variant.toLowerCase();
  switch (a) {
    case 'i386':
      a = '386';
      v = '';
      break;
    case 'x86_64':
    case 'x86-64':
    case 'amd64':
      a = 'amd64';
      if (v === 'v1') v = '';
      break;
    case 'aarch64':
    case 'arm64':
      a = 'arm64';
      if (v === '8' || v === 'v8' || v === 'v8.0') v = '';
      else if (v === '9' || v === '9.0' || v === 'v9.0') v = 'v9';
      break;
    case 'armhf':
      a = 'arm';
      v = 'v7';
      break;
    case 'armel':
      a = 'arm';
      v = 'v6';
      break;
    case 'arm':
      if (v === '' || v === '7') v = 'v7';
      else if (v === '5' || v === '6' || v === '8') v = 'v' + v;
      break;
  }
  return [a, v];
}

const partRe = /^[A-Za-z0-9_.-]+$/u;

/** Parse and normalize a platform specifier; throws PlatformError for an invalid one. */
export function parsePlatform(spec: string): Platform {
  const parts = spec.split('/');
  if (parts.length > 3 || parts.some((p) => !partRe.test(p))) {
    throw new PlatformError(`"${spec}": unknown operating system or architecture: invalid argument`);
  }
  if (parts.length === 1) {
    const p = parts[0]!.toLowerCase();
    if (KNOWN_OS.has(p)) return { ...DEFAULT_PLATFORM, os: p };
    const [architecture, variant] = normalizeArch(p, '');
    return withVariant({ os: DEFAULT_PLATFORM.os, architecture }, variant);
  }
  const os = parts[0]!.toLowerCase();
  const [architecture, variant] = normalizeArch(parts[1]!, parts[2] ?? '');
  return withVariant({ os, architecture }, variant);
}

function withVariant(p: Platform, variant: string): Platform {
  return variant ? { ...p, variant } : p;
}

/** "os/arch[/variant]". */
export function formatPlatform(p: Platform): string {
  return p.variant ? `${p.os}/${p.architecture}/${p.variant}` : `${p.os}/${p.architecture}`;
}

/** TARGETPLATFORM, TARGETOS, TARGETARCH, TARGETVARIANT and the BUILD* counterparts. */
export function platformArgs(target: Platform, build: Platform): Record<string, string> {
  return {
    BUILDPLATFORM: formatPlatform(build),
    BUILDOS: build.os,
    BUILDARCH: build.architecture,
    BUILDVARIANT: build.variant ?? '',
    TARGETPLATFORM: formatPlatform(target),
    TARGETOS: target.os,
    TARGETARCH: target.architecture,
    TARGETVARIANT: target.variant ?? '',
  };
}
