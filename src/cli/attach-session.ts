// Our terminal (or stdio) joined to a container through conmon's attach socket, for `attach`,
// `run -t` and `start -a` of a -t container: output streamed; stdin forwarded when the container
// has -i (raw when it has -t and ours is a terminal), with the detach keys leaving it running;
// its terminal sized like ours and resized with it; signals proxied (without -t, as Docker does).
import type { Engine } from '../engine.js';
import { setOutputProcessing } from '../sys/termios.js';
import { Attachment, DetachKeyFilter, type AttachResult } from '../runtime/attach.js';
import { getContainer, killContainer, startContainer, type Container } from '../runtime/containers.js';

/** What `docker attach --sig-proxy` forwards (SIGUSR1 is Node's debugger, SIGWINCH is the resize). */
const PROXIED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR2', 'SIGALRM'];

/** The output side of an attachment: the container's streams onto ours. */
export const stdioOutput = {
  stdout: (b: Buffer) => void process.stdout.write(b),
  stderr: (b: Buffer) => void process.stderr.write(b),
};

/** Sizes the container's terminal like ours. */
function sizeLikeOurs(a: Attachment): void {
  if (a.tty && process.stdout.isTTY) a.resize(process.stdout.rows, process.stdout.columns);
}

/**
 * Our terminal passes a container terminal's output on untouched (Docker's raw mode); returns the
 * undo. Nested calls are harmless: the inner undo puts back what the outer one set.
 */
function passOutputThrough(): () => void {
  if (!process.stdout.isTTY) return () => {};
  const was = setOutputProcessing(1, false);
  return () => void setOutputProcessing(1, was);
}

export async function attachSession(engine: Engine, a: Attachment, o: { stdin: boolean; sigProxy: boolean; detachKeys: number[] }): Promise<AttachResult> {
  const undo: (() => void)[] = [];
  if (o.stdin && a.stdin) {
    const stdin = process.stdin;
    if (a.tty && stdin.isTTY) {
      stdin.setRawMode(true);
      undo.push(() => stdin.setRawMode(false));
    }
    const filter = new DetachKeyFilter(o.detachKeys);
    const onData = (b: Buffer) => {
      const { data, detach } = filter.feed(b);
      if (data.length) a.write(data);
      if (detach) a.detach();
    };
    // stdin's end leaves the container's stdin open (conmon --leave-stdin-open), as Docker does
    stdin.on('data', onData);
    undo.push(() => {
      stdin.off('data', onData);
      stdin.pause();
      stdin.destroy();
    });
  }
  if (a.tty && process.stdout.isTTY) {
    undo.push(passOutputThrough());
    const resize = () => sizeLikeOurs(a);
    resize();
    process.stdout.on('resize', resize);
    process.on('SIGWINCH', resize);
    undo.push(() => {
      process.stdout.off('resize', resize);
      process.off('SIGWINCH', resize);
    });
  }
  if (o.sigProxy && !a.tty) {
    for (const sig of PROXIED) {
      const fwd = () => void killContainer(engine, a.container.id, sig).catch(() => {});
      process.on(sig, fwd);
      undo.push(() => process.off(sig, fwd));
    }
  }
  try {
    return await a.done;
  } finally {
    a.close();
    for (const f of undo.reverse()) f();
  }
}

/**
 * Starts a -t container under conmon and attaches to it before its process runs (runc drives a
 * terminal in the foreground only when ours is its controlling one; conmon holds one either way).
 * With --rm, returns once the container is gone, as Docker does.
 */
export async function startAttached(engine: Engine, c: Container, o: { stdin: boolean; detachKeys: number[] }): Promise<AttachResult> {
  let a: Attachment | undefined;
  // From before the start: the process may write at once, and that must reach us untouched too.
  const restoreOutput = passOutputThrough();
  let r: AttachResult;
  try {
    await startContainer(engine, c.id, {
      ...(process.stdout.isTTY && process.stdout.rows > 0 ? { consoleSize: { height: process.stdout.rows, width: process.stdout.columns } } : {}),
      beforeStart: async (created) => {
        a = Attachment.connect(engine, created, stdioOutput);
      },
    }).catch((e: unknown) => {
      a?.close();
      throw e;
    });
    r = await attachSession(engine, a!, { stdin: o.stdin, sigProxy: false, detachKeys: o.detachKeys });
  } finally {
    restoreOutput();
  }
  if (!r.detached && c.config.autoRemove) {
    // conmon's exit command removes it; wait for that (bounded: a removal that fails is reported by ps).
    for (let i = 0; i < 200; i++) {
      const still = await getContainer(engine, c.id).catch(() => undefined);
      if (!still) break;
      await new Promise((res) => setTimeout(res, 50));
    }
  }
  return r;
}
