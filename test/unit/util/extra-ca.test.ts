// util/extra-ca: which authorities kiln's HTTPS agents trust when bin/kiln.cjs has moved
// NODE_EXTRA_CA_CERTS aside; util/random: IDs.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import { extraCertificates } from '../../../src/util/extra-ca.js';
import { randomHex } from '../../../src/util/random.js';

const PEM = '-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n';

describe('extraCertificates', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-ca-'));
  const file = join(dir, 'extra.pem');
  writeFileSync(file, PEM);

  it('adds the moved-aside file to Node\'s roots', () => {
    const ca = extraCertificates({ KILN_EXTRA_CA_CERTS: file });
    assert.ok(ca);
    assert.equal(ca.length, rootCertificates.length + 1);
    assert.equal(ca.at(-1), PEM);
  });

  it('leaves Node\'s default when nothing was moved aside, or when Node kept the variable itself', () => {
    assert.equal(extraCertificates({}), undefined);
    assert.equal(extraCertificates({ KILN_EXTRA_CA_CERTS: '' }), undefined);
    assert.equal(extraCertificates({ KILN_EXTRA_CA_CERTS: file, NODE_EXTRA_CA_CERTS: file }), undefined);
  });

  it('warns about an unreadable file and goes on, as Node does', () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on('warning', onWarning);
    try {
      assert.equal(extraCertificates({ KILN_EXTRA_CA_CERTS: join(dir, 'missing.pem') }), undefined);
    } finally {
      setImmediate(() => process.off('warning', onWarning));
    }
    return new Promise<void>((resolve) =>
      setImmediate(() => {
        assert.match(warnings.join('\n'), /Ignoring extra certs from `.*missing\.pem`/);
        rmSync(dir, { recursive: true, force: true });
        resolve();
      }),
    );
  });
});

describe('randomHex', () => {
  it('gives lowercase hex of the asked length, different each time', () => {
    const a = randomHex();
    assert.match(a, /^[0-9a-f]{64}$/);
    assert.match(randomHex(6), /^[0-9a-f]{12}$/);
    assert.notEqual(randomHex(), a);
  });
});
