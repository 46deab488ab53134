// Authentication against one registry: learns the scheme from the registry's 401 challenge, then
// - Basic: sends the stored credentials with every request;
// - Bearer: asks the challenge's realm for a token covering the request's scopes
//   (`repository:<name>:pull,push`), with Basic credentials when it has them (or an OAuth2
//   refresh-token POST when the login stored an identity token), caches tokens per scope set until
//   `expires_in`, and fetches a fresh one when the registry refuses a cached token (the caller retries
//   once on 401). Concurrent requests for the same scope set share one token request.
import { parseWwwAuthenticate, type Challenge } from './challenge.js';
import type { Credential } from './credentials.js';
import { describeErrorBody, UnauthorizedError } from './errors.js';
import { readBody, send } from './http.js';

export type Scope = string;

export function repositoryScope(repo: string, actions: readonly string[]): Scope {
  return `repository:${repo}:${[...actions].join(',')}`;
}

interface CachedToken {
  header: string;
  expiresAt: number;
}

export interface TokenResponse {
  token?: string;
  access_token?: string;
  expires_in?: number;
  issued_at?: string;
  refresh_token?: string;
}

export class Authenticator {
  private scheme: 'unknown' | 'none' | 'basic' | 'bearer' = 'unknown';
  private bearer?: { realm: string; service?: string };
  private readonly tokens = new Map<string, CachedToken>();
  private readonly inflight = new Map<string, Promise<CachedToken>>();
  /** How many tokens were fetched (tests and debug output). */
  tokenFetches = 0;

  constructor(
    readonly registry: string,
    private readonly credential: Credential | undefined,
    private readonly opts: { insecureTls?: boolean } = {},
  ) {}

  get hasCredential(): boolean {
    return !!this.credential;
  }

  /** The Authorization header to send without waiting for a challenge, if one is known. */
  authorization(scopes: readonly Scope[]): string | undefined {
    if (this.scheme === 'basic') return this.basicHeader();
    if (this.scheme === 'bearer') {
      const t = this.tokens.get(scopeKey(scopes));
      if (t && t.expiresAt > Date.now()) return t.header;
    }
    return undefined;
  }

  /** Learns the scheme from a challenge (the /v2/ ping) without fetching anything. */
  learn(wwwAuthenticate: string | string[] | undefined): void {
    const challenges = parseWwwAuthenticate(wwwAuthenticate);
    const bearer = challenges.find((c) => c.scheme === 'bearer' && c.params.realm);
    if (bearer) {
      this.scheme = 'bearer';
      this.bearer = { realm: bearer.params.realm!, service: bearer.params.service };
    } else if (challenges.some((c) => c.scheme === 'basic')) this.scheme = 'basic';
  }

  /**
   * The Authorization header for a request on `scopes`: the Basic credentials, or a cached token,
   * or (Bearer scheme known from the ping) a token fetched now, which saves a 401 round trip.
   */
  async prepare(scopes: readonly Scope[]): Promise<string | undefined> {
    const known = this.authorization(scopes);
    if (known || this.scheme !== 'bearer' || !this.bearer) return known;
    if (scopes.length === 0) return undefined;
    return (await this.fetchTokenOnce(scopeKey(scopes), [...scopes])).header;
  }

  /** Records that /v2/ answered without a challenge: the registry is anonymous. */
  noteAnonymous(): void {
    if (this.scheme === 'unknown') this.scheme = 'none';
  }

  /**
   * Handles a 401: returns the Authorization header to retry with. Throws UnauthorizedError when
   * there is nothing new to try (no credentials, or the credentials were just refused).
   */
  async respond(wwwAuthenticate: string | string[] | undefined, scopes: readonly Scope[], sent: string | undefined): Promise<string> {
    const challenges = parseWwwAuthenticate(wwwAuthenticate);
    const bearer = challenges.find((c) => c.scheme === 'bearer' && c.params.realm);
    const basic = challenges.find((c) => c.scheme === 'basic');
    if (bearer) {
      this.scheme = 'bearer';
      this.bearer = { realm: bearer.params.realm!, service: bearer.params.service };
      const all = mergeScopes(scopes, bearer);
      const key = scopeKey(scopes);
      const stale = this.tokens.get(key);
      if (stale && stale.header !== sent && stale.expiresAt > Date.now()) return stale.header; // someone refreshed meanwhile
      this.tokens.delete(key);
      const t = await this.fetchTokenOnce(key, all);
      return t.header;
    }
    if (basic) {
      this.scheme = 'basic';
      const h = this.basicHeader();
      if (!h) throw new UnauthorizedError(`${this.registry}: authentication required; run \`kiln login ${this.registry}\``);
      if (sent === h) throw new UnauthorizedError(`${this.registry}: unauthorized: incorrect username or password`);
      return h;
    }
    throw new UnauthorizedError(
      `${this.registry}: unauthorized${challenges.length ? ` (unsupported auth scheme ${challenges.map((c) => c.scheme).join(', ')})` : ''}`,
    );
  }

  /** Fetches a token for `scopes` now (used by login to check credentials against a token server). */
  async tokenFor(scopes: readonly Scope[]): Promise<string> {
    if (!this.bearer) throw new Error('no bearer challenge seen yet');
    return (await this.fetchTokenOnce(scopeKey(scopes), [...scopes])).header;
  }

  get schemeName(): string {
    return this.scheme;
  }

  private basicHeader(): string | undefined {
    if (!this.credential) return undefined;
    return `Basic ${Buffer.from(`${this.credential.username}:${this.credential.password}`).toString('base64')}`;
  }

  private fetchTokenOnce(key: string, scopes: string[]): Promise<CachedToken> {
    let p = this.inflight.get(key);
    if (!p) {
      p = this.fetchToken(scopes).then(
        (t) => {
          this.tokens.set(key, t);
          this.inflight.delete(key);
          return t;
        },
        (e) => {
          this.inflight.delete(key);
          throw e;
        },
      );
      this.inflight.set(key, p);
    }
    return p;
  }

  private async fetchToken(scopes: string[]): Promise<CachedToken> {
    const { realm, service } = this.bearer!;
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw new UnauthorizedError(`${this.registry}: invalid token realm ${JSON.stringify(realm)}`);
    }
    this.tokenFetches++;
    const started = Date.now();
    let res;
    const cred = this.credential;
    if (cred?.identityToken) {
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: cred.identityToken, client_id: 'kiln' });
      if (service) form.set('service', service);
      if (scopes.length) form.set('scope', scopes.join(' '));
      res = await send({
        method: 'POST',
        url,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: Buffer.from(form.toString()),
        insecureTls: this.opts.insecureTls,
      });
    } else {
      if (service) url.searchParams.set('service', service);
      for (const s of scopes) url.searchParams.append('scope', s);
      const headers: Record<string, string> = {};
      const basic = this.basicHeader();
      if (basic) headers.authorization = basic;
      res = await send({ method: 'GET', url, headers, insecureTls: this.opts.insecureTls });
    }
    const body = await readBody(res, 1 << 20);
    if (res.status === 401 || res.status === 403) {
      throw new UnauthorizedError(
        cred
          ? `${this.registry}: unauthorized: incorrect username or password`
          : `${this.registry}: authentication required; run \`kiln login ${this.registry}\``,
        res.status,
      );
    }
    if (res.status !== 200) {
      const d = describeErrorBody(body);
      throw new UnauthorizedError(`${this.registry}: token server ${url.host} answered ${res.status}${d.text ? `: ${d.text}` : ''}`, res.status);
    }
    let parsed: TokenResponse;
    try {
      parsed = JSON.parse(body.toString()) as TokenResponse;
    } catch {
      throw new UnauthorizedError(`${this.registry}: token server ${url.host} sent invalid JSON`);
    }
    const token = parsed.token || parsed.access_token;
    if (!token) throw new UnauthorizedError(`${this.registry}: token server ${url.host} sent no token`);
    const lifetime = Math.max(Number(parsed.expires_in) || 60, 10) * 1000;
    let issued = parsed.issued_at ? Date.parse(parsed.issued_at) : NaN;
    if (!Number.isFinite(issued) || Math.abs(issued - started) > 10 * 60_000) issued = started; // distrust skewed clocks
    return { header: `Bearer ${token}`, expiresAt: issued + lifetime - 5_000 };
  }
}

function mergeScopes(scopes: readonly Scope[], challenge: Challenge): string[] {
  const out = new Set(scopes);
  for (const s of (challenge.params.scope ?? '').split(' ')) if (s) out.add(s);
  return [...out];
}

function scopeKey(scopes: readonly Scope[]): string {
  return [...new Set(scopes)].sort().join(' ');
}
