// `kiln volume create|ls|inspect|rm|prune`: named volumes at <state>/volumes/<name>/_data.
import type { Command } from 'commander';
import { CliError, type CliContext } from '../context.js';
import { formatInspect, formatList, humanSize, templateErrorMessage } from '../format/index.js';
import { Volumes } from '../../runtime/volumes.js';
import { listContainers } from '../../runtime/containers.js';
import { confirm } from '../prompt.js';

const collect = (v: string, prev: string[] = []) => [...prev, v];

export function register(program: Command, ctx: CliContext): void {
  const volume = program.command('volume').description('Manage volumes');
  const vols = () => new Volumes(ctx.engine());
  volume
    .command('create')
    .description('Create a volume')
    .argument('[name]')
    .option('-d, --driver <driver>', 'volume driver name', 'local')
    .option('--label <k=v>', 'set metadata for a volume; repeatable', collect, [])
    .option('--name <name>', 'the volume name (as the argument)')
    .option('-o, --opt <k=v>', 'driver options (the local driver\'s mount options are not supported); repeatable', collect, [])
    .action((arg: string | undefined, o: { driver: string; label: string[]; name?: string; opt: string[] }) => {
      if (arg !== undefined && o.name !== undefined && arg !== o.name) throw new CliError(`conflicting options: either specify --name or provide positional arg, not both`);
      const name = arg ?? o.name;
      if (o.driver !== 'local') throw new CliError(`plugin "${o.driver}" not found`);
      if (o.opt.length) throw new CliError(`volume options (${o.opt.join(', ')}) are not supported: kiln's local volumes are plain directories`);
      const labels = Object.fromEntries(o.label.map((kv) => [kv.split('=')[0]!, kv.slice(kv.indexOf('=') + 1)]));
      try {
        process.stdout.write(`${vols().create(name, { labels }).name}\n`);
      } catch (e) {
        throw new CliError((e as Error).message);
      }
    });
  volume
    .command('ls')
    .alias('list')
    .description('List volumes')
    .option('-q, --quiet', 'only display volume names')
    .option('-f, --filter <k=v>', 'filter: dangling=true|false, name=…, label=…; repeatable', collect, [])
    .option('--format <fmt>', "'table', 'json' or a Go template")
    .action((o: { quiet?: boolean; filter: string[]; format?: string }) => {
      const v = vols();
      let list = v.list();
      for (const f of o.filter) {
        const [k, val = ''] = [f.slice(0, f.indexOf('=') < 0 ? f.length : f.indexOf('=')), f.slice(f.indexOf('=') + 1)];
        if (k === 'dangling') list = list.filter((x) => (v.usedBy(x.name).length === 0) === (val === 'true' || val === '1'));
        else if (k === 'name') list = list.filter((x) => x.name.includes(val));
        else if (k === 'label') list = list.filter((x) => (val.includes('=') ? x.labels[val.split('=')[0]!] === val.slice(val.indexOf('=') + 1) : val in x.labels));
        else throw new CliError(`invalid filter '${k}'`);
      }
      const rows = list.map((x) => ({
        Driver: 'local',
        Name: x.name,
        Mountpoint: v.path(x.name),
        Scope: 'local',
        Labels: Object.entries(x.labels).map(([k, val]) => `${k}=${val}`).join(','),
        Links: 'N/A',
        Size: 'N/A',
        Availability: 'N/A',
        Group: 'N/A',
        Status: 'N/A',
      }));
      try {
        process.stdout.write(
          formatList(rows, {
            format: o.format,
            quiet: o.quiet,
            quietFormat: '{{.Name}}',
            defaultFormat: 'table {{.Driver}}\t{{.Name}}',
            headers: { Name: 'VOLUME NAME' },
          }),
        );
      } catch (e) {
        throw new CliError(templateErrorMessage(e) ?? (e as Error).message);
      }
    });
  volume
    .command('inspect')
    .description('Display detailed information on one or more volumes')
    .argument('<volumes...>')
    .option('-f, --format <fmt>', 'format the output using the given Go template')
    .action((names: string[], o: { format?: string }) => {
      const v = vols();
      const items = names.map((n) => {
        try {
          return v.inspect(n);
        } catch (e) {
          throw new CliError((e as Error).message);
        }
      });
      process.stdout.write(formatInspect(items, o.format));
    });
  volume
    .command('rm')
    .alias('remove')
    .description('Remove one or more volumes')
    .argument('<volumes...>')
    .option('-f, --force', 'force the removal of one or more volumes')
    .action(async (names: string[], o: { force?: boolean }) => {
      await listContainers(ctx.engine()); // let ended --rm containers go first
      const v = vols();
      let failed = 0;
      for (const n of names) {
        try {
          v.remove(n, { force: o.force });
          process.stdout.write(`${n}\n`);
        } catch (e) {
          failed++;
          process.stderr.write(`Error response from daemon: ${(e as Error).message}\n`);
        }
      }
      if (failed) process.exitCode = 1;
    });
  volume
    .command('prune')
    .description('Remove unused local volumes (anonymous ones; all unused with -a)')
    .option('-a, --all', 'remove all unused volumes, not just anonymous ones')
    .option('-f, --force', 'do not prompt for confirmation')
    .action(async (o: { all?: boolean; force?: boolean }) => {
      if (!o.force && !(await confirm('WARNING! This will remove anonymous local volumes not used by at least one container.\nAre you sure you want to continue?'))) return;
      await listContainers(ctx.engine());
      const r = vols().prune({ all: o.all });
      if (r.removed.length) process.stdout.write(`Deleted Volumes:\n${r.removed.join('\n')}\n\n`);
      process.stdout.write(`Total reclaimed space: ${humanSize(r.reclaimed)}\n`);
    });
}
