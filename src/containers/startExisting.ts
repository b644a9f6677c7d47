// `start`: starts a created or stopped container again — under its monitor, or attached with -a.
import { LodgerError } from '../errors';
import { liveState, readState } from '../storage/containers';
import type { StorePaths } from '../storage/paths';
import type { ContainerIO } from './containerIO';
import { mustRecord } from './lifecycle';
import { startForeground } from './start';
import { callerMapping } from '../helper/usernsWorker';

/**
 * Starts container ID: attached to IO (with -a: its stdio, with -i its stdin too) until it exits,
 * returning its exit status; else under its monitor, returning 0. INTERACTIVE gives it stdin even if it
 * was created without -i. Starting a running container does nothing (Docker's 304; ALREADY_RUNNING with IO).
 */
export async function startExisting(p: StorePaths, id: string, io: ContainerIO | undefined, interactive = false): Promise<number> {
  const attach = io !== undefined;
  const rec = mustRecord(p, id);
  if (liveState(readState(p, id)).Running) {
    if (attach) throw new LodgerError('ALREADY_RUNNING', `container ${rec.Name} is already running — use "lodger logs -f ${rec.Name}" or "lodger exec"`);
    return 0;  // Docker: starting a running container is a no-op
  }
  const mapping = callerMapping(rec.HostConfig.UsernsMode || undefined);
  if (attach) {
    rec.Config.OpenStdin = rec.Config.OpenStdin || interactive;
    return startForeground(p, rec, mapping, io);
  }
  const { startDetached } = await import('./detach');
  await startDetached(p, rec, mapping);
  return 0;
}
