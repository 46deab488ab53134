// Overlay mounts through the new mount API: one `fsconfig("lowerdir+", path)` per layer, so the
// 4 KiB option-string limit of mount(2) does not apply (500 layers, the kernel's maximum, mount
// with full paths; machine-notes §4). No short links are needed, so there is no `l/` directory.
import { MNT_DETACH, MS_BIND, MS_RDONLY, MS_REC, MS_REMOUNT, MOUNT_ATTR_RDONLY, fsMount, mount, umount2 } from '../sys/mount.js';
import { SysError } from '../sys/ffi.js';

export interface OverlayOptions {
  /** Layer directories, top first. */
  lower: string[];
  upper?: string;
  work?: string;
  target: string;
  /** Mount read-only (implied when there is no upper dir). */
  readonly?: boolean;
  /**
   * overlayfs "volatile": no sync of the upper filesystem, neither for the processes' fsyncs nor
   * at unmount (a syncfs of the whole filesystem the upper dir lives on, ~0.5-10 ms). Only for an
   * upper dir that is thrown away (a `run --rm` container): after a crash it must not be reused.
   */
  volatile?: boolean;
}

/** The kernel's maximum stack depth (OVL_MAX_STACK). */
export const MAX_LAYERS = 500;

/**
 * Mounts an overlay of `lower` (top first) with an optional `upper`/`work` pair at `target`.
 * With a single lower and no upper the kernel refuses an overlay ("at least 2 lowerdir are needed
 * while upperdir nonexistent"), so that case is a read-only bind mount of the layer.
 * Writable overlays are mounted with redirect_dir=off and metacopy=off: every change then lands in
 * the upperdir as full files and whiteouts, which is what a layer tar can express.
 */
export function mountOverlay(opts: OverlayOptions): void {
  const { lower, upper, work, target } = opts;
  if (lower.length === 0) throw new Error('mountOverlay: at least one lower directory is needed');
  if (lower.length > MAX_LAYERS) throw new Error(`mountOverlay: ${lower.length} layers exceed the kernel's maximum of ${MAX_LAYERS}`);
  if ((upper === undefined) !== (work === undefined)) throw new Error('mountOverlay: upper and work go together');
  const readonly = opts.readonly === true || upper === undefined;

  if (lower.length === 1 && upper === undefined) {
    mount(lower[0]!, target, null, MS_BIND | MS_REC);
    try {
      mount(null, target, null, MS_REMOUNT | MS_BIND | MS_RDONLY);
    } catch (e) {
      umount2(target, MNT_DETACH);
      throw e;
    }
    return;
  }

  const config: { key: string; value: string | true }[] = lower.map((l) => ({ key: 'lowerdir+', value: l }));
  if (upper !== undefined) {
    config.push({ key: 'upperdir', value: upper }, { key: 'workdir', value: work! });
    config.push({ key: 'redirect_dir', value: 'off' }, { key: 'metacopy', value: 'off' });
    if (opts.volatile) config.push({ key: 'volatile', value: true });
  }
  try {
    fsMount('overlay', 'overlay', config, target, readonly ? MOUNT_ATTR_RDONLY : 0);
  } catch (e) {
    if (!(e instanceof SysError)) throw e;
    // Kernels before 6.8 have no "lowerdir+" (EINVAL on that key), before 5.2 no fsopen (ENOSYS):
    // fall back to mount(2), which holds as many layers as fit in one page of options.
    const oldKernel = e.code === 'ENOSYS' || (e.code === 'EINVAL' && e.syscall === 'fsconfig lowerdir+');
    if (!oldKernel) throw new Error(`cannot mount overlay (${lower.length} layers) at ${target}: ${e.message}`, { cause: e });
    legacyMount(opts, readonly);
  }
}

const escapeOpt = (p: string) => p.replace(/[\\:,]/g, (c) => `\\${c}`);

/** mount(2) with a lowerdir option string (kernels without "lowerdir+"); exported for tests. */
export function legacyMount(opts: OverlayOptions, readonly = opts.upper === undefined): void {
  let data = `lowerdir=${opts.lower.map(escapeOpt).join(':')}`;
  if (opts.upper !== undefined) data += `,upperdir=${escapeOpt(opts.upper)},workdir=${escapeOpt(opts.work!)},redirect_dir=off,metacopy=off`;
  if (opts.upper !== undefined && opts.volatile) data += ',volatile';
  if (data.length >= 4096) {
    throw new Error(`cannot mount overlay (${opts.lower.length} layers) at ${opts.target}: this kernel lacks the new mount API's "lowerdir+" and the options exceed one page`);
  }
  try {
    mount('overlay', opts.target, 'overlay', readonly ? MS_RDONLY : 0, data);
  } catch (e) {
    throw new Error(`cannot mount overlay (${opts.lower.length} layers) at ${opts.target}: ${(e as Error).message}`, { cause: e });
  }
}

/** Unmounts an overlay (or bind) mount. `detach` = MNT_DETACH, for cleanup after a failure. */
export function unmountOverlay(target: string, opts: { detach?: boolean } = {}): void {
  umount2(target, opts.detach ? MNT_DETACH : 0);
}
