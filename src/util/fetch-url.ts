// Plain HTTP(S) downloads outside the registry client (ADD URL, import URL): fetch, with the
// reason a request failed (fetch itself says only "fetch failed").
export async function fetchUrl(url: string): Promise<Response> {
  try {
    return await fetch(url);
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    throw new Error(`failed to load ${url}: ${cause?.code ?? cause?.message ?? (e as Error).message}`);
  }
}
