// The tags of a repository (GET /v2/<name>/tags/list), following the registry's pagination
// (Link: <…>; rel="next"), for `pull --all-tags`.
import type { RegistryClient } from './client.js';
import { header, readBody } from './http.js';

export async function listRepositoryTags(client: RegistryClient, repo: string): Promise<string[]> {
  const tags: string[] = [];
  let path: string | undefined = `/v2/${repo}/tags/list?n=1000`;
  for (let page = 0; path && page < 1000; page++) {
    const res = await client.request({ method: 'GET', path, repo, actions: ['pull'] });
    if (res.status !== 200) return client.fail(res, `tags of ${client.registry}/${repo}`);
    const body = JSON.parse((await readBody(res)).toString('utf8')) as { tags?: string[] | null };
    tags.push(...(body.tags ?? []));
    const next = /<([^>]+)>\s*;\s*rel="?next"?/.exec(header(res, 'link') ?? '')?.[1];
    const url = next ? new URL(next, client.baseUrl) : undefined;
    path = url ? `${url.pathname}${url.search}` : undefined;
  }
  return tags;
}
