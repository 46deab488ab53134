// Which repositories of a registry are known to hold a blob, learnt from pulls and pushes, so a push
// can ask for a cross-repository mount instead of uploading: <root>/registry-sources.json,
//   { "<registry>": { "<digest>": ["repo/a", "repo/b"] } }
// It is a hint (a wrong entry costs one failed mount request), so concurrent writers may lose an
// update; the file is replaced atomically so it is never half-written.
import fs from 'node:fs';
import path from 'node:path';
import type { Digest } from '../image/types.js';

type Sources = Record<string, Record<string, string[]>>;

const MAX_REPOS_PER_BLOB = 4;

export class BlobSources {
  private readonly file: string;

  constructor(root: string) {
    this.file = path.join(root, 'registry-sources.json');
  }

  private load(): Sources {
    try {
      const v = JSON.parse(fs.readFileSync(this.file, 'utf8')) as Sources;
      return v && typeof v === 'object' ? v : {};
    } catch {
      return {};
    }
  }

  /** Repositories on `registry` known to hold `digest`, most recent first. */
  get(registry: string, digest: Digest): string[] {
    return this.load()[registry]?.[digest] ?? [];
  }

  /** Records that `repo` on `registry` holds each of `digests`. */
  add(registry: string, repo: string, digests: readonly Digest[]): void {
    if (digests.length === 0) return;
    const all = this.load();
    const reg = (all[registry] ??= {});
    for (const d of digests) reg[d] = [repo, ...(reg[d] ?? []).filter((r) => r !== repo)].slice(0, MAX_REPOS_PER_BLOB);
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    const tmp = `${this.file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(all));
    fs.renameSync(tmp, this.file);
  }
}
