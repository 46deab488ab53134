// RUN --mount=type=bind|cache|tmpfs|secret|ssh,... (BuildKit's instructions/commands_runmount.go).
//
// A mount spec is one CSV record of key=value fields (plus the bare words ro/rw/readonly/
// readwrite/required). Values may contain build variables, which BuildKit expands when the
// step runs; so there are two passes:
//  * parseRunMount(spec) at parse time checks what it can without variables (fields whose
//    value contains `$` are left unresolved; `from` may never use variables);
//  * parseRunMount(spec, expand) at dispatch time expands every value and validates fully.

import { FrontendError } from './errors.js';
import { withSuggestion } from './suggest.js';

export type MountType = 'bind' | 'cache' | 'tmpfs' | 'secret' | 'ssh';
export type MountSharing = 'shared' | 'private' | 'locked';

export interface RunMount {
  type: MountType;
  /** Stage name/index or image the bind/cache source comes from. */
  from?: string;
  source?: string;
  target?: string;
  readOnly: boolean;
  /** Cache id (type=cache) or secret/ssh id. */
  id?: string;
  sharing?: MountSharing;
  /** secret/ssh: fail the build when the secret or agent is missing. */
  required?: boolean;
  mode?: number;
  uid?: number;
  gid?: number;
  /** tmpfs size limit in bytes. */
  size?: number;
  /** secret: expose the secret as this environment variable instead of a file. */
  env?: string;
  /** SELinux relabelling asked with the Podman/Buildah options `z` (shared) or `Z` (private). */
  relabel?: 'shared' | 'private';
  /** Fields left unresolved because their value uses variables (parse-time pass only). */
  unresolved?: string[];
}

export class MountError extends FrontendError {
  override readonly name = 'MountError';
}

const MOUNT_TYPES: readonly MountType[] = ['bind', 'cache', 'tmpfs', 'secret', 'ssh'];
const SHARING: readonly MountSharing[] = ['shared', 'private', 'locked'];
const ALL_KEYS = [
  'type', 'from', 'source', 'target', 'readonly', 'id', 'sharing', 'required', 'mode', 'uid', 'gid',
  'src', 'dst', 'ro', 'rw', 'readwrite', 'size', 'env', 'destination', 'relabel',
];

/**
 * Parse one --mount value. Without `expand`, values that contain `$` are not interpreted
 * (listed in `unresolved`) and type-dependent checks are skipped if the type itself is unresolved.
 */
export function parseRunMount(spec: string, expand?: (word: string) => string): RunMount {
  let fields: string[];
  try {
    fields = readCsvRecord(spec);
  } catch (e) {
    throw new MountError(`failed to parse csv mounts: ${(e as Error).message}`);
  }
  const m: RunMount = { type: 'bind', readOnly: false };
  let roAuto = true;
  let typeUnresolved = false;
  const unresolved: string[] = [];

  for (const field of fields) {
    const eq = field.indexOf('=');
    const key = (eq < 0 ? field : field.slice(0, eq)).toLowerCase();
    if (eq < 0) {
      switch (key) {
        case 'readonly':
        case 'ro':
          m.readOnly = true;
          roAuto = false;
          continue;
        case 'readwrite':
        case 'rw':
          m.readOnly = false;
          roAuto = false;
          continue;
        case 'required':
          if (m.type === 'secret' || m.type === 'ssh' || typeUnresolved) {
            m.required = true;
            continue;
          }
          throw new MountError(`unexpected key '${key}' for mount type '${m.type}'`);
        case 'z': // `z` or `Z` (key is lower-cased)
          m.relabel = field === 'Z' ? 'private' : 'shared';
          continue;
        default:
          // BuildKit only rejects unknown bare words when the step runs.
          if (!expand) {
            unresolved.push(field);
            continue;
          }
          throw new MountError(`invalid field '${field}' must be a key=value pair`);
      }
    }
    let value = field.slice(eq + 1);
    if (expand) {
      value = expand(value);
    } else {
      if (key === 'from' && /\$[^\n]/u.test(value)) {
        throw new MountError(`'${key}' doesn't support variable expansion, define alias stage instead`);
      }
      if (value.includes('$')) {
        unresolved.push(key);
        if (key === 'type') typeUnresolved = true;
        // Keep free-text values as written so the caller can still show them.
        if (key === 'source' || key === 'src') m.source = value;
        else if (key === 'target' || key === 'dst' || key === 'destination') m.target = value;
        else if (key === 'id') m.id = value;
        else if (key === 'env') m.env = value;
        if (key === 'readonly' || key === 'ro' || key === 'readwrite' || key === 'rw') roAuto = false;
        continue;
      }
    }

    switch (key) {
      case 'type': {
        const v = value.toLowerCase() as MountType;
        if (!MOUNT_TYPES.includes(v)) {
          throw new MountError(withSuggestion(`unsupported mount type "${value}"`, value, MOUNT_TYPES, true));
        }
        m.type = v;
        break;
      }
      case 'from':
        m.from = value;
        break;
      case 'source':
      case 'src':
        m.source = value;
        break;
      case 'target':
      case 'dst':
      case 'destination':
        m.target = value;
        break;
      case 'readonly':
      case 'ro':
        m.readOnly = parseBool(key, value);
        roAuto = false;
        break;
      case 'readwrite':
      case 'rw':
        m.readOnly = !parseBool(key, value);
        roAuto = false;
        break;
      case 'required':
        if (m.type === 'secret' || m.type === 'ssh' || typeUnresolved) m.required = parseBool(key, value);
        else throw new MountError(`unexpected key '${key}' for mount type '${m.type}'`);
        break;
      case 'size':
        if (m.type !== 'tmpfs' && !typeUnresolved) throw new MountError(`unexpected key '${key}' for mount type '${m.type}'`);
        m.size = ramInBytes(key, value);
        break;
      case 'id':
        m.id = value;
        break;
      case 'sharing': {
        const v = value.toLowerCase() as MountSharing;
        if (!SHARING.includes(v)) {
          throw new MountError(withSuggestion(`unsupported sharing value "${value}"`, value, SHARING, true));
        }
        m.sharing = v;
        break;
      }
      case 'mode':
        if (!/^[0-7]+$/u.test(value) || Number.parseInt(value, 8) > 0xffffffff) {
          throw new MountError(`invalid value ${value} for mode`);
        }
        m.mode = Number.parseInt(value, 8);
        break;
      case 'uid':
      case 'gid': {
        if (!/^[0-9]+$/u.test(value) || Number(value) > 0xffffffff) throw new MountError(`invalid value ${value} for ${key}`);
        if (key === 'uid') m.uid = Number(value);
        else m.gid = Number(value);
        break;
      }
      case 'env':
        m.env = value;
        break;
      case 'relabel':
        if (value !== 'shared' && value !== 'private') throw new MountError(`invalid value for ${key}: ${value}`);
        m.relabel = value;
        break;
      default:
        throw new MountError(withSuggestion(`unexpected key '${key}' in '${field}'`, key, ALL_KEYS, true));
    }
  }

  if (unresolved.length > 0) m.unresolved = unresolved;
  if (!typeUnresolved) validateMount(m, roAuto);
  else if (roAuto) m.readOnly = false;
  return m;
}

function validateMount(m: RunMount, roAuto: boolean): void {
  const fileInfoAllowed = m.type === 'secret' || m.type === 'ssh' || m.type === 'cache';
  if (!fileInfoAllowed) {
    if (m.mode !== undefined) throw new MountError(`mode not allowed for "${m.type}" type mounts`);
    if (m.uid !== undefined) throw new MountError(`uid not allowed for "${m.type}" type mounts`);
    if (m.gid !== undefined) throw new MountError(`gid not allowed for "${m.type}" type mounts`);
  }
  // Bind mounts (and secrets, ssh) are read-only unless asked otherwise; caches and tmpfs are writable.
  if (roAuto) m.readOnly = !(m.type === 'cache' || m.type === 'tmpfs');
  if (m.type === 'secret') {
    if (m.from !== undefined && m.from !== '') throw new MountError('secret mount should not have a from');
    if (m.sharing) throw new MountError('secret mount should not define sharing');
    if (!m.source && !m.target && !m.id && !m.env) {
      throw new MountError('invalid secret mount. one of source, target required');
    }
    if (m.source && m.id) throw new MountError("both source and id can't be set");
  }
  if (m.sharing && m.type !== 'cache') throw new MountError(`invalid cache sharing set for ${m.type} mount`);
}

function parseBool(key: string, value: string): boolean {
  // Go's strconv.ParseBool
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(value)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(value)) return false;
  throw new MountError(`invalid value for ${key}: ${value}`);
}

// docker/go-units RAMInBytes: "64m", "1.5g", "1024", "2 GiB" (binary multiples).
function ramInBytes(key: string, value: string): number {
  const m = /^(\d+(?:\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$/u.exec(value);
  const n = m ? Number.parseFloat(m[1]!) : Number.NaN;
  if (!m || Number.isNaN(n)) throw new MountError(`invalid value for ${key}: ${value}`);
  const mul: Record<string, number> = { k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40, p: 2 ** 50 };
  const unit = (m[2] ?? '').toLowerCase();
  return Math.trunc(unit ? n * mul[unit]! : n);
}

/**
 * One CSV record the way Go's encoding/csv reads it (comma separator, strict quotes,
 * leading spaces kept): `a,"b,c",d` gives ["a", "b,c", "d"]; `""` inside quotes is a quote.
 */
export function readCsvRecord(line: string): string[] {
  const fields: string[] = [];
  let i = 0;
  const n = line.length;
  for (;;) {
    if (i < n && line[i] === '"') {
      // quoted field
      let value = '';
      let j = i + 1;
      for (;;) {
        const q = line.indexOf('"', j);
        if (q < 0) throw new Error(`parse error on line 1, column ${n + 1}: extraneous or missing " in quoted-field`);
        value += line.slice(j, q);
        if (line[q + 1] === '"') {
          value += '"';
          j = q + 2;
          continue;
        }
        if (q + 1 === n || line[q + 1] === ',') {
          i = q + 1;
          break;
        }
        throw new Error(`parse error on line 1, column ${q + 2}: extraneous or missing " in quoted-field`);
      }
      fields.push(value);
    } else {
      const c = line.indexOf(',', i);
      const end = c < 0 ? n : c;
      const value = line.slice(i, end);
      const bare = value.indexOf('"');
      if (bare >= 0) throw new Error(`parse error on line 1, column ${i + bare + 1}: bare " in non-quoted-field`);
      fields.push(value);
      i = end;
    }
    if (i >= n) break;
    i++; // the comma
    if (i === n) {
      fields.push('');
      break;
    }
  }
  return fields;
}
