// Validation against the OCI image-spec JSON schemas in ../shared/conformance/oci-image-spec
// (draft-04, with the aliasing and nested-id fixes its README describes, plus the checks Go does
// outside the schema: strict sha256 hex, padded base64 `data`, `KEY=value` Env entries).
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);

export const SCHEMA_DIR = [
  join(process.cwd(), '../shared/conformance/oci-image-spec/schema'),
  '/work/shared/conformance/oci-image-spec/schema',
  fileURLToPath(new URL('../../../../../shared/conformance/oci-image-spec/schema', import.meta.url)),
].find((d) => existsSync(join(d, 'image-manifest-schema.json')));

const ALIASES: Record<string, string[]> = {
  'config-schema.json': ['https://opencontainers.org/schema/image/config'],
  'content-descriptor.json': ['https://opencontainers.org/schema/descriptor', 'https://opencontainers.org/schema/image/content-descriptor.json'],
  'defs-descriptor.json': ['https://opencontainers.org/schema/defs-descriptor.json', 'https://opencontainers.org/schema/image/defs-descriptor.json'],
  'defs.json': ['https://opencontainers.org/schema/defs.json', 'https://opencontainers.org/schema/image/defs.json', 'https://opencontainers.org/schema/image/descriptor/defs.json'],
  'image-index-schema.json': ['https://opencontainers.org/schema/image/index'],
  'image-layout-schema.json': ['https://opencontainers.org/schema/image/layout'],
  'image-manifest-schema.json': ['https://opencontainers.org/schema/image/manifest'],
};

export type OciKind = 'config' | 'manifest' | 'index' | 'layout' | 'descriptor';
const KIND_URL: Record<OciKind, string> = {
  config: 'https://opencontainers.org/schema/image/config',
  manifest: 'https://opencontainers.org/schema/image/manifest',
  index: 'https://opencontainers.org/schema/image/index',
  layout: 'https://opencontainers.org/schema/image/layout',
  descriptor: 'https://opencontainers.org/schema/descriptor',
};

function stripNestedIds(v: unknown, root: boolean): unknown {
  if (Array.isArray(v)) return v.map((x) => stripNestedIds(x, false));
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      if (k === 'id' && !root && typeof x === 'string') continue;
      out[k] = stripNestedIds(x, false);
    }
    return out;
  }
  return v;
}

type ValidateFn = ((doc: unknown) => boolean) & { errors?: unknown[] | null };
let validators: Record<OciKind, ValidateFn> | null | undefined;

function load(): Record<OciKind, ValidateFn> | null {
  if (validators !== undefined) return validators;
  if (!SCHEMA_DIR) return (validators = null);
  const Ajv = require('ajv-draft-04') as new (opts: object) => {
    addSchema(schema: object, key?: string): void;
    addFormat(name: string, f: (s: string) => boolean): void;
    getSchema(key: string): ValidateFn | undefined;
  };
  const ajv = new Ajv({ strict: false, allErrors: true });
  ajv.addFormat('date-time', (s) => /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/.test(s) && !Number.isNaN(Date.parse(s)));
  ajv.addFormat('uri', (s) => /^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(s));
  for (const [file, urls] of Object.entries(ALIASES)) {
    const raw = JSON.parse(readFileSync(join(SCHEMA_DIR, file), 'utf8')) as Record<string, unknown>;
    for (const url of urls) {
      const copy = stripNestedIds(raw, true) as Record<string, unknown>;
      copy.id = url;
      delete copy.$schema;
      ajv.addSchema(copy);
    }
  }
  const out = {} as Record<OciKind, ValidateFn>;
  for (const [k, url] of Object.entries(KIND_URL)) {
    const v = ajv.getSchema(url);
    if (!v) throw new Error(`schema ${url} not registered`);
    out[k as OciKind] = v;
  }
  return (validators = out);
}

export function schemasAvailable(): boolean {
  return load() !== null;
}

const STRICT_DIGEST = /^sha256:[a-f0-9]{64}$|^sha384:[a-f0-9]{96}$|^sha512:[a-f0-9]{128}$|^(?!sha(256|384|512):)[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

function goChecks(kind: OciKind, doc: unknown): string[] {
  const errs: string[] = [];
  const descriptor = (d: unknown, where: string) => {
    if (!d || typeof d !== 'object') return;
    const o = d as { digest?: unknown; data?: unknown };
    if (typeof o.digest === 'string' && !STRICT_DIGEST.test(o.digest)) errs.push(`${where}.digest: bad digest ${o.digest}`);
    if (typeof o.data === 'string' && !/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(o.data)) errs.push(`${where}.data: not padded base64`);
  };
  const d = doc as Record<string, unknown>;
  if (kind === 'descriptor') descriptor(d, '');
  if (kind === 'manifest') {
    descriptor(d.config, 'config');
    (Array.isArray(d.layers) ? d.layers : []).forEach((l, i) => descriptor(l, `layers[${i}]`));
  }
  if (kind === 'index') (Array.isArray(d.manifests) ? d.manifests : []).forEach((m, i) => descriptor(m, `manifests[${i}]`));
  if (kind === 'config') {
    const env = (d.config as { Env?: unknown } | undefined)?.Env;
    if (Array.isArray(env)) env.forEach((e, i) => typeof e === 'string' && !/^[^=]+=.*$/.test(e) && errs.push(`config.Env[${i}]: ${e}`));
  }
  return errs;
}

/** Schema errors for a document ([] = valid); throws if the schemas are not available. */
export function ociErrors(kind: OciKind, doc: unknown): string[] {
  const v = load();
  if (!v) throw new Error('OCI image-spec schemas not found');
  const ok = v[kind](doc);
  const errs = ok ? [] : (v[kind].errors ?? []).map((e) => JSON.stringify(e));
  return [...errs, ...goChecks(kind, doc)];
}
