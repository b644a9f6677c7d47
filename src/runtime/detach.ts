// `run -d` / `start`: hands a container to the native monitor (the helper in its own session) and returns.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { containerDir, type ContainerRecord } from '../storage/containers';
import type { StorePaths } from '../storage/paths';
import { buildContainerPlan } from './containerPlan';
import { spawnHelper } from './helperProcess';
import { helperFailureToError } from './helperErrors';
import type { IdMapping } from './idmap';
import { processSpec } from './start';
import { createCgroupFor } from './cgroupSetup';

export function logPath(p: StorePaths, id: string): string {
  return path.join(containerDir(p, id), 'ctr.log');
}

/**
 * Starts REC under a monitor that outlives this CLI: the helper is spawned in a new session
 * (setsid) with no terminal; it owns the container's output (into ctr.log), records state.json,
 * applies the restart policy and --rm. We wait only until the container's command has been exec'd.
 */
export async function startDetached(p: StorePaths, rec: ContainerRecord, mapping: IdMapping): Promise<void> {
  const dir = containerDir(p, rec.Id);
  fs.rmSync(path.join(dir, 'stop-requested'), { force: true });
  const proc = processSpec(p, rec);
  const cgroupPath = createCgroupFor(rec);
  const plan = buildContainerPlan({ store: p, rec, mapping, process: proc, removeOnExit: rec.HostConfig.AutoRemove, tty: rec.Config.Tty ? { rows: 24, cols: 80 } : undefined, keepStdin: false, cgroupPath });
  // The monitor removes the container's cgroup after the final exit (kill leftovers, then rmdir).
  if (cgroupPath) plan.inPhase('cleanup').add('rmdir-cgroup', cgroupPath);
  plan.add('detach', logPath(p, rec.Id)).add('state', path.join(dir, 'state.json'));
  plan.add('restart', rec.HostConfig.RestartPolicy.Name || 'no', String(rec.HostConfig.RestartPolicy.MaximumRetryCount || 0));
  const h = spawnHelper('run', plan, { stdio: ['ignore', 'ignore', 'ignore'], detached: true });
  await h.settled;
  if (h.events.errors.length > 0) {
    await h.exited.catch(() => undefined);
    throw helperFailureToError(h.events.errors[0], { user: mapping.user });
  }
  h.release();
}
