// The ssh-agent relay of RUN --mount=type=ssh: bytes flow both ways, per connection.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createServer } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { relaySocket } from '../../../src/build/socket-relay.js';

test('relaySocket: each connection reaches the upstream socket and gets its answers', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-relay-'));
  const agent = createServer((c) => c.on('data', (b) => c.end(`agent says ${b.toString()}`)));
  await new Promise<void>((r) => agent.listen(join(dir, 'agent.sock'), r));
  const relay = await relaySocket(join(dir, 'relay.sock'), join(dir, 'agent.sock'));
  const ask = (msg: string) =>
    new Promise<string>((resolve, reject) => {
      let got = '';
      const c = connect(join(dir, 'relay.sock'), () => c.write(msg));
      c.on('data', (b) => (got += b.toString()));
      c.on('end', () => resolve(got));
      c.on('error', reject);
    });
  assert.deepEqual(await Promise.all([ask('one'), ask('two')]), ['agent says one', 'agent says two']);
  relay.close();
  agent.close();
  rmSync(dir, { recursive: true, force: true });
});
