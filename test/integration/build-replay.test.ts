// A rebuild with nothing changed is replayed from the record of its last all-cached run
// (build/replay-record.ts), and any change to what the build read or resolved builds again.
// `--debug` makes the launcher say which happened. Root, overlayfs and runc.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync, readdirSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { Kiln, makeContext } from '../helpers/kiln.js';
import { hasRunc, isRoot } from '../unit/runtime/fixtures.js';

const skip = !isRoot || !hasRunc ? 'needs root and runc' : false;
const REPLAYED = 'replayed its last run';
/** A record is written only for files last changed over a second before the build (racy stamps). */
const settle = () => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1100);

describe('build replay (CLI)', { skip }, () => {
  let k: Kiln;
  let ctx: string;
  const build = (extra: string[] = [], env: NodeJS.ProcessEnv = {}) => k.ok(['--debug', 'build', '--progress', 'plain', ...extra, '-t', 'app', ctx], { env });
  /** Builds until the record is written (the second all-cached run at most), then once more. */
  const replayed = (extra: string[] = [], env: NodeJS.ProcessEnv = {}) => {
    build(extra, env);
    build(extra, env);
    const r = build(extra, env);
    assert.match(r.stderr, new RegExp(REPLAYED), r.stderr);
    return r;
  };
  const cat = (path: string) => k.ok(['run', '--rm', 'app', 'cat', path]).stdout;

  before(() => {
    k = new Kiln();
    k.busybox();
    ctx = makeContext({
      'Dockerfile': 'FROM busybox\nARG V=1\nCOPY . /ctx/\nRUN echo "$V" > /v\n',
      'a.txt': 'one\n',
      '.dockerignore': 'skip/\n!skip/keep*\n',
      'skip/other': 'ignored\n',
    });
    settle();
  });
  after(() => k.cleanup());

  test('an unchanged rebuild is replayed: same output, same image, --iidfile and the tag event', () => {
    const first = build();
    assert.match(first.stdout, /Step 3\/4 : COPY/);
    const cached = build(); // every step cached: recorded
    assert.equal((cached.stdout.match(/Using cache/g) ?? []).length, 3, cached.stdout);
    assert.doesNotMatch(cached.stderr, new RegExp(REPLAYED));
    const tagEvents = () => k.ok(['events', '--since', '0', '--until', '0s', '--filter', 'event=tag']).stdout.split('\n').filter(Boolean).length;
    const before = tagEvents();
    const r = build();
    assert.match(r.stderr, new RegExp(REPLAYED), r.stderr);
    assert.equal(r.stdout, cached.stdout);
    assert.equal(tagEvents(), before + 1, 'a replay tags the image, as a build does');
    const id = k.ok(['image', 'inspect', '-f', '{{.Id}}', 'app']).stdout.trim();
    assert.match(r.stdout, new RegExp(`Successfully built ${id.slice(7, 19)}`));
    // Replays refresh the cache entries' last use every few minutes (not each time: that would write).
    const dir = join(k.root, 'build', 'replay');
    const [file] = readdirSync(dir).filter((f) => f.endsWith('.json')).map((f) => join(dir, f)).filter((f) => JSON.parse(readFileSync(f, 'utf8')).args.at(-1) === ctx && !JSON.parse(readFileSync(f, 'utf8')).args.includes('--iidfile'));
    const rec = JSON.parse(readFileSync(file!, 'utf8'));
    const lastUsed = () => {
      const db = new Database(join(k.root, 'kiln.db'), { readonly: true });
      try {
        return (db.prepare('SELECT key, last_used FROM build_cache').all() as { key: string; last_used: string }[]).filter((r) => rec.cacheKeys.includes(r.key)).map((r) => r.last_used);
      } finally {
        db.close();
      }
    };
    assert.equal(lastUsed().length, rec.cacheKeys.length);
    const used = lastUsed();
    writeFileSync(file!, JSON.stringify({ ...rec, touchedMs: 0 }));
    assert.match(build().stderr, new RegExp(REPLAYED));
    assert.ok(lastUsed().every((t, i) => t > used[i]!), 'refreshed');
    assert.ok(JSON.parse(readFileSync(file!, 'utf8')).touchedMs > 0);
    const refreshed = lastUsed();
    assert.match(build().stderr, new RegExp(REPLAYED));
    assert.deepEqual(lastUsed(), refreshed, 'not again so soon');
    // --iidfile is another command line: recorded by its first cached run, then replayed.
    const iid = join(ctx, '..', `${ctx.split('/').pop()}-iid`);
    build(['--iidfile', iid]);
    rmSync(iid);
    assert.match(build(['--iidfile', iid]).stderr, new RegExp(REPLAYED));
    assert.equal(readFileSync(iid, 'utf8'), id, 'the replay writes --iidfile');
    rmSync(iid);
  });

  test("Docker's longer spelling, image build, is replayed too", () => {
    const b = () => k.ok(['--debug', 'image', 'build', '-q', '-t', 'app', ctx]);
    b();
    b();
    const r = b();
    assert.match(r.stderr, new RegExp(REPLAYED), r.stderr);
    assert.equal(r.stdout.trim(), k.ok(['image', 'inspect', '-f', '{{.Id}}', 'app']).stdout.trim());
  });

  test('a changed, added or re-included context file builds again', () => {
    replayed();
    appendFileSync(join(ctx, 'a.txt'), 'two\n');
    const r = build();
    assert.doesNotMatch(r.stderr, new RegExp(REPLAYED));
    assert.match(r.stderr, /a\.txt changed/);
    assert.equal(cat('/ctx/a.txt'), 'one\ntwo\n');

    settle();
    replayed();
    writeFileSync(join(ctx, 'b.txt'), 'new\n');
    assert.doesNotMatch(build().stderr, new RegExp(REPLAYED));
    assert.equal(cat('/ctx/b.txt'), 'new\n');

    settle();
    replayed();
    writeFileSync(join(ctx, 'skip', 'keep1'), 'kept\n'); // let through by `!skip/keep*`
    assert.doesNotMatch(build().stderr, new RegExp(REPLAYED));
    assert.equal(cat('/ctx/skip/keep1'), 'kept\n');
  });

  test('a changed Dockerfile or .dockerignore builds again', () => {
    settle();
    replayed();
    writeFileSync(join(ctx, '.dockerignore'), 'skip/\n');
    assert.doesNotMatch(build().stderr, new RegExp(REPLAYED));
    assert.notEqual(k.run(['run', '--rm', 'app', 'ls', '/ctx/skip']).code, 0, 'skip/ is ignored entirely now');

    settle();
    replayed();
    writeFileSync(join(ctx, 'Dockerfile'), 'FROM busybox\nARG V=1\nCOPY . /ctx/\nRUN echo "$V" > /v && echo changed > /c\n');
    assert.doesNotMatch(build().stderr, new RegExp(REPLAYED));
    assert.equal(cat('/c'), 'changed\n');
  });

  test('a build arg taken from the environment is part of the record', () => {
    settle();
    replayed(['--build-arg', 'V'], { V: 'a' });
    const r = build(['--build-arg', 'V'], { V: 'b' });
    assert.match(r.stderr, /\$V changed/);
    assert.equal(cat('/v'), 'b\n');
  });

  test('a change in the image store (base image re-tagged, image removed) builds again', () => {
    settle();
    replayed();
    // Another base image under the same name: FROM must resolve it again.
    const base2 = makeContext({ 'Dockerfile': 'FROM busybox\nRUN echo base2 > /base\n' });
    k.ok(['build', '-q', '-t', 'busybox', base2]);
    const r = build();
    assert.match(r.stderr, /the image store changed/);
    assert.equal(cat('/base'), 'base2\n');

    // A layer directory gone (behind the store's back): the cache lookup would miss, so no replay.
    replayed();
    const top = k.ok(['image', 'inspect', '-f', '{{.GraphDriver.Data.UpperDir}}', 'app']).stdout.trim();
    rmSync(top, { recursive: true, force: true });
    assert.match(build().stderr, /is gone/);
    assert.equal(cat('/v'), '1\n');

    replayed();
    k.ok(['rmi', 'app']);
    assert.doesNotMatch(build().stderr, new RegExp(REPLAYED));
    assert.equal(k.ok(['image', 'inspect', '-f', '{{.Id}}', 'app']).code, 0, 'the image is there again');
    rmSync(base2, { recursive: true, force: true });
  });

  test('--no-cache and options a replay cannot reproduce always build', () => {
    settle();
    replayed();
    assert.doesNotMatch(build(['--no-cache']).stderr, new RegExp(REPLAYED));
    const out = join(ctx, '..', 'replay-out');
    mkdirSync(out, { recursive: true });
    build(['-o', out]);
    build(['-o', out]);
    rmSync(out, { recursive: true, force: true });
    const r = build(['-o', out]);
    assert.doesNotMatch(r.stderr, new RegExp(REPLAYED));
    assert.equal(readFileSync(join(out, 'v'), 'utf8').length > 0, true, '-o wrote the files again');
    rmSync(out, { recursive: true, force: true });
  });
});
