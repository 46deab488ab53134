// `kiln build`: Docker's flags and meaning. Parsing only; the work is in src/build/.
import { readFileSync, writeFileSync, existsSync, statSync, rmSync } from 'node:fs';
import { resolve, join } from 'node:path';
import type { Command } from 'commander';
import { CliError, type CliContext } from '../context.js';
import { parseFields } from '../../util/fields.js';
import { normalize } from '../../image/reference.js';
import { build, type BuildResult, type NamedContext } from '../../build/executor.js';
import type { Engine } from '../../engine.js';
import { extractArchiveFile, isArchiveHead } from '../../build/archive-file.js';
import { createProgress, type ProgressMode } from '../../build/progress.js';
import { exportBuildResult, parseOutput, type BuildOutput } from '../../build/output.js';
import { racyStamps, stampsOf, writeReplayRecord, REPLAY_VERSION, type FileStamp } from '../../build/replay-record.js';
import { bundleStamp } from '../../self.js';
import { familiarString, parseReference } from '../../image/reference.js';
import type { ImageConfig } from '../../image/types.js';

const collect = (v: string, prev: string[]) => [...prev, v];

export function parseKeyValues(list: string[], what: string, fromEnv = false): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of list) {
    const i = item.indexOf('=');
    if (i === 0) throw new CliError(`invalid ${what} ${JSON.stringify(item)}: empty name`);
    if (i < 0) {
      // `--build-arg NAME` takes the value from the environment, as Docker does.
      if (fromEnv && process.env[item] !== undefined) out[item] = process.env[item]!;
      else if (!fromEnv) out[item] = '';
      continue;
    }
    out[item.slice(0, i)] = item.slice(i + 1);
  }
  return out;
}

/** `--secret id=foo,src=path` (also `source=`, `env=`), as BuildKit spells it. */
export function parseSecrets(list: string[]): Record<string, { src?: string; env?: string }> {
  const out: Record<string, { src?: string; env?: string }> = {};
  for (const spec of list) {
    const { fields } = parseFields(spec);
    const id = fields.id;
    if (!id) throw new CliError(`invalid secret ${JSON.stringify(spec)}: id= is required`);
    const src = fields.src ?? fields.source;
    out[id] = { src: src ? resolve(src) : undefined, env: fields.env ?? (src ? undefined : id) };
  }
  return out;
}

/** `--ssh default`, `--ssh id=/path/to/agent.sock`: agent sockets by ID (BuildKit's spelling). */
export function parseSsh(list: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const spec of list) {
    const i = spec.indexOf('=');
    const id = i < 0 ? spec : spec.slice(0, i);
    const path = i < 0 ? process.env.SSH_AUTH_SOCK : spec.slice(i + 1);
    if (!id) throw new CliError(`invalid --ssh ${JSON.stringify(spec)}: an ID is needed (default)`);
    if (!path) throw new CliError(`--ssh ${id}: SSH_AUTH_SOCK is not set: start ssh-agent or give ${id}=SOCKET`);
    let st;
    try {
      st = statSync(path);
    } catch {
      throw new CliError(`--ssh ${id}: ${path}: no such file or directory`);
    }
    // BuildKit can also load key files into an agent of its own; kiln forwards agents only.
    if (!st.isSocket()) throw new CliError(`--ssh ${id}: ${path} is not an agent socket (start ssh-agent, ssh-add the key, and pass $SSH_AUTH_SOCK)`);
    out[id] = resolve(path);
  }
  return out;
}

/** `--build-context name=DIR` or `name=docker-image://REF` (BuildKit's spellings we support). */
export function parseBuildContexts(list: string[]): Record<string, NamedContext> {
  const out: Record<string, NamedContext> = {};
  for (const spec of list) {
    const i = spec.indexOf('=');
    if (i <= 0) throw new CliError(`invalid --build-context ${JSON.stringify(spec)}: expected NAME=VALUE`);
    const name = spec.slice(0, i);
    const value = spec.slice(i + 1);
    if (value.startsWith('docker-image://')) {
      out[name] = { kind: 'image', ref: value.slice('docker-image://'.length) };
    } else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
      throw new CliError(`--build-context ${name}: ${value.split('://')[0]}:// contexts are not supported: use a local directory or docker-image://REF`);
    } else {
      const dir = resolve(value);
      if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new CliError(`--build-context ${name}: ${value}: not a directory`);
      out[name] = { kind: 'dir', path: dir };
    }
  }
  return out;
}

/** `--cache-from REF` or BuildKit's `type=registry,ref=REF`. */
export function parseCacheFrom(list: string[]): string[] {
  return list.map((spec) => {
    if (!spec.includes('=')) return spec;
    const { fields } = parseFields(spec);
    if ((fields.type ?? 'registry') !== 'registry' || !fields.ref) {
      throw new CliError(`--cache-from ${spec}: only an image is supported (REF or type=registry,ref=REF)`);
    }
    return fields.ref;
  });
}

let cleanupContext = () => {};

/**
 * Options whose whole effect a replay reproduces (build/replay-record.ts): the rest (stdin, pulls,
 * pushes, outputs, other contexts, secrets, cache imports and exports, --no-cache…) always build.
 */
const REPLAYABLE = new Set(['tag', 'file', 'buildArg', 'target', 'network', 'progress', 'quiet', 'iidfile', 'label', 'platform', 'addHost', 'rm', 'forceRm', 'load', 'provenance', 'sbom', 'disableContentTrust', 'compress', 'isolation', 'cache']);
function replayable(o: Record<string, unknown>, context: string): boolean {
  if (context === '-' || o.file === '-' || o.cache === false) return false;
  return Object.entries(o).every(([k, v]) => REPLAYABLE.has(k) || v === undefined || (Array.isArray(v) && v.length === 0) || v === false);
}

/** A stream that keeps a copy of what is written to it (the output a replay prints again). */
function teeStream(stream: NodeJS.WriteStream, copy: string[]): NodeJS.WriteStream {
  const write = stream.write.bind(stream) as (chunk: string | Uint8Array, ...rest: unknown[]) => boolean;
  const tee = (chunk: string | Uint8Array, ...rest: unknown[]) => {
    copy.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    return write(chunk, ...rest);
  };
  return Object.create(stream, { write: { value: tee } }) as NodeJS.WriteStream;
}

/** Writes the replay record of a build that changed nothing in the store (build/replay-record.ts). */
function recordForReplay(
  engine: Engine,
  b: { generation: number; startedMs: number; stamps: FileStamp[]; transcript: string[]; result: BuildResult; o: { tag: string[]; buildArg: string[]; iidfile?: string } },
): void {
  if (racyStamps(b.stamps, b.startedMs)) return;
  const env: Record<string, string | null> = { SOURCE_DATE_EPOCH: process.env.SOURCE_DATE_EPOCH ?? null };
  for (const a of b.o.buildArg) if (!a.includes('=')) env[a] = process.env[a] ?? null;
  try {
    const config = engine.content.readJson<ImageConfig>(b.result.imageId);
    writeReplayRecord(engine.root, {
      version: REPLAY_VERSION,
      bundle: bundleStamp()!,
      args: process.argv.slice(2),
      cwd: process.cwd(),
      env,
      generation: b.generation,
      stamps: b.stamps,
      output: b.transcript.join(''),
      imageId: b.result.imageId,
      tagNames: b.o.tag.map((t) => familiarString(parseReference(t))),
      present: [engine.content.path(b.result.imageId), ...engine.layers.lowerDirs(config.rootfs.diff_ids)],
      cacheKeys: b.result.cacheKeys,
      touchedMs: Date.now(), // the build just used them
      ...(b.o.iidfile ? { iidfile: resolve(b.o.iidfile) } : {}),
    });
  } catch {
    /* a read-only store, say: no replay, nothing else lost */
  }
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('build')
    .description('Build an image from a Dockerfile')
    .argument('<context>', 'build context directory, or "-": a Dockerfile or a context tar on stdin')
    .option('-t, --tag <name>', 'name and optionally a tag (name:tag); repeatable', collect, [])
    .option('-f, --file <path>', 'Dockerfile path (default: CONTEXT/Dockerfile; "-" reads stdin)')
    .option('--build-arg <k=v>', 'set a build-time variable; repeatable', collect, [])
    .option('--target <stage>', 'build up to this stage')
    .option('--no-cache', 'do not use the build cache')
    .option('--pull', 'always look for a newer base image (pulls images that come from a registry)')
    .option('--network <mode>', 'network for RUN: default, none or host', 'default')
    .option('--progress <mode>', 'auto, tty, plain or quiet', 'auto')
    .option('-q, --quiet', 'print only the image ID')
    .option('--iidfile <file>', 'write the image ID to this file')
    .option('--label <k=v>', 'set metadata on the image; repeatable', collect, [])
    .option('--cache-from <ref>', 'image whose inline build cache may be reused: REF or type=registry,ref=REF; repeatable', collect, [])
    .option('--cache-to <spec>', 'type=inline: record the build cache in the image, for --cache-from elsewhere')
    .option('--build-context <name=value>', 'additional named context: NAME=DIR or NAME=docker-image://REF (for FROM, COPY --from, RUN --mount from=); repeatable', collect, [])
    .option('--ssh <spec>', 'ssh agent socket for RUN --mount=type=ssh: default|ID[=SOCKET] ($SSH_AUTH_SOCK when no socket is given); repeatable', collect, [])
    .option('--secret <spec>', 'secret for RUN --mount=type=secret: id=ID,src=PATH; repeatable', collect, [])
    .option('--platform <p>', 'target platform (only linux/amd64 is built here)')
    .option('--explain-cache', 'for each step that misses the cache, say why')
    .option('-o, --output <spec>', 'also write the result: its filesystem (DIR, "-" a tar on stdout, type=local,dest=DIR, type=tar,dest=FILE) or the image (type=oci|docker,dest=FILE|-[,name=REF])')
    .option('--rm', 'remove intermediate containers after a successful build (always done)')
    .option('--force-rm', 'always remove intermediate containers (always done)')
    .option('--add-host <host:ip>', 'add a custom host-to-IP mapping for RUN steps; repeatable', collect, [])
    // commander files it under cacheFilter (a --no- flag that takes a value is no negation).
    .option('--no-cache-filter <stage>', 'do not use the build cache for these stages (name or index); repeatable', collect, [])
    .option('--push', 'push every -t name to its registry after the build')
    .option('--load', 'load the result into the image store (always done)')
    .option('--metadata-file <file>', 'write the build result metadata (JSON) to this file')
    .option('--provenance <v>', 'provenance attestation: only false (kiln makes no attestations)')
    .option('--sbom <v>', 'SBOM attestation: only false (kiln makes no attestations)')
    .option('--disable-content-trust', 'skip image verification (kiln does no content trust)')
    .option('--compress', 'compress the context (the context is not sent anywhere: ignored)')
    .option('--isolation <tech>', 'container isolation technology: default')
    .action(async (context: string, o) => {
      const startedMs = Date.now();
      let dockerfileStamps: FileStamp[] = [];
      let stdinDockerfile: string | undefined;
      let contextDir: string;
      if (context === '-') {
        // `docker build - < Dockerfile` (no context) or `docker build - < context.tar[.gz]`.
        if (o.file === '-') throw new CliError('invalid argument: can\'t use stdin for both build context and dockerfile');
        const input = readFileSync(0);
        contextDir = ctx.engine().tmpDir('context-');
        cleanupContext = () => rmSync(contextDir, { recursive: true, force: true });
        if (isArchiveHead(input)) {
          const archive = `${contextDir}.tar`;
          writeFileSync(archive, input);
          try {
            await extractArchiveFile(archive, contextDir, { keepOwners: false });
          } catch (e) {
            throw new CliError(`unable to read the context tar from stdin: ${(e as Error).message}`);
          } finally {
            rmSync(archive, { force: true });
          }
        } else {
          stdinDockerfile = input.toString('utf8');
        }
      } else {
        contextDir = resolve(context);
        if (!existsSync(contextDir) || !statSync(contextDir).isDirectory()) {
          throw new CliError(`unable to prepare context: path ${JSON.stringify(context)} not found`);
        }
      }
      let dockerfilePath: string;
      let dockerfileText: string;
      if (stdinDockerfile !== undefined) {
        dockerfilePath = join(contextDir, 'Dockerfile');
        dockerfileText = stdinDockerfile;
      } else if (o.file === '-') {
        dockerfilePath = join(contextDir, 'Dockerfile');
        dockerfileText = readFileSync(0, 'utf8');
      } else {
        dockerfilePath = o.file ? resolve(o.file) : join(contextDir, 'Dockerfile');
        if (!existsSync(dockerfilePath)) {
          throw new CliError(`failed to read dockerfile: open ${o.file ?? 'Dockerfile'}: no such file or directory`);
        }
        dockerfileStamps = stampsOf(dockerfilePath); // before reading: a change after it shows
        dockerfileText = readFileSync(dockerfilePath, 'utf8');
      }
      if (!['default', 'none', 'host'].includes(o.network)) {
        throw new CliError(`network mode ${JSON.stringify(o.network)} not supported by build: use default, none or host`);
      }
      if (o.platform && o.platform !== 'linux/amd64') throw new CliError(`platform ${o.platform} is not supported here (linux/amd64 only)`);
      for (const [flag, v] of [['--provenance', o.provenance], ['--sbom', o.sbom]] as const) {
        if (v !== undefined && !['false', '0'].includes(String(v))) throw new CliError(`${flag}=${v}: kiln makes no attestations (use ${flag}=false)`);
      }
      if (o.isolation !== undefined && o.isolation !== 'default') throw new CliError(`isolation ${JSON.stringify(o.isolation)} is not supported: Linux containers use "default"`);
      let output: Exclude<BuildOutput, { type: 'image' }> | undefined;
      try {
        const parsed = o.output !== undefined ? parseOutput(o.output) : undefined;
        // type=image / type=registry: the names are tags like -t, pushed afterwards if asked.
        if (parsed?.type === 'image') {
          o.tag = [...(o.tag as string[]), ...parsed.names.filter((n) => !(o.tag as string[]).includes(n))];
          if (parsed.push) o.push = true;
        } else output = parsed;
      } catch (e) {
        throw new CliError((e as Error).message);
      }
      if (o.push && !o.tag.length) throw new CliError('tag is needed when pushing to registry');
      let extraHosts;
      if (o.addHost.length) {
        const { parseAddHost } = await import('../../runtime/container-options.js');
        try {
          extraHosts = (o.addHost as string[]).map(parseAddHost);
        } catch (e) {
          throw new CliError((e as Error).message);
        }
      }
      const mode: ProgressMode = o.quiet ? 'quiet' : (o.progress as ProgressMode);
      if (!['auto', 'tty', 'plain', 'quiet'].includes(mode)) throw new CliError(`invalid --progress ${JSON.stringify(o.progress)}: use auto, tty, plain or quiet`);
      // A build that may be recorded for replay keeps a copy of its output (never a terminal's).
      const recordable = replayable(o, context) && mode !== 'tty' && bundleStamp() !== undefined && !process.stdout.isTTY && !process.stderr.isTTY;
      const transcript: string[] = [];
      // A tar on stdout must be the only thing there: progress then goes to stderr.
      const progress = createProgress(mode, output && output.type !== 'local' && output.dest === '-' ? process.stderr : recordable ? teeStream(process.stdout, transcript) : process.stdout);
      let progressOpen = true;
      const closeProgress = () => {
        if (progressOpen) progress.close();
        progressOpen = false;
      };
      const sde = process.env.SOURCE_DATE_EPOCH;
      // BuildKit's two spellings of an inline cache: --cache-to type=inline, or this build arg.
      const buildArgs = parseKeyValues(o.buildArg, 'build arg', true);
      let inlineCache = false;
      if (buildArgs.BUILDKIT_INLINE_CACHE !== undefined) {
        inlineCache = ['1', 'true'].includes(buildArgs.BUILDKIT_INLINE_CACHE);
        delete buildArgs.BUILDKIT_INLINE_CACHE;
      }
      if (o.cacheTo !== undefined) {
        const type = parseFields(o.cacheTo).fields.type ?? o.cacheTo;
        if (type !== 'inline') throw new CliError(`--cache-to ${o.cacheTo}: only type=inline is supported (the cache travels in the image: push it, then build --cache-from it)`);
        inlineCache = true;
      }
      try {
        const generation = ctx.engine().db.generation();
        const result = await build(ctx.engine(), {
          contextDir,
          dockerfilePath,
          dockerfileText,
          tags: o.tag,
          buildArgs,
          target: o.target,
          noCache: o.cache === false,
          pull: !!o.pull,
          network: o.network,
          labels: parseKeyValues(o.label, 'label'),
          secrets: parseSecrets(o.secret),
          ssh: parseSsh(o.ssh),
          contexts: parseBuildContexts(o.buildContext),
          inlineCache,
          cacheFrom: parseCacheFrom(o.cacheFrom),
          explainCache: !!o.explainCache,
          sourceDateEpoch: sde !== undefined && sde !== '' ? Number(sde) : undefined,
          ...(extraHosts ? { extraHosts } : {}),
          ...(o.cacheFilter.length ? { noCacheStages: o.cacheFilter } : {}),
          progress,
        });
        if (o.iidfile) writeFileSync(o.iidfile, result.imageId);
        // Nothing in the store changed: every step was a cache hit and nothing was pulled.
        if (recordable && ctx.engine().db.generation() === generation) {
          closeProgress(); // all of the output is in the transcript
          recordForReplay(ctx.engine(), { generation, startedMs, stamps: [...dockerfileStamps, ...result.contextStamps], transcript, result, o });
        }
        if (output) await exportBuildResult(ctx.engine(), result.imageId, output, o.tag as string[]);
        const metadata: Record<string, string> = { 'containerimage.config.digest': result.imageId };
        if (o.tag.length) metadata['image.name'] = (o.tag as string[]).map((t) => normalize(t)).join(',');
        if (o.push) {
          closeProgress(); // the push has its own progress
          const [{ pushImage }, { progressFor }] = await Promise.all([import('../../registry/push.js'), import('../../registry/progress.js')]);
          for (const t of o.tag as string[]) {
            try {
              const pushed = await pushImage(ctx.engine(), t, { progress: mode === 'quiet' ? undefined : progressFor(process.stderr, 'auto') });
              metadata['containerimage.digest'] ??= pushed.digest;
            } catch (e) {
              throw new CliError(`pushing ${t}: ${(e as Error).message}`);
            }
          }
        }
        if (o.metadataFile) writeFileSync(o.metadataFile, JSON.stringify(metadata, null, 2) + '\n');
      } finally {
        closeProgress();
        cleanupContext();
      }
    });
}
