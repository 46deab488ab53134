// A build failure that says where: `Dockerfile:7: RUN exit 3: process "/bin/sh -c exit 3" did not
// complete successfully: exit code: 3`, plus the last lines the step printed.
import type { Location } from './steps.js';

export class BuildError extends Error {
  /** The failed process's exit code (the CLI itself exits 1, as docker build does). */
  readonly stepExitCode?: number;
  readonly output: string[];
  located = false;

  constructor(message: string, opts: { exitCode?: number; output?: string[] } = {}) {
    super(message);
    this.stepExitCode = opts.exitCode;
    this.output = opts.output ?? [];
  }

  /** Wraps any error with the file, line and instruction it happened at (once). */
  static at(loc: Location, e: unknown): BuildError {
    if (e instanceof BuildError && e.located) return e;
    const inner = e instanceof Error ? e.message : String(e);
    const err = new BuildError(`${loc.file}:${loc.line}: ${loc.text}: ${inner}`, e instanceof BuildError ? { exitCode: e.stepExitCode, output: e.output } : {});
    err.located = true;
    if (e instanceof Error && !(e instanceof BuildError)) err.stack = e.stack;
    return err;
  }

  /** The message with the step's last output lines, as the CLI prints it. */
  describe(): string {
    if (!this.output.length) return this.message;
    return `${this.message}\n------\n${this.output.map((l) => ` > ${l}`).join('\n')}\n------`;
  }
}
