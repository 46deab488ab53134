// USER resolution with Docker's rules, and path resolution scoped to a rootfs.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { resolveUser, resolveUserFrom } from '../../../src/runtime/user.js';
import { resolveInRoot, cleanContainerPath } from '../../../src/runtime/paths.js';
import { GROUP, PASSWD, tempDir } from './fixtures.js';

describe('resolveUserFrom', () => {
  const r = (spec: string) => resolveUserFrom(spec, PASSWD, GROUP);

  test('empty = root with root\'s home', () => {
    assert.deepEqual(r(''), { uid: 0, gid: 0, additionalGids: [10], home: '/root', name: 'root' });
  });
  test('name → uid, primary gid, home, supplementary groups from /etc/group', () => {
    assert.deepEqual(r('user'), { uid: 1000, gid: 1000, additionalGids: [10, 29], home: '/home/user', name: 'user' });
  });
  test('numeric uid with an entry takes the entry\'s gid', () => {
    assert.deepEqual(r('1000'), { uid: 1000, gid: 1000, additionalGids: [10, 29], home: '/home/user', name: 'user' });
  });
  test('numeric uid without an entry: gid 0, home /', () => {
    assert.deepEqual(r('4242'), { uid: 4242, gid: 0, additionalGids: [], home: '/' });
  });
  test('explicit group (name or number) replaces the gid and drops supplementary groups', () => {
    assert.deepEqual(r('user:audio'), { uid: 1000, gid: 29, additionalGids: [], home: '/home/user', name: 'user' });
    assert.deepEqual(r('user:4343'), { uid: 1000, gid: 4343, additionalGids: [], home: '/home/user', name: 'user' });
    assert.deepEqual(r('4242:4343'), { uid: 4242, gid: 4343, additionalGids: [], home: '/' });
    assert.deepEqual(r('4242:nogroup'), { uid: 4242, gid: 65534, additionalGids: [], home: '/' });
  });
  test('unknown names fail with Docker\'s messages', () => {
    assert.throws(() => r('nosuch'), { message: 'unable to find user nosuch: no matching entries in passwd file' });
    assert.throws(() => r('user:nosuch'), { message: 'unable to find group nosuch: no matching entries in group file' });
    assert.throws(() => r('99999999999'), /uids and gids must be in range/);
  });
  test('no passwd file: numeric works, names fail', () => {
    assert.deepEqual(resolveUserFrom('7:8', undefined, undefined), { uid: 7, gid: 8, additionalGids: [], home: '/' });
    assert.throws(() => resolveUserFrom('user', undefined, undefined), /no matching entries in passwd file/);
    assert.deepEqual(resolveUserFrom('', undefined, undefined), { uid: 0, gid: 0, additionalGids: [], home: '/' });
  });
  test('comments, blank and malformed lines are skipped', () => {
    const u = resolveUserFrom('a', '# c\n\nbad line\na:x:5:6::/h:/bin/sh\n', 'g:x:7:a\n');
    assert.deepEqual(u, { uid: 5, gid: 6, additionalGids: [7], home: '/h', name: 'a' });
  });
});

describe('resolveUser / resolveInRoot', () => {
  test('reads the rootfs files, following symlinks inside the rootfs only', () => {
    const { dir, cleanup } = tempDir();
    try {
      mkdirSync(join(dir, 'etc'));
      mkdirSync(join(dir, 'real'));
      writeFileSync(join(dir, 'real/passwd'), 'app:x:33:44::/srv:/bin/sh\n');
      symlinkSync('/real/passwd', join(dir, 'etc/passwd')); // absolute link: relative to the rootfs
      assert.deepEqual(resolveUser(dir, 'app'), { uid: 33, gid: 44, additionalGids: [], home: '/srv', name: 'app' });
      assert.equal(resolveInRoot(dir, '/etc/passwd'), join(dir, 'real/passwd'));
      assert.equal(resolveInRoot(dir, '/etc/passwd', { followLast: false }), join(dir, 'etc/passwd'));
      symlinkSync('../../../../../../etc', join(dir, 'up'));
      assert.equal(resolveInRoot(dir, '/up/shadow'), join(dir, 'etc/shadow'), '.. stops at the rootfs');
      assert.equal(resolveInRoot(dir, '/../../x/../y'), join(dir, 'y'));
      symlinkSync('loop', join(dir, 'loop'));
      assert.throws(() => resolveInRoot(dir, '/loop/x'), /too many levels/);
    } finally {
      cleanup();
    }
  });
  test('cleanContainerPath', () => {
    assert.equal(cleanContainerPath('a/../b/./c/', '/w'), '/w/b/c');
    assert.equal(cleanContainerPath('/../..'), '/');
  });
});
