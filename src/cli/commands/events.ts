// `kiln events [--since T] [--until T] [-f KEY=VALUE]… [--format TPL]` (also `kiln system
// events`): what happened to containers, images, networks and volumes, read from the event log
// every kiln command appends to (store/event-log.ts). As with Docker, past events are shown only
// from --since on; without --until the command then follows the log until interrupted. It never
// opens the store: a long-running reader must not count as a session that holds back prune.
import type { Command } from 'commander';
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CliError, type CliContext } from '../context.js';
import { formatObject } from '../format/index.js';
import { eventLogPath, readEventsFrom, type KilnEvent } from '../../store/event-log.js';
import { parseTime } from './logs.js';
import { groupFilters } from '../filters.js';

const collect = (v: string, prev: string[] = []) => [...prev, v];
const POLL_MS = 100;

/** Docker's filter keys; values of one key match if any does, keys must all match. */
export function eventFilter(specs: readonly string[]): (e: KilnEvent) => boolean {
  const byKey = groupFilters(specs);
  const attr = (e: KilnEvent, k: string) => e.Actor.Attributes[k];
  const tests: ((e: KilnEvent) => boolean)[] = [];
  for (const [k, vals] of byKey) {
    const any = (test: (e: KilnEvent, v: string) => boolean) => tests.push((e) => vals.some((v) => test(e, v)));
    const named = (type: KilnEvent['Type']) => (e: KilnEvent, v: string) => e.Type === type && (e.Actor.ID === v || (v.length >= 3 && e.Actor.ID.startsWith(v)) || attr(e, 'name') === v);
    switch (k) {
      case 'type':
        any((e, v) => e.Type === v);
        break;
      case 'event':
        // exec_start: sh → exec_start, as Docker matches it.
        any((e, v) => e.Action === v || e.Action.split(':')[0] === v);
        break;
      case 'container':
        any((e, v) => named('container')(e, v) || (e.Type === 'network' && attr(e, 'container') === v));
        break;
      case 'image':
        any((e, v) => (e.Type === 'container' && attr(e, 'image') === v) || named('image')(e, v));
        break;
      case 'network':
        any(named('network'));
        break;
      case 'volume':
        any(named('volume'));
        break;
      case 'label':
        any((e, v) => {
          const eq = v.indexOf('=');
          return eq < 0 ? v in e.Actor.Attributes : attr(e, v.slice(0, eq)) === v.slice(eq + 1);
        });
        break;
      case 'scope':
        any((e, v) => e.scope === v);
        break;
      default:
        throw new CliError(`invalid filter '${k}'`);
    }
  }
  return (e) => tests.every((t) => t(e));
}

/** Docker's line: `2026-11-23T16:13:01.123000000Z container create ID (image=busybox, name=web)`. */
export function formatEventLine(e: KilnEvent): string {
  // Events are stamped to the millisecond; Docker prints nanoseconds.
  const time = `${new Date(Math.round(e.timeNano / 1e6)).toISOString().slice(0, -1)}000000Z`;
  const attrs = Object.keys(e.Actor.Attributes)
    .sort()
    .map((k) => `${k}=${e.Actor.Attributes[k]}`)
    .join(', ');
  return `${time} ${e.Type} ${e.Action} ${e.Actor.ID}${attrs ? ` (${attrs})` : ''}\n`;
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('events')
    .description('Get real time events from kiln commands')
    .option('--since <t>', 'show events since timestamp or relative (e.g. 42m)')
    .option('--until <t>', 'stream events until this timestamp or relative')
    .option('-f, --filter <k=v>', 'filter: container, event, image, label, network, type, volume, scope; repeatable', collect, [])
    .option('--format <fmt>', "'json' or a Go template")
    .action(async (o: { since?: string; until?: string; filter: string[]; format?: string }) => {
      const since = parseTime(o.since);
      const until = parseTime(o.until);
      const keep = eventFilter(o.filter);
      const file = eventLogPath(resolve(ctx.globals().root));
      const print = (e: KilnEvent) => process.stdout.write(o.format ? formatObject(e, o.format) : formatEventLine(e));
      const inWindow = (e: KilnEvent) => (since === undefined || e.timeNano / 1e6 >= since) && (until === undefined || e.timeNano / 1e6 <= until);
      let offset = 0;
      if (since !== undefined) {
        // The rotated-out file first: --since may reach back before the last rotation.
        for (const e of readEventsFrom(`${file}.1`, 0).events) if (inWindow(e) && keep(e)) print(e);
        const r = readEventsFrom(file, 0);
        for (const e of r.events) if (inWindow(e) && keep(e)) print(e);
        offset = r.next;
      } else offset = existsSync(file) ? statSync(file).size : 0;
      if (until !== undefined && until <= Date.now()) return;

      let stop = false;
      const onSignal = () => {
        stop = true;
      };
      process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
      try {
        while (!stop && (until === undefined || Date.now() <= until)) {
          const r = readEventsFrom(file, offset);
          offset = r.next;
          for (const e of r.events) if (inWindow(e) && keep(e)) print(e);
          await sleep(POLL_MS);
        }
      } finally {
        process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
      }
    });
}
