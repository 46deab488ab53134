#!/usr/bin/env node
// kiln's command line: Docker's spelling, daemonless. Each command lives in its own module under
// commands/ and registers itself here; global options (--root, --debug) reach them via CliContext.
import { Command } from 'commander';
import { CliContext } from './context.js';
import { allCommandModules, commandModules, groupCommands } from './commands/index.js';
import { EXTRACT_WORKER_FLAG } from '../self.js';

// `kiln images | head`: a closed reader ends the output quietly, as in any shell pipeline.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
}

/** The command word and the one after it: arguments that are neither global options nor their values. */
function commandWords(args: string[]): [string | undefined, string | undefined] {
  const words: string[] = [];
  for (let i = 0; i < args.length && words.length < 2; i++) {
    const a = args[i]!;
    if (a === '--root' && words.length === 0) i++;
    else if (a.startsWith('-')) {
      if (words.length) break; // the group's own options: no subcommand word to look at
    } else words.push(a);
  }
  return [words[0], words[1]];
}

async function main(): Promise<void> {
  const program = new Command();
  program
    .name('kiln')
    .description('Build OCI images from Dockerfiles and run containers from them, without a daemon')
    .option('--root <dir>', 'state directory (env KILN_ROOT)', process.env.KILN_ROOT ?? '/var/lib/kiln')
    .option('--debug', 'print stack traces and debug output', false)
    .showSuggestionAfterError(true)
    .enablePositionalOptions();

  const ctx = new CliContext(() => program.opts<{ root: string; debug: boolean }>());

  // Load only the command being run; help and unknown words load them all (for the listing and
  // commander's suggestions).
  const [word, sub] = commandWords(process.argv.slice(2));
  const loaders = (word !== undefined && Object.hasOwn(commandModules, word) ? commandModules[word] : undefined) ?? allCommandModules;
  for (const mod of await Promise.all(loaders.map((load) => load()))) mod.register(program, ctx);
  // `kiln container rm …`: the top-level command's module, registered under the group too.
  const aliases = word !== undefined && Object.hasOwn(groupCommands, word) ? groupCommands[word]! : undefined;
  const group = aliases && program.commands.find((c) => c.name() === word);
  if (aliases && group) {
    const wanted = sub !== undefined && Object.hasOwn(aliases, sub) ? aliases[sub]! : sub === undefined || sub === 'help' ? [...new Set(Object.values(aliases).flat())] : [];
    group.enablePositionalOptions();
    for (const mod of await Promise.all(wanted.map((load) => load()))) mod.register(group, ctx);
  }

  try {
    await program.parseAsync(process.argv);
    process.exitCode ??= 0;
  } catch (err) {
    ctx.fail(err);
  } finally {
    ctx.close();
  }
}

// From the bundle, the registry's extraction workers start this same entry: hand them over. (Told
// by argv, which the pool sets, so a command never loads worker_threads just to ask.)
if (process.argv[2] === EXTRACT_WORKER_FLAG) void import('../registry/extract-pool.js');
else void main();
