// Instruction flags (`COPY --from=x`, `RUN --mount=...`) with the rules of BuildKit's
// instructions/bflag.go: every instruction declares the flags it knows, then the raw flag
// words are checked against them. Error texts follow upstream ("unknown flag: --boo",
// "duplicate flag specified: --from", "missing a value on flag: --chown", ...).

import { FrontendError } from './errors.js';
import { withSuggestion } from './suggest.js';

type FlagType = 'bool' | 'string' | 'strings';

interface FlagDef {
  type: FlagType;
  value: string;
  values: string[];
  used: boolean;
}

export class FlagError extends FrontendError {
  override readonly name = 'FlagError';
}

export class FlagSet {
  private readonly defs = new Map<string, FlagDef>();
  private readonly usedOrder: string[] = [];

  constructor(private readonly args: readonly string[]) {}

  addBool(name: string, def = false): this {
    this.defs.set(name, { type: 'bool', value: def ? 'true' : 'false', values: [], used: false });
    return this;
  }

  addString(name: string, def = ''): this {
    this.defs.set(name, { type: 'string', value: def, values: [], used: false });
    return this;
  }

  addStrings(name: string): this {
    this.defs.set(name, { type: 'strings', value: '', values: [], used: false });
    return this;
  }

  /** Check the raw flags against the declared ones and record their values. */
  parse(): this {
    for (const a of this.args) {
      // `--` ends option processing (POSIX utility syntax guidelines).
      if (a === '--') return this;
      if (!a.startsWith('--')) throw new FlagError(`arg should start with -- : ${a}`);
      const eq = a.indexOf('=');
      const hasValue = eq >= 0;
      const flagName = hasValue ? a.slice(0, eq) : a;
      const value = hasValue ? a.slice(eq + 1) : '';
      const name = flagName.slice(2);
      const def = this.defs.get(name);
      if (!def) {
        throw new FlagError(withSuggestion(`unknown flag: ${flagName}`, name, [...this.defs.keys()], true));
      }
      if (def.used && def.type !== 'strings') throw new FlagError(`duplicate flag specified: ${flagName}`);
      if (!def.used) this.usedOrder.push(name);
      def.used = true;
      switch (def.type) {
        case 'bool':
          // A bare flag means true; `--flag=` is an error.
          if (hasValue && value === '') throw new FlagError(`missing a value on flag: ${flagName}`);
          switch (value.toLowerCase()) {
            case '':
            case 'true':
              def.value = 'true';
              break;
            case 'false':
              def.value = 'false';
              break;
            default:
              throw new FlagError(`expecting boolean value for flag ${flagName}, not: ${value}`);
          }
          break;
        case 'string':
          if (!hasValue) throw new FlagError(`missing a value on flag: ${flagName}`);
          def.value = value;
          break;
        case 'strings':
          if (!hasValue) throw new FlagError(`missing a value on flag: ${flagName}`);
          def.values.push(value);
          break;
      }
    }
    return this;
  }

  string(name: string): string {
    return this.def(name).value;
  }

  /** Value of a string flag, or undefined when the flag was not given. */
  optionalString(name: string): string | undefined {
    const d = this.def(name);
    return d.used ? d.value : undefined;
  }

  strings(name: string): string[] {
    return [...this.def(name).values];
  }

  bool(name: string): boolean {
    return this.def(name).value === 'true';
  }

  /** Value of a bool flag, or undefined when the flag was not given. */
  optionalBool(name: string): boolean | undefined {
    const d = this.def(name);
    return d.used ? d.value === 'true' : undefined;
  }

  isUsed(name: string): boolean {
    return this.def(name).used;
  }

  /** Names of the flags that were given, in first-use order. */
  used(): string[] {
    return [...this.usedOrder];
  }

  private def(name: string): FlagDef {
    const d = this.defs.get(name);
    if (!d) throw new Error(`flag ${name} was not declared`);
    return d;
  }
}
