// --pid container:X and --ipc container:X at start: X's init pid, whose user namespace and that namespace the container joins.
import * as fs from 'node:fs';
import { LodgerError } from '../errors';
import { liveState, readState, resolveContainer, type ContainerRecord } from '../storage/containers';
import type { StorePaths } from '../storage/paths';

export interface SharedNamespaces {
  pidJoin?: number;
  ipcJoin?: number;
}

/** The running init of the container FLAG names (`container:X`), or a clear error naming X. */
function targetInit(p: StorePaths, flag: string, ref: string): number {
  const id = resolveContainer(p, ref);
  const st = liveState(readState(p, id));
  if (!st.Running) throw new LodgerError('NOT_RUNNING', `${flag} container:${ref}: container ${ref} is not running — start it first`);
  return st.Pid;
}

/** The user namespace PID is in (its /proc link, e.g. "user:[4026532]"), or undefined when we may not read it. */
function userNamespaceOf(pid: number): string | undefined {
  try { return fs.readlinkSync(`/proc/${pid}/ns/user`); } catch { return undefined; }
}

/**
 * Joining a pid or IPC namespace needs CAP_SYS_ADMIN in the user namespace owning it (setns(2)), so the
 * container's user namespace is X's, not one of its own. Every namespace joined (with --network
 * container:Y too) must then belong to one user namespace: the helper can be in only one.
 */
export function planSharedNamespaces(p: StorePaths, rec: ContainerRecord, netJoinPid: number | undefined, userNetwork: boolean): SharedNamespaces {
  const hc = rec.HostConfig;
  const out: SharedNamespaces = {};
  const joins: Array<[string, number]> = netJoinPid ? [[`--network ${hc.NetworkMode}`, netJoinPid]] : [];
  for (const [flag, mode, key] of [['--pid', hc.PidMode, 'pidJoin'], ['--ipc', hc.IpcMode, 'ipcJoin']] as const) {
    if (!mode?.startsWith('container:')) continue;
    const pid = targetInit(p, flag, mode.slice('container:'.length));
    out[key] = pid;
    joins.push([`${flag} ${mode}`, pid]);
  }
  if (joins.length > 0 && userNetwork) {
    throw new LodgerError('NS_MODE', `${joins[0][0]}: cannot be combined with a user network — the container's user namespace must be the shared container's (setns(2)); use --network container:X too`);
  }
  for (const [what, pid] of joins.slice(1)) {
    const [firstWhat, firstPid] = joins[0];
    if (pid === firstPid) continue;
    const a = userNamespaceOf(firstPid);
    if (a === undefined || a !== userNamespaceOf(pid)) {
      throw new LodgerError('NS_MODE', `${what} with ${firstWhat}: the two containers have different user namespaces, and a container can be in only one — share namespaces of one container`);
    }
  }
  return out;
}
