// kill -9 in the middle of a write leaves a store the next command can use.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { Readable } from 'node:stream';
import { Engine } from '../../src/engine.js';
import { sha256 } from '../../src/image/digest.js';
import { makeTar, tempDir } from '../unit/layers/helpers.js';

const worker = fileURLToPath(new URL('../unit/store/crash-worker.js', import.meta.url));

/** Runs the worker until it says "busy", checks staging is in use, then SIGKILLs it. */
function runAndKill(mode: string, root: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [worker, mode, root], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    let staged: string[] = [];
    p.stderr.on('data', (d) => (err += d));
    p.stdout.on('data', (d: Buffer) => {
      if (d.toString().includes('busy')) {
        staged = readdirSync(join(root, 'tmp'));
        p.kill('SIGKILL');
      }
    });
    p.on('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolve(staged);
      else reject(new Error(`worker ended by itself (${code}): ${err}`));
    });
  });
}

describe('crash safety (SIGKILL mid-write)', () => {
  let t: ReturnType<typeof tempDir>;
  before(() => (t = tempDir()));
  after(() => t.cleanup());

  it('a killed ingest leaves no blob and no staging; the next ingest works', async () => {
    const root = join(t.dir, 'ingest');
    Engine.open(root).close();
    const staged = await runAndKill('ingest', root);
    assert.equal(staged.length, 1, 'the worker was writing a temp file when killed');
    assert.deepEqual(readdirSync(join(root, 'blobs/sha256')), [], 'no partial blob under its name');
    const e = Engine.open(root); // sweeps the dead process's staging
    try {
      assert.deepEqual(readdirSync(join(root, 'tmp')), []);
      const data = Buffer.from('after the crash');
      const r = await e.content.ingest(Readable.from([data]));
      assert.equal(r.digest, sha256(data));
      assert.deepEqual(e.content.list(), [r.digest]);
      assert.equal(e.db.listImages().length, 0);
    } finally {
      e.close();
    }
  });

  it('a killed applyTar leaves no layer, no row and no staging; the same layer applies afterwards', async () => {
    const root = join(t.dir, 'apply');
    Engine.open(root).close();
    const staged = await runAndKill('apply', root);
    assert.ok(staged.length >= 1, 'extraction and blob staging were in progress');
    const e = Engine.open(root);
    try {
      assert.deepEqual(readdirSync(join(root, 'tmp')), []);
      assert.deepEqual(readdirSync(join(root, 'layers')), []);
      assert.deepEqual(e.db.listLayers(), []);
      assert.deepEqual(e.content.list(), []);
      const tar = makeTar([{ name: 'ok', body: 'fine' }]);
      const r = await e.layers.applyTar(Readable.from([tar]), []);
      assert.ok(e.layers.has(r.chainId));
      assert.equal(r.diffId, sha256(tar));
    } finally {
      e.close();
    }
  });

  it('a staging entry of a live process survives another command opening the store', () => {
    const root = join(t.dir, 'live');
    const a = Engine.open(root);
    const mine = a.tmpDir('step-');
    const b = Engine.open(root); // same process = live owner
    assert.ok(readdirSync(join(root, 'tmp')).includes(mine.split('/').pop()!));
    b.close();
    a.close();
  });
});
