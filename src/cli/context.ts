// What every command needs: the global options, the Engine (opened lazily, so `kiln --help` and
// `kiln dockerfile parse` never touch the state directory) and one way to report a failure.
import type { Command } from 'commander';
import { Engine } from '../engine.js';

export interface GlobalOptions {
  root: string;
  debug: boolean;
}

/** Thrown by commands for an expected failure: message printed as is, exit code kept. */
export class CliError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
  }
}

export class CliContext {
  private opened?: Engine;
  constructor(readonly globals: () => GlobalOptions) {}

  engine(): Engine {
    this.opened ??= Engine.open(this.globals().root);
    return this.opened;
  }

  get debug(): boolean {
    return this.globals().debug;
  }

  fail(err: unknown): void {
    const e = err as { exitCode?: number; message?: string; stack?: string; code?: string; describe?: () => string };
    if (e?.code?.startsWith?.('commander.')) {
      process.exitCode = e.exitCode ?? 1; // commander already printed its message
      return;
    }
    // A build error carries the step's last output lines (describe()); others just a message.
    const msg = this.debug && e?.stack ? e.stack : typeof e?.describe === 'function' ? e.describe() : e?.message ?? String(err);
    process.stderr.write(`Error: ${msg.replace(/^Error: /, '')}\n`);
    process.exitCode = typeof e?.exitCode === 'number' ? e.exitCode : 1;
  }

  close(): void {
    this.opened?.close();
  }
}

export type RegisterCommand = (program: Command, ctx: CliContext) => void;
