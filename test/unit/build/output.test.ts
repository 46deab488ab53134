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
});

test('build --output: what is refused says why', () => {
  assert.throws(() => parseOutput('type=image,name=x'), /output type "image" is not supported/);
  assert.throws(() => parseOutput('type=tar'), /dest= is required/);
  assert.throws(() => parseOutput('type=local,dest=-'), /type=local needs a directory/);
  assert.throws(() => parseOutput('type=tar,oops'), /expected key=value/);
});
