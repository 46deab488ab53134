// Drives kiln through its command line, as users and the hidden acceptance tests do, against a
// fresh temporary state directory. Integration tests need root, overlayfs and runc.
import { spawnSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
/** dist/test/helpers → project root */
export const projectRoot = resolve(here, '..', '..', '..');
export const kilnBin = join(projectRoot, 'bin', 'kiln.cjs');
export const busyboxDir = join(projectRoot, 'examples', 'busybox');

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export class Kiln {
  readonly root: string;
  constructor(root?: string) {
    this.root = root ?? mkdtempSync(join(tmpdir(), 'kiln-test-'));
  }

  run(args: string[], opts: { cwd?: string; input?: string; env?: NodeJS.ProcessEnv; timeout?: number } = {}): RunResult {
    const r = spawnSync(kilnBin, ['--root', this.root, ...args], {
      cwd: opts.cwd,
      input: opts.input,
      env: { ...process.env, ...opts.env },
      encoding: 'utf8',
      timeout: opts.timeout ?? 120_000,
      maxBuffer: 64 << 20,
    });
    return { code: r.status ?? (r.signal ? 128 : -1), stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  }

  /** Like run(), but throws with the output when the exit code is not 0. */
  ok(args: string[], opts: Parameters<Kiln['run']>[1] = {}): RunResult {
    const r = this.run(args, opts);
    if (r.code !== 0) throw new Error(`kiln ${args.join(' ')} exited ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
    return r;
  }

  spawn(args: string[]) {
    return spawn(kilnBin, ['--root', this.root, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  }

  /** Builds the local busybox base image (FROM scratch + ADD rootfs.tar) and tags it `busybox`. */
  busybox(tag = 'busybox'): string {
    const ctx = join(this.root, '..', `${this.root.split('/').pop()}-busybox`);
    if (!existsSync(join(ctx, 'rootfs.tar'))) {
      mkdirSync(ctx, { recursive: true });
      const r = spawnSync('bash', [join(busyboxDir, 'make-rootfs.sh'), join(ctx, 'rootfs.tar')], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`make-rootfs.sh failed: ${r.stderr}`);
    }
    this.ok(['build', '-q', '-t', tag, '-f', join(busyboxDir, 'Dockerfile'), ctx]);
    return tag;
  }

  cleanup(): void {
    const ids = this.run(['ps', '-aq']).stdout.split(/\s+/).filter(Boolean);
    if (ids.length) this.run(['rm', '-f', ...ids], { timeout: 60_000 });
    this.run(['builder', 'prune', '-a', '-f']); // also tears down the build network sandbox
    rmSync(this.root, { recursive: true, force: true });
    rmSync(`${this.root}-busybox`, { recursive: true, force: true });
  }
}

/** A build context in a fresh temp dir: relative path -> file content. */
export function makeContext(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-ctx-'));
  for (const [p, content] of Object.entries(files)) {
    mkdirSync(join(dir, p, '..'), { recursive: true });
    writeFileSync(join(dir, p), content);
  }
  return dir;
}
