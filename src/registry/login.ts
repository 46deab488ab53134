// `kiln login`: checks credentials against the registry (Basic: GET /v2/ with them; Bearer: a token
// request to the realm with them), and only then stores them (credentials.ts).
import { RegistryClient } from './client.js';
import { normalizeAuthKey, removeCredential, storeCredential, type Credential } from './credentials.js';
import { describeErrorBody } from './errors.js';
import { readBody } from './http.js';
import { UnauthorizedError } from './errors.js';

/** The registry a `login`/`logout` argument names: "http://127.0.0.1:5000/v2/" → 127.0.0.1:5000. */
export function loginServer(arg: string | undefined): string {
  return arg ? normalizeAuthKey(arg) : 'docker.io';
}

/** Throws UnauthorizedError when the registry refuses `cred`. */
export async function verifyLogin(root: string, registry: string, cred: Credential): Promise<void> {
  const client = RegistryClient.primary(registry, { root, credential: cred });
  const res = await client.request({ method: 'GET', path: '/v2/' });
  if (res.status === 200) {
    res.body.resume();
    return;
  }
  const body = await readBody(res, 64 * 1024).catch(() => Buffer.alloc(0));
  const d = describeErrorBody(body);
  if (res.status === 401 || res.status === 403)
    throw new UnauthorizedError(`${registry}: unauthorized: incorrect username or password${d.text ? ` (${d.text})` : ''}`, res.status);
  throw new UnauthorizedError(`${registry}: login check answered ${res.status}${d.text ? `: ${d.text}` : ''}`, res.status);
}

/** Verifies, then stores; returns the file written. */
export async function login(root: string, server: string | undefined, cred: Credential): Promise<{ registry: string; file: string }> {
  const registry = loginServer(server);
  await verifyLogin(root, registry, cred);
  return { registry, file: storeCredential(root, registry, cred) };
}

export function logout(root: string, server: string | undefined): { registry: string; removed: boolean } {
  const registry = loginServer(server);
  return { registry, removed: removeCredential(root, registry) };
}
