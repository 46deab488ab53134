// From the front end's typed instructions to executor steps: expands the words Docker expands at
// build time (ENV/LABEL/ARG values, COPY/ADD sources and destination, --chown, --chmod, WORKDIR,
// USER, EXPOSE, VOLUME, STOPSIGNAL, RUN --mount values) with the environment in scope at that step.
// RUN, CMD and ENTRYPOINT are not expanded: their shell does it when they run.
import { processWord, type Env } from '../dockerfile/shell-lex.js';
import { expandHeredoc, resolveRunMounts, runScript, type Instruction } from '../dockerfile/instructions.js';
import type { HealthConfig } from '../image/types.js';
import type { Location, Step } from './steps.js';

export interface PlannedInstruction {
  ins: Instruction;
  loc: Location;
  /** The instruction as keyed by the cache before expansion (expanded values are added per step). */
  keyText: string;
  escapeChar: string;
  /** Runs as part of the FROM step (an ONBUILD trigger of the base image). */
  fromOnbuild?: boolean;
}

export function locationOf(ins: Instruction, file: string): Location {
  const first = ins.original.split('\n')[0]!;
  return { file, line: ins.startLine, text: first.length > 200 ? `${first.slice(0, 200)}…` : first };
}

export function expandStep(p: PlannedInstruction, env: Env): Step {
  const x = (w: string) => processWord(w, env, { escapeChar: p.escapeChar }).result;
  const ins = p.ins;
  switch (ins.kind) {
    case 'RUN': {
      return { kind: 'RUN', script: runScript(ins), mounts: resolveRunMounts(ins, x), network: ins.network as 'default' | 'none' | 'host' };
    }
    case 'COPY':
    case 'ADD': {
      const heredocs = ins.sourceContents.map((h) => ({
        name: h.path,
        content: h.expand ? expandHeredoc(h.data, env) : h.data,
      }));
      return {
        kind: ins.kind,
        sources: ins.sources.map(x),
        dest: x(ins.dest),
        from: ins.kind === 'COPY' && ins.from !== undefined ? x(ins.from) : undefined,
        chown: ins.chown !== undefined ? x(ins.chown) : undefined,
        chmod: ins.chmod !== undefined ? x(ins.chmod) : undefined,
        link: ins.link,
        parents: ins.kind === 'COPY' ? ins.parents : false,
        exclude: ins.exclude.map(x),
        checksum: ins.kind === 'ADD' && ins.checksum !== undefined ? x(ins.checksum) : undefined,
        keepGitDir: ins.kind === 'ADD' ? ins.keepGitDir : undefined,
        unpack: ins.kind === 'ADD' ? ins.unpack : undefined,
        heredocs,
        display: ins.original.replace(/^\S+\s*/, ''),
      };
    }
    case 'WORKDIR':
      return { kind: 'WORKDIR', path: x(ins.path) };
    case 'ENV':
      return { kind: 'ENV', pairs: ins.pairs.map((kv) => [kv.key, x(kv.value)]) };
    case 'LABEL':
      return { kind: 'LABEL', pairs: ins.pairs.map((kv) => [x(kv.key), x(kv.value)]) };
    case 'ARG':
      return { kind: 'ARG', args: ins.args.map((a) => ({ name: a.key, value: a.value !== undefined ? x(a.value) : undefined })) };
    case 'USER':
      return { kind: 'USER', user: x(ins.user) };
    case 'EXPOSE':
      return { kind: 'EXPOSE', ports: ins.ports.map(x).flatMap(expandPortRange) };
    case 'VOLUME':
      return { kind: 'VOLUME', paths: ins.volumes.map(x).filter(Boolean) };
    case 'STOPSIGNAL':
      return { kind: 'STOPSIGNAL', signal: x(ins.signal) };
    case 'HEALTHCHECK':
      return { kind: 'HEALTHCHECK', health: toDockerHealth(ins.health) };
    case 'SHELL':
      return { kind: 'SHELL', shell: ins.shell };
    case 'CMD':
    case 'ENTRYPOINT':
      return { kind: ins.kind, command: ins.command };
    case 'MAINTAINER':
      return { kind: 'MAINTAINER', name: x(ins.maintainer) };
    case 'ONBUILD':
      return { kind: 'ONBUILD', expression: ins.expression };
    case 'FROM':
      throw new Error('FROM is handled by the stage planner');
  }
}

/** EXPOSE 8000-8002 means three ports. */
function expandPortRange(p: string): string[] {
  const m = /^(\d+)-(\d+)(\/\w+)?$/.exec(p);
  if (!m) return [p];
  const out: string[] = [];
  for (let i = Number(m[1]); i <= Number(m[2]); i++) out.push(`${i}${m[3] ?? ''}`);
  return out;
}

function toDockerHealth(h: { test: string[]; interval?: number; timeout?: number; startPeriod?: number; startInterval?: number; retries?: number }): HealthConfig {
  const out: HealthConfig = { Test: h.test };
  if (h.interval !== undefined) out.Interval = h.interval;
  if (h.timeout !== undefined) out.Timeout = h.timeout;
  if (h.startPeriod !== undefined) out.StartPeriod = h.startPeriod;
  if (h.startInterval !== undefined) out.StartInterval = h.startInterval;
  if (h.retries !== undefined) out.Retries = h.retries;
  return out;
}
