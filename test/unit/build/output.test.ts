// `build -o` spellings (pure parsing).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseOutput } from '../../../src/build/output.js';

test('build --output: Docker spellings', () => {
  assert.deepEqual(parseOutput('out'), { type: 'local', dest: 'out' });
  assert.deepEqual(parseOutput('-'), { type: 'tar', dest: '-' });
  assert.deepEqual(parseOutput('type=local,dest=/tmp/x'), { type: 'local', dest: '/tmp/x' });
  assert.deepEqual(parseOutput('type=tar,dest=-'), { type: 'tar', dest: '-' });
  assert.deepEqual(parseOutput('dest=d'), { type: 'local', dest: 'd' }, 'type defaults to local');
  assert.deepEqual(parseOutput('type=oci,dest=o.tar'), { type: 'oci', dest: 'o.tar' });
  assert.deepEqual(parseOutput('type=docker,dest=-,"name=a:1,b"'), { type: 'docker', dest: '-', names: ['a:1', 'b'] });
  assert.deepEqual(parseOutput('type=image,name=a:1'), { type: 'image', names: ['a:1'], push: false });
  assert.deepEqual(parseOutput('type=image,name=r/a:1,push=true'), { type: 'image', names: ['r/a:1'], push: true });
  assert.deepEqual(parseOutput('type=registry,name=r/a:1'), { type: 'image', names: ['r/a:1'], push: true });
});

test('build --output: what is refused says why', () => {
  assert.throws(() => parseOutput('type=cacheonly'), /output type "cacheonly" is not supported/);
  assert.throws(() => parseOutput('type=registry'), /name= is needed to push/);
  assert.throws(() => parseOutput('type=oci,dest=d,tar=false'), /tar=false .* is not supported/);
  assert.throws(() => parseOutput('type=tar'), /dest= is required/);
  assert.throws(() => parseOutput('type=local,dest=-'), /type=local needs a directory/);
  assert.throws(() => parseOutput('type=tar,oops'), /expected key=value/);
});
