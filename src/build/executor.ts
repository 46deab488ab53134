// The build executor: the loop of DESIGN.md — for each step, start from the previous image, run
// the step, snapshot its diff as a new layer — with a cache that skips a step whose key it has
// seen. Stages the target does not need are not built; independent stages run concurrently.
import { basename, join } from 'node:path';
import type { Engine } from '../engine.js';
import { parseReference, familiarString, normalize as normalizeReference } from '../image/reference.js';
import type { Digest, ImageConfig, InlineCacheEntry } from '../image/types.js';
import { chainIds } from '../image/digest.js';
import { cacheKey, explainMiss, storedInputs, type CacheInputs } from './cache-key.js';
import { BuildContext } from './build-context.js';
import { BuildError } from './errors.js';
import { expandStep, type PlannedInstruction } from './expand.js';
import { loadPlan, type PlannedStage } from './plan.js';
import * as cfg from './image-config.js';
import type { ProgressSink } from './progress.js';
import { runStep, type BuildNetwork } from './run-step.js';
import { copyStep } from './copy-step.js';
import { resolveRunMounts } from './run-mounts.js';
import { withSnapshot } from './snapshot.js';
import type { FileStamp } from './replay-record.js';
import { resolveOrPull } from './base-image.js';
import { cacheEntriesFor, lookupCache, recordCache } from './cache-store.js';
import { makeWorkdir } from './upper-copy.js';
import type { Location, Step } from './steps.js';
import type { HostsEntry } from '../runtime/network.js';

export interface BuildRequest {
  contextDir: string;
  dockerfilePath: string;
  dockerfileText: string;
  tags: string[];
  buildArgs: Record<string, string>;
  target?: string;
  noCache: boolean;
  pull: boolean;
  network: BuildNetwork;
  labels: Record<string, string>;
  secrets: Record<string, { src?: string; env?: string }>;
  /** `--ssh ID=SOCKET`: ssh-agent sockets for RUN --mount=type=ssh */
  ssh?: Record<string, string>;
  /** `--build-context NAME=…`: what FROM NAME, COPY --from=NAME and RUN --mount from=NAME mean */
  contexts?: Record<string, NamedContext>;
  /** `--cache-to type=inline`: record the steps' cache keys in the image config */
  inlineCache?: boolean;
  /** `--cache-from REF`: images whose inline cache may stand in for local cache entries */
  cacheFrom?: string[];
  explainCache: boolean;
  sourceDateEpoch?: number;
  /** `--add-host`: /etc/hosts lines for RUN steps */
  extraHosts?: HostsEntry[];
  /** `--no-cache-filter`: stages whose steps run again whatever the cache holds */
  noCacheStages?: string[];
  progress: ProgressSink;
}

/** A named build context: an image (docker-image://REF) or a local directory. */
export type NamedContext = { kind: 'image'; ref: string } | { kind: 'dir'; path: string };

export interface BuildResult {
  imageId: Digest;
  /** The cache entries the build used. */
  cacheKeys: string[];
  /** What the build read of its context, as it looked before (BuildContext.stamps). */
  contextStamps: FileStamp[];
}

/** What a stage has produced so far: its image config (layers, history) and its cache key. */
export interface StageState {
  config: ImageConfig;
  imageId: Digest;
  key: string;
  /** False once a step missed the cache: every later step misses too (for --explain-cache). */
  hit: boolean;
  /** Build args declared in this stage, with their values. */
  args: Map<string, string>;
  cmdSetInStage: boolean;
}

export async function build(engine: Engine, req: BuildRequest): Promise<BuildResult> {
  const file = basename(req.dockerfilePath);
  const plan = loadPlan(req.dockerfileText, { file, buildArgs: req.buildArgs, target: req.target });
  for (const w of plan.warnings) req.progress.emit({ type: 'warning', text: w });
  const context = new BuildContext(engine, req.contextDir, req.dockerfilePath);
  const b = new Builder(engine, req, context, plan.stages, file);
  try {
    for (const ref of req.cacheFrom ?? []) await b.importCache(ref);
    const final = await b.buildAll();
    let config = final.config;
    if (Object.keys(req.labels).length) {
      config = cfg.cloneConfig(config);
      cfg.addLabels(config, Object.entries(req.labels));
    }
    if (req.inlineCache) {
      config = cfg.cloneConfig(config);
      config['kiln.cache.v1'] = b.inlineCacheFor(config.rootfs.diff_ids);
    }
    const id = engine.db.tx(() => {
      const rec = engine.putImage(config);
      for (const t of req.tags) engine.tagImage(t, rec.id);
      return rec.id;
    });
    req.progress.emit({ type: 'built', imageId: id });
    for (const t of req.tags) req.progress.emit({ type: 'tagged', ref: familiarString(parseReference(t)) });
    for (const u of plan.unusedArgs) req.progress.emit({ type: 'warning', text: `One or more build-args [${u}] were not consumed` });
    return { imageId: id, cacheKeys: b.cacheKeys, contextStamps: await context.stamps() };
  } finally {
    await context.close();
  }
}

class Builder {
  private readonly total: number;
  private readonly firstStep = new Map<number, number>();
  private readonly results = new Map<number, Promise<StageState>>();
  /** Keys of the cache entries used. */
  readonly cacheKeys: string[] = [];

  constructor(
    private readonly engine: Engine,
    private readonly req: BuildRequest,
    private readonly context: BuildContext,
    private readonly stages: PlannedStage[],
    private readonly file: string,
  ) {
    let n = 0;
    for (const s of stages) {
      this.firstStep.set(s.index, n + 1);
      n += 1 + s.instructions.length;
    }
    this.total = n;
  }

  async buildAll(): Promise<StageState> {
    // Start every stage at once; each awaits only the stages it depends on.
    for (const s of this.stages) this.results.set(s.index, this.runStage(s));
    const all = [...this.results.values()];
    // Surface the first failure, but let the others settle so nothing is left mounted.
    const settled = await Promise.allSettled(all);
    const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    return this.stageResult(this.stages[this.stages.length - 1]!.index);
  }

  /** Layer steps as they went (cache key, the diffIDs after them), for `--cache-to type=inline`. */
  private readonly layerSteps: { key: string; diffIds: Digest[]; added: boolean }[] = [];
  /** `--cache-from`: cache key → the layer that step added (null: it added none). */
  private readonly imported = new Map<string, Digest | null>();

  /**
   * `--cache-from REF`: the image (pulled when missing, as Docker does) and the cache keys its
   * config recorded. A key is only ever the hash of a step's full inputs, so a match means the
   * step would make that very layer; images without kiln's inline cache add nothing.
   */
  async importCache(ref: string): Promise<void> {
    let img: { id: Digest; config: ImageConfig };
    try {
      img = await resolveOrPull(this.engine, ref, { pull: false, progress: (line) => this.req.progress.emit({ type: 'info', text: line }) });
    } catch (e) {
      // As Docker: an unavailable cache source is a warning, not a failed build.
      this.req.progress.emit({ type: 'warning', text: `importing cache from ${ref}: ${(e as Error).message}` });
      return;
    }
    const diffIds = img.config.rootfs.diff_ids;
    for (const e of img.config['kiln.cache.v1'] ?? []) {
      if (typeof e?.key !== 'string' || !Number.isInteger(e.layers) || e.layers < 0 || e.layers > diffIds.length) continue;
      this.imported.set(e.key, e.layers === 0 ? null : diffIds[e.layers - 1]!);
    }
  }

  /** The inline cache of an image with these layers: the steps whose layers it holds, in order. */
  inlineCacheFor(diffIds: Digest[]): InlineCacheEntry[] {
    const out: InlineCacheEntry[] = [];
    for (const st of this.layerSteps) {
      if (st.diffIds.length > diffIds.length || !st.diffIds.every((d, i) => d === diffIds[i])) continue;
      out.push({ key: st.key, layers: st.added ? st.diffIds.length : 0 });
    }
    return out;
  }

  /** The `--build-context` named `name` (as written, else the same image reference normalized). */
  private namedContext(name: string): NamedContext | undefined {
    const all = this.req.contexts ?? {};
    if (Object.hasOwn(all, name)) return all[name];
    let norm: string;
    try {
      norm = normalizeReference(name);
    } catch {
      return undefined;
    }
    for (const [k, v] of Object.entries(all)) {
      try {
        if (normalizeReference(k) === norm) return v;
      } catch {
        /* a name that is no reference */
      }
    }
    return undefined;
  }

  private readonly dirContexts = new Map<string, BuildContext>();

  /** A local directory context, read like the main one (its own .dockerignore applies). */
  private dirContext(name: string, path: string): BuildContext {
    let c = this.dirContexts.get(name);
    if (!c) {
      c = new BuildContext(this.engine, path, join(path, 'Dockerfile'));
      this.dirContexts.set(name, c);
    }
    return c;
  }

  /** An imported cache entry for `key` whose layer is in the store on top of `parent` (undefined: none). */
  private importedStep(key: string, parent: Digest[]): Digest | null | undefined {
    if (!this.imported.has(key)) return undefined;
    const layer = this.imported.get(key)!;
    if (layer === null) return null;
    const chain = chainIds([...parent, layer]).at(-1)!;
    return this.engine.layers.has(chain) ? layer : undefined;
  }

  stageResult(index: number): Promise<StageState> {
    const p = this.results.get(index);
    if (!p) throw new Error(`internal: stage ${index} is not part of this build`);
    return p;
  }

  private async runStage(stage: PlannedStage): Promise<StageState> {
    let step = this.firstStep.get(stage.index)!;
    const loc: Location = { file: this.file, line: stage.from.line, text: stage.from.text };
    this.req.progress.emit({ type: 'step', step, total: this.total, stage: stage.name ?? String(stage.index), text: stage.from.text });
    let state: StageState;
    try {
      state = await this.fromBase(stage);
    } catch (e) {
      throw BuildError.at(loc, e);
    }
    this.req.progress.emit({ type: 'stepDone', step, imageId: state.imageId, ms: 0 });
    // ONBUILD triggers of the base image run right after FROM, as in Docker.
    const triggers = state.config.config?.OnBuild ?? [];
    if (triggers.length) {
      state.config = cfg.cloneConfig(state.config);
      cfg.cc(state.config).OnBuild = null;
    }
    const instructions: PlannedInstruction[] = [...this.onbuildInstructions(triggers, loc), ...stage.instructions];
    for (const ins of instructions) {
      step = ins.fromOnbuild ? step : step + 1;
      if (!ins.fromOnbuild) {
        this.req.progress.emit({ type: 'step', step, total: this.total, stage: stage.name ?? String(stage.index), text: ins.loc.text });
      }
      try {
        state = await this.runInstruction(stage, ins, state, step);
      } catch (e) {
        throw BuildError.at(ins.loc, e);
      }
    }
    return state;
  }

  private onbuildInstructions(triggers: string[], loc: Location): PlannedInstruction[] {
    return triggers.flatMap((t) => loadPlan(`FROM scratch\n${t}\n`, { file: this.file, buildArgs: {}, target: undefined }).stages[0]!.instructions.map((i) => ({ ...i, loc: { ...loc, text: t }, fromOnbuild: true })));
  }

  private async fromBase(stage: PlannedStage): Promise<StageState> {
    const base = stage.from.base;
    const fresh = (config: ImageConfig, id: Digest, key: string): StageState => ({
      config: cfg.cloneConfig(config),
      imageId: id,
      key,
      hit: true,
      args: new Map(),
      cmdSetInStage: false,
    });
    if (base.kind === 'scratch') {
      const config = cfg.scratchConfig();
      return fresh(config, this.engine.content.putJson(config).digest, 'scratch');
    }
    if (base.kind === 'stage') {
      const s = await this.stageResult(base.index);
      return { ...fresh(s.config, s.imageId, s.key), hit: s.hit };
    }
    const named = this.namedContext(base.ref);
    if (named?.kind === 'dir') throw new Error(`the build context ${base.ref} is a local directory: use it with COPY --from or RUN --mount from=, not FROM`);
    const ref = named?.ref ?? base.ref;
    const img = await resolveOrPull(this.engine, ref, { pull: this.req.pull, progress: (line) => this.req.progress.emit({ type: 'info', text: line }) });
    return fresh(img.config, img.id, `image:${img.id}`);
  }

  private async runInstruction(stage: PlannedStage, ins: PlannedInstruction, prev: StageState, step: number): Promise<StageState> {
    const started = Date.now();
    const env = this.expansionEnv(prev);
    const s = expandStep(ins, env);
    const state: StageState = { ...prev, config: cfg.cloneConfig(prev.config), args: new Map(prev.args) };
    const c = state.config;
    const created = this.created();
    c.created = created;
    const hist = (createdBy: string, empty: boolean) => cfg.addHistory(c, { created, created_by: createdBy, comment: 'buildkit.dockerfile.v0', ...(empty ? { empty_layer: true } : {}) });

    // Metadata-only steps: no container, no layer; the new config is the new intermediate image.
    switch (s.kind) {
      case 'ARG':
        for (const a of s.args) {
          const v = this.req.buildArgs[a.name] ?? a.value ?? stage.globalArgs.get(a.name);
          if (v !== undefined) state.args.set(a.name, v);
          else state.args.delete(a.name);
        }
        hist(`ARG ${s.args.map((a) => (state.args.has(a.name) ? `${a.name}=${state.args.get(a.name)}` : a.name)).join(' ')}`, true);
        return this.finishMeta(stage, state, ins, step, started);
      case 'ENV':
      case 'LABEL':
      case 'USER':
      case 'EXPOSE':
      case 'VOLUME':
      case 'STOPSIGNAL':
      case 'HEALTHCHECK':
      case 'SHELL':
      case 'CMD':
      case 'ENTRYPOINT':
      case 'MAINTAINER':
      case 'ONBUILD': {
        hist(cfg.applyMetadata(c, s, state.cmdSetInStage), true);
        if (s.kind === 'CMD') state.cmdSetInStage = true;
        return this.finishMeta(stage, state, ins, step, started);
      }
      case 'WORKDIR':
      case 'RUN':
      case 'COPY':
      case 'ADD':
        return this.runLayerStep(stage, ins, s, state, step, started, hist);
    }
  }

  /** Environment for expanding words: the image's ENV plus the stage's build args (ENV wins). */
  private expansionEnv(s: StageState): Map<string, string> {
    const m = new Map(s.args);
    for (const [k, v] of cfg.getEnv(s.config)) m.set(k, v);
    return m;
  }

  private created(): string {
    return this.req.sourceDateEpoch !== undefined ? new Date(this.req.sourceDateEpoch * 1000).toISOString() : new Date().toISOString();
  }

  /** Cache key inputs common to every step. */
  private inputs(prev: StageState, ins: PlannedInstruction, extra: Partial<CacheInputs> = {}): CacheInputs {
    return { parent: prev.key, instruction: ins.keyText, args: {}, ...extra };
  }

  /** --no-cache, or --no-cache-filter naming this stage (by name or index). */
  private noCacheFor(stage: PlannedStage): boolean {
    return this.req.noCache || !!this.req.noCacheStages?.some((s) => s === stage.name || s === String(stage.index));
  }

  private finishMeta(stage: PlannedStage, state: StageState, ins: PlannedInstruction, step: number, started: number): StageState {
    // Metadata steps are cheap to redo, but their result is keyed like any other step so that the
    // intermediate image IDs (and so the final image ID) are stable across rebuilds. The key is the
    // history line the step wrote: it carries the expanded values (ENV, ARG, LABEL …).
    const createdBy = state.config.history?.at(-1)?.created_by ?? ins.keyText;
    const inputs = this.inputs(state, ins, { instruction: createdBy });
    const { key, hit } = this.consultCache(inputs, state, step, this.noCacheFor(stage));
    if (hit) return hit;
    const id = this.engine.content.putJson(state.config).digest;
    recordCache(this.engine, key, id, storedInputs(inputs));
    this.req.progress.emit({ type: 'stepDone', step, imageId: id, ms: Date.now() - started });
    return { ...state, imageId: id, key, hit: false };
  }

  /** The step's key, and the cached state when the cache has it; a miss is explained on request. */
  private consultCache(inputs: CacheInputs, state: StageState, step: number, noCache: boolean): { key: string; hit?: StageState } {
    const key = cacheKey(inputs);
    const cached = noCache ? null : lookupCache(this.engine, key);
    if (cached) {
      this.cacheKeys.push(key);
      this.req.progress.emit({ type: 'cached', step, imageId: cached.id });
      return { key, hit: { ...state, config: cached.config, imageId: cached.id, key } };
    }
    if (this.req.explainCache && !noCache) {
      this.req.progress.emit({ type: 'explain', step, reason: explainMiss(inputs, cacheEntriesFor(this.engine, inputs.parent), state.hit) });
    }
    return { key };
  }

  private async runLayerStep(
    stage: PlannedStage,
    ins: PlannedInstruction,
    s: Extract<Step, { kind: 'WORKDIR' | 'RUN' | 'COPY' | 'ADD' }>,
    state: StageState,
    step: number,
    started: number,
    hist: (createdBy: string, empty: boolean) => void,
  ): Promise<StageState> {
    const c = state.config;
    const diffIds = [...c.rootfs.diff_ids];
    let inputs: CacheInputs;
    let createdBy: string;
    let sources: Awaited<ReturnType<BuildContext['selectForCopy']>> | undefined;
    let fromStage: StageState | undefined;
    let fromImage: { id: Digest; config: ImageConfig } | undefined;
    let srcContext = this.context;
    let run: RunInvocation | undefined;
    const workdir = c.config?.WorkingDir || '/';

    if (s.kind === 'WORKDIR') {
      const dir = s.path.startsWith('/') ? s.path : join(workdir, s.path);
      cfg.cc(c).WorkingDir = dir;
      createdBy = `WORKDIR ${dir}`;
      // The directories are made for the stage's USER (BuildKit): a different user, a different layer.
      const user = c.config?.User;
      inputs = this.inputs(state, ins, { instruction: `WORKDIR ${dir}${user ? ` user=${user}` : ''}` });
    } else if (s.kind === 'RUN') {
      run = runInvocation(c, s);
      createdBy = `RUN ${run.display} # buildkit`;
      inputs = this.inputs(state, ins, {
        instruction: `RUN ${JSON.stringify({ argv: run.argv, stdin: run.stdin, mounts: s.mounts, network: s.network, user: c.config?.User, env: c.config?.Env, workdir })}`,
        args: Object.fromEntries(state.args),
        // --add-host changes what the step sees, as BuildKit keys it (absent: keys as before).
        ...(this.req.extraHosts?.length ? { extra: `hosts:${JSON.stringify(this.req.extraHosts)}` } : {}),
      });
    } else {
      // COPY / ADD: the key covers the bytes of every selected source, never their mtimes.
      createdBy = `${s.kind} ${s.display} # buildkit`;
      let extra = '';
      if (s.from !== undefined) {
        const idx = stage.stageRefs.get(s.from.toLowerCase());
        if (idx !== undefined) {
          fromStage = await this.stageResult(idx);
          extra = `stage:${fromStage.key}`;
        } else {
          const named = this.namedContext(s.from);
          if (named?.kind === 'dir') {
            srcContext = this.dirContext(s.from, named.path);
            sources = await srcContext.selectForCopy(s.sources, { exclude: s.exclude, parents: s.parents });
            extra = `context:${s.from}`;
          } else {
            fromImage = await resolveOrPull(this.engine, named?.ref ?? s.from, { pull: false, progress: (line) => this.req.progress.emit({ type: 'info', text: line }) });
            extra = `image:${fromImage.id}`;
          }
        }
      } else if (s.heredocs.length === 0 && !s.sources.every(isUrl)) {
        sources = await this.context.selectForCopy(s.sources, { exclude: s.exclude, parents: s.parents });
      }
      inputs = this.inputs(state, ins, {
        instruction: `${s.kind} ${JSON.stringify({ sources: s.sources, dest: s.dest, chown: s.chown, chmod: s.chmod, parents: s.parents, exclude: s.exclude, checksum: s.checksum, heredocs: s.heredocs, workdir, user: c.config?.User })}`,
        sources: sources?.hashes,
        extra: extra || undefined,
      });
    }

    const noCache = this.noCacheFor(stage);
    const { key, hit } = this.consultCache(inputs, state, step, noCache);
    if (hit) {
      this.layerSteps.push({ key, diffIds: hit.config.rootfs.diff_ids, added: hit.config.rootfs.diff_ids.length > diffIds.length });
      return hit;
    }
    const fromCacheImage = noCache ? undefined : this.importedStep(key, diffIds);
    if (fromCacheImage !== undefined) {
      // --cache-from: the layer an earlier build made from the same inputs, already here.
      if (fromCacheImage) c.rootfs.diff_ids.push(fromCacheImage);
      hist(createdBy, !fromCacheImage);
      const id = this.engine.content.putJson(c).digest;
      recordCache(this.engine, key, id, storedInputs(inputs));
      this.layerSteps.push({ key, diffIds: c.rootfs.diff_ids, added: !!fromCacheImage });
      this.req.progress.emit({ type: 'cached', step, imageId: id });
      return { ...state, imageId: id, key };
    }

    const sde = this.req.sourceDateEpoch;
    let layer;
    if (s.kind === 'RUN' && run) {
      const mounts = await resolveRunMounts(
        this.engine,
        s.mounts,
        {
          context: this.context,
          secrets: this.req.secrets,
          ssh: this.req.ssh ?? {},
          namedDir: (name) => {
            const n = this.namedContext(name);
            return n?.kind === 'dir' ? n.path : undefined;
          },
          stageRefs: stage.stageRefs,
          stageResult: (i) => this.stageResult(i),
          resolveImage: (ref) => resolveOrPull(this.engine, this.namedContext(ref)?.kind === 'image' ? (this.namedContext(ref) as { ref: string }).ref : ref, { pull: false, progress: (line) => this.req.progress.emit({ type: 'info', text: line }) }),
        },
        workdir,
      );
      try {
        // RUN sees the stage's build args as environment variables; ENV of the same name wins.
        const runEnv = [...(c.config?.Env ?? [])];
        const envKeys = new Set(runEnv.map((e) => e.slice(0, e.indexOf('='))));
        for (const [k, v] of state.args) if (!envKeys.has(k)) runEnv.push(`${k}=${v}`);
        runEnv.push(...mounts.env);
        let tail: Buffer[] = [];
        const r = await runStep(this.engine, {
          diffIds,
          imageId: state.imageId,
          argv: run.argv,
          env: runEnv,
          cwd: workdir,
          user: c.config?.User,
          network: s.network && s.network !== 'default' ? s.network : this.req.network,
          ...(this.req.extraHosts?.length ? { extraHosts: this.req.extraHosts } : {}),
          mounts: mounts.specs,
          stdin: run.stdin !== undefined ? Buffer.from(run.stdin) : undefined,
          sourceDateEpoch: sde,
          onContainer: (id) => {
            this.req.progress.emit({ type: 'running', step, containerId: id });
          },
          onOutput: (data) => {
            tail.push(data);
            if (tail.length > 64) tail = tail.slice(-32);
            this.req.progress.emit({ type: 'output', step, data });
          },
        });
        this.req.progress.emit({ type: 'removed', step, containerId: r.containerId });
        if (r.exitCode !== 0) {
          const lastLines = Buffer.concat(tail).toString('utf8').split('\n').filter(Boolean).slice(-10);
          throw new BuildError(`process ${JSON.stringify(run.display)} did not complete successfully: exit code: ${r.exitCode}`, { exitCode: r.exitCode, output: lastLines });
        }
        layer = r.layer;
      } finally {
        await mounts.release();
      }
    } else if (s.kind === 'WORKDIR') {
      const dir = cfg.cc(c).WorkingDir!;
      const r = await withSnapshot(this.engine, diffIds, (snap) => makeWorkdir(snap, dir, c.config?.User || undefined), { keepEmpty: false, sourceDateEpoch: sde });
      layer = r.layer;
    } else {
      const reuse = noCache ? undefined : srcContext.copies;
      const r = await withSnapshot(
        this.engine,
        diffIds,
        (snap) => copyStep(this.engine, snap, s as Extract<Step, { kind: 'COPY' | 'ADD' }>, { workdir, context: srcContext, selected: sources, fromStage, fromImage, user: c.config?.User, reuse }),
        { keepEmpty: true, sourceDateEpoch: sde },
      );
      layer = r.layer;
      if (layer && r.value) {
        const dir = this.engine.layers.dir(layer.chainId);
        for (const [rel, { src, st }] of r.value) srcContext.copies.remember(src, st, join(dir, rel));
      }
    }

    if (layer) {
      c.rootfs.diff_ids.push(layer.diffId);
      hist(createdBy, false);
    } else {
      hist(createdBy, true);
    }
    const id = this.engine.content.putJson(c).digest;
    recordCache(this.engine, key, id, storedInputs(inputs));
    this.layerSteps.push({ key, diffIds: c.rootfs.diff_ids, added: !!layer });
    this.req.progress.emit({ type: 'stepDone', step, imageId: id, ms: Date.now() - started });
    return { ...state, imageId: id, key, hit: false };
  }
}

function isUrl(s: string): boolean {
  return /^https?:\/\//.test(s);
}

interface RunInvocation {
  argv: string[];
  stdin?: string;
  /** What Docker prints for the process: argv joined with spaces. */
  display: string;
}

function runInvocation(c: ImageConfig, s: Extract<Step, { kind: 'RUN' }>): RunInvocation {
  const sc = s.script;
  if (sc.form === 'exec') return { argv: sc.args, display: sc.args.join(' ') };
  if (sc.form === 'shell') {
    const argv = cfg.shellArgv(c, sc.command);
    return { argv, display: argv.join(' ') };
  }
  // A `#!` heredoc runs with its interpreter, the script on stdin: nothing is left in the image.
  const firstLine = sc.data.slice(2, sc.data.indexOf('\n') < 0 ? undefined : sc.data.indexOf('\n'));
  const argv = [...firstLine.trim().split(/\s+/), '/dev/stdin'];
  return { argv, stdin: sc.data, display: `${firstLine.trim()} <<${sc.name}` };
}
