// The stages a build runs, in order, each with its base and its instructions ready for expansion.
// Stage-graph semantics (global ARGs, AS names, --target, which stages are needed) come from the
// front end; this adds what the executor needs per stage.
import { parseDockerfile } from '../dockerfile/parser.js';
import { toInstructions, type FromInstruction, type Instruction } from '../dockerfile/instructions.js';
import { processWord } from '../dockerfile/shell-lex.js';
import { DockerfileError } from '../dockerfile/errors.js';
import { locationOf, type PlannedInstruction } from './expand.js';
import type { Location } from './steps.js';

export type StageBase = { kind: 'scratch' } | { kind: 'stage'; index: number } | { kind: 'image'; ref: string };

export interface PlannedStage {
  index: number;
  name?: string;
  from: Location & { base: StageBase };
  instructions: PlannedInstruction[];
  /** Names and indexes usable in COPY --from / --mount from=, mapped to stage indexes. */
  stageRefs: Map<string, number>;
  /** Global ARG values (before the first FROM), which `ARG NAME` inside the stage can take. */
  globalArgs: Map<string, string>;
}

export interface Plan {
  stages: PlannedStage[];
  warnings: string[];
  /** --build-arg names no ARG consumed (Docker warns about them). */
  unusedArgs: string[];
}

const PLATFORM_ARGS: Record<string, string> = {
  TARGETPLATFORM: 'linux/amd64', TARGETOS: 'linux', TARGETARCH: 'amd64', TARGETVARIANT: '',
  BUILDPLATFORM: 'linux/amd64', BUILDOS: 'linux', BUILDARCH: 'amd64', BUILDVARIANT: '',
};

export function loadPlan(text: string, opts: { file: string; buildArgs: Record<string, string>; target?: string }): Plan {
  const parsed = parseDockerfile(text, { filename: opts.file });
  const escapeChar = parsed.escapeChar;
  const all = toInstructions(parsed.instructions, { filename: opts.file });
  const warnings = parsed.warnings.map((w) => (w.line ? `${opts.file}:${w.line}: ${w.message}` : w.message));

  // Global ARGs (before the first FROM) are in scope for FROM lines only.
  const globalArgs = new Map<string, string>(Object.entries(PLATFORM_ARGS));
  const usedArgs = new Set<string>();
  let i = 0;
  for (; i < all.length && all[i]!.kind !== 'FROM'; i++) {
    const ins = all[i]!;
    if (ins.kind !== 'ARG') throw new DockerfileError('no build stage in current context', { file: opts.file, line: ins.startLine, instruction: ins.keyword });
    for (const a of ins.args) {
      usedArgs.add(a.key);
      const v = opts.buildArgs[a.key] ?? (a.value !== undefined ? processWord(a.value, globalArgs, { escapeChar }).result : undefined);
      if (v !== undefined) globalArgs.set(a.key, v);
    }
  }
  if (i >= all.length) throw new DockerfileError('the Dockerfile has no build stage (no FROM instruction)', { file: opts.file });

  interface Raw { from: FromInstruction; body: Instruction[] }
  const raws: Raw[] = [];
  for (; i < all.length; i++) {
    const ins = all[i]!;
    if (ins.kind === 'FROM') raws.push({ from: ins, body: [] });
    else raws[raws.length - 1]!.body.push(ins);
  }

  const byName = new Map<string, number>();
  const stages: PlannedStage[] = [];
  raws.forEach((r, index) => {
    const loc = locationOf(r.from, opts.file);
    const image = processWord(r.from.image, globalArgs, { escapeChar }).result;
    let base: StageBase;
    const named = byName.get(image.toLowerCase());
    if (image.toLowerCase() === 'scratch') base = { kind: 'scratch' };
    else if (named !== undefined) base = { kind: 'stage', index: named };
    else if (image === '') throw new DockerfileError('base name (' + r.from.image + ') should not be blank', { file: opts.file, line: r.from.startLine, instruction: 'FROM' });
    else base = { kind: 'image', ref: image };
    const stageRefs = new Map<string, number>();
    for (const [n, idx] of byName) stageRefs.set(n, idx);
    for (let k = 0; k < index; k++) stageRefs.set(String(k), k);
    const instructions: PlannedInstruction[] = r.body.map((ins) => ({ ins, loc: locationOf(ins, opts.file), keyText: ins.original, escapeChar }));
    for (const ins of r.body) if (ins.kind === 'ARG') for (const a of ins.args) usedArgs.add(a.key);
    stages.push({ index, name: r.from.stageName, from: { ...loc, base }, instructions, stageRefs, globalArgs });
    if (r.from.stageName) byName.set(r.from.stageName, index);
  });

  // --target: that stage and, transitively, the stages it uses; nothing after it.
  let last = stages.length - 1;
  if (opts.target !== undefined) {
    const t = byName.get(opts.target.toLowerCase());
    if (t === undefined) throw new DockerfileError(`target stage "${opts.target}" could not be found`, { file: opts.file });
    last = t;
  }
  const needed = new Set<number>();
  const visit = (idx: number) => {
    if (needed.has(idx)) return;
    needed.add(idx);
    const s = stages[idx]!;
    if (s.from.base.kind === 'stage') visit(s.from.base.index);
    for (const p of s.instructions) {
      const refs: string[] = [];
      if (p.ins.kind === 'COPY' && p.ins.from !== undefined) refs.push(p.ins.from);
      if (p.ins.kind === 'RUN') for (const m of p.ins.mounts) if (m.from !== undefined) refs.push(m.from);
      for (const ref of refs) {
        const r = s.stageRefs.get(ref.toLowerCase());
        if (r !== undefined) visit(r);
      }
    }
  };
  visit(last);
  const unusedArgs = Object.keys(opts.buildArgs).filter((k) => !usedArgs.has(k) && !(k in PLATFORM_ARGS));
  return { stages: stages.filter((s) => needed.has(s.index)), warnings, unusedArgs };
}
