// Child process for the concurrency test: hammers one state dir's database with transactions.
// `node --test dist/test/` also loads this file as a test: without arguments it does nothing.
import { Db } from '../../../src/store/db.js';

function work(stateDir: string, tag: string, n: number): void {
  const db = new Db(stateDir);
  for (let i = 0; i < n; i++) {
    // Read-modify-write of a shared counter: only atomic if tx() really serializes writers.
    db.updateContainer<{ count: number }>('shared', (cur) => ({ state: { count: cur.state.count + 1 } }));
    db.tx(() => {
      db.putVolume({ name: `${tag}-${i}`, labels: { by: tag } });
      db.putCache(`${tag}-${i}`, `sha256:${'0'.repeat(64)}`, { size: 1 });
    });
  }
  db.close();
  process.stdout.write('done\n');
}

const [stateDir, tag, countStr] = process.argv.slice(2);
if (stateDir && tag && countStr !== undefined) work(stateDir, tag, Number(countStr));
