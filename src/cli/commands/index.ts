// The list of command modules. Adding a command = one file under commands/ + one line here.
import type { RegisterCommand } from '../context.js';
import * as build from './build.js';
import * as builder from './builder.js';
import * as commit from './commit.js';
import * as dockerfile from './dockerfile.js';
import * as pull from './pull.js';
import * as push from './push.js';
import * as login from './login.js';
import * as logout from './logout.js';
import * as images from './images.js';
import * as image from './image.js';
import * as history from './history.js';
import * as tag from './tag.js';
import * as rmi from './rmi.js';
import * as save from './save.js';
import * as load from './load.js';
import * as inspect from './inspect.js';
import * as run from './run.js';
import * as create from './create.js';
import * as start from './start.js';
import * as ps from './ps.js';
import * as logs from './logs.js';
import * as exec from './exec.js';
import * as stop from './stop.js';
import * as kill from './kill.js';
import * as restart from './restart.js';
import * as wait from './wait.js';
import * as rm from './rm.js';
import * as top from './top.js';
import * as stats from './stats.js';
import * as cp from './cp.js';
import * as diff from './diff.js';
import * as exportCmd from './export.js';
import * as container from './container.js';
import * as network from './network.js';
import * as volume from './volume.js';
import * as inspect_container from './inspect-container.js';

export const commands: RegisterCommand[] = [
  build.register,
  builder.register,
  commit.register,
  dockerfile.register,
  pull.register,
  push.register,
  login.register,
  logout.register,
  images.register,
  image.register,
  history.register,
  tag.register,
  rmi.register,
  save.register,
  load.register,
  inspect.register,
  run.register,
  create.register,
  start.register,
  ps.register,
  logs.register,
  exec.register,
  stop.register,
  kill.register,
  restart.register,
  wait.register,
  rm.register,
  top.register,
  stats.register,
  cp.register,
  diff.register,
  exportCmd.register,
  container.register,
  network.register,
  volume.register,
  inspect_container.register,
];
