// `kiln restart [-t SECONDS] [-s SIGNAL] CONTAINER…`: stop (signal, then KILL after the timeout), start detached.
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { restartContainer } from '../../runtime/containers.js';
import { eachContainer } from './stop.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('restart')
    .description('Restart one or more containers')
    .argument('<containers...>')
    .option('-t, --time <seconds>', 'seconds to wait before killing the container')
    .option('-s, --signal <signal>', 'signal to send to the container (default: its stop signal)')
    .action(async (names: string[], o: { time?: string; signal?: string }) => {
      const engine = ctx.engine();
      const timeout = o.time === undefined ? undefined : Number(o.time);
      await eachContainer(names, (n) => restartContainer(engine, n, { timeout, ...(o.signal ? { signal: o.signal } : {}) }));
    });
}
