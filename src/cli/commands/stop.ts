// `kiln stop [-t SECONDS] [-s SIGNAL] CONTAINER…`: the stop signal, then KILL after the timeout.
import type { Command } from 'commander';
import { CliError, type CliContext } from '../context.js';
import { stopContainer } from '../../runtime/containers.js';

/**
 * Run `fn` for each name, printing the name on success and Docker's error otherwise; as Docker's
 * CLI, the errors are all it says, and the exit status is 1 if there was one.
 */
export async function eachContainer(names: string[], fn: (name: string) => Promise<unknown>, print = true): Promise<void> {
  let failed = 0;
  for (const n of names) {
    try {
      await fn(n);
      if (print) process.stdout.write(`${n}\n`);
    } catch (e) {
      failed++;
      process.stderr.write(`Error response from daemon: ${(e as Error).message}\n`);
    }
  }
  if (failed) process.exitCode = 1;
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('stop')
    .description('Stop one or more running containers')
    .argument('<containers...>')
    .option('-t, --time <seconds>', 'seconds to wait before killing the container')
    .option('--timeout <seconds>', 'alias of --time')
    .option('-s, --signal <signal>', 'signal to send to the container')
    .action(async (names: string[], o: { time?: string; timeout?: string; signal?: string }) => {
      const t = o.time ?? o.timeout;
      const timeout = t === undefined ? undefined : Number(t);
      if (timeout !== undefined && !Number.isFinite(timeout)) throw new CliError(`invalid argument "${t}" for "-t, --time" flag`);
      const engine = ctx.engine();
      await eachContainer(names, (n) => stopContainer(engine, n, { timeout, ...(o.signal ? { signal: o.signal } : {}) }));
    });
}
