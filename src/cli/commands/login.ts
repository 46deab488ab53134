// `kiln login [-u USER] [-p PASS | --password-stdin] [SERVER]`: checks the credentials with the
// registry, then stores them in <root>/auth.json (or $KILN_AUTH_FILE), mode 0600.
import type { Command } from 'commander';
import { createInterface } from 'node:readline';
import { CliError, type CliContext } from '../context.js';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

function prompt(question: string, hidden: boolean): Promise<string> {
  return new Promise((resolve) => {
    const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
    if (hidden) {
      const w = rl as unknown as { _writeToOutput: (s: string) => void };
      w._writeToOutput = (s: string) => {
        if (s.startsWith(question)) process.stderr.write(question);
      };
    }
    rl.question(question, (answer) => {
      rl.close();
      if (hidden) process.stderr.write('\n');
      resolve(answer);
    });
  });
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('login')
    .description('Log in to a registry')
    .argument('[server]', 'registry host[:port] (default docker.io)')
    .option('-u, --username <user>', 'username')
    .option('-p, --password <password>', 'password (prefer --password-stdin)')
    .option('--password-stdin', 'read the password from standard input')
    .action(async (server: string | undefined, o: { username?: string; password?: string; passwordStdin?: boolean }) => {
      const [{ login, loginServer }, { lookupCredential }] = await Promise.all([import('../../registry/login.js'), import('../../registry/credentials.js')]);
      const root = ctx.globals().root;
      const registry = loginServer(server);
      if (o.password && o.passwordStdin) throw new CliError('--password and --password-stdin are mutually exclusive');
      let username = o.username;
      let password = o.password;
      if (o.password) process.stderr.write('WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n');
      if (o.passwordStdin) {
        if (!username) throw new CliError('Must provide --username with --password-stdin');
        password = await readStdin();
      }
      const interactive = process.stdin.isTTY;
      if (!username) {
        if (!interactive) throw new CliError('Cannot perform an interactive login from a non TTY device');
        const prev = lookupCredential(root, registry)?.credential.username;
        username = (await prompt(`Username${prev ? ` (${prev})` : ''}: `, false)).trim() || prev || '';
      }
      if (!username) throw new CliError('Error: Non-null Username Required');
      if (password === undefined) {
        if (!interactive) throw new CliError('Cannot perform an interactive login from a non TTY device');
        password = await prompt('Password: ', true);
      }
      if (!password) throw new CliError('Error: Password Required');
      await login(root, registry, { username, password });
      process.stdout.write('Login Succeeded\n');
    });
}
