// Docker's "Are you sure you want to continue? [y/N]" prompt for the prune commands.
import { createInterface } from 'node:readline';

/** Prints the question with " [y/N] " and answers yes only to y/Y/yes from stdin (EOF is no). */
export async function confirm(question: string): Promise<boolean> {
  process.stdout.write(`${question} [y/N] `);
  const rl = createInterface({ input: process.stdin });
  try {
    const line = await new Promise<string>((resolve) => {
      rl.once('line', resolve);
      rl.once('close', () => resolve(''));
    });
    return /^y(es)?$/i.test(line.trim());
  } finally {
    rl.close();
  }
}
