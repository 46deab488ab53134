// What `kiln events` reports, as Docker's daemon does: one JSON line per event in
// <state>/events.log. Daemonless, like Podman's file backend: every command appends the events it
// causes, and a reader follows the file. Each event is one write(2) on an O_APPEND descriptor, so
// two kiln commands at once never interleave a line. Past 4 MiB the log is renamed to events.log.1
// (one older file kept), so it never grows without bound.
import { appendFileSync, closeSync, fstatSync, openSync, readSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';

export type EventType = 'container' | 'image' | 'network' | 'volume';

/** An event in the shape of Docker's events API (`docker events --format '{{json .}}'`). */
export interface KilnEvent {
  Type: EventType;
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: 'local';
  /** seconds since the epoch */
  time: number;
  timeNano: number;
  /** Docker's older fields, still printed by its API: the action, the object, the image. */
  status?: string;
  id?: string;
  from?: string;
}

const MAX_BYTES = 4 << 20;

export function eventLogPath(stateRoot: string): string {
  return join(stateRoot, 'events.log');
}

/** Appends an event; a failure to record one never fails the command that caused it. */
export function recordEvent(stateRoot: string, type: EventType, action: string, id: string, attributes: Record<string, string> = {}): void {
  const now = Date.now();
  const ev: KilnEvent = {
    ...(type === 'container' || type === 'image' ? { status: action, id, ...(type === 'container' && attributes.image ? { from: attributes.image } : {}) } : {}),
    Type: type,
    Action: action,
    Actor: { ID: id, Attributes: attributes },
    scope: 'local',
    time: Math.floor(now / 1000),
    timeNano: now * 1e6,
  };
  const file = eventLogPath(stateRoot);
  try {
    if ((statSync(file, { throwIfNoEntry: false })?.size ?? 0) > MAX_BYTES) renameSync(file, `${file}.1`);
    appendFileSync(file, `${JSON.stringify(ev)}\n`);
  } catch {
    /* a read-only or vanished state directory: the event is lost, the command goes on */
  }
}

/**
 * The complete lines of `file` from byte `offset` on, parsed; and the offset after the last one
 * (a line still being written is left for the next read).
 */
export function readEventsFrom(file: string, offset: number): { events: KilnEvent[]; next: number } {
  // Only the bytes after `offset`: a follower polls, and the log may hold megabytes.
  let buf: Buffer;
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return { events: [], next: 0 };
  }
  try {
    const size = fstatSync(fd).size;
    if (size < offset) offset = 0; // rotated meanwhile: the new file starts over
    buf = Buffer.alloc(size - offset);
    for (let n = 0; n < buf.length; ) {
      const got = readSync(fd, buf, n, buf.length - n, offset + n);
      if (got === 0) break;
      n += got;
    }
  } finally {
    closeSync(fd);
  }
  const end = buf.lastIndexOf(0x0a) + 1;
  if (end === 0) return { events: [], next: offset };
  const events: KilnEvent[] = [];
  for (const line of buf.subarray(0, end).toString('utf8').split('\n')) {
    if (!line) continue;
    try {
      events.push(JSON.parse(line) as KilnEvent);
    } catch {
      /* a torn line from a crash: skipped */
    }
  }
  return { events, next: offset + end };
}
