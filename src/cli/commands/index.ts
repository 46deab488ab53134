// The list of command modules. Adding a command = one file under commands/ + one line here.
import type { RegisterCommand } from '../context.js';
import * as pull from './pull.js';
import * as push from './push.js';
import * as login from './login.js';
import * as logout from './logout.js';

export const commands: RegisterCommand[] = [
  pull.register,
  push.register,
  login.register,
  logout.register,
];
