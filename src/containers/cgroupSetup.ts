// Where a container's cgroup comes from: discovery and limit checks at create (refusing what the host cannot
// enforce), the container's own child cgroup at start, and its removal after the final exit.
import * as os from 'node:os';
import { LodgerError } from '../errors';
import type { ContainerRecord } from '../storage/containers';

/** --cgroups=disabled, or the config key / environment LODGER_CGROUPS=disabled, turn cgroup use off. */
export function cgroupsMode(flag?: string): 'enabled' | 'disabled' {
  const v = flag || process.env.LODGER_CGROUPS || 'enabled';
  if (v !== 'enabled' && v !== 'disabled') throw new LodgerError('BAD_CGROUPS', `--cgroups=${v}: use enabled or disabled`);
  return v;
}

function hasLimits(resources: Record<string, string | number>): boolean {
  return Object.keys(resources).length > 0;
}

/**
 * Discovery, plus the systemd route: where the caller's own cgroup is not delegated (a desktop terminal's
 * app-*.scope, a login session) but a user manager runs, this process moves itself into a delegated scope
 * `lodger-<id>.scope` and containers are made inside it (placement "lodger-scope", discover.ts). A
 * detached container's monitor stays in that scope, so the unit lives exactly as long as the container.
 */
function discoverBase(id: string, cgroupParent?: string): import('../cgroups').CgroupDiscovery {
  const cg = require('../cgroups') as typeof import('../cgroups');
  const d = cg.discoverCgroups({ cgroupParent });
  if (d.base || !d.systemd?.available) return d;
  const moved = cg.moveSelfToDelegatedScope(cg.lodgerScopeUnit(id));
  return cg.discoverCgroups(moved.ok ? { cgroupParent } : { cgroupParent, scopeFailure: moved.reason });
}

/**
 * Checked when the container is created, so `run` fails with 125 and a message naming the missing
 * controller — never a silent unlimited run. Containers without limits run on any host.
 */
export function checkCgroupRequest(resources: Record<string, string | number>, mode: 'enabled' | 'disabled', id: string, cgroupParent?: string): void {
  if (!hasLimits(resources)) return;
  if (mode === 'disabled') throw new LodgerError('CGROUPS_DISABLED', 'resource limits need cgroups, but --cgroups=disabled (or LODGER_CGROUPS=disabled) turned them off — drop the limits or enable cgroups');
  const cg = require('../cgroups') as typeof import('../cgroups');
  const d = discoverBase(id, cgroupParent);
  if (!d.base) cg.planLimits(resources, new Set(), { ...d, hostCpus: os.availableParallelism() });
  const prepared = cg.prepareCgroupBase(d);
  cg.planLimits(resources, new Set(prepared.enabled), { ...d, notEnabled: prepared.notEnabled, hostCpus: os.availableParallelism() });
}

/**
 * The container's own cgroup (a sibling of the caller's leaf under the delegated subtree), with its
 * limits written before the init joins it; undefined when the host delegates nothing and none is needed.
 */
export function createCgroupFor(rec: ContainerRecord): string | undefined {
  const mode = (rec.HostConfig as { Cgroups?: string }).Cgroups === 'disabled' ? 'disabled' : 'enabled';
  if (mode === 'disabled') return undefined;
  const cg = require('../cgroups') as typeof import('../cgroups');
  const d = discoverBase(rec.Id, rec.HostConfig.CgroupParent);
  const resources = rec.HostConfig.Resources ?? {};
  if (!d.base) {
    if (hasLimits(resources)) cg.planLimits(resources, new Set(), { ...d, hostCpus: os.availableParallelism() });
    return undefined;
  }
  const prepared = cg.prepareCgroupBase(d);
  const plan = cg.planLimits(resources, new Set(prepared.enabled), { ...d, notEnabled: prepared.notEnabled, hostCpus: os.availableParallelism() });
  const dir = cg.createContainerCgroup(d.base, rec.Id);
  cg.applyLimits(dir, plan);
  return dir;
}

export async function removeCgroup(dir: string | undefined): Promise<void> {
  if (!dir) return;
  const cg = require('../cgroups') as typeof import('../cgroups');
  await cg.removeContainerCgroup(dir).catch(() => undefined);
}
