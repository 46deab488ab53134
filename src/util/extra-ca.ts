// Extra certificate authorities for kiln's HTTPS connections.
//
// Node reads NODE_EXTRA_CA_CERTS while it starts, before any JavaScript runs, and parsing a
// system bundle there costs ~40 ms on every command, including the many that never open a TLS
// connection. So bin/kiln.cjs's shebang moves the variable aside (KILN_EXTRA_CA_CERTS) and kiln
// adds those authorities itself, on its first HTTPS request. Run as `node bin/kiln.cjs`, Node
// keeps the variable and does the work as usual; then there is nothing for kiln to add.
import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';

/** The CA list for an HTTPS agent: Node's roots plus the moved-aside file, or undefined for Node's default. */
export function extraCertificates(env: NodeJS.ProcessEnv = process.env): string[] | undefined {
  const file = env.KILN_EXTRA_CA_CERTS;
  if (!file || env.NODE_EXTRA_CA_CERTS) return undefined;
  try {
    return [...rootCertificates, readFileSync(file, 'utf8')];
  } catch (e) {
    // Node's own behaviour for an unreadable NODE_EXTRA_CA_CERTS: warn and go on.
    process.emitWarning(`Ignoring extra certs from \`${file}\`, load failed: ${(e as Error).message}`);
    return undefined;
  }
}

let cached: { ca: string[] | undefined } | undefined;

/** extraCertificates() of this process, read once. */
export function trustedCertificates(): string[] | undefined {
  return (cached ??= { ca: extraCertificates() }).ca;
}
