// `run -d` / `start`: hands a container to the native monitor (the helper in its own session) and returns.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { containerDir, type ContainerRecord } from '../storage/containers';
import type { StorePaths } from '../storage/paths';
import { launchContainer } from './launch';
import { helperFailureToError } from '../helper/helperErrors';
import type { IdMapping } from '../helper/idmap';
import { processSpec } from './start';
import { startHealthChecker } from './healthState';

export function logPath(p: StorePaths, id: string): string {
  return path.join(containerDir(p, id), 'ctr.log');
}

/**
 * Starts REC under a monitor that outlives this CLI: the helper is spawned in a new session
 * (setsid) with no terminal; it owns the container's output (into ctr.log), records state.json,
 * applies the restart policy and --rm. Created with -i, the container's stdin is a pipe (or its pty)
 * the monitor holds open, fed by `lodger attach` through the attach socket (containerPlan.ts
 * attachSocketPath). We wait only until the container's command has been exec'd.
 */
export async function startDetached(p: StorePaths, rec: ContainerRecord, mapping: IdMapping): Promise<void> {
  const dir = containerDir(p, rec.Id);
  fs.rmSync(path.join(dir, 'stop-requested'), { force: true });
  const proc = processSpec(p, rec);
  const { h } = await launchContainer(p, rec, mapping, {
    process: proc, tty: rec.Config.Tty ? { rows: 24, cols: 80 } : undefined, keepStdin: rec.Config.OpenStdin, stdio: ['ignore', 'ignore', 'ignore'], detachLog: logPath(p, rec.Id),
  });
  await h.settled;
  if (h.events.errors.length > 0) {
    await h.exited.catch(() => undefined);
    throw helperFailureToError(h.events.errors[0], { user: mapping.user });
  }
  h.release();
  startHealthChecker(p, rec);
}
