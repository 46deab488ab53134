// The event log (store/event-log) and `kiln events`'s filter and line format (cli/commands/events).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventLogPath, readEventsFrom, recordEvent, type KilnEvent } from '../../../src/store/event-log.js';
import { eventFilter, formatEventLine } from '../../../src/cli/commands/events.js';

const ev = (over: Partial<KilnEvent> & Pick<KilnEvent, 'Type' | 'Action'>): KilnEvent => ({
  Actor: { ID: 'abc123456789', Attributes: {} },
  scope: 'local',
  time: 1795450521,
  timeNano: 1795450521395000000,
  ...over,
});

describe('event log', () => {
  it('appends one JSON line per event and reads only complete lines from an offset', () => {
    const root = mkdtempSync(join(tmpdir(), 'kiln-ev-'));
    try {
      recordEvent(root, 'container', 'create', 'c1', { image: 'busybox', name: 'web' });
      recordEvent(root, 'volume', 'create', 'v1', { driver: 'local' });
      const file = eventLogPath(root);
      const first = readEventsFrom(file, 0);
      assert.deepEqual(first.events.map((e) => [e.Type, e.Action, e.Actor.ID]), [['container', 'create', 'c1'], ['volume', 'create', 'v1']]);
      assert.equal(first.events[0]!.status, 'create');
      assert.equal(first.events[0]!.from, 'busybox');
      assert.equal(first.next, readFileSync(file).length);
      // A line still being written is left for the next read; a torn line is skipped.
      appendFileSync(file, '{"Type":"image"');
      assert.deepEqual(readEventsFrom(file, first.next), { events: [], next: first.next });
      appendFileSync(file, ',"Action":"tag"}\nnot json\n');
      const next = readEventsFrom(file, first.next);
      assert.deepEqual(next.events.map((e) => e.Action), ['tag']);
      // A rotated (shorter) file is read from its start.
      writeFileSync(file, `${JSON.stringify(ev({ Type: 'image', Action: 'pull' }))}\n`);
      assert.deepEqual(readEventsFrom(file, next.next).events.map((e) => e.Action), ['pull']);
      assert.deepEqual(readEventsFrom(join(root, 'missing.log'), 5), { events: [], next: 0 });
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('prints Docker\'s line: time with nanoseconds, type, action, ID, sorted attributes', () => {
    const line = formatEventLine(ev({ Type: 'container', Action: 'die', Actor: { ID: 'c1', Attributes: { name: 'web', exitCode: '3', image: 'busybox' } } }));
    assert.equal(line, `${new Date(1795450521395).toISOString().slice(0, -1)}000000Z container die c1 (exitCode=3, image=busybox, name=web)\n`);
    assert.match(formatEventLine(ev({ Type: 'volume', Action: 'create', Actor: { ID: 'v1', Attributes: {} } })), / volume create v1\n$/);
  });

  it('filters with Docker\'s keys: one key\'s values any, keys all', () => {
    const die = ev({ Type: 'container', Action: 'die', Actor: { ID: 'c1d2e3f4a5b6', Attributes: { name: 'web', image: 'busybox', team: 'a' } } });
    const exec = ev({ Type: 'container', Action: 'exec_start: sh -c true', Actor: { ID: 'c1d2e3f4a5b6', Attributes: { name: 'web', image: 'busybox' } } });
    const tag = ev({ Type: 'image', Action: 'tag', Actor: { ID: 'sha256:1234', Attributes: { name: 'app:1' } } });
    const conn = ev({ Type: 'network', Action: 'connect', Actor: { ID: 'n1', Attributes: { name: 'kiln', container: 'c1d2e3f4a5b6' } } });
    const all = [die, exec, tag, conn];
    const pick = (...f: string[]) => all.filter(eventFilter(f)).map((e) => e.Action);
    assert.deepEqual(pick('type=container'), ['die', 'exec_start: sh -c true']);
    assert.deepEqual(pick('event=die', 'event=tag'), ['die', 'tag']);
    assert.deepEqual(pick('event=exec_start'), ['exec_start: sh -c true']);
    assert.deepEqual(pick('container=web', 'event=die'), ['die']);
    assert.deepEqual(pick('container=c1d2'), ['die', 'exec_start: sh -c true']);
    assert.deepEqual(pick('image=busybox'), ['die', 'exec_start: sh -c true']);
    assert.deepEqual(pick('image=app:1'), ['tag']);
    assert.deepEqual(pick('network=kiln'), ['connect']);
    assert.deepEqual(pick('label=team'), ['die']);
    assert.deepEqual(pick('label=team=b'), []);
    assert.throws(() => eventFilter(['colour=red']), /invalid filter 'colour'/);
    assert.throws(() => eventFilter(['type']), /bad format of filter/);
  });
});
