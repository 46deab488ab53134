// Registry commands through the CLI against a real registry: push --all-tags sends every local tag
// of a repository, pull --all-tags fetches every tag the registry lists (following its paging).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Kiln } from '../helpers/kiln.js';
import { missingRegistryTools, startRegistry, type TestRegistry } from '../helpers/registry.js';
import { hasRunc, isRoot } from '../unit/runtime/fixtures.js';

const skip = !isRoot || !hasRunc ? 'needs root and runc' : missingRegistryTools();

describe('push/pull --all-tags (CLI, registry)', { skip }, () => {
  let reg: TestRegistry;
  let a: Kiln;
  let b: Kiln;
  before(async () => {
    reg = await startRegistry();
    a = new Kiln();
    b = new Kiln();
    a.busybox();
  });
  after(async () => {
    a?.cleanup();
    b?.cleanup();
    await reg?.stop();
  });

  test('push -a sends every tag of the repository; pull -a fetches them all into another store', () => {
    const repo = `${reg.host}/multi/app`;
    for (const t of ['1', '2', 'edge']) a.ok(['tag', 'busybox', `${repo}:${t}`]);
    a.ok(['tag', 'busybox', `${reg.host}/multi/other:1`]); // another repository: not pushed
    assert.equal(a.ok(['push', '-q', '--all-tags', repo]).stdout, `${repo}:1\n${repo}:2\n${repo}:edge\n`);
    assert.match(a.run(['push', '-a', `${repo}:1`]).stderr, /tag can't be used with --all-tags\/-a/);

    assert.equal(b.ok(['pull', '-q', '-a', repo]).stdout, `${repo}\n`);
    const tags = b.ok(['images', '--format', '{{.Repository}}:{{.Tag}}', repo]).stdout.split('\n').filter(Boolean).sort();
    assert.deepEqual(tags, [`${repo}:1`, `${repo}:2`, `${repo}:edge`]);
    assert.equal(b.run(['image', 'inspect', `${reg.host}/multi/other:1`]).code, 1);
    assert.match(b.run(['pull', '-a', `${repo}:1`]).stderr, /tag can't be used with --all-tags\/-a/);
  });
});
