// While a RUN step runs, its container is listed by `kiln ps` (like Docker's classic builder, whose
// intermediate containers show up in `docker ps -a`): a container record in the running state,
// watched by this kiln process, removed when the step ends. After a crash the record is seen as
// exited (its monitor is gone) and `kiln rm` or `container prune` clears it.
import type { Engine } from '../engine.js';
import type { Digest } from '../image/types.js';
import { ZERO_TIME, type ContainerConfigRecord, type ContainerStateRecord } from '../runtime/containers.js';

export function recordStepContainer(engine: Engine, id: string, imageId: Digest, argv: string[], env: string[], cwd: string): () => void {
  const config: ContainerConfigRecord = {
    image: imageId.slice(7, 19), // an untagged image: Docker shows its short ID
    imageId,
    diffIds: [],
    entrypoint: [],
    cmd: argv,
    env,
    workingDir: cwd,
    user: '',
    hostname: 'buildkitsandbox',
    tty: false,
    openStdin: false,
    labels: { 'io.kiln.build-step': 'true' },
    stopSignal: 'SIGTERM',
    exposedPorts: [],
    imageVolumes: [],
    mounts: [],
    readonlyRootfs: false,
    ports: [],
    networkMode: 'default',
    networkAliases: [],
    extraHosts: [],
    dns: [],
    dnsSearch: [],
    resources: {},
    ulimits: [],
    capAdd: [],
    capDrop: [],
    securityOpt: [],
    privileged: false,
    init: false,
    restartPolicy: { name: 'no', maximumRetryCount: 0 },
    autoRemove: true,
    sysctls: {},
  };
  const now = new Date().toISOString();
  engine.db.putContainer<ContainerStateRecord, ContainerConfigRecord>({
    id,
    name: `kiln-build-${id.slice(0, 12)}`,
    imageId,
    state: { status: 'running', pid: 0, exitCode: 0, oomKilled: false, error: '', startedAt: now, finishedAt: ZERO_TIME, restartCount: 0, monitor: 'foreground', monitorPid: process.pid },
    config,
  });
  return () => {
    engine.db.deleteContainer(id);
  };
}
