// Errors a registry operation can end with. Each carries a message meant for the user as is
// (`kiln pull` prints it after "Error: "), so it names the registry, the repository or the blob.

export class RegistryError extends Error {
  constructor(
    message: string,
    readonly status?: number,
    /** Distribution error codes from the response body, e.g. MANIFEST_UNKNOWN, DENIED. */
    readonly codes: string[] = [],
  ) {
    super(message);
    this.name = 'RegistryError';
  }
}

/** The registry could not be reached at all (refused, reset, DNS, TLS). */
export class RegistryUnreachableError extends RegistryError {
  constructor(message: string, override readonly cause?: unknown) {
    super(message);
    this.name = 'RegistryUnreachableError';
  }
}

export class UnauthorizedError extends RegistryError {
  constructor(message: string, status = 401, codes: string[] = []) {
    super(message, status, codes);
    this.name = 'UnauthorizedError';
  }
}

export class NotFoundError extends RegistryError {
  constructor(message: string, codes: string[] = []) {
    super(message, 404, codes);
    this.name = 'NotFoundError';
  }
}

/** Bytes received do not hash to the digest that was asked for. Nothing was stored. */
export class DigestMismatchError extends RegistryError {
  constructor(
    readonly what: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`${what}: digest mismatch: expected ${expected}, got ${actual}; the content was discarded`);
    this.name = 'DigestMismatchError';
  }
}

/** A response ended before all of its bytes arrived. What did arrive is kept for a resume. */
export class TruncatedError extends RegistryError {
  constructor(
    what: string,
    readonly received: number,
    readonly expected: number,
    detail?: string,
  ) {
    super(
      `${what}: download interrupted after ${received} of ${expected} bytes` +
        (detail ? ` (${detail})` : '') +
        '; run the command again to resume',
    );
    this.name = 'TruncatedError';
  }
}

interface ErrorBody {
  errors?: { code?: string; message?: string; detail?: unknown }[];
}

/** Turns a Distribution JSON error body into "CODE: message" text and the list of codes. */
export function describeErrorBody(body: Buffer | string | undefined): { text: string; codes: string[] } {
  if (!body || body.length === 0) return { text: '', codes: [] };
  const s = body.toString();
  try {
    const parsed = JSON.parse(s) as ErrorBody;
    if (Array.isArray(parsed.errors) && parsed.errors.length) {
      const codes = parsed.errors.map((e) => String(e.code ?? 'UNKNOWN'));
      const text = parsed.errors
        .map((e) => `${String(e.code ?? 'UNKNOWN').toLowerCase()}: ${e.message ?? ''}`.trim())
        .join('; ');
      return { text, codes };
    }
  } catch {
    /* not JSON */
  }
  return { text: s.trim().slice(0, 200), codes: [] };
}
