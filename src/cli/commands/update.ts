// `kiln update [--memory …] [--cpus …] [--pids-limit …] [--restart …] CONTAINER…` (also
// `kiln container update`): Docker's update of limits and restart policy, applied at once to a
// running container and kept for its next start.
import type { Command } from 'commander';
import { CliError, type CliContext } from '../context.js';
import { updateContainer } from '../../runtime/containers.js';
import type { SpecResources } from '../../runtime/spec.js';
import { parseBytes } from '../../runtime/volumes.js';
import { eachContainer } from './stop.js';

interface UpdateFlags {
  memory?: string;
  memorySwap?: string;
  memoryReservation?: string;
  cpus?: string;
  cpuShares?: string;
  cpusetCpus?: string;
  pidsLimit?: string;
  restart?: string;
}

function number(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new CliError(`invalid argument "${v}" for "${flag}" flag`);
  return n;
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('update')
    .description('Update configuration of one or more containers')
    .argument('<containers...>')
    .option('-m, --memory <bytes>', 'memory limit')
    .option('--memory-swap <bytes>', 'swap limit equal to memory plus swap: -1 for unlimited swap')
    .option('--memory-reservation <bytes>', 'memory soft limit')
    .option('--cpus <n>', 'number of CPUs')
    .option('-c, --cpu-shares <n>', 'CPU shares (relative weight)')
    .option('--cpuset-cpus <list>', 'CPUs in which to allow execution (0-3, 0,1)')
    .option('--pids-limit <n>', 'tune container pids limit (-1 for unlimited)')
    .option('--restart <policy>', 'restart policy to apply when a container exits')
    .action(async (names: string[], f: UpdateFlags) => {
      const bytes = (v: string | undefined) => (v === undefined ? undefined : v === '-1' ? -1 : parseBytes(v));
      const resources: SpecResources = {
        memory: bytes(f.memory),
        memorySwap: bytes(f.memorySwap),
        memoryReservation: bytes(f.memoryReservation),
        cpus: number(f.cpus, '--cpus'),
        cpuShares: number(f.cpuShares, '--cpu-shares'),
        ...(f.cpusetCpus !== undefined ? { cpusetCpus: f.cpusetCpus } : {}),
        pidsLimit: number(f.pidsLimit, '--pids-limit'),
      };
      if (Object.values(resources).every((v) => v === undefined) && f.restart === undefined) {
        throw new CliError('you must provide one or more flags when using this command');
      }
      const engine = ctx.engine();
      await eachContainer(names, 'update', (n) => updateContainer(engine, n, { resources, restart: f.restart }));
    });
}
