// Errors of the Dockerfile front end. Every error that can be tied to a place in the
// Dockerfile carries the file name, the line range and the instruction keyword, and its
// message starts with "FILE:LINE: " so that a user sees where to look, e.g.
//
//     Dockerfile:7: COPY requires at least two arguments
//
// `reason` keeps the bare message (what BuildKit would print after its own location prefix).

export interface ErrorLocation {
  /** File name shown to the user; "Dockerfile" unless the caller says otherwise. */
  file?: string;
  /** First physical line (1-based). */
  line?: number;
  /** Last physical line of the instruction (1-based). */
  endLine?: number;
  /** Instruction keyword as written ("COPY", "run", ...). */
  instruction?: string;
}

export class DockerfileError extends Error {
  override readonly name = 'DockerfileError';
  readonly reason: string;
  readonly file: string;
  readonly line?: number;
  readonly endLine?: number;
  readonly instruction?: string;

  constructor(reason: string, loc: ErrorLocation = {}, options?: { cause?: unknown }) {
    const file = loc.file ?? 'Dockerfile';
    super(loc.line !== undefined ? `${file}:${loc.line}: ${reason}` : `${file}: ${reason}`, options);
    this.reason = reason;
    this.file = file;
    if (loc.line !== undefined) this.line = loc.line;
    if (loc.endLine !== undefined) this.endLine = loc.endLine;
    if (loc.instruction !== undefined) this.instruction = loc.instruction;
  }

  /** Same error, reported against another file name (e.g. when the caller knows the path). */
  withFile(file: string): DockerfileError {
    return new DockerfileError(this.reason, { ...this.location(), file }, { cause: this.cause });
  }

  location(): ErrorLocation {
    const loc: ErrorLocation = { file: this.file };
    if (this.line !== undefined) loc.line = this.line;
    if (this.endLine !== undefined) loc.endLine = this.endLine;
    if (this.instruction !== undefined) loc.instruction = this.instruction;
    return loc;
  }
}

/**
 * An error raised below the Dockerfile level (shell lexer, flag parser, mount parser...)
 * that does not know where it happened. Callers wrap it with `locate`.
 */
export class FrontendError extends Error {
  override readonly name: string = 'FrontendError';
}

/** Attach a location to any error; a DockerfileError that already has a line keeps it. */
export function locate(err: unknown, loc: ErrorLocation): DockerfileError {
  if (err instanceof DockerfileError) {
    if (err.line !== undefined) return loc.file && loc.file !== err.file ? err.withFile(loc.file) : err;
    return new DockerfileError(err.reason, { ...loc, ...definedOnly(err.location()), file: loc.file ?? err.file }, { cause: err });
  }
  const reason = err instanceof Error ? err.message : String(err);
  return new DockerfileError(reason, loc, { cause: err });
}

function definedOnly(loc: ErrorLocation): ErrorLocation {
  const out: ErrorLocation = {};
  if (loc.instruction !== undefined) out.instruction = loc.instruction;
  return out;
}
