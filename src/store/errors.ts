// Errors with Docker's wording, typed so the CLI can map them to exit codes and messages.

export class NotFoundError extends Error {
  readonly code = 'ENOTFOUND';
  constructor(
    readonly kind: 'image' | 'container' | 'volume' | 'layer' | 'blob' | 'tag' | 'cache entry',
    readonly ref: string,
  ) {
    super(`No such ${kind}: ${ref}`);
    this.name = 'NotFoundError';
  }
}

export class AmbiguousError extends Error {
  readonly code = 'EAMBIGUOUS';
  constructor(
    readonly kind: string,
    readonly ref: string,
    readonly matches: string[],
  ) {
    super(`${kind} ID prefix ${JSON.stringify(ref)} is ambiguous: it matches ${matches.length} ${kind}s`);
    this.name = 'AmbiguousError';
  }
}

export class ConflictError extends Error {
  readonly code = 'ECONFLICT';
  constructor(message: string) {
    super(message);
    this.name = 'ConflictError';
  }
}
