// The context's content-hash cache: a file's hash is remembered by its stat, except when the file
// changed so recently that a further change could keep the same stat (the racy case).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, utimesSync, writeFileSync, lstatSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { ContentHashCache, RACY_MS, racy, type ContextEntry } from '../../../src/build/context.js';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

function entry(root: string, path: string): ContextEntry {
  const st = lstatSync(join(root, path));
  return { path, type: 'file', mode: st.mode & 0o7777, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, ino: st.ino };
}

test('a file hashed long after its last change is remembered across builds; a changed one is hashed again', async () => {
  const root = mkdtempSync(join(tmpdir(), 'kiln-hc-'));
  try {
    const later = () => Date.now() + 2 * RACY_MS;
    writeFileSync(join(root, 'a'), 'one');
    const c1 = new ContentHashCache(join(root, 'cache.json'), later);
    const e = entry(root, 'a');
    assert.equal(await c1.hash(root, e), sha('one'));
    assert.equal(c1.remembered(e), sha('one'));
    await c1.save();
    const c2 = new ContentHashCache(join(root, 'cache.json'), later);
    await c2.load();
    assert.equal(c2.remembered(e), sha('one'), 'persisted');
    // Same size, mtime set back: the ctime still moves, so the stat differs and it is re-read.
    const before = lstatSync(join(root, 'a'));
    writeFileSync(join(root, 'a'), 'two');
    utimesSync(join(root, 'a'), before.atime, before.mtime);
    const e2 = entry(root, 'a');
    assert.equal(c2.remembered(e2), undefined);
    assert.equal(await c2.hash(root, e2), sha('two'));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a file that changed within the racy window is hashed but not remembered, and forgets its old row', async () => {
  const root = mkdtempSync(join(tmpdir(), 'kiln-hc-'));
  try {
    writeFileSync(join(root, 'a'), 'one');
    const old = new ContentHashCache(join(root, 'cache.json'), () => Date.now() + 2 * RACY_MS);
    await old.hash(root, entry(root, 'a'));
    await old.save();
    writeFileSync(join(root, 'a'), 'two');
    const now = new ContentHashCache(join(root, 'cache.json')); // hashing right after the write
    const e = entry(root, 'a');
    assert.equal(await now.hash(root, e), sha('two'));
    assert.equal(now.remembered(e), undefined, 'not trusted: the file may change again with this stat');
    await now.save();
    const next = new ContentHashCache(join(root, 'cache.json'), () => Date.now() + 2 * RACY_MS);
    await next.load();
    assert.equal(next.remembered(entry(root, 'a')), undefined);
    assert.equal(await next.hash(root, entry(root, 'a')), sha('two'));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('the racy window: a tick of the coarse clock, or two seconds where times are whole seconds', () => {
  assert.equal(racy({ mtimeMs: 1000.5, ctimeMs: 1000.5 }, 1000.5 + RACY_MS - 1), true);
  assert.equal(racy({ mtimeMs: 1000.5, ctimeMs: 1000.5 }, 1000.5 + RACY_MS), false);
  assert.equal(racy({ mtimeMs: 1000.5, ctimeMs: 5000.25 }, 5000.25 + RACY_MS - 1), true, 'the later of the two times');
  assert.equal(racy({ mtimeMs: 1000, ctimeMs: 2000 }, 3000), true, 'whole-second times');
  assert.equal(racy({ mtimeMs: 1000, ctimeMs: 2000 }, 4000), false);
});
