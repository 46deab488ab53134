// COPY/ADD source selection and placement over in-memory trees.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  ContextSelectError,
  placeMatches,
  resolveCopyDest,
  selectSources,
  type ContextEntry,
} from '../../../src/dockerfile/index.js';

const f = (path: string): ContextEntry => ({ path, type: 'file' });
const tree: ContextEntry[] = [
  f('main.go'),
  f('util.go'),
  f('README.md'),
  f('src/a/one.txt'),
  f('src/a/two.md'),
  f('src/b/three.txt'),
  { path: 'src/empty', type: 'dir' },
  { path: 'link', type: 'symlink', target: 'src/a' },
  { path: 'dangling', type: 'symlink', target: 'nowhere' },
  f('weird[1].txt'),
];

function sel(sources: string[], opts = {}): string[] {
  return selectSources(tree, sources, opts).matches.map((m) => `${m.root ? '*' : ''}${m.path}=>${m.destRel}`);
}

test('a file source is itself; a directory source is its contents', () => {
  assert.deepEqual(sel(['main.go']), ['*main.go=>main.go']);
  assert.deepEqual(sel(['/src/a/']), ['*src/a=>', 'src/a/one.txt=>one.txt', 'src/a/two.md=>two.md']);
  assert.deepEqual(sel(['src/a/.']), sel(['src/a']));
});

test('wildcards match per segment; a matched directory is taken whole', () => {
  assert.deepEqual(sel(['*.go']), ['*main.go=>main.go', '*util.go=>util.go']);
  assert.deepEqual(sel(['src/*']), [
    '*src/a=>',
    'src/a/one.txt=>one.txt',
    'src/a/two.md=>two.md',
    '*src/b=>',
    'src/b/three.txt=>three.txt',
    '*src/empty=>',
  ]);
  assert.deepEqual(sel(['src/*/*.txt']), ['*src/a/one.txt=>one.txt', '*src/b/three.txt=>three.txt']);
  assert.deepEqual(sel(['nothing-*']), []);
  // A name with brackets is reached with ?; an escaped source is a literal name (like BuildKit).
  assert.deepEqual(sel(['weird?1?.txt']), ['*weird[1].txt=>weird[1].txt']);
});

test('symlinks in sources are followed; the name used is the one written', () => {
  assert.deepEqual(sel(['link']), ['*src/a=>', 'src/a/one.txt=>one.txt', 'src/a/two.md=>two.md']);
  assert.deepEqual(sel(['link/one.txt']), ['*src/a/one.txt=>one.txt']);
  const noFollow = selectSources(tree, ['link'], { followSymlinks: false }).matches;
  assert.deepEqual(noFollow, [{ source: 'link', path: 'link', type: 'symlink', destRel: 'link', root: true, linkTarget: 'src/a' }]);
});

test('--exclude applies inside selected directories, relative to them', () => {
  assert.deepEqual(sel(['src'], { exclude: ['*/*.md', 'b'] }), ['*src=>', 'src/a=>a', 'src/a/one.txt=>a/one.txt', 'src/empty=>empty']);
  assert.deepEqual(sel(['README.md'], { exclude: ['*.md'] }), ['*README.md=>README.md']);
});

test('--parents keeps paths, from the root or below the /./ pivot', () => {
  assert.deepEqual(sel(['src/a/one.txt'], { parents: true }), ['*.=>', 'src=>src', 'src/a=>src/a', 'src/a/one.txt=>src/a/one.txt']);
  assert.deepEqual(sel(['src/./a/*.txt'], { parents: true }), ['*src=>', 'src/a=>a', 'src/a/one.txt=>a/one.txt']);
  assert.deepEqual(sel(['./**/three.txt'], { parents: true }), ['*.=>', 'src=>src', 'src/b=>src/b', 'src/b/three.txt=>src/b/three.txt']);
  const implicit = selectSources(tree, ['src/a/one.txt'], { parents: true }).matches.filter((m) => m.implicit).map((m) => m.path);
  assert.deepEqual(implicit, ['src', 'src/a']);
});

test('errors: missing source, escaping the context', () => {
  assert.throws(
    () => selectSources(tree, ['missing.txt']),
    (e: unknown) =>
      e instanceof ContextSelectError && e.code === 'NOT_FOUND' && e.message === 'failed to compute cache key: failed to calculate checksum of ref: "/missing.txt": not found',
  );
  assert.throws(() => selectSources(tree, ['dangling']), (e: unknown) => e instanceof ContextSelectError && e.code === 'NOT_FOUND');
  assert.throws(() => selectSources(tree, ['../etc/passwd']), /forbidden path outside the build context: \.\.\/etc\/passwd/);
  assert.throws(() => selectSources(tree, ['missing/x'], { parents: true }), /"\/missing\/x": not found/);
});

test('placement: into a directory, onto a file name, several files', () => {
  const one = selectSources(tree, ['main.go']).matches;
  assert.deepEqual(placeMatches(one, { destPath: '/app', destEndsWithSlash: false, destType: 'missing' }).map((p) => p.to), ['/app']);
  assert.deepEqual(placeMatches(one, { destPath: '/app', destEndsWithSlash: false, destType: 'dir' }).map((p) => p.to), ['/app/main.go']);
  assert.deepEqual(placeMatches(one, { destPath: '/app', destEndsWithSlash: true, destType: 'missing' }).map((p) => p.to), ['/app/main.go']);
  const dir = selectSources(tree, ['src/a']).matches;
  assert.deepEqual(
    placeMatches(dir, { destPath: '/srv', destEndsWithSlash: false, destType: 'missing' }).map((p) => p.to),
    ['/srv', '/srv/one.txt', '/srv/two.md'],
  );
  assert.throws(() => placeMatches(dir, { destPath: '/srv', destEndsWithSlash: false, destType: 'file' }), /cannot copy to non-directory: \/srv/);
  // Like BuildKit, several files onto a non-directory overwrite one another.
  const two = selectSources(tree, ['*.go']).matches;
  assert.deepEqual(placeMatches(two, { destPath: '/x', destEndsWithSlash: false, destType: 'missing' }).map((p) => p.to), ['/x', '/x']);
});

test('resolveCopyDest: relative to WORKDIR, "." and trailing slash mean a directory', () => {
  assert.deepEqual(resolveCopyDest('.', '/app'), { destPath: '/app', destEndsWithSlash: true });
  assert.deepEqual(resolveCopyDest('bin/', '/app'), { destPath: '/app/bin', destEndsWithSlash: true });
  assert.deepEqual(resolveCopyDest('/etc/x.conf', '/app'), { destPath: '/etc/x.conf', destEndsWithSlash: false });
  assert.deepEqual(resolveCopyDest('x', 'rel'), { destPath: '/rel/x', destEndsWithSlash: false });
});

test('property: selecting "." with no excludes returns every entry exactly once', () => {
  const seg = fc.constantFrom('a', 'b', 'c', 'd.txt', 'e.md');
  const paths = fc.uniqueArray(fc.array(seg, { minLength: 1, maxLength: 3 }).map((p) => p.join('/')), { maxLength: 12 });
  fc.assert(
    fc.property(paths, (ps) => {
      // keep a consistent tree: no path may be both a file and a parent
      const files = ps.filter((p) => !ps.some((q) => q.startsWith(p + '/')));
      const entries = files.map((p) => ({ path: p, type: 'file' as const }));
      const got = selectSources(entries, ['.']).matches.filter((m) => m.type === 'file').map((m) => m.destRel).sort();
      assert.deepEqual(got, [...files].sort());
    }),
  );
});
