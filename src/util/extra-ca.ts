// Extra certificate authorities for kiln's HTTPS connections.
//
// Node reads NODE_EXTRA_CA_CERTS while it starts, before any JavaScript runs, and parsing a
// system bundle there costs ~40 ms on every command, including the many that never open a TLS
// connection. So bin/kiln.cjs's shebang moves the variable aside (KILN_EXTRA_CA_CERTS) and kiln
// adds those authorities itself, on its first HTTPS request. Run as `node bin/kiln.cjs`, Node
// keeps the variable and does the work as usual; then there is nothing for kiln to add.
import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';

let cached: string[] | undefined | null = null;

/** The CA list for HTTPS agents: Node's roots plus the moved-aside extra file, or undefined for Node's default. */
export function trustedCertificates(): string[] | undefined {
  if (cached !== null) return cached;
  const file = process.env.KILN_EXTRA_CA_CERTS;
  cached = undefined;
  if (file && !process.env.NODE_EXTRA_CA_CERTS) {
    try {
      cached = [...rootCertificates, readFileSync(file, 'utf8')];
    } catch (e) {
      // Node's own behaviour for an unreadable NODE_EXTRA_CA_CERTS: warn and go on.
      process.emitWarning(`Ignoring extra certs from \`${file}\`, load failed: ${(e as Error).message}`);
    }
  }
  return cached;
}
