// Docker-shaped `image inspect` objects (Engine API ImageInspect), built from an image config and
// what the store knows about the image. Field names and order are Docker's, so scripts written
// against `docker image inspect` (and its --format templates) keep working. Nil slices and maps
// are GoNil markers: JSON `null`, but `[]` / `map[]` when a template prints them, as in Docker.
import { GoNil, NIL_MAP, NIL_SLICE } from '../cli/format/gofmt.js';
import { familiarName, familiarString, parseReference, repositoryName } from './reference.js';
import type { ContainerConfig, Digest, HealthConfig, HistoryEntry, ImageConfig } from './types.js';

/** What the store knows about an image, besides its config. */
export interface ImageFacts {
  id: Digest;
  config: ImageConfig;
  /** Tags as stored (normalized, e.g. docker.io/library/app:latest). */
  tags: readonly string[];
  /** Digest of the image's manifest, if one is known (pulled, pushed, loaded or built). */
  manifestDigest?: Digest | null;
  /** Repository digests (normalized name@digest) recorded by pulls, pushes and loads. */
  repoDigests?: readonly string[];
  /** Sum of the uncompressed sizes of its layers. */
  size: number;
  /** Parent image ID (classic builder); '' when unknown. */
  parent?: string | null;
  /** When a tag was last set (ISO time). */
  lastTagTime?: string | null;
  /** Unpacked layer directories, bottom layer first (for GraphDriver). */
  layerDirs?: readonly string[];
}

export interface DockerContainerConfig {
  Hostname: string;
  Domainname: string;
  User: string;
  AttachStdin: boolean;
  AttachStdout: boolean;
  AttachStderr: boolean;
  ExposedPorts?: Record<string, Record<string, never>>;
  Tty: boolean;
  OpenStdin: boolean;
  StdinOnce: boolean;
  Env: string[] | GoNil;
  Cmd: string[] | GoNil;
  Healthcheck?: HealthConfig;
  ArgsEscaped?: boolean;
  Image: string;
  Volumes: Record<string, Record<string, never>> | GoNil;
  WorkingDir: string;
  Entrypoint: string[] | GoNil;
  OnBuild: string[] | GoNil;
  Labels: Record<string, string> | GoNil;
  StopSignal?: string;
  Shell?: string[];
}

export interface DockerImageInspect {
  Id: Digest;
  RepoTags: string[];
  RepoDigests: string[];
  Parent: string;
  Comment: string;
  Created: string;
  DockerVersion: string;
  Author: string;
  Config: DockerContainerConfig;
  Architecture: string;
  Variant?: string;
  Os: string;
  OsVersion?: string;
  Size: number;
  VirtualSize: number;
  GraphDriver: { Data: Record<string, string> | GoNil; Name: string };
  RootFS: { Type: string; Layers?: Digest[] };
  Metadata: { LastTagTime: string };
}

const ZERO_TIME = '0001-01-01T00:00:00Z';

/** Go marshals maps with sorted keys; Docker's maps (Labels, ExposedPorts, Volumes) print that way. */
function sortedMap<V>(m: Record<string, V> | undefined | null): Record<string, V> | undefined {
  if (!m) return undefined;
  const out: Record<string, V> = {};
  for (const k of Object.keys(m).sort()) out[k] = m[k]!;
  return out;
}

function sliceOrNil<T>(v: T[] | null | undefined): T[] | GoNil {
  return Array.isArray(v) ? [...v] : NIL_SLICE;
}

/** container.Config as Docker's image inspect shows it (from the image config's `config`). */
export function dockerContainerConfig(c: ContainerConfig | undefined): DockerContainerConfig {
  const cfg = c ?? {};
  const x = cfg as ContainerConfig & Record<string, unknown>;
  const out: DockerContainerConfig = {
    Hostname: typeof x.Hostname === 'string' ? x.Hostname : '',
    Domainname: typeof x.Domainname === 'string' ? x.Domainname : '',
    User: cfg.User ?? '',
    AttachStdin: false,
    AttachStdout: false,
    AttachStderr: false,
    Tty: false,
    OpenStdin: false,
    StdinOnce: false,
    Env: sliceOrNil(cfg.Env),
    Cmd: sliceOrNil(cfg.Cmd),
    Image: typeof x.Image === 'string' ? x.Image : '',
    Volumes: sortedMap(cfg.Volumes) ?? NIL_MAP,
    WorkingDir: cfg.WorkingDir ?? '',
    Entrypoint: sliceOrNil(cfg.Entrypoint),
    OnBuild: sliceOrNil(cfg.OnBuild),
    Labels: sortedMap(cfg.Labels) ?? NIL_MAP,
  };
  // omitempty fields, inserted at Docker's struct positions
  const ordered: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(out)) {
    ordered[k] = v;
    if (k === 'AttachStderr' && cfg.ExposedPorts && Object.keys(cfg.ExposedPorts).length) ordered.ExposedPorts = sortedMap(cfg.ExposedPorts);
    if (k === 'Cmd') {
      if (cfg.Healthcheck) ordered.Healthcheck = cfg.Healthcheck;
      if (cfg.ArgsEscaped) ordered.ArgsEscaped = true;
    }
    if (k === 'Labels') {
      if (cfg.StopSignal) ordered.StopSignal = cfg.StopSignal;
      if (cfg.Shell && cfg.Shell.length) ordered.Shell = [...cfg.Shell];
    }
  }
  return ordered as unknown as DockerContainerConfig;
}

/** Docker's familiar tag list: `app:latest`, `127.0.0.1:5000/x:1`; sorted, without duplicates. */
export function familiarTags(tags: readonly string[]): string[] {
  const out = new Set<string>();
  for (const t of tags) {
    try {
      out.add(familiarString(parseReference(t)));
    } catch {
      out.add(t);
    }
  }
  return [...out].sort();
}

/** `repo@sha256:…` for every repository the image is tagged in (plus recorded repo digests). */
/** Docker's RepoDigests: the recorded `repo@digest` references (normalized) in familiar form, sorted. */
export function repoDigests(recorded: readonly string[]): string[] {
  const out = new Set<string>();
  for (const r of recorded) {
    try {
      const ref = parseReference(r);
      if (ref.digest) out.add(`${familiarName(ref)}@${ref.digest}`);
    } catch {
      /* ignore a malformed record */
    }
  }
  return [...out].sort();
}

/** The Engine API ImageInspect object for one image. */
export function toDockerInspect(f: ImageFacts): DockerImageInspect {
  const cfg = f.config as ImageConfig & { comment?: string; docker_version?: string; 'os.version'?: string; parent?: string };
  const dirs = f.layerDirs ?? [];
  let graphData: Record<string, string> | GoNil = NIL_MAP;
  if (dirs.length) {
    const top = dirs[dirs.length - 1]!;
    const lower = dirs.slice(0, -1).reverse();
    graphData = lower.length ? { LowerDir: lower.join(':'), UpperDir: top } : { UpperDir: top };
  }
  const out: DockerImageInspect = {
    Id: f.id,
    RepoTags: familiarTags(f.tags),
    RepoDigests: repoDigests(f.repoDigests ?? []),
    Parent: f.parent ?? '',
    Comment: cfg.comment ?? lastComment(cfg.history) ?? '',
    Created: cfg.created ?? '',
    DockerVersion: cfg.docker_version ?? '',
    Author: cfg.author ?? '',
    Config: dockerContainerConfig(cfg.config),
    Architecture: cfg.architecture ?? '',
    Os: cfg.os ?? '',
    Size: f.size,
    VirtualSize: f.size,
    GraphDriver: { Data: graphData, Name: 'overlay' },
    RootFS: { Type: cfg.rootfs?.type ?? 'layers' },
    Metadata: { LastTagTime: f.lastTagTime || ZERO_TIME },
  };
  if (cfg.rootfs?.diff_ids?.length) out.RootFS.Layers = [...cfg.rootfs.diff_ids];
  // Variant and OsVersion are omitempty and sit next to Architecture / Os
  const ordered: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(out)) {
    ordered[k] = v;
    if (k === 'Architecture' && cfg.variant) ordered.Variant = cfg.variant;
    if (k === 'Os' && cfg['os.version']) ordered.OsVersion = cfg['os.version'];
  }
  return ordered as unknown as DockerImageInspect;
}

/** BuildKit records its frontend in the last history entry's comment; Docker shows it as Comment. */
function lastComment(h: HistoryEntry[] | undefined): string | undefined {
  if (!h || h.length === 0) return undefined;
  const c = h[h.length - 1]!.comment;
  return c || undefined;
}

/** One `docker history` row, before formatting. */
export interface HistoryRow {
  /** Image ID for the top row, '<missing>' for the rest. */
  id: string;
  created?: string;
  createdBy: string;
  /** Uncompressed size of the layer this step made (0 for an empty layer). */
  size: number;
  comment: string;
}

/**
 * Docker's history rows, newest first: each history entry paired with its layer's size (entries
 * with empty_layer have none). `layerSizes[i]` is the size of rootfs.diff_ids[i].
 */
export function historyRows(id: string, config: ImageConfig, layerSizes: readonly number[]): HistoryRow[] {
  const rows: HistoryRow[] = [];
  const hist = config.history ?? [];
  let layer = 0;
  if (hist.length === 0) {
    // no history: one row per layer, as Docker shows a layer with nothing known about it
    (config.rootfs?.diff_ids ?? []).forEach((_d, i) => rows.push({ id: '<missing>', created: undefined, createdBy: '', size: layerSizes[i] ?? 0, comment: '' }));
  }
  for (const h of hist) {
    let size = 0;
    if (!h.empty_layer) size = layerSizes[layer++] ?? 0;
    rows.push({ id: '<missing>', created: h.created, createdBy: h.created_by ?? '', size, comment: h.comment ?? '' });
  }
  rows.reverse();
  if (rows.length) rows[0]!.id = id;
  return rows;
}
