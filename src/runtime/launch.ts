// Launches a container's helper — attached or as a detached monitor — with its cgroup, its plan and its
// network: the helper creates the namespaces, waits while the network is attached, then lets the command run.
import * as path from 'node:path';
import { containerDir, type ContainerRecord } from '../storage/containers';
import type { StorePaths } from '../storage/paths';
import { createCgroupFor } from './cgroupSetup';
import { buildContainerPlan, type ProcessSpec } from './containerPlan';
import { spawnHelper, type HelperHandle, type SpawnHelperOptions } from './helperProcess';
import type { IdMapping } from './idmap';
import { attachForStart, containerRuntimeDir, networkCleanup, planNetwork } from './networkSetup';

export interface LaunchOptions {
  process: ProcessSpec;
  tty?: { rows: number; cols: number };
  keepStdin: boolean;
  stdio: NonNullable<SpawnHelperOptions['stdio']>;
  /** Detached: the helper becomes the monitor, logging here and applying the restart policy. */
  detachLog?: string;
}

export interface Launched { h: HelperHandle; cgroupPath?: string }

export async function launchContainer(p: StorePaths, rec: ContainerRecord, mapping: IdMapping, o: LaunchOptions): Promise<Launched> {
  const net = await planNetwork(p, rec);
  // A user network's address and forwards from an earlier run go first (slirp4netns/pasta end by themselves).
  if (net.mode.kind === 'user') await networkCleanup(p, rec.Id);
  const cgroupPath = createCgroupFor(rec);
  const plan = buildContainerPlan({
    store: p, rec, mapping, process: o.process, removeOnExit: rec.HostConfig.AutoRemove, tty: o.tty, keepStdin: o.keepStdin,
    cgroupPath, waitForGo: net.attach, joinNetnsPid: net.joinPid, runtimeDir: net.attach ? containerRuntimeDir(p, rec.Id) : undefined,
  });
  // The helper is the one writer of state.json (running, then exited) — also for --rm, before it
  // removes the container, so `ps`, `kill` and `exec` see every container alike.
  plan.add('state', path.join(containerDir(p, rec.Id), 'state.json'));
  // The helper removes the cgroup itself after the final exit, so a killed CLI leaves none behind.
  if (cgroupPath) plan.inPhase('cleanup').add('rmdir-cgroup', cgroupPath);
  if (o.detachLog) {
    plan.add('detach', o.detachLog);
    plan.add('restart', rec.HostConfig.RestartPolicy.Name || 'no', String(rec.HostConfig.RestartPolicy.MaximumRetryCount || 0));
  }
  const h = spawnHelper('run', plan, { stdio: o.stdio, detached: !!o.detachLog, life: net.attach });
  if (net.attach) {
    try {
      const pid = await h.pid;
      await attachForStart(p, rec, net, pid, h.life!);
      h.go();
    } catch (e) {
      // Without a go the helper kills the container and cleans up when its control fd closes.
      h.abort();
      await h.exited.catch(() => undefined);
      if (h.events.errors.length === 0) throw e;
    }
  }
  return { h, cgroupPath };
}
