// Image references with Docker's normalization: `busybox` -> docker.io/library/busybox:latest,
// `127.0.0.1:5000/app` keeps its registry, `name@sha256:…` pins a digest.
import { isDigest } from './digest.js';
import type { Digest } from './types.js';

export interface Reference {
  /** Registry host[:port], e.g. docker.io or 127.0.0.1:5000. */
  domain: string;
  /** Repository path inside the registry, e.g. library/busybox. */
  path: string;
  tag?: string;
  digest?: Digest;
}

export const DEFAULT_DOMAIN = 'docker.io';
const LEGACY_DOMAIN = 'index.docker.io';

const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;

export class ReferenceError extends Error {}

export function parseReference(input: string): Reference {
  let rest = input.trim();
  if (!rest) throw new ReferenceError('invalid reference format: empty');
  let digest: Digest | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    const d = rest.slice(at + 1);
    if (!isDigest(d)) throw new ReferenceError(`invalid reference format: bad digest in ${JSON.stringify(input)}`);
    digest = d;
    rest = rest.slice(0, at);
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw new ReferenceError(`invalid reference format: bad tag ${JSON.stringify(tag)}`);
  }
  let domain = DEFAULT_DOMAIN;
  let path = rest;
  const slash = rest.indexOf('/');
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    if (first.includes('.') || first.includes(':') || first === 'localhost' || first.toLowerCase() !== first) {
      domain = first;
      path = rest.slice(slash + 1);
    }
  }
  if (domain === LEGACY_DOMAIN) domain = DEFAULT_DOMAIN;
  if (path !== path.toLowerCase()) throw new ReferenceError(`invalid reference format: repository name must be lowercase`);
  if (domain === DEFAULT_DOMAIN && !path.includes('/')) path = `library/${path}`;
  for (const c of path.split('/')) {
    if (!PATH_COMPONENT.test(c)) throw new ReferenceError(`invalid reference format: ${JSON.stringify(input)}`);
  }
  if (!tag && !digest) tag = 'latest';
  return { domain, path, tag, digest };
}

/** Repository without tag or digest: docker.io/library/busybox. */
export function repositoryName(r: Reference): string {
  return `${r.domain}/${r.path}`;
}

/** The full normalized form stored as a tag: docker.io/library/busybox:latest. */
export function formatReference(r: Reference): string {
  let s = repositoryName(r);
  if (r.tag) s += `:${r.tag}`;
  if (r.digest) s += `@${r.digest}`;
  return s;
}

export function normalize(input: string): string {
  return formatReference(parseReference(input));
}

/** Docker's short display form: busybox:latest rather than docker.io/library/busybox:latest. */
export function familiarName(r: Reference): string {
  let repo = repositoryName(r);
  if (r.domain === DEFAULT_DOMAIN) repo = r.path.startsWith('library/') ? r.path.slice(8) : r.path;
  return repo;
}

export function familiarString(r: Reference): string {
  let s = familiarName(r);
  if (r.tag) s += `:${r.tag}`;
  if (r.digest) s += `@${r.digest}`;
  return s;
}
