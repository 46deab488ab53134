// Platforms (os/arch[/variant]) and picking one manifest out of an image index or manifest list,
// with containerd's normalization (x86_64 → amd64, aarch64 → arm64, arm64 = arm64/v8, arm = arm/v7)
// and its compatibility order (an arm/v7 host also runs v6 and v5 images).
import type { Descriptor, Index, Platform } from '../image/types.js';

const ARCH_ALIASES: Record<string, string> = {
  x86_64: 'amd64',
  'x86-64': 'amd64',
  x64: 'amd64',
  aarch64: 'arm64',
  armhf: 'arm',
  armel: 'arm',
  i386: '386',
  i686: '386',
  ia32: '386',
};

export function normalizePlatform(p: Platform): Platform {
  const os = (p.os || 'linux').toLowerCase();
  let architecture = (p.architecture || '').toLowerCase();
  architecture = ARCH_ALIASES[architecture] ?? architecture;
  let variant = p.variant?.toLowerCase() || undefined;
  if (architecture === 'arm64' && (variant === 'v8' || variant === '8')) variant = undefined;
  if (architecture === 'arm') variant = variant ? (variant.startsWith('v') ? variant : `v${variant}`) : 'v7';
  if (architecture === 'amd64' && variant === 'v1') variant = undefined;
  const out: Platform = { architecture, os };
  if (variant) out.variant = variant;
  if (p['os.version']) out['os.version'] = p['os.version'];
  return out;
}

/** Parses `--platform`: "linux/arm64", "linux/arm/v7", "arm64" (os defaults to linux). */
export function parsePlatform(s: string): Platform {
  const parts = s.trim().split('/');
  if (parts.some((x) => !x) || parts.length > 3 || parts.length === 0)
    throw new Error(`invalid platform ${JSON.stringify(s)}: expected os/arch[/variant]`);
  if (parts.length === 1) return normalizePlatform({ os: 'linux', architecture: parts[0]! });
  return normalizePlatform({ os: parts[0]!, architecture: parts[1]!, variant: parts[2] });
}

export function formatPlatform(p: Platform): string {
  const n = normalizePlatform(p);
  return `${n.os}/${n.architecture}${n.variant ? `/${n.variant}` : ''}`;
}

/** The platform kiln pulls by default: linux on the host's architecture (linux/amd64 here). */
export function defaultPlatform(): Platform {
  return normalizePlatform({ os: 'linux', architecture: process.arch });
}

/** Variants a host of `want` can run, best first. */
function compatibleVariants(want: Platform): (string | undefined)[] {
  if (want.architecture === 'arm') {
    const order = ['v8', 'v7', 'v6', 'v5'];
    const i = order.indexOf(want.variant ?? 'v7');
    return i >= 0 ? order.slice(i) : [want.variant];
  }
  return [want.variant];
}

/** Ranks how well `have` serves `want`: 0 is best; -1 means it does not match. */
export function platformRank(want: Platform, have: Platform | undefined): number {
  if (!have) return -1;
  const w = normalizePlatform(want);
  const h = normalizePlatform(have);
  if (w.os !== h.os || w.architecture !== h.architecture) return -1;
  return compatibleVariants(w).indexOf(h.variant);
}

function isAttestation(d: Descriptor): boolean {
  return (
    d.annotations?.['vnd.docker.reference.type'] === 'attestation-manifest' ||
    (d.platform?.os === 'unknown' && d.platform?.architecture === 'unknown')
  );
}

/** Picks the manifest for `want` from an index; throws listing what the index offers. */
export function selectManifest(index: Index, want: Platform): Descriptor {
  let best: Descriptor | undefined;
  let bestRank = Infinity;
  for (const d of index.manifests ?? []) {
    if (isAttestation(d)) continue;
    const r = platformRank(want, d.platform);
    if (r >= 0 && r < bestRank) {
      best = d;
      bestRank = r;
    }
  }
  if (best) return best;
  const offered = (index.manifests ?? [])
    .filter((d) => d.platform && !isAttestation(d))
    .map((d) => formatPlatform(d.platform!));
  throw new Error(
    `no matching manifest for ${formatPlatform(want)} in the manifest list entries` +
      (offered.length ? ` (available: ${[...new Set(offered)].join(', ')})` : ''),
  );
}
