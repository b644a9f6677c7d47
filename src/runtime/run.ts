// `run`: create the container, then start it attached (or hand it to a monitor with -d).
import { LodgerError } from '../errors';
import type { StorePaths } from '../storage/paths';
import { createContainer } from './create';
import type { CreateOptions } from './options';
import { startForeground } from './start';
import { callerMapping } from './usernsWorker';

let warned = false;
/** The single-id warning, said once per command. */
export function warnMapping(m: { warning?: string }): void {
  if (m.warning && !warned) {
    warned = true;
    process.stderr.write(`lodger: warning: ${m.warning}\n`);
  }
}

export async function runContainer(p: StorePaths, o: CreateOptions): Promise<number> {
  const mapping = callerMapping(o.userns);
  warnMapping(mapping);
  if (o.userns && !['single', 'auto', ''].includes(o.userns)) {
    throw new LodgerError('BAD_USERNS', `--userns=${o.userns} is not supported — use --userns=single (only your own id) or leave it out`);
  }
  const { rec } = await createContainer(p, o, mapping);
  return startForeground(p, rec, mapping);
}
