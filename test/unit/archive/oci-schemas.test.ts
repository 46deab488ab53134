// The validator the archive tests rely on gives upstream's verdict on all of the corpus's cases.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SCHEMA_DIR, ociErrors, type OciKind } from './oci-schemas.js';

const KIND: Record<string, OciKind> = {
  'content-descriptor.json': 'descriptor',
  'image-manifest-schema.json': 'manifest',
  'image-index-schema.json': 'index',
  'image-layout-schema.json': 'layout',
  'config-schema.json': 'config',
};

test('oci-schemas: every corpus case gets the expected verdict', { skip: !SCHEMA_DIR && 'no conformance corpus' }, () => {
  const corpus = JSON.parse(readFileSync(join(SCHEMA_DIR!, '..', 'cases.json'), 'utf8')) as { cases: { id: string; schema: string; document: string; expectValid: boolean }[] };
  assert.ok(corpus.cases.length >= 80);
  const wrong: string[] = [];
  for (const c of corpus.cases) {
    let valid: boolean;
    try {
      valid = ociErrors(KIND[c.schema]!, JSON.parse(c.document)).length === 0;
    } catch (e) {
      if (!(e instanceof SyntaxError)) throw e;
      valid = false;
    }
    if (valid !== c.expectValid) wrong.push(c.id);
  }
  assert.deepEqual(wrong, []);
});
