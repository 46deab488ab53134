// A container's writable layer as a new image layer (`kiln commit`, `kiln builder commit`): the
// upper dir is packed (whiteouts kept) and applied as a layer on top of the image's, the config
// gets the container's settings, `--change` instructions and a history entry. The container keeps
// its upper dir untouched, so it can go on running or be committed again. `kiln import` comes the
// same way with a tarball instead of an upper dir.
import { PassThrough, type Readable } from 'node:stream';
import type { Engine } from '../engine.js';
import type { Digest, ImageConfig } from '../image/types.js';
import { packLayer } from '../layers/pack.js';
import { planBuild } from '../dockerfile/stages.js';
import { expandStep, locationOf } from './expand.js';
import * as cfg from './image-config.js';
import type { Container } from '../runtime/containers.js';

export interface CommitRequest {
  /** The config the new image starts from (the image's, with the container's settings applied). */
  config: ImageConfig;
  /** The new layer: a container's upper dir (packed here), or a tar stream (applied as is). */
  layer: { upperDir: string } | { tar: Readable };
  /** Dockerfile instructions to apply (`-c 'CMD ["sh"]'`); only metadata instructions. */
  changes?: string[];
  comment?: string;
  author?: string;
  /** History line for the new layer. */
  createdBy: string;
  tags?: string[];
}

const CHANGE_KINDS = new Set(['CMD', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'LABEL', 'ONBUILD', 'USER', 'VOLUME', 'WORKDIR', 'STOPSIGNAL', 'HEALTHCHECK', 'SHELL', 'MAINTAINER']);

export async function commitContainerLayer(engine: Engine, req: CommitRequest): Promise<Digest> {
  const config = cfg.cloneConfig(req.config);
  // Parse the changes first: a bad --change must not leave a layer behind.
  const steps = (req.changes ?? []).flatMap((change) => parseChange(change));

  let layer: { diffId: Digest };
  if ('tar' in req.layer) {
    layer = await engine.layers.applyTar(req.layer.tar, config.rootfs.diff_ids);
  } else {
    const pipe = new PassThrough();
    [, layer] = await Promise.all([
      packLayer(req.layer.upperDir, pipe).then(() => pipe.end(), (e: unknown) => pipe.destroy(e as Error)),
      engine.layers.applyTar(pipe, config.rootfs.diff_ids),
    ]);
  }
  const created = new Date().toISOString();
  config.created = created;
  if (req.author) config.author = req.author;
  config.rootfs.diff_ids.push(layer.diffId);
  cfg.addHistory(config, { created, ...(req.createdBy ? { created_by: req.createdBy } : {}), ...(req.author ? { author: req.author } : {}), ...(req.comment ? { comment: req.comment } : {}) });
  const env = cfg.getEnv(config);
  for (const s of steps) {
    const step = expandStep(s, env);
    if (step.kind === 'WORKDIR') cfg.cc(config).WorkingDir = step.path.startsWith('/') ? step.path : `${config.config?.WorkingDir ?? '/'}/${step.path}`;
    else if (cfg.isMetadataStep(step)) cfg.applyMetadata(config, step, true);
  }
  return engine.db.tx(() => {
    const rec = engine.putImage(config);
    for (const t of req.tags ?? []) engine.tagImage(t, rec.id);
    return rec.id;
  });
}

function parseChange(change: string) {
  const plan = planBuild(`FROM scratch\n${change}\n`, { filename: '--change' });
  const ins = plan.stages[0]!.instructions;
  for (const i of ins) {
    if (!CHANGE_KINDS.has(i.kind)) throw new Error(`${i.keyword} is not a valid change command`);
  }
  return ins.map((i) => ({ ins: i, loc: locationOf(i, '--change'), keyText: i.original, escapeChar: plan.escapeChar }));
}

/** The image config a commit starts from: the image's, with what the container was run with. */
export function configFromContainer(engine: Engine, c: Container): ImageConfig {
  const config = cfg.cloneConfig(engine.content.readJson<ImageConfig>(c.config.imageId as `sha256:${string}`));
  const cc = cfg.cc(config);
  cc.Cmd = c.config.cmd.length ? c.config.cmd : null;
  cc.Entrypoint = c.config.entrypoint.length ? c.config.entrypoint : null;
  cc.Env = c.config.env;
  if (c.config.workingDir) cc.WorkingDir = c.config.workingDir;
  if (c.config.user) cc.User = c.config.user;
  if (Object.keys(c.config.labels).length) cc.Labels = { ...(cc.Labels ?? {}), ...c.config.labels };
  return config;
}
