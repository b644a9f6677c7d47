// One container's cgroup: create it, write its limits, freeze/thaw, signal, wait for it to empty, and remove it.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { errnoText, fsError, LodgerError } from '../errors';
import { pollUntil, readCgroupFile, readOptionalCgroupFile, tryWriteCgroupFile } from './files';
import type { LimitFile, LimitPlan } from './limits';
import { parseFlatKeyed } from './parse';

/** Container cgroups are `<base>/lodger-<id>`; the prefix also keeps removal away from anything else. */
export const CONTAINER_CGROUP_PREFIX = 'lodger-';
const DEFAULT_TIMEOUT_MS = 5000;

export function containerCgroupPath(base: string, id: string): string {
  // The id becomes one path component in cgroupfs: no slashes, no dot names.
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/.test(id)) {
    throw new LodgerError('CGROUP_BAD_ID', `create a cgroup for container ${JSON.stringify(id)}: the id must be letters, digits, "_", "." or "-", starting with a letter or digit`);
  }
  return path.join(base, CONTAINER_CGROUP_PREFIX + id);
}

function assertContainerCgroup(dir: string, operation: string): void {
  if (!path.basename(dir).startsWith(CONTAINER_CGROUP_PREFIX)) {
    throw new LodgerError('CGROUP_NOT_CONTAINER', `${operation} ${dir}: not a container cgroup (its name does not start with "${CONTAINER_CGROUP_PREFIX}"); lodger only does this to cgroups it created`);
  }
}

/** cgroup.events (cgroup-v2.rst "Core Interface Files"): populated covers descendants; frozen means all of them are. */
export interface CgroupEvents {
  populated: boolean;
  frozen: boolean;
}

export function readEvents(dir: string): CgroupEvents {
  const m = parseFlatKeyed(readCgroupFile(path.join(dir, 'cgroup.events'), 'read events from'));
  return { populated: m.get('populated') === 1, frozen: m.get('frozen') === 1 };
}

export function isPopulated(dir: string): boolean {
  return readEvents(dir).populated;
}

/**
 * Creates `<base>/lodger-<id>` and returns its path. The helper writes the container's init pid into
 * its cgroup.procs before exec; the monitor stays in the caller's cgroup, so the container's cgroup
 * holds only the container. A leftover from a container that died with its cgroup still there (no
 * processes) is removed and made again, so that stale limits do not apply to the new container.
 */
export function createContainerCgroup(base: string, id: string): string {
  const dir = containerCgroupPath(base, id);
  for (let attempt = 0; ; attempt++) {
    try {
      fs.mkdirSync(dir);
      return dir;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' && attempt === 0) {
        if (isPopulated(dir)) {
          throw new LodgerError('CGROUP_EXISTS', `create cgroup ${dir}: it already exists and has processes, so another container with id ${id} is running: remove it first (lodger rm -f ${id})`);
        }
        removeTree(dir);
        continue;
      }
      if (code === 'EACCES' || code === 'EPERM') {
        throw fsError('create cgroup', dir, err, `${base} is not delegated to you: ask an admin to chown -R it to you (cgroup-v2.rst "Delegation"), or set LODGER_CGROUP_PARENT to a cgroup that is`);
      }
      throw fsError('create cgroup', dir, err);
    }
  }
}

/**
 * Writes a plan's files into the container's cgroup, before its init joins it, in plan order.
 * A file that is missing means its controller is not enabled here (or, for memory.swap.max, the
 * kernel does not account swap): fatal unless the plan marked it optional or named a fallback.
 */
export function applyLimits(dir: string, plan: LimitPlan | readonly LimitFile[]): void {
  const files = 'files' in plan ? plan.files : plan;
  for (const f of files) {
    let target = f.file;
    let value = f.value;
    let err = tryWriteCgroupFile(path.join(dir, target), value);
    if (err?.code === 'ENOENT' && f.orElse) {
      target = f.orElse.file;
      value = f.orElse.value;
      err = tryWriteCgroupFile(path.join(dir, target), value);
    }
    if (!err || (err.code === 'ENOENT' && f.optional)) continue;
    const where = path.join(dir, target);
    const hint = err.code === 'ENOENT'
      ? `the "${f.controller}" controller is not enabled for this cgroup${target === 'memory.swap.max' ? ', or the kernel does not account swap (swapaccount=1)' : ''}`
      : err.code === 'EINVAL' || err.code === 'ERANGE'
        ? 'the kernel refused this value'
        : undefined;
    throw new LodgerError('CGROUP_LIMIT',
      `apply ${f.flag}: write ${JSON.stringify(value)} to ${where}: ${errnoText(err.code ?? 'EIO')}${hint ? `: ${hint}` : ''}`);
  }
}

async function setFrozen(dir: string, frozen: boolean, timeoutMs: number): Promise<void> {
  const verb = frozen ? 'freeze' : 'thaw';
  const file = path.join(dir, 'cgroup.freeze');
  const err = tryWriteCgroupFile(file, frozen ? '1' : '0');
  if (err) {
    throw fsError(`${verb} container cgroup: write to`, file, err,
      err.code === 'ENOENT' ? 'cgroup.freeze needs Linux 5.2 or later (cgroup-v2.rst, cgroup.freeze)' : undefined);
  }
  // Writing cgroup.freeze starts the change; cgroup.events' "frozen" reports when every task has
  // reached it (cgroup-v2.rst, cgroup.freeze: "the cgroup is frozen when ... frozen 1").
  await pollUntil(() => (readEvents(dir).frozen === frozen ? true : undefined), timeoutMs, () => {
    if (frozen) tryWriteCgroupFile(file, '0'); // don't leave it half frozen
    return new LodgerError('CGROUP_FREEZE_TIMEOUT',
      `${verb} ${dir}: cgroup.events still says frozen ${frozen ? 0 : 1} after ${timeoutMs} ms${frozen ? ' (left thawed)' : ''}: a process may be stuck in the kernel (uninterruptible I/O); retry, or kill the container`);
  });
}

/** Freezes every process in the cgroup (cgroup.freeze = 1) and waits until cgroup.events says frozen 1. */
export function freeze(dir: string, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<void> {
  return setFrozen(dir, true, timeoutMs);
}

/** Thaws the cgroup (cgroup.freeze = 0) and waits until cgroup.events says frozen 0. */
export function thaw(dir: string, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<void> {
  return setFrozen(dir, false, timeoutMs);
}

/** Pids in the cgroup and, with `recursive`, in its descendants (a container may make sub-cgroups). */
export function listPids(dir: string, recursive = true): number[] {
  const pids = readCgroupFile(path.join(dir, 'cgroup.procs'), 'list processes of').split('\n').filter(Boolean).map(Number);
  if (recursive) for (const child of childCgroups(dir)) pids.push(...listPids(child, true));
  return pids;
}

function childCgroups(dir: string): string[] {
  try {
    return fs.readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => path.join(dir, e.name));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw fsError('list sub-cgroups of', dir, err);
  }
}

function signalNumber(signal: NodeJS.Signals | number): number {
  if (typeof signal === 'number') return signal;
  const n = (os.constants.signals as Record<string, number>)[signal];
  if (n === undefined) throw new LodgerError('CGROUP_BAD_SIGNAL', `signal ${signal}: unknown signal name: use a name such as SIGTERM or a number`);
  return n;
}

/**
 * Sends `signal` to every process of the cgroup and its descendants. SIGKILL goes through
 * cgroup.kill (Linux 5.14+, cgroup-v2.rst "cgroup.kill"): the kernel kills the whole subtree at once,
 * including processes forked meanwhile and processes running as subuids, which we could not signal
 * ourselves. Other signals go pid by pid; a pid that exited meanwhile (ESRCH) is skipped. Returns
 * how many processes were signalled individually (0 when cgroup.kill did the work).
 */
export function killAll(dir: string, signal: NodeJS.Signals | number = 'SIGKILL'): number {
  const sig = signalNumber(signal);
  if (sig === os.constants.signals.SIGKILL) {
    const err = tryWriteCgroupFile(path.join(dir, 'cgroup.kill'), '1');
    if (!err) return 0;
    if (err.code !== 'ENOENT') throw fsError('kill the container: write "1" to', path.join(dir, 'cgroup.kill'), err);
    // Older kernel without cgroup.kill: fall through to signalling each pid.
  }
  let signalled = 0;
  const denied: number[] = [];
  for (const pid of listPids(dir, true)) {
    try {
      process.kill(pid, sig);
      signalled++;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ESRCH') continue; // exited since we listed it
      if (code === 'EPERM') denied.push(pid);
      else throw fsError(`send signal ${sig} to process`, String(pid), err);
    }
  }
  if (denied.length > 0) {
    throw new LodgerError('CGROUP_KILL_DENIED',
      `send signal ${sig} to the processes of ${dir}: pids ${denied.join(', ')} run as other users of the container (subuids), which you cannot signal from outside its user namespace: signal the container's init instead, or use SIGKILL, which goes through cgroup.kill`);
  }
  return signalled;
}

/** Waits until cgroup.events says populated 0: every process of the subtree has exited. */
export async function waitUntilEmpty(dir: string, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<void> {
  await pollUntil(() => (isPopulated(dir) ? undefined : true), timeoutMs, () => {
    let pids = 'none listed';
    try {
      pids = listPids(dir).join(', ') || pids;
    } catch {
      // only for the message: the cgroup may have gone meanwhile
    }
    return new LodgerError('CGROUP_BUSY', `wait for ${dir} to empty: it still has processes after ${timeoutMs} ms (pids ${pids}): they may be stuck in uninterruptible I/O; retry later`);
  });
}

/** rmdir depth first: a cgroup with child cgroups cannot be removed (cgroup-v2.rst "Removing cgroups" — EBUSY). */
function removeTree(dir: string): void {
  for (const child of childCgroups(dir)) removeTree(child);
  try {
    fs.rmdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw fsError('remove cgroup', dir, err);
  }
}

/**
 * Removes a container's cgroup: kills what is left (cgroup.kill), waits until cgroup.events says
 * populated 0, then rmdirs it and any sub-cgroups. Already gone is success, so `rm` can be repeated.
 * Refuses paths that are not `lodger-*` cgroups.
 */
export async function removeContainerCgroup(dir: string, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<void> {
  assertContainerCgroup(dir, 'remove cgroup');
  if (!fs.existsSync(dir)) return;
  if (isPopulated(dir)) {
    killAll(dir, 'SIGKILL');
    await waitUntilEmpty(dir, timeoutMs);
  }
  removeTree(dir);
}

/** True when the OOM killer killed a process of this cgroup or its descendants (memory.events oom_kill > 0; cgroup-v2.rst). */
export function oomKilled(dir: string): boolean {
  const t = readOptionalCgroupFile(path.join(dir, 'memory.events'));
  if (t === null) return false; // no memory controller here: no memory limit, so no cgroup OOM kill
  return (parseFlatKeyed(t).get('oom_kill') ?? 0) > 0;
}
