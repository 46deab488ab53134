// Typed instructions: one raw instruction (parser.ts) becomes a member of the `Instruction`
// union, discriminated by `kind`, with its flags parsed and checked, following BuildKit's
// instructions/parse.go (same checks, same order, same messages).
//
// Nothing is expanded here: words that Docker expands at build time (ENV/LABEL/ARG values,
// COPY sources and destination, --chown, --chmod, WORKDIR, USER, ...) are kept as written,
// quotes included, and the build expands them with processWord(word, env, { escapeChar })
// when the step runs, because their values depend on ENV/ARG state at that point.

import { applyChmod, ChmodError, parseChmod, type ChmodSpec } from './chmod.js';
import { parseDuration } from './duration.js';
import { DockerfileError, locate } from './errors.js';
import { FlagSet } from './flags.js';
import { chompHeredocContent, parseHeredocWord, type Heredoc } from './heredoc.js';
import type { RawInstruction } from './parser.js';
import { parseRunMount, type RunMount } from './run-mount.js';
import { processWord, type Env } from './shell-lex.js';
import { withSuggestion } from './suggest.js';
import { goQuote, trimSpace } from './text.js';

export { applyChmod, parseChmod, type ChmodSpec };

/** Shell form keeps the text for `SHELL` + "-c"; exec form is the JSON array. */
export type CommandLine = { form: 'shell'; command: string } | { form: 'exec'; args: string[] };

interface Base {
  /** The keyword as written ("RUN", "run", ...). */
  keyword: string;
  startLine: number;
  endLine: number;
  /** The instruction text, trimmed (what history's created_by is built from). */
  original: string;
  /** Raw flags as parsed. */
  flags: string[];
}

export interface KeyValue {
  key: string;
  /** Unexpanded value, quotes kept. */
  value: string;
  /** Written in the legacy `ENV key value` form (no '='). */
  legacy?: boolean;
}

export interface ArgDefinition {
  key: string;
  /** Unexpanded default, quotes kept; undefined for `ARG name`. */
  value?: string;
  /** Doc comment ("# name does x" right above) with the name stripped. */
  comment?: string;
}

/** A heredoc used as a COPY/ADD source: a file named `path` with `data` as content. */
export interface HeredocSource {
  path: string;
  /** Content, leading tabs already removed for `<<-`. */
  data: string;
  /** Expand variables in `data` at build time (delimiter was not quoted): see expandHeredoc. */
  expand: boolean;
}

export interface HealthConfig {
  /** ["NONE"], ["CMD", ...args] or ["CMD-SHELL", command]. */
  test: string[];
  /** Nanoseconds; absent when not given. */
  interval?: number;
  timeout?: number;
  startPeriod?: number;
  startInterval?: number;
  retries?: number;
}

export interface FromInstruction extends Base {
  kind: 'FROM';
  /** Base image or stage name, unexpanded. */
  image: string;
  /** `AS name`, unexpanded; lower-cased unless it uses variables (planBuild expands, lower-cases and validates it). */
  stageName?: string;
  /** --platform, unexpanded. */
  platform?: string;
  /** Doc comment for the stage. */
  comment?: string;
}

export interface RunInstruction extends Base {
  kind: 'RUN';
  command: CommandLine;
  /** Raw --mount values (expand and re-parse with resolveRunMounts at build time). */
  mountSpecs: string[];
  /** --mount values parsed as written; fields that use variables are listed in `unresolved`. */
  mounts: RunMount[];
  /**
   * --network: Docker's "default", "none" or "host"; any other value names a network (a
   * Podman extension, checked by the build when the step runs).
   */
  network: string;
  security: 'sandbox' | 'insecure';
  /** --device values (labs). */
  devices: string[];
  heredocs: Heredoc[];
  /** Names of the flags given. */
  flagsUsed: string[];
}

export interface CmdInstruction extends Base {
  kind: 'CMD';
  command: CommandLine;
  heredocs: Heredoc[];
}

export interface EntrypointInstruction extends Base {
  kind: 'ENTRYPOINT';
  command: CommandLine;
  heredocs: Heredoc[];
}

interface CopyLike extends Base {
  /** Source paths/URLs, unexpanded (heredoc sources excluded). */
  sources: string[];
  /** Heredoc sources (`COPY <<EOF /dest`). */
  sourceContents: HeredocSource[];
  /** Destination, unexpanded. */
  dest: string;
  chown?: string;
  /** --chmod as written (may use variables); see parseChmod/applyChmod. */
  chmod?: string;
  link: boolean;
  exclude: string[];
  /** Arguments were given in JSON form. */
  json: boolean;
  heredocs: Heredoc[];
}

export interface CopyInstruction extends CopyLike {
  kind: 'COPY';
  /** --from: stage name, stage index or image, unexpanded. */
  from?: string;
  parents: boolean;
}

export interface AddInstruction extends CopyLike {
  kind: 'ADD';
  checksum?: string;
  keepGitDir: boolean;
  /** --unpack given explicitly (undefined: default behaviour, archives from the context are unpacked). */
  unpack?: boolean;
}

export interface EnvInstruction extends Base {
  kind: 'ENV';
  pairs: KeyValue[];
}

export interface LabelInstruction extends Base {
  kind: 'LABEL';
  pairs: KeyValue[];
}

export interface ArgInstruction extends Base {
  kind: 'ARG';
  args: ArgDefinition[];
}

export interface ExposeInstruction extends Base {
  kind: 'EXPOSE';
  /** Unexpanded port specs, sorted like BuildKit does. */
  ports: string[];
}

export interface VolumeInstruction extends Base {
  kind: 'VOLUME';
  volumes: string[];
}

export interface UserInstruction extends Base {
  kind: 'USER';
  user: string;
}

export interface WorkdirInstruction extends Base {
  kind: 'WORKDIR';
  path: string;
}

export interface ShellInstruction extends Base {
  kind: 'SHELL';
  shell: string[];
}

export interface StopSignalInstruction extends Base {
  kind: 'STOPSIGNAL';
  signal: string;
}

export interface HealthcheckInstruction extends Base {
  kind: 'HEALTHCHECK';
  health: HealthConfig;
}

export interface MaintainerInstruction extends Base {
  kind: 'MAINTAINER';
  maintainer: string;
}

export interface OnbuildInstruction extends Base {
  kind: 'ONBUILD';
  /** The trigger text stored in the image config (heredoc bodies appended, like BuildKit). */
  expression: string;
  /**
   * The trigger as a typed instruction. BuildKit only checks triggers when an image built on
   * this one runs them, so an invalid trigger is not an error here: trigger is then null and
   * triggerError says why.
   */
  trigger: Instruction | null;
  triggerError?: string;
}

export type Instruction =
  | FromInstruction
  | RunInstruction
  | CmdInstruction
  | EntrypointInstruction
  | CopyInstruction
  | AddInstruction
  | EnvInstruction
  | LabelInstruction
  | ArgInstruction
  | ExposeInstruction
  | VolumeInstruction
  | UserInstruction
  | WorkdirInstruction
  | ShellInstruction
  | StopSignalInstruction
  | HealthcheckInstruction
  | MaintainerInstruction
  | OnbuildInstruction;

export type InstructionKind = Instruction['kind'];

export const INSTRUCTION_NAMES: readonly string[] = [
  'add', 'arg', 'cmd', 'copy', 'entrypoint', 'env', 'expose', 'from', 'healthcheck', 'label',
  'maintainer', 'onbuild', 'run', 'shell', 'stopsignal', 'user', 'volume', 'workdir',
];

export interface ToInstructionOptions {
  /** File name for error messages; "Dockerfile" by default. */
  filename?: string;
}

/**
 * Convert one raw instruction into a typed one. Throws DockerfileError with Docker's message,
 * prefixed with "FILE:LINE: ", for an invalid instruction.
 */
export function toInstruction(raw: RawInstruction, opts: ToInstructionOptions = {}): Instruction {
  try {
    return convert(raw);
  } catch (e) {
    throw locate(e, { file: opts.filename ?? 'Dockerfile', line: raw.startLine, endLine: raw.endLine, instruction: raw.keyword });
  }
}

/** Convert every raw instruction; the first invalid one throws. */
export function toInstructions(raws: readonly RawInstruction[], opts: ToInstructionOptions = {}): Instruction[] {
  return raws.map((r) => toInstruction(r, opts));
}

class InstructionError extends Error {
  override readonly name = 'InstructionError';
}

const fail = (msg: string): never => {
  throw new InstructionError(msg);
};
const errAtLeastOne = (cmd: string) => fail(`${cmd} requires at least one argument`);
const errExactlyOne = (cmd: string) => fail(`${cmd} requires exactly one argument`);
const errNoDestination = (cmd: string) =>
  fail(`${cmd} requires at least two arguments, but only one was provided. Destination could not be determined`);
const errBlankNames = (cmd: string) => fail(`${cmd} names can not be blank`);

function base(raw: RawInstruction): Base {
  return {
    keyword: raw.keyword,
    startLine: raw.startLine,
    endLine: raw.endLine,
    original: trimSpace(raw.original),
    flags: [...raw.flags],
  };
}

/** BuildKit's nodeArgs: ONBUILD contributes the nested keyword and its arguments. */
function nodeArgs(raw: RawInstruction): string[] {
  if (raw.next) return [raw.next.keyword, ...nodeArgs(raw.next)];
  return [...raw.args];
}

function convert(raw: RawInstruction): Instruction {
  const args = nodeArgs(raw);
  const flags = new FlagSet(raw.flags);
  const b = base(raw);
  switch (raw.keyword.toLowerCase()) {
    case 'env': {
      flags.parse();
      return { kind: 'ENV', ...b, pairs: parseKvps(args, 'ENV') };
    }
    case 'label': {
      flags.parse();
      return { kind: 'LABEL', ...b, pairs: parseKvps(args, 'LABEL') };
    }
    case 'maintainer': {
      if (args.length !== 1) errExactlyOne('MAINTAINER');
      flags.parse();
      return { kind: 'MAINTAINER', ...b, maintainer: args[0]! };
    }
    case 'add':
      return parseAdd(raw, args, flags, b);
    case 'copy':
      return parseCopy(raw, args, flags, b);
    case 'from':
      return parseFrom(raw, args, flags, b);
    case 'onbuild':
      return parseOnbuild(raw, args, flags, b);
    case 'workdir': {
      if (args.length !== 1) errExactlyOne('WORKDIR');
      flags.parse();
      return { kind: 'WORKDIR', ...b, path: args[0]! };
    }
    case 'run':
      return parseRun(raw, args, flags, b);
    case 'cmd': {
      flags.parse();
      return { kind: 'CMD', ...b, command: commandLine(args, raw.json), heredocs: [...raw.heredocs] };
    }
    case 'entrypoint': {
      flags.parse();
      return { kind: 'ENTRYPOINT', ...b, command: commandLine(args, raw.json), heredocs: [...raw.heredocs] };
    }
    case 'healthcheck':
      return parseHealthcheck(raw, args, flags, b);
    case 'expose': {
      if (args.length === 0) errAtLeastOne('EXPOSE');
      flags.parse();
      return { kind: 'EXPOSE', ...b, ports: [...args].sort() };
    }
    case 'user': {
      if (args.length !== 1) errExactlyOne('USER');
      flags.parse();
      return { kind: 'USER', ...b, user: args[0]! };
    }
    case 'volume': {
      if (args.length === 0) errAtLeastOne('VOLUME');
      flags.parse();
      const volumes = args.map((v) => {
        const t = trimSpace(v);
        if (t === '') fail('VOLUME specified can not be an empty string');
        return t;
      });
      return { kind: 'VOLUME', ...b, volumes };
    }
    case 'stopsignal': {
      // Upstream does not look at STOPSIGNAL's flags at all.
      if (args.length !== 1) errExactlyOne('STOPSIGNAL');
      return { kind: 'STOPSIGNAL', ...b, signal: args[0]! };
    }
    case 'arg':
      return parseArg(raw, args, flags, b);
    case 'shell': {
      flags.parse();
      if (args.length === 0) errAtLeastOne('SHELL');
      if (!raw.json) fail(errNotJSON('SHELL', raw.original));
      return { kind: 'SHELL', ...b, shell: [...args] };
    }
  }
  return fail(withSuggestion(`unknown instruction: ${raw.keyword}`, raw.keyword, INSTRUCTION_NAMES, false));
}

function parseKvps(args: string[], cmd: string): KeyValue[] {
  if (args.length === 0) errAtLeastOne(cmd);
  if (args.length % 3 !== 0) fail(`Bad input to ${cmd}, too many arguments`);
  const out: KeyValue[] = [];
  for (let i = 0; i < args.length; i += 3) {
    const key = args[i]!;
    if (key === '') errBlankNames(cmd);
    const kv: KeyValue = { key, value: args[i + 1]! };
    if (args[i + 2] === '') kv.legacy = true;
    out.push(kv);
  }
  return out;
}

function commandLine(args: string[], json: boolean): CommandLine {
  if (json) return { form: 'exec', args: [...args] };
  return { form: 'shell', command: args.join(' ') };
}

function parseSourcesAndDest(
  raw: RawInstruction,
  args: string[],
  cmd: string,
): { sources: string[]; sourceContents: HeredocSource[]; dest: string } {
  const srcs = args.slice(0, -1);
  const dest = args[args.length - 1]!;
  if (parseHeredocWord(dest)) fail(`${cmd} cannot accept a heredoc as a destination`);
  const byName = new Map(raw.heredocs.map((h) => [h.name, h] as const));
  const sources: string[] = [];
  const sourceContents: HeredocSource[] = [];
  for (const src of srcs) {
    const h = parseHeredocWord(src);
    if (h) {
      const content = byName.get(h.name)?.content ?? '';
      sourceContents.push({ path: h.name, data: h.chomp ? chompHeredocContent(content) : content, expand: h.expand });
    } else {
      sources.push(src);
    }
  }
  return { sources, sourceContents, dest };
}

/** Check a --chmod value that does not depend on variables (those are checked at build time). */
function checkChmod(value: string | undefined): void {
  if (value === undefined || value.includes('$')) return;
  try {
    parseChmod(value);
  } catch (e) {
    if (e instanceof ChmodError) fail(e.message);
    throw e;
  }
}

function parseAdd(raw: RawInstruction, args: string[], flags: FlagSet, b: Base): AddInstruction {
  if (args.length < 2) errNoDestination('ADD');
  flags
    .addStrings('exclude')
    .addString('chown')
    .addString('chmod')
    .addBool('link')
    .addBool('keep-git-dir')
    .addString('checksum')
    .addBool('unpack')
    .parse();
  const sd = parseSourcesAndDest(raw, args, 'ADD');
  const chmod = flags.optionalString('chmod');
  checkChmod(chmod);
  const out: AddInstruction = {
    kind: 'ADD',
    ...b,
    ...sd,
    link: flags.bool('link'),
    exclude: flags.strings('exclude'),
    json: raw.json,
    heredocs: [...raw.heredocs],
    keepGitDir: flags.bool('keep-git-dir'),
  };
  const chown = flags.optionalString('chown');
  if (chown !== undefined && chown !== '') out.chown = chown;
  if (chmod !== undefined && chmod !== '') out.chmod = chmod;
  const checksum = flags.optionalString('checksum');
  if (checksum !== undefined && checksum !== '') out.checksum = checksum;
  const unpack = flags.optionalBool('unpack');
  if (unpack !== undefined) out.unpack = unpack;
  return out;
}

function parseCopy(raw: RawInstruction, args: string[], flags: FlagSet, b: Base): CopyInstruction {
  if (args.length < 2) errNoDestination('COPY');
  flags
    .addStrings('exclude')
    .addBool('parents')
    .addString('chown')
    .addString('from')
    .addString('chmod')
    .addBool('link')
    .parse();
  const sd = parseSourcesAndDest(raw, args, 'COPY');
  const chmod = flags.optionalString('chmod');
  checkChmod(chmod);
  const out: CopyInstruction = {
    kind: 'COPY',
    ...b,
    ...sd,
    link: flags.bool('link'),
    exclude: flags.strings('exclude'),
    json: raw.json,
    heredocs: [...raw.heredocs],
    parents: flags.bool('parents'),
  };
  const chown = flags.optionalString('chown');
  if (chown !== undefined && chown !== '') out.chown = chown;
  if (chmod !== undefined && chmod !== '') out.chmod = chmod;
  const from = flags.optionalString('from');
  if (from !== undefined && from !== '') out.from = from;
  return out;
}

function parseFrom(raw: RawInstruction, args: string[], flags: FlagSet, b: Base): FromInstruction {
  let stageName: string | undefined;
  if (args.length === 3 && args[1]!.toLowerCase() === 'as') {
    // The name is checked by planBuild after ARG expansion (`FROM x AS ${NAME}` is a
    // Podman/Buildah extension); see validateStageName.
    // Lower-cased unless it uses variables (their names are case-sensitive).
    stageName = args[2]!.includes('$') ? args[2]! : args[2]!.toLowerCase();
  } else if (args.length !== 1) {
    fail('FROM requires either one or three arguments');
  }
  flags.addString('platform').parse();
  const out: FromInstruction = { kind: 'FROM', ...b, image: args[0]! };
  if (stageName !== undefined) {
    out.stageName = stageName;
    const comment = docComment(raw.comments, stageName);
    if (comment !== undefined) out.comment = comment;
  }
  const platform = flags.optionalString('platform');
  if (platform !== undefined && platform !== '') out.platform = platform;
  return out;
}

const validStageName = /^[a-z][a-z0-9-_.]*$/u;

/** BuildKit's rule for stage names; returns the error message or undefined. */
export function validateStageName(name: string, asWritten = name): string | undefined {
  if (validStageName.test(name)) return undefined;
  return `invalid name for build stage: ${goQuote(asWritten)}, name can't start with a number or contain symbols`;
}

/** A doc comment documents `name` when one of its lines starts with "name ". */
function docComment(comments: readonly string[], name: string): string | undefined {
  for (const line of comments) {
    if (line.startsWith(name + ' ')) return line.slice(name.length + 1);
  }
  return undefined;
}

function parseOnbuild(raw: RawInstruction, args: string[], flags: FlagSet, b: Base): OnbuildInstruction {
  if (args.length === 0) errAtLeastOne('ONBUILD');
  flags.parse();
  const trigger = trimSpace(args[0]!).toUpperCase();
  if (trigger === 'ONBUILD') fail('Chaining ONBUILD via `ONBUILD ONBUILD` isn\'t allowed');
  if (trigger === 'MAINTAINER' || trigger === 'FROM') fail(`${trigger} isn't allowed as an ONBUILD trigger`);
  let expression = raw.original.replace(/^[\t\n\f\r ]*ONBUILD[\t\n\f\r ]*/iu, '');
  for (const h of raw.heredocs) expression += '\n' + h.content + h.name;
  const out: OnbuildInstruction = { kind: 'ONBUILD', ...b, expression, trigger: null };
  if (raw.next) {
    try {
      out.trigger = convert({ ...raw.next, heredocs: raw.heredocs, startLine: raw.startLine, endLine: raw.endLine });
    } catch (e) {
      out.triggerError = e instanceof Error ? e.message : String(e);
    }
  }
  return out;
}

const SECURITY_MODES = ['sandbox', 'insecure'] as const;

function parseRun(raw: RawInstruction, args: string[], flags: FlagSet, b: Base): RunInstruction {
  flags.addStrings('mount').addString('network', 'default').addString('security', 'sandbox').addStrings('device').parse();
  const network = flags.string('network');
  if (network === '') fail('invalid network mode ""');
  const security = flags.string('security');
  if (!(SECURITY_MODES as readonly string[]).includes(security)) fail(`security ${goQuote(security)} is not valid`);
  const mountSpecs = flags.strings('mount');
  const mounts = mountSpecs.map((spec) => parseRunMount(spec));
  return {
    kind: 'RUN',
    ...b,
    command: commandLine(args, raw.json),
    mountSpecs,
    mounts,
    network,
    security: security as RunInstruction['security'],
    devices: flags.strings('device'),
    heredocs: [...raw.heredocs],
    flagsUsed: flags.used(),
  };
}

/** How a RUN step runs once heredocs are taken into account (BuildKit's dispatchRun). */
export type RunScript =
  | { form: 'exec'; args: string[] }
  /** Run `command` with the stage's SHELL (e.g. ["/bin/sh", "-c", command]). */
  | { form: 'shell'; command: string }
  /**
   * `RUN <<EOF` whose body starts with "#!": write `data` to an executable file `name` and run
   * it directly (BuildKit mounts it at /dev/pipes/<name>).
   */
  | { form: 'file'; name: string; data: string };

/**
 * The command a RUN executes: exec form as is; shell form as is when there are no heredocs;
 * a lone heredoc (`RUN <<EOF`) runs its body as the shell script (or as a file when it has a
 * shebang); otherwise the heredoc bodies are appended to the command line so the shell sees a
 * real heredoc.
 */
export function runScript(run: RunInstruction): RunScript {
  if (run.command.form === 'exec') return { form: 'exec', args: [...run.command.args] };
  const command = run.command.command;
  if (run.heredocs.length === 0) return { form: 'shell', command };
  const first = run.heredocs[0]!;
  if (parseHeredocWord(command)) {
    const data = first.chomp ? chompHeredocContent(first.content) : first.content;
    if (data.startsWith('#!')) return { form: 'file', name: first.name, data };
    return { form: 'shell', command: data };
  }
  let full = command;
  for (const h of run.heredocs) full += '\n' + h.content + h.name;
  return { form: 'shell', command: full };
}

/**
 * Expand a heredoc body (COPY/ADD `<<EOF` sources with expand: true) the way BuildKit does:
 * variables and backslash escapes are processed, quotes are left alone.
 */
export function expandHeredoc(data: string, env: Env): string {
  return processWord(data, env, { escapeChar: '\\', skipProcessQuotes: true }).result;
}

/** Expand and fully parse a RUN's mounts at build time (expand = one word -> its value). */
export function resolveRunMounts(run: RunInstruction, expand: (word: string) => string): RunMount[] {
  return run.mountSpecs.map((spec) => parseRunMount(spec, expand));
}

// 1ms is the smallest interval Docker accepts (0 means "use the default").
function optInterval(flags: FlagSet, name: string): number | undefined {
  const v = flags.string(name);
  if (v === '') return undefined;
  const d = parseDuration(v);
  if (d === 0) return 0;
  if (d < 1e6) fail(`Interval ${goQuote(name)} cannot be less than 1ms`);
  return d;
}

function parseHealthcheck(raw: RawInstruction, args: string[], flags: FlagSet, b: Base): HealthcheckInstruction {
  if (args.length === 0) errAtLeastOne('HEALTHCHECK');
  const typ = args[0]!.toUpperCase();
  const rest = args.slice(1);
  if (typ === 'NONE') {
    if (rest.length !== 0) fail('HEALTHCHECK NONE takes no arguments');
    return { kind: 'HEALTHCHECK', ...b, health: { test: ['NONE'] } };
  }
  flags
    .addString('interval')
    .addString('timeout')
    .addString('start-period')
    .addString('start-interval')
    .addString('retries')
    .parse();
  if (typ !== 'CMD') fail(`Unknown type ${goQuote(typ)} in HEALTHCHECK (try CMD)`);
  if (rest.length === 0) fail('Missing command after HEALTHCHECK CMD');
  const health: HealthConfig = {
    test: raw.json ? ['CMD', ...rest] : ['CMD-SHELL', rest.join(' ')],
  };
  const interval = optInterval(flags, 'interval');
  if (interval !== undefined) health.interval = interval;
  const timeout = optInterval(flags, 'timeout');
  if (timeout !== undefined) health.timeout = timeout;
  const startPeriod = optInterval(flags, 'start-period');
  if (startPeriod !== undefined) health.startPeriod = startPeriod;
  const startInterval = optInterval(flags, 'start-interval');
  if (startInterval !== undefined) health.startInterval = startInterval;
  const retries = flags.string('retries');
  if (retries !== '') {
    if (!/^[+-]?[0-9]+$/u.test(retries)) fail(`strconv.ParseInt: parsing ${goQuote(retries)}: invalid syntax`);
    const n = Number(retries);
    if (n > 2147483647 || n < -2147483648) fail(`strconv.ParseInt: parsing ${goQuote(retries)}: value out of range`);
    if (n < 0) fail(`--retries cannot be negative (${n})`);
    health.retries = n;
  }
  return { kind: 'HEALTHCHECK', ...b, health };
}

function parseArg(raw: RawInstruction, args: string[], flags: FlagSet, b: Base): ArgInstruction {
  if (args.length < 1) errAtLeastOne('ARG');
  flags.parse();
  const defs = args.map((arg): ArgDefinition => {
    const eq = arg.indexOf('=');
    const def: ArgDefinition = eq >= 0 ? { key: arg.slice(0, eq), value: arg.slice(eq + 1) } : { key: arg };
    if (def.key === '') errBlankNames('ARG');
    const comment = docComment(raw.comments, def.key);
    if (comment !== undefined) def.comment = comment;
    return def;
  });
  return { kind: 'ARG', ...b, args: defs };
}

function errNotJSON(cmd: string, original: string): string {
  // A hint for Windows paths written with single backslashes inside a JSON array.
  const lower = original.toLowerCase();
  let extra = '';
  if (/"[a-z]:\\/u.test(lower) && !lower.includes('\\\\') && lower.includes('[') && lower.includes(']')) {
    extra = `. It looks like '${lower}' includes a file path without an escaped back-slash. JSON requires back-slashes to be escaped such as ["c:\\\\path\\\\to\\\\file.exe", "/parameter"]`;
  }
  return `${cmd} requires the arguments to be in JSON form${extra}`;
}

/** Is `e` an error raised for a bad instruction (as opposed to a bug)? */
export function isDockerfileError(e: unknown): e is DockerfileError {
  return e instanceof DockerfileError;
}
