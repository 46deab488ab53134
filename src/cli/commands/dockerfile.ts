// `kiln dockerfile parse FILE`: how kiln reads a Dockerfile — stages, bases, what --target keeps,
// each instruction with its line — without building. `--format json` prints the typed plan.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { planBuild } from '../../dockerfile/stages.js';
import { explainPlan } from '../../dockerfile/explain.js';

const collect = (v: string, prev: string[]) => [...prev, v];

export function register(program: Command, _ctx: CliContext): void {
  const df = program.command('dockerfile').description('Inspect Dockerfiles');
  df.command('parse')
    .description('Parse a Dockerfile and explain its stages and instructions')
    .argument('<file>', 'Dockerfile path ("-" for stdin)')
    .option('--target <stage>', 'show only the stages this target needs')
    .option('--build-arg <k=v>', 'build-time variable; repeatable', collect, [])
    .option('--format <fmt>', 'json for the typed plan')
    .action((file: string, o: { target?: string; buildArg: string[]; format?: string }) => {
      const text = readFileSync(file === '-' ? 0 : file, 'utf8');
      const buildArgs = Object.fromEntries(o.buildArg.map((kv) => [kv.split('=')[0]!, kv.slice(kv.indexOf('=') + 1)]));
      const plan = planBuild(text, { filename: file === '-' ? 'Dockerfile' : basename(file), buildArgs, target: o.target });
      if (o.format === 'json') {
        process.stdout.write(JSON.stringify(plan, null, 2) + '\n');
        return;
      }
      process.stdout.write(explainPlan(plan, { filename: file === '-' ? 'Dockerfile' : basename(file) }) + '\n');
    });
}
