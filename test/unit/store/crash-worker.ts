// Child process for the crash tests: starts a long write into a state dir, says "busy" once it
// is well under way, and waits to be killed with SIGKILL.
// `node --test dist/test/` also loads this file as a test: without arguments it does nothing.
import { Readable } from 'node:stream';
import { Engine } from '../../../src/engine.js';
import { encodeHeader, padding } from '../../../src/layers/tar.js';

function slowStream(chunks: () => Generator<Buffer>, announceAfter: number): Readable {
  return Readable.from(
    (async function* () {
      let n = 0;
      for (const c of chunks()) {
        yield c;
        if (++n === announceAfter) process.stdout.write('busy\n');
        if (n > announceAfter) await new Promise((r) => setTimeout(r, 5));
      }
    })(),
  );
}

async function main(mode: string, root: string): Promise<void> {
  const engine = Engine.open(root);
  if (mode === 'ingest') {
    await engine.content.ingest(
      slowStream(function* () {
        for (;;) yield Buffer.alloc(256 << 10, 0x5a);
      }, 40),
    );
  } else if (mode === 'apply') {
    await engine.layers.applyTar(
      slowStream(function* () {
        for (let i = 0; ; i++) {
          const body = Buffer.alloc(10_000, i & 0xff);
          yield Buffer.concat([encodeHeader({ name: `dir${i % 10}/file${i}`, type: 'file', mode: 0o644, uid: 0, gid: 0, size: body.length, mtime: 0 }), body, Buffer.alloc(padding(body.length))]);
        }
      }, 300),
      [],
    );
  }
}

const [mode, root] = process.argv.slice(2);
if (mode && root) await main(mode, root);
