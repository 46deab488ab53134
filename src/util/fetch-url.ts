// Plain HTTP(S) downloads outside the registry protocol (ADD URL, import URL), over the same
// HTTP client as the registry (redirects, keep-alive, the CAs kiln trusts), with the reason a
// connection failed in the error.
import type { Readable } from 'node:stream';
import { header, send } from '../registry/http.js';

export interface Download {
  status: number;
  body: Readable;
  lastModified?: string;
}

/** GETs `url`; refuses a non-2xx answer with its status. */
export async function fetchUrl(url: string): Promise<Download> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`failed to load ${url}: not a valid URL`);
  }
  let res;
  try {
    res = await send({ method: 'GET', url: parsed, maxRedirects: 10 });
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    const why = cause?.message ?? (e as Error).message;
    throw new Error(`failed to load ${url}: ${cause?.code && !why.includes(cause.code) ? `${why} (${cause.code})` : why}`);
  }
  if (res.status < 200 || res.status > 299) {
    res.body.resume();
    throw new Error(`failed to load ${url}: invalid response status ${res.status}`);
  }
  return { status: res.status, body: res.body, lastModified: header(res, 'last-modified') };
}
