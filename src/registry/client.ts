// A client for one registry endpoint (the registry itself or one of its mirrors): picks the scheme
// (probing HTTPS then HTTP for insecure registries), authenticates every request for the scopes it
// needs, retries once after a 401 with fresh credentials, and maps error responses to typed errors.
// Manifest and blob operations live in manifests.ts, blob-fetch.ts and blob-upload.ts.
import { Authenticator, repositoryScope, type Scope } from './auth.js';
import { loadRegistriesConfig, endpointsFor, type Endpoint, type RegistriesConfig } from './config.js';
import { lookupCredential, type Credential } from './credentials.js';
import { describeErrorBody, NotFoundError, RegistryError, RegistryUnreachableError, UnauthorizedError } from './errors.js';
import { discard, readBody, send, type HttpResponse } from './http.js';
import type { Readable } from 'node:stream';

export interface RequestOptions {
  method: string;
  /** A path under the base URL (/v2/…) or an absolute URL (upload Locations). */
  path: string;
  /** Repository this request acts on, with the actions it needs, for the token scope. */
  repo?: string;
  actions?: readonly string[];
  /** More scopes, e.g. pull on the source repository of a cross-repository mount. */
  extraScopes?: readonly Scope[];
  headers?: Record<string, string>;
  body?: Buffer | (() => Readable);
  idleTimeoutMs?: number;
  signal?: AbortSignal;
}

export interface ClientOptions {
  /** kiln's state directory: where registries.json and auth.json are looked up. */
  root?: string;
  config?: RegistriesConfig;
  /** Explicit credentials (login); `null` for anonymous; undefined to look them up. */
  credential?: Credential | null;
}

export class RegistryClient {
  readonly auth: Authenticator;
  private base?: URL;
  private pinged?: Promise<void>;

  constructor(
    readonly endpoint: Endpoint,
    credential: Credential | undefined,
  ) {
    this.auth = new Authenticator(endpoint.registry, credential, { insecureTls: endpoint.insecureTls });
  }

  /** Clients for `registry`: for a pull, its mirrors first, then the registry itself. */
  static forRegistry(registry: string, opts: ClientOptions & { pull?: boolean } = {}): RegistryClient[] {
    const config = opts.config ?? (opts.root ? loadRegistriesConfig(opts.root) : { registries: {} });
    const cred =
      opts.credential === null
        ? undefined
        : (opts.credential ?? (opts.root ? lookupCredential(opts.root, registry)?.credential : undefined));
    return endpointsFor(registry, config, { pull: !!opts.pull }).map((e) => new RegistryClient(e, e.mirror ? undefined : cred));
  }

  /** The client for `registry` itself (no mirrors): push, login. */
  static primary(registry: string, opts: ClientOptions = {}): RegistryClient {
    return RegistryClient.forRegistry(registry, { ...opts, pull: false })[0]!;
  }

  get registry(): string {
    return this.endpoint.registry;
  }

  /** Where this client sends requests ("http://127.0.0.1:5000"), once known. */
  get baseUrl(): URL | undefined {
    return this.base;
  }

  /** GET /v2/: picks the scheme that answers and learns the auth scheme. Runs once per client. */
  ping(): Promise<void> {
    this.pinged ??= this.doPing().catch((e) => {
      this.pinged = undefined;
      throw e;
    });
    return this.pinged;
  }

  private async doPing(): Promise<void> {
    let lastErr: unknown;
    for (const base of this.endpoint.bases) {
      try {
        const res = await send({ method: 'GET', url: new URL('/v2/', base), insecureTls: this.endpoint.insecureTls, idleTimeoutMs: 30_000 });
        discard(res);
        this.base = base;
        if (res.status === 200) this.auth.noteAnonymous();
        else if (res.status === 401) {
          // Learn the scheme now; a registry that needs credentials we lack fails later, per request,
          // so anonymous pulls of public repositories on an authenticating registry still work.
          this.auth.learn(res.headers['www-authenticate']);
        } else if (res.status === 404) {
          throw new RegistryError(`${base.host} does not speak the registry API v2 (GET /v2/ answered 404)`, 404);
        }
        return;
      } catch (e) {
        if (!(e instanceof RegistryUnreachableError)) throw e;
        lastErr = e;
      }
    }
    throw lastErr;
  }

  /** Sends a request with authentication; one retry after a 401. The caller owns the response body. */
  async request(o: RequestOptions): Promise<HttpResponse> {
    await this.ping();
    const scopes: Scope[] = [];
    if (o.repo) scopes.push(repositoryScope(o.repo, o.actions ?? ['pull']));
    if (o.extraScopes) scopes.push(...o.extraScopes);
    const url = new URL(o.path, this.base);
    let auth = await this.auth.prepare(scopes);
    for (let attempt = 0; ; attempt++) {
      const headers: Record<string, string> = { ...o.headers };
      // Credentials go only to the registry's own host (not to redirect targets; send() drops them).
      if (auth && url.host === this.base!.host) headers.authorization = auth;
      const res = await send({
        method: o.method,
        url,
        headers,
        body: o.body,
        insecureTls: this.endpoint.insecureTls,
        idleTimeoutMs: o.idleTimeoutMs,
        signal: o.signal,
      });
      if (res.status !== 401 || attempt > 0) return res;
      const challenge = res.headers['www-authenticate'];
      discard(res);
      auth = await this.auth.respond(challenge, scopes, auth);
    }
  }

  /** Turns an unexpected response into a typed error (reads and discards its body). */
  async fail(res: HttpResponse, what: string): Promise<never> {
    let body: Buffer | undefined;
    try {
      body = await readBody(res, 64 * 1024);
    } catch {
      /* ignore */
    }
    const d = describeErrorBody(body);
    const detail = d.text || `HTTP ${res.status}`;
    if (res.status === 404) throw new NotFoundError(`${what}: not found (${detail})`, d.codes);
    if (res.status === 401)
      throw new UnauthorizedError(
        `${what}: ${detail}${this.auth.hasCredential ? '' : `; run \`kiln login ${this.registry}\``}`,
        401,
        d.codes,
      );
    if (res.status === 403) throw new UnauthorizedError(`${what}: denied: ${detail}`, 403, d.codes);
    throw new RegistryError(`${what}: ${this.registry} answered ${res.status}: ${detail}`, res.status, d.codes);
  }
}
