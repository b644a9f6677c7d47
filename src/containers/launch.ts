// Launches a container's helper — attached or as a detached monitor — with its cgroup, its plan and its
// network: the helper creates the namespaces, waits while the network is attached, then lets the command run.
import * as path from 'node:path';
import { LodgerError } from '../errors';
import { containerDir, type ContainerRecord } from '../storage/containers';
import type { StorePaths } from '../storage/paths';
import { createCgroupFor } from './cgroupSetup';
import { buildContainerPlan, type ProcessSpec } from './containerPlan';
import { spawnHelper, type HelperHandle, type SpawnHelperOptions } from '../helper/helperProcess';
import type { IdMapping } from '../helper/idmap';
import type { AttachedNetwork } from '../network/attach';
import { planSharedNamespaces } from './sharedNamespaces';
import { attachForStart, containerRuntimeDir, networkCleanup, planNetwork } from './networkSetup';

export interface LaunchOptions {
  process: ProcessSpec;
  tty?: { rows: number; cols: number };
  keepStdin: boolean;
  stdio: NonNullable<SpawnHelperOptions['stdio']>;
  /** Detached: the helper becomes the monitor, logging here and applying the restart policy. */
  detachLog?: string;
}

export interface Launched { h: HelperHandle; cgroupPath?: string; network?: AttachedNetwork }

export async function launchContainer(p: StorePaths, rec: ContainerRecord, mapping: IdMapping, o: LaunchOptions): Promise<Launched> {
  const net = await planNetwork(p, rec);
  const shared = planSharedNamespaces(p, rec, net.joinPid, net.mode.kind === 'user');
  // A user network's address and forwards from an earlier run go first (slirp4netns/pasta end by themselves).
  if (net.mode.kind === 'user') await networkCleanup(p, rec.Id);
  // A user network: the container's user namespace is made inside the network's infra one (its maps are
  // then the identity over the infra namespace's ids, which are the caller's), so the infra may link it.
  const infraPid = net.mode.kind === 'user' ? await userNetworkInfra(p, net.mode.name) : undefined;
  if (infraPid) mapping = identityWithin(mapping, infraPid);
  const cgroupPath = createCgroupFor(rec);
  const plan = buildContainerPlan({
    store: p, rec, mapping, process: o.process, removeOnExit: rec.HostConfig.AutoRemove, tty: o.tty, keepStdin: o.keepStdin,
    cgroupPath, waitForGo: net.attach, joinNetnsPid: net.joinPid, joinPidnsPid: shared.pidJoin, joinIpcnsPid: shared.ipcJoin, runtimeDir: net.attach ? containerRuntimeDir(p, rec.Id) : undefined,
  });
  // The helper is the one writer of state.json (running, then exited) — also for --rm, before it
  // removes the container, so `ps`, `kill` and `exec` see every container alike.
  plan.state(path.join(containerDir(p, rec.Id), 'state.json'));
  // The helper removes the cgroup itself after the final exit, so a killed CLI leaves none behind.
  if (cgroupPath) plan.inPhase('cleanup').rmdirCgroup(cgroupPath);
  if (infraPid) plan.parentUserns(infraPid);
  if (o.detachLog) plan.detach(o.detachLog).restart(rec.HostConfig.RestartPolicy.Name || 'no', rec.HostConfig.RestartPolicy.MaximumRetryCount || 0);
  // --log-opt max-size/max-file: the monitor rotates the log (monitor.c log_rotate).
  const logMax = Number(rec.HostConfig.LogConfig?.Config['max-size'] ?? 0);
  if (o.detachLog && logMax > 0) plan.logMax(logMax, Number(rec.HostConfig.LogConfig?.Config['max-file'] ?? 1));
  const h = spawnHelper('run', plan, { stdio: o.stdio, detached: !!o.detachLog, life: net.attach });
  let network: AttachedNetwork | undefined;
  if (net.attach) {
    try {
      const pid = await h.pid;
      network = await attachForStart(p, rec, net, pid, h.life!);
      h.go();
    } catch (e) {
      // Without a go the helper kills the container and cleans up when its control fd closes.
      h.abort();
      await h.exited.catch(() => undefined);
      if (h.events.errors.length === 0) throw e;
    }
  }
  return { h, cgroupPath, network };
}

/** The pid holding the user networks' infra user namespace, creating the namespace and NAME's network first. */
async function userNetworkInfra(p: StorePaths, name: string): Promise<number> {
  const { ensureNetworkNamespace, readInfraState } = require('../network/infra') as typeof import('../network/infra');
  const { inspectNetwork } = require('../network/userNetwork') as typeof import('../network/userNetwork');
  const { packageRoot } = require('../helper/native') as typeof import('../helper/native');
  await ensureNetworkNamespace(p.runtime, p.root, inspectNetwork(p.root, name), {
    responderCommand: [process.execPath, path.join(packageRoot(), 'dist', 'lodger.js'), '__dns-responder'],
  });
  const holder = readInfraState(p.runtime).userns;
  if (!holder) throw new LodgerError('NETWORK_INFRA', `attach to network ${name}: the infra user namespace did not come up — see ${p.runtime}/networks`);
  return holder.process.pid;
}

/**
 * Inside the infra namespace container id N maps onto infra id N (which maps to the caller's). Each
 * extent must lie within one extent of the parent's map (user_namespaces(7), uid_map), so the identity
 * copies the infra map's extent boundaries.
 */
function identityWithin(m: IdMapping, infraPid: number): IdMapping {
  const fs = require('node:fs') as typeof import('node:fs');
  const lines = (file: string) => fs.readFileSync(`/proc/${infraPid}/${file}`, 'utf8').trim().split('\n').map((l) => {
    const [inside, , count] = l.trim().split(/\s+/).map(Number);
    return { inside, outside: inside, count };
  });
  return { ...m, mode: 'direct', setgroupsDeny: false, uid: lines('uid_map'), gid: lines('gid_map') };
}
