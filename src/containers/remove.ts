// Removing containers: refuse running ones unless forced, kill, then make the record vanish atomically and delete its trees.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LodgerError } from '../errors';
import { containerDir, liveState, pidRunning, readContainer, readState } from '../storage/containers';
import { removeTrees } from '../storage/layers';
import { withStoreLock } from '../storage/lock';
import type { StorePaths } from '../storage/paths';

export async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    // A zombie has exited: whether its parent (or, for an orphan, the host's init) has reaped it is not our wait.
    if (!pidRunning(pid)) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return false;
}

function markStopped(p: StorePaths, id: string): void {
  try { fs.writeFileSync(path.join(containerDir(p, id), 'stop-requested'), ''); } catch { /* gone */ }
}

/** VOLUMES: also the container's anonymous volumes no other container uses (`rm -v`). */
export async function removeContainer(p: StorePaths, id: string, force: boolean, opts: { volumes?: boolean } = {}): Promise<void> {
  const st = liveState(readState(p, id));
  const anonymous = opts.volumes ? (readContainer(p, id)?.Mounts ?? []).filter((m) => m.Type === 'volume' && m.Anonymous).map((m) => m.Name!) : [];
  if (st.Running) {
    if (!force) throw new LodgerError('CONTAINER_RUNNING', `container ${id.slice(0, 12)} is running — stop it first ("lodger stop ${id.slice(0, 12)}") or use "lodger rm -f"`);
    const target = st.MonitorPid || st.Pid;
    if (st.CgroupPath) {
      // cgroup.kill reaches every process of the container, whichever uid it runs as.
      const cg = require('../cgroups') as typeof import('../cgroups');
      try { cg.killAll(st.CgroupPath, 'SIGKILL'); } catch { /* fall back to the init */ }
    }
    markStopped(p, id);
    try { process.kill(st.Pid, 'SIGKILL'); } catch { /* already gone */ }
    await waitForExit(target, 10_000);
  }
  // Normally its monitor removes the cgroup after the final exit; one that was killed cannot.
  if (st.CgroupPath) {
    const cg = require('../cgroups') as typeof import('../cgroups');
    await cg.removeContainerCgroup(st.CgroupPath).catch(() => undefined);
  }
  // A user network's address and forwards outlive the container's namespaces; give them back.
  const { networkCleanup } = require('./networkSetup') as typeof import('./networkSetup');
  await networkCleanup(p, id).catch(() => undefined);
  const trash = path.join(p.containers, `.trash-${id}`);
  await withStoreLock(p, () => {
    if (fs.existsSync(containerDir(p, id))) fs.renameSync(containerDir(p, id), trash);
  });
  await removeTrees([trash]);
  if (anonymous.length) {
    const { removeAnonymousVolumes } = await import('../volumes/volumes');
    await removeAnonymousVolumes(p, anonymous);
  }
}
