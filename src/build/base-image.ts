// FROM <image> and COPY --from=<image>: the local image if the store has it, else (or with --pull,
// for a reference that names a registry) a pull with the same progress as `kiln pull`.
import type { Engine } from '../engine.js';
import type { Digest, ImageConfig } from '../image/types.js';
import { NotFoundError } from '../store/errors.js';

export async function resolveOrPull(engine: Engine, ref: string, opts: { pull: boolean; progress: (line: string) => void }): Promise<{ id: Digest; config: ImageConfig }> {
  if (!opts.pull) {
    try {
      return engine.resolveImage(ref);
    } catch (e) {
      if (!(e instanceof NotFoundError)) throw e;
    }
  }
  try {
    // Loaded on demand: most builds start from a local image and never need the registry client.
    const { pullImage } = await import('../registry/pull.js');
    const r = await pullImage(engine, ref, { progress: opts.progress });
    return engine.resolveImage(r.id);
  } catch (e) {
    // A local image (built here, never pushed) with --pull: keep using it, as Docker does.
    if (opts.pull) {
      try {
        return engine.resolveImage(ref);
      } catch {
        /* report the pull error */
      }
    }
    throw new Error(`failed to resolve source metadata for ${ref}: ${(e as Error).message}`);
  }
}
