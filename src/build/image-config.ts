// How each metadata instruction changes an image config, and the history entry it leaves. Pure:
// the executor expands words first and passes plain values here.
import type { ContainerConfig, HealthConfig, HistoryEntry, ImageConfig } from '../image/types.js';
import type { CommandLine } from '../dockerfile/instructions.js';
import type { Step } from './steps.js';

import { DEFAULT_PATH } from '../runtime/spec.js';

export function scratchConfig(): ImageConfig {
  // BuildKit gives FROM scratch a PATH so RUN steps after ADD of a rootfs find their tools.
  return { architecture: 'amd64', os: 'linux', config: { Env: [`PATH=${DEFAULT_PATH}`] }, rootfs: { type: 'layers', diff_ids: [] }, history: [] };
}

/** A deep copy, so a step never mutates the config of the step (or cached image) before it. */
export function cloneConfig(c: ImageConfig): ImageConfig {
  return structuredClone(c);
}

export function cc(c: ImageConfig): ContainerConfig {
  c.config ??= {};
  return c.config;
}

export function getEnv(c: ImageConfig): Map<string, string> {
  const m = new Map<string, string>();
  for (const kv of c.config?.Env ?? []) {
    const i = kv.indexOf('=');
    m.set(i < 0 ? kv : kv.slice(0, i), i < 0 ? '' : kv.slice(i + 1));
  }
  return m;
}

export function setEnv(c: ImageConfig, pairs: [string, string][]): void {
  const m = getEnv(c);
  for (const [k, v] of pairs) m.set(k, v);
  cc(c).Env = [...m].map(([k, v]) => `${k}=${v}`);
}

export function addHistory(c: ImageConfig, h: HistoryEntry): void {
  (c.history ??= []).push(h);
}

export function setCmd(c: ImageConfig, cmd: string[]): void {
  cc(c).Cmd = cmd;
}

/** ENTRYPOINT resets a CMD inherited from the base image, as Docker does, but not one set earlier
 *  in the same stage. */
export function setEntrypoint(c: ImageConfig, ep: string[], cmdSetInStage: boolean): void {
  cc(c).Entrypoint = ep;
  if (!cmdSetInStage) cc(c).Cmd = null;
}

export function addExposed(c: ImageConfig, ports: string[]): void {
  const e = (cc(c).ExposedPorts ??= {});
  for (const p of ports) e[p.includes('/') ? p.toLowerCase() : `${p}/tcp`] = {};
}

export function addVolumes(c: ImageConfig, vols: string[]): void {
  const v = (cc(c).Volumes ??= {});
  for (const p of vols) v[p] = {};
}

export function addLabels(c: ImageConfig, labels: [string, string][]): void {
  const l = (cc(c).Labels ??= {});
  for (const [k, v] of labels) l[k] = v;
}

export function setHealthcheck(c: ImageConfig, h: HealthConfig): void {
  cc(c).Healthcheck = h;
}

export function addOnbuild(c: ImageConfig, expr: string): void {
  (cc(c).OnBuild ??= []).push(expr);
}

/** Shell form → argv with the image's SHELL (default /bin/sh -c). */
export function shellArgv(c: ImageConfig, command: string): string[] {
  return [...(c.config?.Shell ?? ['/bin/sh', '-c']), command];
}

export function commandArgv(c: ImageConfig, cmd: CommandLine): string[] {
  return cmd.form === 'exec' ? cmd.args : shellArgv(c, cmd.command);
}

export type MetadataStep = Extract<Step, { kind: 'ENV' | 'LABEL' | 'USER' | 'EXPOSE' | 'VOLUME' | 'STOPSIGNAL' | 'HEALTHCHECK' | 'SHELL' | 'CMD' | 'ENTRYPOINT' | 'MAINTAINER' | 'ONBUILD' }>;

const METADATA_KINDS = new Set(['ENV', 'LABEL', 'USER', 'EXPOSE', 'VOLUME', 'STOPSIGNAL', 'HEALTHCHECK', 'SHELL', 'CMD', 'ENTRYPOINT', 'MAINTAINER', 'ONBUILD']);

export function isMetadataStep(s: Step): s is MetadataStep {
  return METADATA_KINDS.has(s.kind);
}

/**
 * Applies a metadata-only instruction (one that changes the config, not the filesystem) and
 * returns the history line it leaves. Shared by the build and by `commit --change`.
 */
export function applyMetadata(c: ImageConfig, s: MetadataStep, cmdSetInStage: boolean): string {
  switch (s.kind) {
    case 'ENV':
      setEnv(c, s.pairs);
      return `ENV ${s.pairs.map(([k, v]) => `${k}=${v}`).join(' ')}`;
    case 'LABEL':
      addLabels(c, s.pairs);
      return `LABEL ${s.pairs.map(([k, v]) => `${k}=${v}`).join(' ')}`;
    case 'USER':
      cc(c).User = s.user;
      return `USER ${s.user}`;
    case 'EXPOSE':
      addExposed(c, s.ports);
      return `EXPOSE map[${s.ports.map((p) => (p.includes('/') ? p : `${p}/tcp`)).join(' ')}:{}]`;
    case 'VOLUME':
      addVolumes(c, s.paths);
      return `VOLUME [${s.paths.join(' ')}]`;
    case 'STOPSIGNAL':
      cc(c).StopSignal = s.signal;
      return `STOPSIGNAL ${s.signal}`;
    case 'HEALTHCHECK':
      setHealthcheck(c, s.health);
      return `HEALTHCHECK ${JSON.stringify(s.health.Test)}`;
    case 'SHELL':
      cc(c).Shell = s.shell;
      return `SHELL ${JSON.stringify(s.shell)}`;
    case 'CMD': {
      const argv = commandArgv(c, s.command);
      setCmd(c, argv);
      return `CMD ${JSON.stringify(argv)}`;
    }
    case 'ENTRYPOINT': {
      const argv = commandArgv(c, s.command);
      setEntrypoint(c, argv, cmdSetInStage);
      return `ENTRYPOINT ${JSON.stringify(argv)}`;
    }
    case 'MAINTAINER':
      c.author = s.name;
      return `MAINTAINER ${s.name}`;
    case 'ONBUILD':
      addOnbuild(c, s.expression);
      return `ONBUILD ${s.expression}`;
  }
}
