// The "Are you sure?" of destructive commands (prune): asked only on a terminal, as scripts cannot answer.
import * as readline from 'node:readline/promises';
import type { Readable, Writable } from 'node:stream';

/**
 * Prints WARNING and asks on a terminal; true for "y"/"yes". Without a terminal on stdin there is no
 * one to ask, so the command goes ahead (use -f to be explicit in scripts).
 */
export async function confirm(warning: string, stdin: Readable, stderr: Writable): Promise<boolean> {
  if (!(stdin as { isTTY?: boolean }).isTTY) return true;
  const rl = readline.createInterface({ input: stdin, output: stderr });
  try {
    const answer = await rl.question(`${warning}\nAre you sure you want to continue? [y/N] `);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}
