// Image configs and manifests are content-addressed, so the bytes must be stable: keys in the
// order they were inserted (we build objects in spec order) and no whitespace, as Docker writes.
export function canonicalJson(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value), 'utf8');
}
