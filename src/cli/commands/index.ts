// The command modules, loaded on demand: `kiln build` imports only the build command (and what it
// needs), not the registry, archive and container code — module loading is a large part of a
// no-op command's time. Adding a command = one file under commands/ + one entry here.
import type { RegisterCommand } from '../context.js';

type Loader = () => Promise<{ register: RegisterCommand }>;

const m: Record<string, Loader> = {
  attach: () => import('./attach.js'),
  build: () => import('./build.js'),
  builder: () => import('./builder.js'),
  commit: () => import('./commit.js'),
  dockerfile: () => import('./dockerfile.js'),
  pull: () => import('./pull.js'),
  push: () => import('./push.js'),
  login: () => import('./login.js'),
  logout: () => import('./logout.js'),
  images: () => import('./images.js'),
  image: () => import('./image.js'),
  history: () => import('./history.js'),
  tag: () => import('./tag.js'),
  rmi: () => import('./rmi.js'),
  save: () => import('./save.js'),
  load: () => import('./load.js'),
  inspect: () => import('./inspect.js'),
  run: () => import('./run.js'),
  create: () => import('./create.js'),
  start: () => import('./start.js'),
  ps: () => import('./ps.js'),
  logs: () => import('./logs.js'),
  exec: () => import('./exec.js'),
  stop: () => import('./stop.js'),
  kill: () => import('./kill.js'),
  restart: () => import('./restart.js'),
  wait: () => import('./wait.js'),
  rm: () => import('./rm.js'),
  top: () => import('./top.js'),
  stats: () => import('./stats.js'),
  cp: () => import('./cp.js'),
  diff: () => import('./diff.js'),
  exportCmd: () => import('./export.js'),
  events: () => import('./events.js'),
  container: () => import('./container.js'),
  network: () => import('./network.js'),
  volume: () => import('./volume.js'),
  inspect_container: () => import('./inspect-container.js'),
  import: () => import('./import.js'),
  pause: () => import('./pause.js'),
  port: () => import('./port.js'),
  rename: () => import('./rename.js'),
  update: () => import('./update.js'),
  system: () => import('./system.js'),
  version: () => import('./version.js'),
};

/** Top-level command word → the modules that register it (in registration order). */
export const commandModules: Record<string, Loader[]> = {
  attach: [m.attach],
  build: [m.build],
  builder: [m.builder],
  commit: [m.commit],
  dockerfile: [m.dockerfile],
  pull: [m.pull],
  push: [m.push],
  login: [m.login],
  logout: [m.logout],
  images: [m.images],
  image: [m.image],
  history: [m.history],
  tag: [m.tag],
  rmi: [m.rmi],
  save: [m.save],
  load: [m.load],
  inspect: [m.inspect, m.inspect_container],
  run: [m.run],
  create: [m.create],
  start: [m.start],
  ps: [m.ps],
  logs: [m.logs],
  exec: [m.exec],
  stop: [m.stop],
  kill: [m.kill],
  restart: [m.restart],
  wait: [m.wait],
  rm: [m.rm],
  top: [m.top],
  stats: [m.stats],
  cp: [m.cp],
  diff: [m.diff],
  export: [m.exportCmd],
  events: [m.events],
  container: [m.container, m.inspect_container],
  network: [m.network],
  volume: [m.volume],
  import: [m.import],
  pause: [m.pause],
  unpause: [m.pause],
  port: [m.port],
  rename: [m.rename],
  update: [m.update],
  info: [m.system],
  system: [m.system],
  version: [m.version],
};

/**
 * Docker's management-command spellings of top-level commands (`kiln container rm` = `kiln rm`,
 * `kiln image pull` = `kiln pull`): the same module, registered under the group as well.
 */
export const groupCommands: Record<string, Record<string, Loader[]>> = {
  container: pick(['attach', 'commit', 'cp', 'create', 'diff', 'exec', 'export', 'kill', 'logs', 'pause', 'unpause', 'port', 'rename', 'restart', 'rm', 'run', 'start', 'stats', 'stop', 'top', 'update', 'wait']),
  image: pick(['build', 'import', 'pull', 'push']),
  system: pick(['events']),
};

function pick(words: string[]): Record<string, Loader[]> {
  return Object.fromEntries(words.map((w) => [w, commandModules[w]!]));
}

/** Every command module once (for --help, or a word that is no command). */
export const allCommandModules: Loader[] = Object.values(m);
