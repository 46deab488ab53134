// The list of command modules. Adding a command = one file under commands/ + one line here.
import type { RegisterCommand } from '../context.js';
import * as build from './build.js';
import * as builder from './builder.js';
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

export const commands: RegisterCommand[] = [
  build.register,
  builder.register,
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
];
