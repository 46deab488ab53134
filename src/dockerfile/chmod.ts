// COPY/ADD --chmod values: octal ("755", "0644", at most 07777) or symbolic like chmod(1)
// ("u=rwx,g=rx,o=", "a+x", "go-w", "u+X"). Parsing is separate from applying because a
// symbolic mode is relative to each copied file's own mode (and X depends on the file type).

import { FrontendError } from './errors.js';

export type ChmodSpec =
  | { kind: 'octal'; mode: number }
  | { kind: 'symbolic'; clauses: ChmodClause[]; text: string };

export interface ChmodClause {
  /** Bits of u/g/o selected by the "who" letters; 'a' or none selects all. */
  who: { u: boolean; g: boolean; o: boolean };
  actions: { op: '+' | '-' | '='; perms: string }[];
}

export class ChmodError extends FrontendError {
  override readonly name = 'ChmodError';
}

const clauseRe = /^([ugoa]*)((?:[-+=](?:[ugo]|[rwxXst]*))+)$/u;

/** Parse a --chmod value. Throws ChmodError with Docker's message for an invalid one. */
export function parseChmod(value: string): ChmodSpec {
  if (/^[0-7]+$/u.test(value)) {
    const mode = Number.parseInt(value, 8);
    if (mode > 0o7777) throw invalid(value);
    return { kind: 'octal', mode };
  }
  if (value === '') throw invalid(value);
  const clauses: ChmodClause[] = [];
  for (const part of value.split(',')) {
    const m = clauseRe.exec(part);
    if (!m) throw invalid(value);
    const letters = m[1]!;
    const all = letters === '' || letters.includes('a');
    const who = { u: all || letters.includes('u'), g: all || letters.includes('g'), o: all || letters.includes('o') };
    const actions: ChmodClause['actions'] = [];
    for (const a of m[2]!.matchAll(/([-+=])([ugo]|[rwxXst]*)/gu)) {
      actions.push({ op: a[1] as '+' | '-' | '=', perms: a[2]! });
    }
    clauses.push({ who, actions });
  }
  return { kind: 'symbolic', clauses, text: value };
}

function invalid(value: string): ChmodError {
  return new ChmodError(`invalid chmod parameter ${value}. it should be octal string and between 0 and 07777, or a symbolic mode`);
}

/**
 * The mode a file gets: an octal spec replaces the permission bits, a symbolic one edits
 * `current` (only its 07777 bits are touched). `X` adds execute only for directories or
 * files that already have an execute bit.
 */
export function applyChmod(spec: ChmodSpec, current: number, isDir: boolean): number {
  if (spec.kind === 'octal') return (current & ~0o7777) | spec.mode;
  let mode = current;
  for (const clause of spec.clauses) {
    const shifts: number[] = [];
    if (clause.who.u) shifts.push(6);
    if (clause.who.g) shifts.push(3);
    if (clause.who.o) shifts.push(0);
    for (const act of clause.actions) {
      let bits = 0;
      let special = 0;
      if (act.perms === 'u' || act.perms === 'g' || act.perms === 'o') {
        // Copy the permissions another class currently has.
        const from = act.perms === 'u' ? 6 : act.perms === 'g' ? 3 : 0;
        const rwx = (mode >> from) & 7;
        for (const sh of shifts) bits |= rwx << sh;
      } else {
        let rwx = 0;
        for (const p of act.perms) {
          if (p === 'r') rwx |= 4;
          else if (p === 'w') rwx |= 2;
          else if (p === 'x') rwx |= 1;
          else if (p === 'X') {
            if (isDir || (mode & 0o111) !== 0) rwx |= 1;
          } else if (p === 's') {
            if (clause.who.u) special |= 0o4000;
            if (clause.who.g) special |= 0o2000;
          } else if (p === 't') {
            special |= 0o1000;
          }
        }
        for (const sh of shifts) bits |= rwx << sh;
      }
      if (act.op === '+') mode |= bits | special;
      else if (act.op === '-') mode &= ~(bits | special);
      else {
        let mask = 0;
        for (const sh of shifts) mask |= 7 << sh;
        if (clause.who.u) mask |= 0o4000;
        if (clause.who.g) mask |= 0o2000;
        mode = (mode & ~mask) | bits | special;
      }
    }
  }
  return mode;
}
