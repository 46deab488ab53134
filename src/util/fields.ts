// BuildKit's comma-separated option values (`--secret id=a,src=b`, `-o type=tar,dest=f`,
// `--cache-from type=registry,ref=r`): key=value fields, and the parts that have no "=".
export function parseFields(spec: string): { fields: Record<string, string>; bare: string[] } {
  const fields: Record<string, string> = {};
  const bare: string[] = [];
  for (const part of spec.split(',')) {
    const i = part.indexOf('=');
    if (i <= 0) bare.push(part);
    else fields[part.slice(0, i).trim()] = part.slice(i + 1).trim();
  }
  return { fields, bare };
}
