// Runs a store worker on a container's filesystem: a running container's own view (through its user namespace), or its layers mounted for the worker alone.
//
// Running: the worker joins only the container's user namespace (helper `exec` mode, `join user`).
// There it is root over the container's ids and may open /proc/PID/root — the container's root with
// its volumes, as `docker cp` sees it — while its own mount namespace, and so every binary and
// library it runs, stays the host's: nothing of the container is ever executed (CVE-2019-14271).
// It does not join the pid namespace, so no process of the container can see or signal it.
//
// Stopped (or a snapshot of a running one): the worker gets a new user namespace with the
// container's id maps and a private mount namespace in which the helper mounts the container's
// overlay at its merged/ directory; nobody else sees that mount, and it goes with the worker.
// Reading mounts only lower layers (the upper one as the topmost lower): read-only, and no claim
// on upper/ as an overlay upper directory, which a running container holds.
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { containerDir, liveState, readState, type ContainerRecord } from '../storage/containers';
import { overlayOptions } from '../storage/driver';
import type { StorePaths } from '../storage/paths';
import { fuseOverlayExtraOptions, imageLowerDirs, imageUnmount } from './imageLayers';
import { Plan } from '../helper/plan';
import { callerMapping, runWorkerPlan, type WorkerResult } from '../helper/usernsWorker';

export interface ContainerFsAccess {
  /** write: the worker changes the container's files (cp into it). */
  write: boolean;
  /** snapshot: the container's own layers even when it runs (export: no volumes, no /proc). */
  snapshot?: boolean;
}

interface Placement { mode: 'run' | 'exec'; plan: Plan; root: string; user: string }

/** overlay options with lower layers only (a read-only mount); LOWER lists the top layer first. */
function lowerOnlyOptions(lower: string[], kernel: boolean): string {
  const esc = (s: string) => s.replace(/\\/g, '\\\\').replace(/:/g, '\\:').replace(/,/g, '\\,');
  return `lowerdir=${lower.map(esc).join(':')}${kernel ? ',userxattr' : ''}`;
}

function place(p: StorePaths, rec: ContainerRecord, access: ContainerFsAccess): Placement {
  const mapping = callerMapping(rec.HostConfig.UsernsMode || undefined);
  const st = liveState(readState(p, rec.Id));
  if (st.Running && !access.snapshot) {
    const plan = new Plan().join(st.Pid, ['user']);
    // A single-id mapping is written with setgroups denied (user_namespaces(7)); the helper must not try.
    if (mapping.setgroupsDeny) plan.setgroupsDeny();
    return { mode: 'exec', plan, root: `/proc/${st.Pid}/root`, user: mapping.user };
  }
  const dir = containerDir(p, rec.Id);
  const plan = new Plan().namespaces(['mnt']).idmap(mapping);
  if (rec.Driver === 'vfs') return { mode: 'run', plan, root: path.join(dir, 'rootfs'), user: mapping.user };
  const merged = path.join(dir, 'merged');
  const upper = path.join(dir, 'upper');
  const kernel = rec.Driver === 'overlay';
  plan.inPhase('prepare');
  // A squashfs image is mounted first (for the worker alone, like the overlay), as the lowest layer.
  const layers = imageLowerDirs(plan, p, rec);
  // overlayfs needs two lower layers when it has no upper one: with an empty image, mount read-write.
  const readOnly = !access.write && layers.length > 0;
  // The same options as the container's own mount (containerPlan.ts).
  const ids = kernel ? '' : fuseOverlayExtraOptions(p, rec, mapping);
  const opts = readOnly ? lowerOnlyOptions([upper, ...layers], kernel) + (ids ? `,${ids}` : '') : overlayOptions(layers, upper, path.join(dir, 'work'), kernel, ids);
  if (kernel) plan.mount('overlay', merged, 'overlay', readOnly ? ['ro'] : [], opts);
  else plan.fuseOverlayfs(merged, opts);
  plan.inPhase('cleanup').umount(merged);
  imageUnmount(plan, p, rec);
  return { mode: 'run', plan, root: merged, user: mapping.user };
}

/**
 * Runs worker OP on REC's filesystem; ARGS receives the root as the worker sees it. A container
 * that is running while its files are written is changed as a process of its own would change them.
 */
export async function runOnContainerFs<T>(p: StorePaths, rec: ContainerRecord, access: ContainerFsAccess, op: string, args: (root: string) => string[], input?: Readable): Promise<WorkerResult<T>> {
  const where = place(p, rec, access);
  return runWorkerPlan<T>(where.mode, where.plan, op, args(where.root), input, where.user);
}
