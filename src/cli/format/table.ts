// Go's text/tabwriter (the algorithm, not an approximation) with Docker's settings
// (minwidth 10, tabwidth 1, padding 3, padchar ' '), and a plain column-table helper.

export interface TabwriterOptions {
  minwidth?: number;
  padding?: number;
}

/**
 * Aligns tab-terminated cells into columns exactly as Go's tabwriter does: a column block is a
 * run of consecutive lines that have a cell in that column; the last cell of a line is not part
 * of any column and is never padded.
 */
export function tabwrite(text: string, opts: TabwriterOptions = {}): string {
  const minwidth = opts.minwidth ?? 10;
  const padding = opts.padding ?? 3;
  const lines = text.split('\n').map((l) => l.split('\t'));
  const widths: number[] = [];
  let out = '';
  const width = (s: string): number => [...s].length;
  const writeLines = (line0: number, line1: number): void => {
    for (let i = line0; i < line1; i++) {
      const line = lines[i]!;
      line.forEach((c, j) => {
        out += c;
        if (j < widths.length) out += ' '.repeat(Math.max(0, widths[j]! - width(c)));
      });
      if (i + 1 < lines.length) out += '\n';
    }
  };
  const format = (line0: number, line1: number): void => {
    const column = widths.length;
    for (let t = line0; t < line1; t++) {
      if (column >= lines[t]!.length - 1) continue;
      writeLines(line0, t);
      line0 = t;
      let w = minwidth;
      for (; t < line1; t++) {
        const line = lines[t]!;
        if (column >= line.length - 1) break;
        w = Math.max(w, width(line[column]!) + padding);
      }
      widths.push(w);
      format(line0, t);
      widths.pop();
      line0 = t;
    }
    writeLines(line0, line1);
  };
  format(0, lines.length);
  return out;
}

/** A column of printTable/formatTable: a header and the field (or function) giving its text. */
export interface Column<T = Record<string, unknown>> {
  header: string;
  field?: string;
  get?: (row: T) => unknown;
}

/** A table with a header line, aligned like Docker's tables; every line ends with '\n'. */
export function formatTable<T>(rows: readonly T[], columns: readonly (Column<T> | string)[], opts?: TabwriterOptions): string {
  const cols = columns.map((c) => (typeof c === 'string' ? { header: c.toUpperCase(), field: c } : c));
  const cell = (row: T, c: Column<T>): string => {
    const v = c.get ? c.get(row) : (row as Record<string, unknown>)[c.field ?? c.header];
    return v === undefined || v === null ? '' : String(v);
  };
  let text = cols.map((c) => c.header).join('\t') + '\n';
  for (const r of rows) text += cols.map((c) => cell(r, c).replace(/[\t\n]/g, ' ')).join('\t') + '\n';
  return tabwrite(text, opts);
}

/** formatTable written to a stream (stdout by default). */
export function printTable<T>(rows: readonly T[], columns: readonly (Column<T> | string)[], out: { write(s: string): unknown } = process.stdout): void {
  out.write(formatTable(rows, columns));
}
