// Which OCI runtime new containers get: KILN_RUNTIME by name, else crun where it can run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultRuntimeName, isRuntimeName, runtimeRoot, runtimeUnavailable } from '../../../src/runtime/runtime-select.js';

function withEnv<T>(value: string | undefined, fn: () => T): T {
  const before = process.env.KILN_RUNTIME;
  if (value === undefined) delete process.env.KILN_RUNTIME;
  else process.env.KILN_RUNTIME = value;
  try {
    return fn();
  } finally {
    if (before === undefined) delete process.env.KILN_RUNTIME;
    else process.env.KILN_RUNTIME = before;
  }
}

test('KILN_RUNTIME names the default; an unknown name is refused by name', () => {
  assert.equal(withEnv('runc', defaultRuntimeName), 'runc');
  assert.equal(withEnv('crun', defaultRuntimeName), 'crun');
  assert.throws(() => withEnv('kata', defaultRuntimeName), /KILN_RUNTIME: unknown runtime "kata" \(kiln knows crun, runc\)/);
});

test('without KILN_RUNTIME: crun when it can run here, else runc', () => {
  assert.equal(withEnv(undefined, defaultRuntimeName), runtimeUnavailable('crun') === undefined ? 'crun' : 'runc');
});

test('names and state roots', () => {
  assert.ok(isRuntimeName('crun') && isRuntimeName('runc') && !isRuntimeName('youki'));
  assert.equal(runtimeRoot('crun'), '/run/kiln/crun');
  assert.equal(runtimeRoot('runc'), '/run/kiln/runc');
  for (const name of ['crun', 'runc'] as const) {
    const why = runtimeUnavailable(name);
    if (why !== undefined) assert.match(why, new RegExp(`^${name} (is not installed|needs unshare)`));
  }
});
