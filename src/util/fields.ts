// BuildKit's comma-separated option values (`--secret id=a,src=b`, `-o type=tar,dest=f`,
// `--cache-from type=registry,ref=r`): key=value fields, and the parts that have no "=". They are
// one CSV record, as BuildKit reads them: a field in double quotes may hold commas
// (`"name=a:1,b:2"`), and "" inside it is one quote.
export function parseFields(spec: string): { fields: Record<string, string>; bare: string[] } {
  const fields: Record<string, string> = {};
  const bare: string[] = [];
  for (const part of csvFields(spec)) {
    const i = part.indexOf('=');
    if (i <= 0) bare.push(part);
    else fields[part.slice(0, i).trim()] = part.slice(i + 1).trim();
  }
  return { fields, bare };
}

/** The fields of one CSV record (RFC 4180 quoting; a quote that does not open a field is kept as is). */
export function csvFields(record: string): string[] {
  const out: string[] = [];
  let i = 0;
  for (;;) {
    let field = '';
    if (record[i] === '"') {
      i++;
      for (;;) {
        const q = record.indexOf('"', i);
        if (q < 0) throw new Error(`unterminated quote in ${JSON.stringify(record)}`);
        field += record.slice(i, q);
        if (record[q + 1] === '"') {
          field += '"';
          i = q + 2;
          continue;
        }
        i = q + 1;
        break;
      }
      const comma = record.indexOf(',', i);
      const rest = comma < 0 ? record.slice(i) : record.slice(i, comma);
      if (rest !== '') throw new Error(`unexpected ${JSON.stringify(rest)} after a quoted field in ${JSON.stringify(record)}`);
      out.push(field);
      if (comma < 0) return out;
      i = comma + 1;
    } else {
      const comma = record.indexOf(',', i);
      out.push(comma < 0 ? record.slice(i) : record.slice(i, comma));
      if (comma < 0) return out;
      i = comma + 1;
    }
  }
}
