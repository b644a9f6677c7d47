// `run`: create the container, then start it attached (or hand it to a monitor with -d).
import { LodgerError } from '../errors';
import type { StorePaths } from '../storage/paths';
import { createContainer } from './create';
import { ensureRunImage } from './runImage';
import { checkSecurityOptions } from '../security/security';
import type { CreateOptions } from './options';
import { startForeground } from './start';
import { callerMapping } from '../helper/usernsWorker';

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
  if (o.userns && !['single', 'keep-id', 'auto', ''].includes(o.userns)) {
    throw new LodgerError('BAD_USERNS', `--userns=${o.userns} is not supported — use --userns=single (only your own id), --userns=keep-id (your own uid inside) or leave it out`);
  }
  if (o.detach && o.rm && o.restart && o.restart !== 'no') {
    throw new LodgerError('BAD_OPTIONS', '--rm and --restart cannot be combined: a container that restarts is never removed');
  }
  // Bad flags fail before anything is downloaded.
  checkSecurityOptions(o);
  await ensureRunImage(p, o);
  const { rec } = await createContainer(p, o, mapping);
  try {
    if (o.detach) {
      const { startDetached } = await import('./detach');
      await startDetached(p, rec, mapping);
      process.stdout.write(rec.Id + '\n');
      return 0;
    }
    return await startForeground(p, rec, mapping);
  } catch (e) {
    // --rm: a container that failed to start (e.g. -u names a user the image lacks, found only once the
    // record exists) is removed like one that ran; the helper's own cleanup covers failures after it started.
    if (o.rm) {
      const { removeContainer } = await import('./remove');
      await removeContainer(p, rec.Id, true, { volumes: true }).catch(() => undefined);
    }
    throw e;
  }
}
