// Registry credentials. `kiln login` writes <root>/auth.json (or $KILN_AUTH_FILE), mode 0600, in
// Docker's format: { "auths": { "<registry>": { "auth": base64("user:password") } } }.
// Lookups read that file first, then Docker's $DOCKER_CONFIG/config.json (~/.docker/config.json),
// so logins made with `docker login` work too, including through Docker's credential helpers
// (`credHelpers` per registry, else `credsStore`): `docker-credential-NAME get` on $PATH.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface Credential {
  username: string;
  password: string;
  /** An OAuth2 refresh token from `docker login` to an identity provider (used instead of the password). */
  identityToken?: string;
}

interface AuthEntry {
  auth?: string;
  username?: string;
  password?: string;
  identitytoken?: string;
}
interface AuthFile {
  auths?: Record<string, AuthEntry>;
  credsStore?: string;
  credHelpers?: Record<string, string>;
  [k: string]: unknown;
}

/** What `docker-credential-NAME get` prints (docker-credential-helpers' protocol). */
interface HelperCredential {
  ServerURL?: string;
  Username?: string;
  Secret?: string;
}

export function authFilePath(root: string): string {
  return process.env.KILN_AUTH_FILE || path.join(root, 'auth.json');
}

export function dockerConfigPath(): string {
  const dir = process.env.DOCKER_CONFIG || path.join(os.homedir(), '.docker');
  return path.join(dir, 'config.json');
}

const HUB_KEYS = ['docker.io', 'index.docker.io', 'registry-1.docker.io', 'registry.hub.docker.com'];

/** The registry a key in an auths map refers to: strips the scheme and path, maps Hub aliases. */
export function normalizeAuthKey(key: string): string {
  let k = key.trim().replace(/^[a-z]+:\/\//i, '');
  k = k.replace(/\/.*$/, '');
  if (HUB_KEYS.includes(k)) return 'docker.io';
  return k;
}

function readAuthFile(file: string): AuthFile | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'EACCES') return undefined;
    throw e;
  }
  try {
    return JSON.parse(text) as AuthFile;
  } catch (e) {
    throw new Error(`${file}: invalid JSON: ${(e as Error).message}`);
  }
}

function decodeEntry(e: AuthEntry): Credential | undefined {
  if (e.auth) {
    const s = Buffer.from(e.auth, 'base64').toString('utf8');
    const i = s.indexOf(':');
    if (i > 0) return { username: s.slice(0, i), password: s.slice(i + 1), identityToken: e.identitytoken || undefined };
  }
  if (e.username && (e.password || e.identitytoken))
    return { username: e.username, password: e.password ?? '', identityToken: e.identitytoken || undefined };
  return undefined;
}

function findIn(file: AuthFile | undefined, registry: string): Credential | undefined {
  const target = normalizeAuthKey(registry);
  for (const [k, v] of Object.entries(file?.auths ?? {})) {
    if (normalizeAuthKey(k) === target) {
      const c = decodeEntry(v ?? {});
      if (c) return c;
    }
  }
  return undefined;
}

export interface CredentialSource {
  credential: Credential;
  file: string;
}

/** The helper Docker would ask for `registry`: its credHelpers entry, else credsStore. */
function helperFor(file: AuthFile | undefined, registry: string): string | undefined {
  const target = normalizeAuthKey(registry);
  for (const [k, v] of Object.entries(file?.credHelpers ?? {})) if (normalizeAuthKey(k) === target && v) return v;
  return file?.credsStore || undefined;
}

/**
 * Asks `docker-credential-NAME get` for the registry's credentials. The helper keys Docker Hub
 * by its v1 URL and other registries by host[:port]. "Not found" (or a helper that is missing)
 * is no credential; a helper that fails otherwise is an error naming it.
 */
function fromHelper(helper: string, registry: string): Credential | undefined {
  const server = normalizeAuthKey(registry) === 'docker.io' ? 'https://index.docker.io/v1/' : normalizeAuthKey(registry);
  const r = spawnSync(`docker-credential-${helper}`, ['get'], { input: server, encoding: 'utf8', timeout: 30_000 });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
  if (r.status !== 0) {
    const msg = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
    if (/not found/i.test(msg)) return undefined;
    throw new Error(`credential helper docker-credential-${helper} failed for ${server}: ${msg || r.error?.message || `exit ${r.status}`}`);
  }
  let out: HelperCredential;
  try {
    out = JSON.parse(r.stdout) as HelperCredential;
  } catch {
    throw new Error(`credential helper docker-credential-${helper} printed no JSON for ${server}`);
  }
  if (!out.Secret) return undefined;
  // Username "<token>" marks an identity token (an OAuth2 refresh token), as in Docker.
  if (out.Username === '<token>') return { username: '', password: '', identityToken: out.Secret };
  return { username: out.Username ?? '', password: out.Secret };
}

/** Credentials for `registry` (as written in references: docker.io, host:port), if any. */
export function lookupCredential(root: string, registry: string): CredentialSource | undefined {
  const own = authFilePath(root);
  const c = findIn(readAuthFile(own), registry);
  if (c) return { credential: c, file: own };
  const dockerFile = dockerConfigPath();
  const docker = readAuthFile(dockerFile);
  const helper = helperFor(docker, registry);
  const fromStore = helper ? fromHelper(helper, registry) : undefined;
  if (fromStore) return { credential: fromStore, file: `docker-credential-${helper}` };
  const d = findIn(docker, registry);
  return d ? { credential: d, file: dockerFile } : undefined;
}

function writeAuthFile(file: string, data: AuthFile): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = fs.openSync(tmp, 'w', 0o600);
  try {
    fs.writeSync(fd, JSON.stringify(data, null, '\t') + '\n');
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.chmodSync(tmp, 0o600);
  fs.renameSync(tmp, file);
}

export function storeCredential(root: string, registry: string, cred: Credential): string {
  const file = authFilePath(root);
  const data = readAuthFile(file) ?? {};
  const auths = { ...(data.auths ?? {}) };
  const key = normalizeAuthKey(registry);
  for (const k of Object.keys(auths)) if (normalizeAuthKey(k) === key) delete auths[k];
  auths[key] = { auth: Buffer.from(`${cred.username}:${cred.password}`).toString('base64') };
  writeAuthFile(file, { ...data, auths });
  return file;
}

/** Removes kiln's stored login for `registry`; true if there was one. Docker's file is left alone. */
export function removeCredential(root: string, registry: string): boolean {
  const file = authFilePath(root);
  const data = readAuthFile(file);
  if (!data?.auths) return false;
  const key = normalizeAuthKey(registry);
  const auths = { ...data.auths };
  let removed = false;
  for (const k of Object.keys(auths))
    if (normalizeAuthKey(k) === key) {
      delete auths[k];
      removed = true;
    }
  if (removed) writeAuthFile(file, { ...data, auths });
  return removed;
}
