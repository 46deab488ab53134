// `kiln logout [SERVER]`: removes the credentials kiln stored for SERVER (Docker's own file is not touched).
import type { Command } from 'commander';
import type { CliContext } from '../context.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('logout')
    .description('Log out from a registry')
    .argument('[server]', 'registry host[:port] (default docker.io)')
    .action(async (server: string | undefined) => {
      const [{ logout }, { lookupCredential }] = await Promise.all([import('../../registry/login.js'), import('../../registry/credentials.js')]);
      const root = ctx.globals().root;
      const { registry, removed } = logout(root, server);
      if (removed) process.stdout.write(`Removing login credentials for ${registry}\n`);
      else {
        const other = lookupCredential(root, registry);
        process.stdout.write(
          other ? `Not logged in to ${registry} with kiln (credentials in ${other.file} are left alone)\n` : `Not logged in to ${registry}\n`,
        );
      }
    });
}
