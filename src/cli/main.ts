#!/usr/bin/env node
// kiln's command line: Docker's spelling, daemonless. Each command lives in its own module under
// commands/ and registers itself here; global options (--root, --debug) reach them via CliContext.
import { Command } from 'commander';
import { CliContext } from './context.js';
import { commands } from './commands/index.js';

const program = new Command();
program
  .name('kiln')
  .description('Build OCI images from Dockerfiles and run containers from them, without a daemon')
  .option('--root <dir>', 'state directory (env KILN_ROOT)', process.env.KILN_ROOT ?? '/var/lib/kiln')
  .option('--debug', 'print stack traces and debug output', false)
  .showSuggestionAfterError(true)
  .enablePositionalOptions();

const ctx = new CliContext(() => program.opts<{ root: string; debug: boolean }>());
for (const register of commands) register(program, ctx);

try {
  await program.parseAsync(process.argv);
  process.exitCode ??= 0;
} catch (err) {
  ctx.fail(err);
} finally {
  ctx.close();
}
