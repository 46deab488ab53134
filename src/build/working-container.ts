// Buildah's imperative flow on kiln's engine: a working container is an ordinary container (never
// started) whose image config is edited step by step (builder.json beside it), whose filesystem is
// changed by `run` and `copy` through the same code the Dockerfile build uses, and which `commit`
// turns into an image like `kiln commit` does.
import { randomHex } from '../util/random.js';
import { readFileSync, writeFileSync, renameSync, statSync, readdirSync } from 'node:fs';
import { join, posix } from 'node:path';
import type { Engine } from '../engine.js';
import type { Digest, ImageConfig } from '../image/types.js';
import { familiarName, parseReference } from '../image/reference.js';
import { createContainer } from '../runtime/container-create.js';
import { containerPaths, isMounted, listContainers, mountContainer, removeContainer, unmountContainer, withRootfs, type Container } from '../runtime/containers.js';
import { commitContainerLayer } from './commit.js';
import { copyTree, mkdirAll } from './fs-copy.js';
import { resolveInRoot } from '../runtime/paths.js';
import * as cfg from './image-config.js';
import { runInRootfs, type BuildNetwork } from './run-step.js';
import { removeTree } from '../store/staging.js';

export const WORKING_LABEL = 'io.kiln.working-container';

const configFile = (engine: Engine, id: string) => join(containerPaths(engine, id).dir, 'builder.json');

export function readWorkingConfig(engine: Engine, c: Container): ImageConfig {
  if (c.config.labels[WORKING_LABEL] !== 'true') throw new Error(`${c.name} is not a working container (made by \`kiln builder from\`)`);
  return JSON.parse(readFileSync(configFile(engine, c.id), 'utf8')) as ImageConfig;
}

export function writeWorkingConfig(engine: Engine, c: Container, config: ImageConfig): void {
  const f = configFile(engine, c.id);
  writeFileSync(`${f}.tmp`, JSON.stringify(config));
  renameSync(`${f}.tmp`, f); // atomic: a crash never leaves half a config
}

export async function workingFrom(engine: Engine, image: string, name?: string): Promise<Container> {
  const { config } = engine.resolveImage(image);
  if (!name) {
    const base = `${familiarName(parseReference(image)).split('/').pop()}-working-container`;
    const taken = new Set((await listContainers(engine)).map((c) => c.name));
    name = base;
    for (let i = 2; taken.has(name); i++) name = `${base}-${i}`;
  }
  const hasCmd = (config.config?.Cmd?.length ?? 0) + (config.config?.Entrypoint?.length ?? 0) > 0;
  const c = createContainer(engine, { image, name, cmd: hasCmd ? undefined : ['/bin/sh'], network: 'none', labels: { [WORKING_LABEL]: 'true' } });
  writeWorkingConfig(engine, c, cfg.cloneConfig(config));
  return c;
}

export async function workingList(engine: Engine): Promise<Container[]> {
  return (await listContainers(engine)).filter((c) => c.config.labels[WORKING_LABEL] === 'true');
}

export async function workingRun(engine: Engine, c: Container, argv: string[], opts: { network: BuildNetwork; tty: boolean }): Promise<number> {
  const config = readWorkingConfig(engine, c);
  const scratch = engine.tmpDir('brun-');
  try {
    return await withRootfs(engine, c.id, (merged) =>
      runInRootfs(engine, {
        containerId: randomHex(),
        rootfs: merged,
        upper: containerPaths(engine, c.id).upper,
        scratch,
        argv,
        env: config.config?.Env ?? [],
        cwd: config.config?.WorkingDir || '/',
        user: config.config?.User,
        network: opts.network,
        mounts: [],
        stdin: 'inherit',
        tty: opts.tty,
      }),
    );
  } finally {
    removeTree(scratch);
  }
}

/** `builder copy CTR SRC... DEST`: host files into the working container, owned by root. */
export async function workingCopy(engine: Engine, c: Container, sources: string[], dest: string): Promise<void> {
  const config = readWorkingConfig(engine, c);
  const destPath = posix.isAbsolute(dest) ? dest : posix.join(config.config?.WorkingDir || '/', dest);
  await withRootfs(engine, c.id, async (merged) => {
    const intoDir = sources.length > 1 || dest.endsWith('/');
    for (const src of sources) {
      const isDir = statSync(src).isDirectory();
      if (isDir || intoDir) {
        const root = await mkdirAll(merged, destPath);
        if (isDir) {
          for (const n of readdirSync(src)) await copyTree(join(src, n), join(root, n), { zeroOwner: true });
        } else await copyTree(src, join(root, posix.basename(src)), { zeroOwner: true });
      } else {
        await mkdirAll(merged, posix.dirname(destPath));
        await copyTree(src, resolveInRoot(merged, destPath), { zeroOwner: true });
      }
    }
  });
}

export async function workingCommit(engine: Engine, c: Container, tag: string | undefined): Promise<Digest> {
  return commitContainerLayer(engine, {
    config: readWorkingConfig(engine, c),
    layer: { upperDir: containerPaths(engine, c.id).upper },
    createdBy: 'kiln builder commit',
    tags: tag ? [tag] : [],
  });
}

/** Buildah's mount: the working container's root filesystem stays mounted; returns where. */
export async function workingMount(engine: Engine, c: Container): Promise<string> {
  readWorkingConfig(engine, c);
  return mountContainer(engine, c.id);
}

export async function workingUnmount(engine: Engine, c: Container): Promise<void> {
  readWorkingConfig(engine, c);
  await unmountContainer(engine, c.id);
}

/** Working containers whose root filesystem is mounted, with the mount point. */
export async function workingMounts(engine: Engine): Promise<{ container: Container; path: string }[]> {
  return (await workingList(engine)).map((c) => ({ container: c, path: containerPaths(engine, c.id).merged })).filter((m) => isMounted(m.path));
}

export async function workingRemove(engine: Engine, c: Container): Promise<void> {
  readWorkingConfig(engine, c);
  await removeContainer(engine, c.id, { force: true });
}
