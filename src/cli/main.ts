#!/usr/bin/env node
// kiln's command line: Docker's spelling, daemonless. Each command lives in its own module under
// commands/ and registers itself here; global options (--root, --debug) reach them via CliContext.
import { Command } from 'commander';
import { CliContext } from './context.js';
import { allCommandModules, commandModules } from './commands/index.js';

// `kiln images | head`: a closed reader ends the output quietly, as in any shell pipeline.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
}

const program = new Command();
program
  .name('kiln')
  .description('Build OCI images from Dockerfiles and run containers from them, without a daemon')
  .option('--root <dir>', 'state directory (env KILN_ROOT)', process.env.KILN_ROOT ?? '/var/lib/kiln')
  .option('--debug', 'print stack traces and debug output', false)
  .showSuggestionAfterError(true)
  .enablePositionalOptions();

const ctx = new CliContext(() => program.opts<{ root: string; debug: boolean }>());

/** The command word: the first argument that is neither a global option nor its value. */
function commandWord(args: string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--root') i++;
    else if (!a.startsWith('-')) return a;
  }
  return undefined;
}

// Load only the command being run; help and unknown words load them all (for the listing and
// commander's suggestions).
const word = commandWord(process.argv.slice(2));
const loaders = (word !== undefined && Object.hasOwn(commandModules, word) ? commandModules[word] : undefined) ?? allCommandModules;
for (const mod of await Promise.all(loaders.map((load) => load()))) mod.register(program, ctx);

try {
  await program.parseAsync(process.argv);
  process.exitCode ??= 0;
} catch (err) {
  ctx.fail(err);
} finally {
  ctx.close();
}
