// `kiln version [--format]` and `kiln -v|--version`. kiln has no daemon: like Podman, the
// "Server" part describes the same local engine, so scripts reading {{.Server.Version}} work.
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { defaultRuntimeName } from '../../runtime/runtime-select.js';
import { goArch, kilnVersion, toolVersion } from '../about.js';
import { formatObject, tabwrite } from '../format/index.js';

export interface VersionInfo {
  Version: string;
  ApiVersion: string;
  NodeVersion: string;
  Os: string;
  Arch: string;
  Runtime: string;
}

/** The default runtime's name and version, e.g. "crun 1.8.1" (empty when none is installed). */
function runtimeVersion(): string {
  const name = defaultRuntimeName();
  const v = toolVersion(name);
  return v ? v.replace(new RegExp(`^${name} version `), `${name} `) : '';
}

function versionInfo(): VersionInfo {
  const version = kilnVersion();
  return {
    Version: version,
    ApiVersion: version,
    NodeVersion: process.version,
    Os: 'linux',
    Arch: goArch(),
    Runtime: runtimeVersion(),
  };
}

export function register(program: Command, _ctx: CliContext): void {
  program.version(`kiln version ${kilnVersion()}`, '-v, --version', 'print version information and quit');
  program
    .command('version')
    .description('Show the kiln version information')
    .option('-f, --format <format>', "format the output using a Go template or 'json'")
    .action((o: { format?: string }) => {
      const v = versionInfo();
      const data = { Client: v, Server: v };
      if (o.format) return void process.stdout.write(formatObject(data, o.format));
      process.stdout.write(
        tabwrite(
          [
            'Client:\tkiln',
            ` Version:\t${v.Version}`,
            ` API version:\t${v.ApiVersion}`,
            ` Node.js version:\t${v.NodeVersion}`,
            ` OS/Arch:\t${v.Os}/${v.Arch}`,
            ` Runtime:\t${v.Runtime || 'none found (kiln needs crun or runc)'}`,
            '',
          ].join('\n'),
        ),
      );
    });
}
