// Output formatting shared by every listing and inspect command, in Docker's ways:
//   formatList(rows, {format, defaultFormat, headers})  - `images`, `ps`, `history`, …
//   formatInspect(items, format)                          - `inspect`
// `--format` takes '' (default table), 'table', 'json', 'table TEMPLATE' or a Go TEMPLATE.
import { goJson, MARSHAL_JSON } from './gofmt.js';
import { HEADER_FUNCS, TemplateError, compileTemplate } from './template.js';
import { tabwrite } from './table.js';

export * from './gofmt.js';
export * from './template.js';
export * from './table.js';

export interface ListFormatOptions {
  /** The user's --format value; undefined/'' = defaultFormat. */
  format?: string;
  /** Used for '' and 'table', e.g. 'table {{.Repository}}\t{{.Tag}}\t{{.ID}}'. */
  defaultFormat: string;
  /** Used for -q (when the user gave no --format), e.g. '{{.ID}}'. */
  quietFormat?: string;
  quiet?: boolean;
  /** Field name → header text (Docker's FullHeader); other fields get their name in capitals, words split. */
  headers?: Record<string, string>;
}

/** 'CreatedSince' → 'CREATED SINCE': the header for a field nobody named. */
export function headerFor(field: string): string {
  return field.replace(/([a-z0-9])([A-Z])/g, '$1 $2').toUpperCase();
}

/** Replaces literal `\t` and `\n` (as typed in a shell) with tab and newline, as Docker does. */
export function unescapeFormat(f: string): string {
  return f.replace(/\\t/g, '\t').replace(/\\n/g, '\n');
}

/**
 * Renders rows the way Docker's formatter.Context does: 'json' prints one JSON object per line
 * (keys sorted, as Go marshals a map); a template prints once per row, each followed by '\n';
 * 'table …' also prints a header line and aligns columns with tabwriter.
 */
export function formatList(rows: readonly object[], opts: ListFormatOptions): string {
  let format = opts.format ?? '';
  if (format === '' || format === 'table') format = opts.quiet && opts.quietFormat ? opts.quietFormat : opts.defaultFormat;
  if (format === 'json') return rows.map((r) => goJson(r, { sortKeys: true }) + '\n').join('');
  const isTable = format.startsWith('table');
  let body = isTable ? format.slice('table'.length) : format;
  body = unescapeFormat(body.replace(/^ +| +$/g, ''));
  const tpl = compileTemplate(body);
  let out = '';
  // A row marshals as Docker's subcontexts do (a map: keys sorted, HTML escaped), so that
  // `{{json .}}` prints exactly what `--format json` does.
  for (const r of rows) out += tpl.execute({ ...r, [MARSHAL_JSON]: () => goJson(r, { sortKeys: true }) }) + '\n';
  if (!isTable) return out;
  const header = tpl.execute(headerProxy(opts.headers ?? {}), HEADER_FUNCS);
  return tabwrite(header + '\n' + out);
}

function headerProxy(headers: Record<string, string>): object {
  return new Proxy(
    {},
    {
      get: (_t, k) => (typeof k === 'string' ? headers[k] ?? headerFor(k) : undefined),
      has: (_t, k) => typeof k === 'string',
    },
  );
}

/**
 * Docker's inspect output: with no format (or 'json') a JSON array indented by four spaces;
 * with a template, the template once per item, each followed by '\n'.
 */
export function formatInspect(items: readonly unknown[], format?: string): string {
  if (!format || format === 'json') return goJson(items, { indent: '    ' }) + '\n';
  const tpl = compileTemplate(unescapeFormat(format));
  return items.map((i) => tpl.execute(i) + '\n').join('');
}

/** One object (`version`, `info`) as 'json' or through a Go template; errors carry Docker's message. */
export function formatObject(data: unknown, format: string): string {
  if (format === 'json') return goJson(data) + '\n';
  try {
    return compileTemplate(unescapeFormat(format)).execute(data) + '\n';
  } catch (e) {
    throw new Error(templateErrorMessage(e) ?? (e as Error).message);
  }
}

/** Turns a template error into the message Docker prints. */
export function templateErrorMessage(e: unknown): string | undefined {
  return e instanceof TemplateError ? `template parsing error: ${e.message}` : undefined;
}
