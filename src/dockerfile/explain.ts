// A human-readable summary of a build plan, for `kiln dockerfile parse FILE` (the CLI adds
// `--format json` by printing the plan itself, which is plain JSON-able data).

import type { Instruction } from './instructions.js';
import type { BuildPlan, Stage } from './stages.js';

function describeBase(st: Stage, plan: BuildPlan): string {
  switch (st.base.kind) {
    case 'scratch':
      return 'scratch (empty)';
    case 'stage':
      return `stage ${plan.allStages[st.base.index]!.displayName}`;
    case 'image':
      return `image ${st.base.ref}`;
  }
}

/** One line per instruction: line number, the instruction as written, and what it resolves to. */
function describeInstruction(instr: Instruction, st: Stage, plan: BuildPlan, index: number): string {
  const text = instr.original.length > 100 ? instr.original.slice(0, 97) + '...' : instr.original;
  let note = '';
  const refs = st.references.filter((r) => r.instruction === index);
  if (refs.length) {
    note = '  <- ' + refs.map((r) => (r.source.kind === 'stage' ? `stage ${plan.allStages[r.source.index]!.displayName}` : `image ${r.source.ref}`)).join(', ');
  }
  if ((instr.kind === 'RUN' || instr.kind === 'COPY' || instr.kind === 'ADD') && instr.heredocs.length) {
    note += `  (${instr.heredocs.length} heredoc${instr.heredocs.length > 1 ? 's' : ''})`;
  }
  return `  ${String(instr.startLine).padStart(4)}  ${text.replace(/\n/g, '\\n')}${note}`;
}

/** Multi-line text describing stages, what the target needs, args and warnings. */
export function explainPlan(plan: BuildPlan, opts: { filename?: string } = {}): string {
  const out: string[] = [];
  const file = opts.filename ?? 'Dockerfile';
  const needed = new Set(plan.stages.map((s) => s.index));
  out.push(
    `${file}: ${plan.allStages.length} stage${plan.allStages.length === 1 ? '' : 's'}, target ${plan.target.displayName}; ` +
      `building ${plan.stages.map((s) => s.displayName).join(' -> ')}`,
  );
  if (Object.keys(plan.directives).length) {
    out.push('directives: ' + Object.entries(plan.directives).map(([k, v]) => `${k}=${v}`).join(', '));
  }
  if (plan.globalArgs.length) {
    out.push('global args: ' + plan.globalArgs.map((a) => (a.value === undefined ? `${a.key} (unset)` : `${a.key}=${a.value}`)).join(', '));
  }
  for (const st of plan.allStages) {
    out.push('');
    const skip = needed.has(st.index) ? '' : '  [not needed for the target]';
    const platform = st.platform ? `, platform ${st.platform}` : '';
    out.push(`stage ${st.index} ${st.displayName}: from ${describeBase(st, plan)}${platform}${skip}`);
    out.push(describeInstruction(st.from, st, plan, -1));
    st.instructions.forEach((instr, i) => out.push(describeInstruction(instr, st, plan, i)));
  }
  if (plan.warnings.length) {
    out.push('');
    for (const w of plan.warnings) out.push(`warning${w.line ? ` (line ${w.line})` : ''}: ${w.message}`);
  }
  if (plan.unusedBuildArgs.length) {
    out.push('');
    out.push(`[Warning] One or more build-args [${plan.unusedBuildArgs.join(' ')}] were not consumed`);
  }
  return out.join('\n') + '\n';
}
