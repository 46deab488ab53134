// The first thing `kiln build` tries (bin/kiln.cjs, before the CLI's bundle is even loaded):
// replaying the record of the same build, if nothing it depends on has changed since
// (build/replay-record.ts says what is checked). Anything else (no record, a change, an error)
// answers false, and the build runs as usual; so this file decides nothing the build would not.
import { fstatSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Db } from '../store/db.js';
import { recordEvent } from '../store/event-log.js';
import { writeAllSync } from '../util/write-all.js';
import { changedStamp, missingPath, readReplayRecord, replayFile, requestMismatch, writeReplayRecord, TOUCH_INTERVAL_MS } from '../build/replay-record.js';

/** The state directory, as cli/main.ts's --root option (before the command word) or $KILN_ROOT give it. */
export function stateRoot(args: string[], env: NodeJS.ProcessEnv): string {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--root') return resolve(args[i + 1] ?? '');
    if (a.startsWith('--root=')) return resolve(a.slice('--root='.length));
    if (!a.startsWith('-')) break;
  }
  return resolve(env.KILN_ROOT ?? '/var/lib/kiln');
}

/**
 * Whether `fd` is a terminal: a tty, the console or a pseudo-terminal by device number (node:tty's
 * isatty would load net and stream, ~3 ms, for this one question).
 */
function isTerminal(fd: number): boolean {
  const st = fstatSync(fd);
  if (!st.isCharacterDevice()) return false;
  const major = Math.floor(st.rdev / 256) & 0xfff;
  return major === 4 || major === 5 || (major >= 136 && major <= 143);
}

/** Replays the recorded build `args` (process.argv.slice(2)) ran before; false when it must run. */
export function replayBuild(args: string[], bundle: string): boolean {
  const debug = args.includes('--debug');
  const skip = (why: string) => {
    if (debug) process.stderr.write(`kiln: build not replayed: ${why}\n`);
    return false;
  };
  try {
    // Output to a terminal is a live view, not a transcript.
    if (isTerminal(1) || isTerminal(2)) return false;
    const root = stateRoot(args, process.env);
    const cwd = process.cwd();
    const rec = readReplayRecord(replayFile(root, cwd, args));
    if (!rec) return false;
    const mismatch = requestMismatch(rec, { bundle, args, cwd, env: process.env });
    if (mismatch) return skip(mismatch);
    const changed = changedStamp(rec.stamps);
    if (changed) return skip(`${changed} changed`);
    const missing = missingPath(rec.present);
    if (missing) return skip(`${missing} is gone`);
    const touch = Date.now() - rec.touchedMs >= TOUCH_INTERVAL_MS;
    // Read-only unless the entries are due a refresh: a reader's close writes nothing back.
    const db = new Db(root, { readonly: !touch });
    try {
      if (db.generation() !== rec.generation) return skip('the image store changed');
      if (touch) db.touchCache(rec.cacheKeys);
    } finally {
      db.close();
    }
    if (touch) writeReplayRecord(root, { ...rec, touchedMs: Date.now() });
    for (const name of rec.tagNames) recordEvent(root, 'image', 'tag', rec.imageId, { name });
    if (rec.iidfile) writeFileSync(rec.iidfile, rec.imageId);
    writeAllSync(1, Buffer.from(rec.output, 'utf8'));
    if (debug) process.stderr.write('kiln: nothing the build depends on changed: replayed its last run\n');
    return true;
  } catch (e) {
    return skip((e as Error).message);
  }
}
