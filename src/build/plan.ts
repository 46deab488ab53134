// The stages a build runs, in order, each with its base and its instructions ready for expansion.
// The stage graph itself (global ARGs, AS names, --target, which stages are needed, platform args)
// is the front end's planBuild; this adds what the executor needs per stage.
import { planBuild } from '../dockerfile/stages.js';
import { locationOf, type PlannedInstruction } from './expand.js';
import type { Location } from './steps.js';
import type { StageBase } from '../dockerfile/stages.js';

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

export function loadPlan(text: string, opts: { file: string; buildArgs: Record<string, string>; target?: string }): Plan {
  const plan = planBuild(text, { filename: opts.file, buildArgs: opts.buildArgs, target: opts.target });
  const globalArgs = new Map(Object.entries(plan.globalScope));
  const stages = plan.stages.map((s): PlannedStage => {
    const stageRefs = new Map<string, number>();
    for (const other of plan.allStages) {
      if (other.index >= s.index) break;
      stageRefs.set(String(other.index), other.index);
      if (other.name) stageRefs.set(other.name, other.index);
    }
    return {
      index: s.index,
      name: s.name,
      from: { ...locationOf(s.from, opts.file), base: s.base },
      instructions: s.instructions.map((ins) => ({ ins, loc: locationOf(ins, opts.file), keyText: ins.original, escapeChar: plan.escapeChar })),
      stageRefs,
      globalArgs,
    };
  });
  return {
    stages,
    warnings: plan.warnings.map((w) => (w.line ? `${opts.file}:${w.line}: ${w.message}` : w.message)),
    unusedArgs: plan.unusedBuildArgs,
  };
}
