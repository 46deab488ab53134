// A unix socket that relays every connection to another socket: how `RUN --mount=type=ssh` gives
// a build step the client's ssh-agent with the mount's own owner and mode (as BuildKit does).
import { createServer, connect, type Server } from 'node:net';

/** Listens at `path` and pipes each connection, both ways, to the socket at `upstream`. */
export function relaySocket(path: string, upstream: string): Promise<Server> {
  const server = createServer((c) => {
    const up = connect(upstream);
    c.pipe(up).pipe(c);
    const end = () => {
      c.destroy();
      up.destroy();
    };
    c.on('error', end);
    up.on('error', end);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve(server));
  });
}
