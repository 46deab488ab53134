// .dockerignore matching, the ignore-file reader, context walks; property-based checks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { createIgnoreMatcher, filterWalk, parseIgnoreFile, resolveIgnoreFile } from '../../../src/dockerfile/index.js';

const table: [string[], string, boolean | 'error'][] = [
  [['node_modules'], 'node_modules/x/y.js', true],
  [['*.log'], 'a.log', true],
  [['*.log'], 'dir/a.log', false],
  [['**/*.log'], 'dir/sub/a.log', true],
  [['**/*.log'], 'a.log', true],
  [['build/**'], 'build', false],
  [['build/**'], 'build/x', true],
  [['docs/'], 'docs/README.md', true],
  [['./secret'], 'secret', true],
  [['a/../b'], 'b', true],
  [['*', '!keep'], 'keep', false],
  [['*', '!keep'], 'other', true],
  [['dir', '!dir/e*'], 'dir/e-dir/file', false],
  [['dir', '!dir/e*', 'dir/e-dir/no'], 'dir/e-dir/no', true],
  [['file?.txt'], 'file1.txt', true],
  [['file?.txt'], 'file10.txt', false],
  [['[a-c]x'], 'bx', true],
  [['[^a-c]x'], 'bx', false],
  [['a\\*b'], 'a*b', true],
  [['a\\*b'], 'aXb', false],
  [['v1.2+build(x)'], 'v1.2+build(x)', true],
  [['v1.2'], 'v1x2', false],
  [['**'], 'anything/at/all', true],
  [['!'], 'x', 'error'],
  [['a['], 'x', 'error'],
  [['[z-a]'], 'q', 'error'],
];

for (const [patterns, path, want] of table) {
  test(`ignore ${JSON.stringify(patterns)} ${path}`, () => {
    if (want === 'error') assert.throws(() => createIgnoreMatcher(patterns).matches(path));
    else assert.equal(createIgnoreMatcher(patterns).matches(path), want);
  });
}

test('parseIgnoreFile: comments in column 0, trimming, cleaning, leading slash, BOM, CRLF', () => {
  assert.deepEqual(parseIgnoreFile('\ufeff# comment\n  #not\r\n/abs\n! /neg/ \n\n./x/../y\n!\n'), ['#not', 'abs', '!neg', 'y', '!']);
});

test('resolveIgnoreFile prefers <Dockerfile>.dockerignore next to the Dockerfile', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-ignore-'));
  try {
    assert.equal(await resolveIgnoreFile(join(dir, 'Dockerfile'), dir), undefined);
    writeFileSync(join(dir, '.dockerignore'), 'a\n');
    assert.deepEqual(await resolveIgnoreFile(join(dir, 'Dockerfile'), dir), { path: join(dir, '.dockerignore'), patterns: ['a'] });
    writeFileSync(join(dir, 'Dockerfile.dockerignore'), 'b\n');
    assert.deepEqual((await resolveIgnoreFile(join(dir, 'Dockerfile'), dir))?.patterns, ['b']);
    assert.deepEqual((await resolveIgnoreFile(join(dir, 'other.Dockerfile'), dir))?.patterns, ['a']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('filterWalk: excluded directories are entered only when an exception may apply', () => {
  const tree = [
    { path: 'app/main.go', type: 'file' as const },
    { path: 'vendor/x/x.go', type: 'file' as const },
    { path: 'vendor/keep/k.go', type: 'file' as const },
    { path: 'notes.md', type: 'file' as const },
    { path: 'a-b', type: 'file' as const },
  ];
  const walked = filterWalk(tree, { exclude: ['vendor', '!vendor/keep', '*.md'] }).map((e) => `${e.type} ${e.path}`);
  assert.deepEqual(walked, ['file a-b', 'dir app', 'file app/main.go', 'dir vendor', 'dir vendor/keep', 'file vendor/keep/k.go']);
  const included = filterWalk(tree, { include: ['**/*.go'], exclude: ['vendor/x'] });
  assert.deepEqual(
    included.map((e) => [e.path, !!e.implicit]),
    [
      ['app', true],
      ['app/main.go', false],
      ['vendor', true],
      ['vendor/keep', true],
      ['vendor/keep/k.go', false],
    ],
  );
});

// ---------------------------------------------------------------------------------------
// properties

const seg = fc.string({ unit: fc.constantFrom(...'abcxyz019_-.'.split('')), minLength: 1, maxLength: 6 }).filter((s) => s !== '.' && s !== '..');
const relPath = fc.array(seg, { minLength: 1, maxLength: 4 }).map((a) => a.join('/'));

test('property: a literal path matches itself and everything below it, not its siblings', () => {
  fc.assert(
    fc.property(relPath, seg, seg, (p, child, other) => {
      const m = createIgnoreMatcher([p]);
      assert.equal(m.matches(p), true);
      assert.equal(m.matches(`${p}/${child}`), true);
      assert.equal(m.matches(`${p}/${child}/${other}`), true);
      if (!p.endsWith(other) && other !== p) assert.equal(m.matches(p.replace(/[^/]+$/, other)), false);
    }),
  );
});

test('property: "!" of the same pattern re-includes; order decides', () => {
  fc.assert(
    fc.property(relPath, (p) => {
      assert.equal(createIgnoreMatcher([p, '!' + p]).matches(p), false);
      assert.equal(createIgnoreMatcher(['!' + p, p]).matches(p), true);
      assert.equal(createIgnoreMatcher(['**', '!' + p]).matches(p), false);
    }),
  );
});

test('property: "*" never crosses a slash, "**/" spans any depth', () => {
  fc.assert(
    fc.property(fc.array(seg, { minLength: 2, maxLength: 4 }), (parts) => {
      const path = parts.join('/');
      const last = parts[parts.length - 1]!;
      assert.equal(createIgnoreMatcher(['*']).matchesExact(path), false);
      assert.equal(createIgnoreMatcher(['**/' + last]).matches(path), true);
      assert.equal(createIgnoreMatcher(['*/' + parts.slice(1).join('/')]).matches(path), true);
    }),
  );
});

test('property: patterns are cleaned ("./p/", "p//") like the plain pattern', () => {
  fc.assert(
    fc.property(relPath, relPath, (p, probe) => {
      const plain = createIgnoreMatcher([p]).matches(probe);
      assert.equal(createIgnoreMatcher(['./' + p + '/']).matches(probe), plain);
      assert.equal(createIgnoreMatcher([p.replace(/\//g, '//')]).matches(probe), plain);
    }),
  );
});
