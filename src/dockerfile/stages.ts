// The stage graph of a Dockerfile, as BuildKit's dockerfile2llb builds it before running
// anything:
//
//  * ARGs before the first FROM are global ("meta") args: a --build-arg overrides the
//    default, a default is expanded with the args declared above it and the predefined
//    platform args (TARGETPLATFORM, TARGETOS, TARGETARCH, TARGETVARIANT, BUILDPLATFORM, ...);
//    FROM lines (image, --platform, and, as in Podman, the stage name) are expanded with them;
//  * `FROM x` names an earlier stage when x equals an earlier stage's name (exactly, after
//    expansion), `scratch` is the empty image, anything else is an image reference;
//  * COPY --from=x names a stage (by name, any position in the file, or by index) or an
//    image; RUN --mount=from=x names a stage by name or an image;
//  * the target stage (--target, or the last one) and every stage it needs transitively
//    are kept, in an order where each stage comes after the stages it depends on;
//  * a cycle of COPY --from references is an error, as is an unknown --target.
//
// Nothing here runs or pulls anything; it is a pure function of the text and options.

import { DockerfileError, locate, type ErrorLocation } from './errors.js';
import {
  toInstruction,
  validateStageName,
  type ArgDefinition,
  type FromInstruction,
  type Instruction,
} from './instructions.js';
import { parseDockerfile, type ParseWarning } from './parser.js';
import { DEFAULT_PLATFORM, formatPlatform, parsePlatform, platformArgs, type Platform } from './platform.js';
import { processWord, type Env } from './shell-lex.js';
import { goQuote } from './text.js';

export interface PlanOptions {
  /** File name for messages; "Dockerfile" by default. */
  filename?: string;
  /** --build-arg values. */
  buildArgs?: Readonly<Record<string, string>>;
  /** --target stage name; the last stage when absent. */
  target?: string;
  /** Platform to build for; linux/amd64 by default. */
  targetPlatform?: string;
  /** Platform of the builder; linux/amd64 by default. */
  buildPlatform?: string;
}

export type StageBase = { kind: 'scratch' } | { kind: 'stage'; index: number } | { kind: 'image'; ref: string };

/** A COPY --from or RUN --mount from= inside a stage. */
export interface StageReference {
  /** Index of the instruction in Stage.instructions. */
  instruction: number;
  /** The reference after expansion, as written. */
  from: string;
  source: { kind: 'stage'; index: number } | { kind: 'image'; ref: string };
  line: number;
}

export interface Stage {
  /** Position among all stages of the file (0-based); what `COPY --from=N` counts. */
  index: number;
  /** `AS name` after expansion, lower-cased. */
  name?: string;
  /** What BuildKit calls the stage in messages: the name or "stage-N". */
  displayName: string;
  from: FromInstruction;
  /** The FROM argument after expansion. */
  baseName: string;
  base: StageBase;
  /** --platform after expansion, normalized ("linux/arm64"). */
  platform?: string;
  /** Instructions after FROM, in order. */
  instructions: Instruction[];
  /** Stages this one needs (its base and the stages it copies or mounts from), ascending. */
  dependsOn: number[];
  references: StageReference[];
}

export interface GlobalArg {
  key: string;
  /** Resolved value: the --build-arg, else the expanded default; undefined when neither. */
  value?: string;
  line: number;
}

export interface BuildPlan {
  /** The stages the target needs, dependencies first, the target last. */
  stages: Stage[];
  /** Every stage of the file, in file order. */
  allStages: Stage[];
  target: Stage;
  /** ARGs before the first FROM, resolved. */
  globalArgs: GlobalArg[];
  /** Variables FROM lines are expanded with: platform args and global args (unset ones as ""). */
  globalScope: Record<string, string>;
  /** The predefined platform args. */
  platformArgs: Record<string, string>;
  buildArgs: Record<string, string>;
  /** Parser warnings plus planning warnings (duplicate stage names, ...). */
  warnings: ParseWarning[];
  /** --build-arg names no ARG in the global scope or a needed stage declares. */
  unusedBuildArgs: string[];
  directives: Record<string, string>;
  escapeChar: string;
}

/** Build args Docker accepts without an ARG declaration. */
export const BUILTIN_BUILD_ARGS: readonly string[] = [
  'HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'FTP_PROXY', 'ftp_proxy',
  'NO_PROXY', 'no_proxy', 'ALL_PROXY', 'all_proxy', 'SOURCE_DATE_EPOCH',
];

const hasOwn = (o: object, k: string) => Object.prototype.hasOwnProperty.call(o, k);

/** Parse, type and plan a Dockerfile. Throws DockerfileError with FILE:LINE for problems. */
export function planBuild(text: string, opts: PlanOptions = {}): BuildPlan {
  const file = opts.filename ?? 'Dockerfile';
  const buildArgs: Record<string, string> = { ...(opts.buildArgs ?? {}) };
  const parsed = parseDockerfile(text, { filename: file });
  const escapeChar = parsed.escapeChar;
  const warnings: ParseWarning[] = [...parsed.warnings];
  const lex = { escapeChar };

  let target: Platform;
  let build: Platform;
  try {
    target = opts.targetPlatform ? parsePlatform(opts.targetPlatform) : DEFAULT_PLATFORM;
    build = opts.buildPlatform ? parsePlatform(opts.buildPlatform) : DEFAULT_PLATFORM;
  } catch (e) {
    throw locate(e, { file });
  }
  const pArgs = platformArgs(target, build);

  // Global scope: platform args (a build arg may override them), then the meta ARGs.
  const globalValues = new Map<string, string | undefined>();
  for (const [k, v] of Object.entries(pArgs)) globalValues.set(k, hasOwn(buildArgs, k) ? buildArgs[k] : v);
  const scope = (): Map<string, string> => new Map([...globalValues].map(([k, v]) => [k, v ?? '']));

  const globalArgs: GlobalArg[] = [];
  const declared = new Set<string>();
  const stages: Stage[] = [];
  let current: Stage | undefined;

  for (const raw of parsed.instructions) {
    const instr = toInstruction(raw, { filename: file });
    const loc = { file, line: raw.startLine, endLine: raw.endLine, instruction: raw.keyword };
    if (instr.kind === 'FROM') {
      current = newStage(instr, stages.length, scope(), lex, loc);
      stages.push(current);
      continue;
    }
    if (!current) {
      if (instr.kind !== 'ARG') throw new DockerfileError('no build stage in current context', loc);
      for (const def of instr.args) {
        declared.add(def.key);
        let value: string | undefined;
        if (hasOwn(buildArgs, def.key)) value = buildArgs[def.key];
        else if (def.value !== undefined) value = expand(def.value, scope(), lex, loc);
        globalValues.set(def.key, value);
        globalArgs.push(value === undefined ? { key: def.key, line: raw.startLine } : { key: def.key, value, line: raw.startLine });
      }
      continue;
    }
    current.instructions.push(instr);
  }
  if (stages.length === 0) throw new DockerfileError('no build stage in current context', { file });

  // Names: later definitions win lookups (BuildKit keeps the last one), with a warning.
  const byName = new Map<string, Stage>();
  for (const st of stages) {
    if (st.name === undefined) continue;
    if (byName.has(st.name)) {
      warnings.push({
        message: `Duplicate stage name ${goQuote(st.name)}, stage names should be unique`,
        line: st.from.startLine,
        endLine: st.from.endLine,
      });
    }
    byName.set(st.name, st);
  }

  // Bases: only stages defined ABOVE can be a base; a later stage's name is an image name.
  const namesSoFar = new Map<string, Stage>();
  for (const st of stages) {
    if (st.baseName === 'scratch') st.base = { kind: 'scratch' };
    else {
      const prev = namesSoFar.get(st.baseName);
      if (prev) st.base = { kind: 'stage', index: prev.index };
      else {
        st.base = { kind: 'image', ref: st.baseName };
        const later = byName.get(st.baseName);
        if (later && later.index >= st.index) {
          warnings.push({
            message: `FROM ${st.baseName}: the stage ${goQuote(st.baseName)} is defined later in the file, so the image ${goQuote(st.baseName)} is used`,
            line: st.from.startLine,
            endLine: st.from.endLine,
          });
        }
      }
    }
    if (st.name !== undefined) namesSoFar.set(st.name, st);
  }

  // References from COPY --from and RUN --mount=from=.
  const globalEnv = scope();
  for (const st of stages) {
    st.instructions.forEach((instr, i) => {
      const loc = { file, line: instr.startLine, endLine: instr.endLine, instruction: instr.keyword };
      if (instr.kind === 'COPY' && instr.from !== undefined) {
        const from = expand(instr.from, globalEnv, lex, loc);
        const n = goAtoi(from);
        let source: StageReference['source'];
        if (n !== undefined) {
          if (n < 0 || n >= stages.length) throw new DockerfileError(`invalid stage index ${n}`, loc);
          source = { kind: 'stage', index: n };
        } else {
          const ref = byName.get(from.toLowerCase());
          source = ref ? { kind: 'stage', index: ref.index } : { kind: 'image', ref: from };
        }
        st.references.push({ instruction: i, from, source, line: instr.startLine });
      } else if (instr.kind === 'RUN') {
        for (const m of instr.mounts) {
          if (m.from === undefined || m.from === '' || m.type === 'secret' || m.type === 'ssh') continue;
          const ref = byName.get(m.from.toLowerCase());
          const source: StageReference['source'] = ref ? { kind: 'stage', index: ref.index } : { kind: 'image', ref: m.from };
          st.references.push({ instruction: i, from: m.from, source, line: instr.startLine });
        }
      }
    });
    const deps = new Set<number>();
    if (st.base.kind === 'stage') deps.add(st.base.index);
    for (const r of st.references) if (r.source.kind === 'stage') deps.add(r.source.index);
    st.dependsOn = [...deps].sort((a, b) => a - b);
  }

  checkCycles(stages, file);

  let targetStage: Stage;
  if (opts.target !== undefined && opts.target !== '') {
    const t = byName.get(opts.target.toLowerCase());
    if (!t) throw new DockerfileError(`target stage ${goQuote(opts.target)} could not be found`, { file });
    targetStage = t;
  } else {
    targetStage = stages[stages.length - 1]!;
  }

  const needed = orderNeeded(stages, targetStage);

  // Build args consumed by a global ARG or an ARG of a needed stage.
  for (const st of needed) {
    for (const instr of st.instructions) if (instr.kind === 'ARG') for (const d of instr.args) declared.add(d.key);
  }
  const unusedBuildArgs = Object.keys(buildArgs)
    .filter((k) => !declared.has(k) && !BUILTIN_BUILD_ARGS.includes(k) && !hasOwn(pArgs, k) && !k.startsWith('BUILDKIT_'))
    .sort();

  return {
    stages: needed,
    allStages: stages,
    target: targetStage,
    globalArgs,
    globalScope: Object.fromEntries(globalEnv),
    platformArgs: pArgs,
    buildArgs,
    warnings,
    unusedBuildArgs,
    directives: parsed.directives,
    escapeChar,
  };
}

function expand(word: string, env: Env, lex: { escapeChar: string }, loc: ErrorLocation): string {
  try {
    return processWord(word, env, lex).result;
  } catch (e) {
    throw locate(e, loc);
  }
}

function newStage(
  from: FromInstruction,
  index: number,
  env: Map<string, string>,
  lex: { escapeChar: string },
  loc: ErrorLocation,
): Stage {
  const baseName = expand(from.image, env, lex, loc);
  if (baseName === '') throw new DockerfileError(`base name (${from.image}) should not be blank`, loc);
  const st: Stage = {
    index,
    displayName: `stage-${index}`,
    from,
    baseName,
    base: { kind: 'image', ref: baseName },
    instructions: [],
    dependsOn: [],
    references: [],
  };
  if (from.stageName !== undefined) {
    const name = expand(from.stageName, env, lex, loc).toLowerCase();
    const err = validateStageName(name, from.stageName.includes('$') ? name : from.stageName);
    if (err) throw new DockerfileError(err, loc);
    st.name = name;
    st.displayName = name;
  }
  if (from.platform !== undefined) {
    const p = expand(from.platform, env, lex, loc);
    try {
      st.platform = formatPlatform(parsePlatform(p));
    } catch (e) {
      throw new DockerfileError(`failed to parse platform ${p}: ${(e as Error).message}`, loc);
    }
  }
  return st;
}

/** Go's strconv.Atoi: optional sign, decimal digits. */
function goAtoi(s: string): number | undefined {
  if (!/^[+-]?[0-9]+$/u.test(s)) return undefined;
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : undefined;
}

// A stage may not depend on itself, directly or through others. Like BuildKit, the error
// names the stage the search started from; the location is the reference closing the cycle.
function checkCycles(stages: Stage[], file: string): void {
  const visited = new Set<number>();
  const onPath = new Set<number>();
  const visit = (st: Stage): StageReference | 'base' | undefined => {
    visited.add(st.index);
    onPath.add(st.index);
    for (const dep of st.dependsOn) {
      const ref = st.references.find((r) => r.source.kind === 'stage' && r.source.index === dep);
      if (onPath.has(dep)) return ref ?? 'base';
      if (!visited.has(dep)) {
        const found = visit(stages[dep]!);
        if (found) return found;
      }
    }
    onPath.delete(st.index);
    return undefined;
  };
  for (const root of stages) {
    if (visited.has(root.index)) continue;
    const found = visit(root);
    if (found) {
      const loc: ErrorLocation =
        found === 'base' ? { file, line: root.from.startLine, instruction: root.from.keyword } : { file, line: found.line };
      throw new DockerfileError(`circular dependency detected on stage: ${root.displayName}`, loc);
    }
  }
}

// The target's transitive dependencies, each after what it needs, otherwise in file order.
function orderNeeded(stages: Stage[], target: Stage): Stage[] {
  const needed = new Set<number>();
  const stack = [target.index];
  while (stack.length) {
    const i = stack.pop()!;
    if (needed.has(i)) continue;
    needed.add(i);
    stack.push(...stages[i]!.dependsOn);
  }
  const out: Stage[] = [];
  const placed = new Set<number>();
  while (out.length < needed.size) {
    const next = [...needed]
      .sort((a, b) => a - b)
      .find((i) => !placed.has(i) && stages[i]!.dependsOn.every((d) => placed.has(d)));
    if (next === undefined) break; // unreachable: cycles were rejected
    placed.add(next);
    out.push(stages[next]!);
  }
  return out;
}

/**
 * The value an `ARG` inside a stage takes when the step runs (BuildKit's dispatchArg):
 * the --build-arg if given; else its default expanded with the stage's current env; else,
 * for `ARG NAME` without default, the global value of NAME (platform args included);
 * undefined when the arg stays unset.
 */
export function resolveStageArg(
  plan: Pick<BuildPlan, 'buildArgs' | 'globalArgs' | 'platformArgs' | 'escapeChar'>,
  def: ArgDefinition,
  env: Env,
): string | undefined {
  if (hasOwn(plan.buildArgs, def.key)) return plan.buildArgs[def.key];
  if (def.value !== undefined) return processWord(def.value, env, { escapeChar: plan.escapeChar }).result;
  let value: string | undefined;
  if (hasOwn(plan.platformArgs, def.key)) value = plan.platformArgs[def.key];
  for (const g of plan.globalArgs) if (g.key === def.key) value = g.value;
  return value;
}
