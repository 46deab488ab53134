// Per-registry settings: which registries speak plain HTTP (or HTTPS without verification) and which
// mirrors to try first when pulling. kiln reads ONE JSON file, the first that exists of:
//   $KILN_REGISTRIES_CONF, <root>/registries.json, /etc/kiln/registries.json
//
//   {
//     "registries": {
//       "registry.internal:5000": { "insecure": true },
//       "docker.io": { "mirrors": ["mirror.internal:5000", "https://mirror2.example"] }
//     }
//   }
//
// `insecure`: try HTTPS without certificate verification, then plain HTTP. Loopback registries
// (localhost, 127.0.0.0/8, [::1]) always use plain HTTP, as Docker and Podman allow by default.
// `mirrors`: pull-only; tried in order before the registry itself, falling back on any failure.
// A mirror written without a scheme uses HTTP when it is loopback or itself listed insecure.
import fs from 'node:fs';
import path from 'node:path';

export interface RegistrySettings {
  insecure?: boolean;
  mirrors?: string[];
}

export interface RegistriesConfig {
  registries: Record<string, RegistrySettings>;
}

export function registriesConfigPath(root: string): string | undefined {
  const candidates = [process.env.KILN_REGISTRIES_CONF, path.join(root, 'registries.json'), '/etc/kiln/registries.json'];
  for (const c of candidates) if (c && fs.existsSync(c)) return c;
  return undefined;
}

export function loadRegistriesConfig(root: string): RegistriesConfig {
  const file = registriesConfigPath(root);
  if (!file) return { registries: {} };
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: ${(e as Error).message}`);
  }
  const regs = (parsed as { registries?: unknown })?.registries;
  if (regs !== undefined && (typeof regs !== 'object' || regs === null || Array.isArray(regs)))
    throw new Error(`${file}: "registries" must be an object keyed by registry host`);
  const out: RegistriesConfig = { registries: {} };
  for (const [host, v] of Object.entries((regs ?? {}) as Record<string, RegistrySettings>)) {
    const mirrors = v?.mirrors ?? [];
    if (!Array.isArray(mirrors) || mirrors.some((m) => typeof m !== 'string'))
      throw new Error(`${file}: registries.${host}.mirrors must be a list of hosts`);
    out.registries[host] = { insecure: v?.insecure === true, mirrors };
  }
  return out;
}

export function isLoopbackHost(hostPort: string): boolean {
  const host = hostPort.startsWith('[') ? hostPort.slice(1, hostPort.indexOf(']')) : hostPort.replace(/:\d+$/, '');
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

export interface Endpoint {
  /** The registry name as in references (docker.io, 127.0.0.1:5000). */
  registry: string;
  /** Base URL candidates, tried in order until one answers /v2/. */
  bases: URL[];
  insecureTls: boolean;
  mirror: boolean;
}

/** The API host for a registry name: Docker Hub's API lives at registry-1.docker.io. */
export function apiHost(registry: string): string {
  return registry === 'docker.io' ? 'registry-1.docker.io' : registry;
}

function endpointFor(registry: string, hostOrUrl: string, config: RegistriesConfig, mirror: boolean): Endpoint {
  const m = /^(https?):\/\/([^/]+)/.exec(hostOrUrl);
  if (m) {
    const host = m[2]!;
    return { registry, bases: [new URL(`${m[1]}://${host}`)], insecureTls: !!config.registries[host]?.insecure, mirror };
  }
  const host = hostOrUrl.replace(/\/+$/, '');
  if (isLoopbackHost(host)) return { registry, bases: [new URL(`http://${host}`)], insecureTls: false, mirror };
  if (config.registries[host]?.insecure)
    return { registry, bases: [new URL(`https://${host}`), new URL(`http://${host}`)], insecureTls: true, mirror };
  return { registry, bases: [new URL(`https://${apiHost(host)}`)], insecureTls: false, mirror };
}

/** Where to send requests for `registry`: mirrors first when pulling, then the registry itself. */
export function endpointsFor(registry: string, config: RegistriesConfig, opts: { pull: boolean }): Endpoint[] {
  const out: Endpoint[] = [];
  if (opts.pull) for (const m of config.registries[registry]?.mirrors ?? []) out.push(endpointFor(registry, m, config, true));
  out.push(endpointFor(registry, registry, config, false));
  return out;
}
