// `kiln history [OPTIONS] IMAGE` (also `kiln image history`): IMAGE CREATED CREATED BY SIZE COMMENT,
// newest first; the top row carries the image ID and the others `<missing>`, as with Docker for
// images that were not built locally step by step. -H/--human, --no-trunc, -q, --format.
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import type { Engine } from '../../engine.js';
import { chainIds } from '../../image/digest.js';
import { historyRows } from '../../image/inspect.js';
import { createdSince, formatList, humanSize, rfc3339, toTime } from '../format/index.js';

export interface HistoryOptions {
  human?: boolean;
  trunc?: boolean;
  quiet?: boolean;
  format?: string;
}

export interface HistoryRowView {
  Comment: string;
  CreatedAt: string;
  CreatedBy: string;
  CreatedSince: string;
  ID: string;
  Size: string;
}

const HEADERS = { ID: 'IMAGE', CreatedSince: 'CREATED', CreatedAt: 'CREATED AT', CreatedBy: 'CREATED BY', Size: 'SIZE', Comment: 'COMMENT' };
const DEFAULT = 'table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}';

/** Docker's formatter.Ellipsis: cut to `max` characters, the last one an ellipsis. */
export function ellipsis(s: string, max: number): string {
  const chars = [...s];
  if (chars.length <= max) return s;
  if (max <= 1) return chars.slice(0, max).join('');
  return chars.slice(0, max - 1).join('') + '…';
}

export function historyView(engine: Engine, ref: string, o: HistoryOptions): HistoryRowView[] {
  const { id, config } = engine.resolveImage(ref);
  const sizes = chainIds(config.rootfs?.diff_ids ?? []).map((c) => engine.db.getLayer(c)?.contentSize ?? 0);
  const human = o.human !== false;
  const trunc = o.trunc !== false;
  const now = Date.now();
  return historyRows(id, config, sizes).map((r) => {
    const t = toTime(r.created);
    const createdBy = r.createdBy.replace(/\t/g, ' ');
    return {
      Comment: r.comment,
      CreatedAt: t !== undefined ? rfc3339(new Date(t)) : '',
      CreatedBy: trunc ? ellipsis(createdBy, 45) : createdBy,
      CreatedSince: human ? createdSince(t, now) : t !== undefined ? rfc3339(new Date(t)) : '',
      ID: trunc && r.id.startsWith('sha256:') ? r.id.slice(7, 19) : r.id,
      Size: human ? humanSize(r.size) : String(r.size),
    };
  });
}

export function defineHistory(cmd: Command, ctx: CliContext): Command {
  return cmd
    .description('Show the history of an image')
    .argument('<image>', 'image name or ID')
    .option('-H, --human [bool]', 'print sizes and dates in human readable format (default true)', (v: string) => !/^=?(false|0)$/i.test(v), true)
    .option('--format <format>', "format output: 'table', 'table TEMPLATE', 'json' or a Go template")
    .option('--no-trunc', "don't truncate output")
    .option('-q, --quiet', 'only show image IDs')
    .action((image: string, o: HistoryOptions) => {
      const rows = historyView(ctx.engine(), image, o);
      let format = o.format;
      if (o.quiet && (!format || format === 'table')) format = '{{.ID}}';
      process.stdout.write(formatList(rows, { format, defaultFormat: DEFAULT, headers: HEADERS }));
    });
}

export function register(program: Command, ctx: CliContext): void {
  defineHistory(program.command('history'), ctx);
}
