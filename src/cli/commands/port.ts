// `kiln port CONTAINER [PRIVATE_PORT[/PROTO]]` (also `kiln container port`): the published port
// mappings of a running container, in Docker's "80/tcp -> 0.0.0.0:8080" form.
import type { Command } from 'commander';
import { CliError, type CliContext } from '../context.js';
import { getContainer } from '../../runtime/containers.js';
import { boundPorts } from '../../runtime/inspect.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('port')
    .description('List port mappings or a specific mapping for the container')
    .argument('<container>')
    .argument('[private-port]', 'PRIVATE_PORT[/PROTO]')
    .action(async (name: string, privatePort?: string) => {
      const c = await getContainer(ctx.engine(), name);
      const bound = boundPorts(c);
      let want: { port: number; proto: string } | undefined;
      if (privatePort !== undefined) {
        const m = /^(\d+)(?:\/(tcp|udp|sctp))?$/.exec(privatePort);
        if (!m) throw new CliError(`Invalid port: ${privatePort}`);
        want = { port: Number(m[1]), proto: m[2] ?? 'tcp' };
      }
      const rows = bound
        .filter((p) => !want || (p.containerPort === want.port && p.protocol === want.proto))
        .sort((a, b) => a.containerPort - b.containerPort || a.protocol.localeCompare(b.protocol));
      if (want && rows.length === 0) throw new CliError(`No public port '${want.port}/${want.proto}' published for ${name}`);
      // With a port asked for, Docker prints only the host side.
      process.stdout.write(rows.map((p) => `${want ? '' : `${p.containerPort}/${p.protocol} -> `}${p.hostIP ?? '0.0.0.0'}:${p.hostPort}\n`).join(''));
    });
}
