// `start`: starts a created or stopped container again — under its monitor, or attached with -a.
import { LodgerError } from '../errors';
import { liveState, readState } from '../storage/containers';
import type { StorePaths } from '../storage/paths';
import { mustRecord } from './lifecycle';
import { startForeground } from './start';
import { callerMapping } from '../helper/usernsWorker';

export async function startExisting(p: StorePaths, id: string, attach: boolean, interactive: boolean): Promise<number> {
  const rec = mustRecord(p, id);
  if (liveState(readState(p, id)).Running) {
    if (attach) throw new LodgerError('ALREADY_RUNNING', `container ${rec.Name} is already running — use "lodger logs -f ${rec.Name}" or "lodger exec"`);
    return 0;  // Docker: starting a running container is a no-op
  }
  const mapping = callerMapping(rec.HostConfig.UsernsMode || undefined);
  if (attach) {
    rec.Config.OpenStdin = rec.Config.OpenStdin || interactive;
    return startForeground(p, rec, mapping);
  }
  const { startDetached } = await import('./detach');
  await startDetached(p, rec, mapping);
  return 0;
}
