// Readying a discovered base for containers: enabling its controllers for children, and the lodger-scope init leaf.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { errnoText, fsError, LodgerError } from '../errors';
import { readCgroupFile, readOptionalCgroupFile, tryWriteCgroupFile } from './files';
import { CgroupDiscovery } from './discover';
import { parseControllerList } from './parse';

export interface EnableResult {
  /** The base's cgroup.subtree_control afterwards: the controllers container cgroups will have. */
  enabled: string[];
  /** Controller the base has → why enabling it failed; planLimits turns these into refusals. */
  notEnabled: Record<string, string>;
}

/**
 * Writes `+name` to `<base>/cgroup.subtree_control` for each wanted controller the base has and has
 * not enabled yet, one write per controller so that one refusal does not hide the others
 * (cgroup-v2.rst "Enabling and Disabling": a multi-token write fails as a whole).
 */
export function enableControllers(base: string, wanted: readonly string[]): EnableResult {
  const file = path.join(base, 'cgroup.subtree_control');
  const have = new Set(parseControllerList(readOptionalCgroupFile(path.join(base, 'cgroup.controllers')) ?? ''));
  const on = new Set(parseControllerList(readCgroupFile(file)));
  const notEnabled: Record<string, string> = {};
  for (const c of wanted) {
    if (on.has(c)) continue;
    // Not in cgroup.controllers: not delegated to us. Nothing to try; planLimits says so.
    if (!have.has(c)) continue;
    const err = tryWriteCgroupFile(file, `+${c}`);
    if (!err) {
      on.add(c);
      continue;
    }
    switch (err.code) {
      case 'EBUSY':
        notEnabled[c] = `${base} has processes of its own, and a cgroup may hand controllers to its children only when it has none (cgroup-v2.rst "No Internal Process Constraint"): move your shell into a leaf below it (mkdir ${base}/session; echo $$ > ${base}/session/cgroup.procs) and start lodger from there`;
        break;
      case 'EACCES': case 'EPERM':
        notEnabled[c] = `${file} is not writable by you: ask an admin to chown it to you (cgroup-v2.rst "Delegation")`;
        break;
      case 'EOPNOTSUPP': case 'ENOTSUP':
        notEnabled[c] = `${base} is in a threaded subtree, where domain controllers cannot be enabled (cgroup-v2.rst "Threads")`;
        break;
      default:
        notEnabled[c] = `write "+${c}" to ${file}: ${errnoText(err.code ?? String(err.message))}`;
    }
  }
  // Re-read: the kernel's view is the truth, including controllers someone else enabled meanwhile.
  return { enabled: parseControllerList(readCgroupFile(file)), notEnabled };
}

/** The leaf a lodger-scope's own processes move into so the scope can enable controllers. */
export const INIT_LEAF = 'lodger-init';

/**
 * Moves every process of `scope` into `<scope>/lodger-init`. Only for placement "lodger-scope": the
 * scope was created for lodger, so everything in it is lodger's (see discover.ts). Repeats because a
 * process may fork while we move; a pid that exits meanwhile (ESRCH) needs no moving.
 */
export function evacuateToInitLeaf(scope: string): string {
  const leaf = path.join(scope, INIT_LEAF);
  try {
    fs.mkdirSync(leaf);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw fsError('create init leaf', leaf, err);
  }
  const procs = path.join(scope, 'cgroup.procs');
  for (let round = 0; round < 10; round++) {
    const pids = readCgroupFile(procs).split('\n').filter(Boolean);
    if (pids.length === 0) return leaf;
    for (const pid of pids) {
      const err = tryWriteCgroupFile(path.join(leaf, 'cgroup.procs'), pid);
      if (err && err.code !== 'ESRCH') throw fsError(`move process ${pid} into`, leaf, err);
    }
  }
  throw new LodgerError('CGROUP_EVACUATE',
    `move the processes of ${scope} into ${leaf}: new ones keep appearing; stop what is forking in the scope and retry`);
}

export interface PreparedBase extends EnableResult {
  base: string;
}

/**
 * Makes the discovered base ready for container cgroups with as many of `wanted` controllers as the
 * kernel allows (default: all the base has). Never throws for a controller it cannot enable: the
 * reason goes to planLimits, which refuses only the flags that need it.
 */
export function prepareCgroupBase(d: CgroupDiscovery, wanted: readonly string[] = d.controllers): PreparedBase {
  const base = requireCgroupBase(d, 'prepare container cgroups');
  const missing = wanted.filter((c) => !d.enabled.includes(c) && d.controllers.includes(c));
  if (d.placement === 'lodger-scope' && missing.length > 0) evacuateToInitLeaf(base);
  return { base, ...enableControllers(base, wanted) };
}

/** The base, or a LodgerError saying why `operation` (e.g. "lodger pause") cannot have one here. */
export function requireCgroupBase(d: CgroupDiscovery, operation: string): string {
  if (d.base) return d.base;
  throw new LodgerError('CGROUP_UNAVAILABLE', `${operation} needs a cgroup v2 subtree delegated to you, but ${d.reason ?? 'none was found'}`);
}
