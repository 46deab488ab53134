// Test fixtures for the runtime: a busybox root filesystem made from the host's busybox-static
// (machine-notes §1), and small helpers shared by the runtime's unit and integration tests.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const BUSYBOX = '/usr/bin/busybox';

export const PASSWD = [
  'root:x:0:0:root:/root:/bin/sh',
  'daemon:x:1:1:daemon:/usr/sbin:/bin/false',
  'user:x:1000:1000:user:/home/user:/bin/sh',
  'nobody:x:65534:65534:nobody:/nonexistent:/bin/false',
  '',
].join('\n');

export const GROUP = [
  'root:x:0:',
  'daemon:x:1:',
  'wheel:x:10:user,root',
  'user:x:1000:',
  'audio:x:29:user',
  'nogroup:x:65534:',
  '',
].join('\n');

/** Make a busybox rootfs in `dir` (created): /bin with applet links, /etc/passwd, /etc/group. */
export function makeBusyboxRootfs(dir: string): string {
  for (const d of ['bin', 'etc', 'tmp', 'root', 'proc', 'sys', 'dev', 'home/user', 'var/www']) {
    mkdirSync(join(dir, d), { recursive: true });
  }
  copyFileSync(BUSYBOX, join(dir, 'bin/busybox'));
  execFileSync('chmod', ['0755', join(dir, 'bin/busybox')]);
  execFileSync('chmod', ['1777', join(dir, 'tmp')]);
  const applets = execFileSync(BUSYBOX, ['--list'], { encoding: 'utf8' }).split('\n').filter(Boolean);
  for (const a of applets) {
    if (a === 'busybox' || a.includes('/')) continue; // a link named busybox would loop onto itself
    const link = join(dir, 'bin', a);
    if (!existsSync(link)) symlinkSync('busybox', link);
  }
  writeFileSync(join(dir, 'etc/passwd'), PASSWD);
  writeFileSync(join(dir, 'etc/group'), GROUP);
  return dir;
}

/** A fresh temp dir (removed by the returned cleanup). */
export function tempDir(prefix = 'kiln-rt-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function randomId(): string {
  return [...crypto.getRandomValues(new Uint8Array(32))].map((b) => b.toString(16).padStart(2, '0')).join('');
}

export const isRoot = process.getuid?.() === 0;
export const hasRunc = (() => {
  try {
    execFileSync('runc', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/**
 * A busybox image in `engine`'s store without the build engine: the fixture rootfs as one layer
 * (tar → LayerStore.applyTar), an image config with `config`, tagged `tag`.
 */
export async function makeBusyboxImage(
  engine: import('../../../src/engine.js').Engine,
  tag = 'busybox',
  config: import('../../../src/image/types.js').ContainerConfig = {},
): Promise<string> {
  const { spawn } = await import('node:child_process');
  const { dir, cleanup } = tempDir();
  try {
    const rootfs = makeBusyboxRootfs(join(dir, 'rootfs'));
    writeFileSync(join(rootfs, 'var/www/index.html'), 'hello from kiln\n');
    const tar = spawn('tar', ['--numeric-owner', '-C', rootfs, '-cf', '-', '.'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const layer = await engine.layers.applyTar(tar.stdout, []);
    const image = engine.putImage({
      architecture: 'amd64',
      os: 'linux',
      created: new Date().toISOString(),
      config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['sh'], ...config },
      rootfs: { type: 'layers', diff_ids: [layer.diffId] },
      history: [{ created_by: 'kiln test fixture' }],
    });
    engine.tagImage(tag, image.id);
    return image.id;
  } finally {
    cleanup();
  }
}

/** GET `url` until it answers (a server in a container takes a moment to listen): the body. */
export async function fetchText(url: string, tries = 50): Promise<string> {
  for (let i = 0; ; i++) {
    try {
      return await (await fetch(url)).text();
    } catch (e) {
      if (i >= tries) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
