// The list of command modules. Adding a command = one file under commands/ + one line here.
import type { RegisterCommand } from '../context.js';

export const commands: RegisterCommand[] = [];
