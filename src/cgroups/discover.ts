// Read-only discovery: where cgroup2 is mounted, which cgroup we are in, and which delegated cgroup lodger may build in.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LodgerError } from '../errors';
import { canWrite, readOptionalCgroupFile } from './files';
import { MountInfoEntry, parseControllerList, parseMountinfo, parseProcCgroup } from './parse';
import { detectUserSystemd, isLodgerScope, isSystemdUnitCgroup, UserSystemd } from './systemd';

/**
 * unified: only cgroup2 is mounted. hybrid: cgroup2 beside v1 hierarchies that hold the resource
 * controllers (systemd's "hybrid" mode; this project's CI host). legacy: v1 only. none: no cgroup
 * filesystem is mounted at all (e.g. inside some containers).
 */
export type CgroupHostKind = 'unified' | 'hybrid' | 'legacy' | 'none';

export interface CgroupHost {
  kind: CgroupHostKind;
  /** Mount point of the cgroup2 hierarchy, or null. */
  mount: string | null;
  /** The cgroup path the cgroup2 mount shows at its mount point (mountinfo field 4), usually "/". */
  mountRoot: string;
  /** v1 controller name (`memory`, `blkio`, …) → the v1 mount point that holds it. */
  v1Controllers: Record<string, string>;
}

/** v1 controllers as mount options name them (cgroups(7), "Cgroups version 1 controllers"). */
const V1_CONTROLLERS = new Set([
  'cpu', 'cpuacct', 'cpuset', 'memory', 'devices', 'freezer', 'net_cls', 'net_prio', 'blkio',
  'perf_event', 'hugetlb', 'pids', 'rdma', 'misc',
]);

/** Picks the cgroup2 mount and the v1 controller mounts out of mountinfo. */
export function classifyHost(mounts: readonly MountInfoEntry[]): CgroupHost {
  const v2 = mounts.filter((m) => m.fstype === 'cgroup2');
  // Several cgroup2 mounts are one hierarchy seen through different roots; prefer the conventional
  // places, then one that shows the whole tree ("/"), so paths from /proc/self/cgroup map onto it.
  const rank = (m: MountInfoEntry): number =>
    (m.mountPoint === '/sys/fs/cgroup' ? 0 : m.mountPoint === '/sys/fs/cgroup/unified' ? 1 : 2) * 2 + (m.root === '/' ? 0 : 1);
  const chosen = [...v2].sort((a, b) => rank(a) - rank(b))[0];
  const v1Controllers: Record<string, string> = {};
  let v1Any = false;
  for (const m of mounts) {
    if (m.fstype !== 'cgroup') continue;
    v1Any = true;
    for (const o of m.superOptions) if (V1_CONTROLLERS.has(o) && !(o in v1Controllers)) v1Controllers[o] = m.mountPoint;
  }
  // A v1 mount holding only a named hierarchy (name=systemd) takes no controller away from cgroup2.
  const kind: CgroupHostKind = chosen
    ? Object.keys(v1Controllers).length > 0 ? 'hybrid' : 'unified'
    : v1Any ? 'legacy' : 'none';
  return { kind, mount: chosen ? chosen.mountPoint : null, mountRoot: chosen ? chosen.root : '/', v1Controllers };
}

/**
 * The directory of cgroup `cgroupPath` (as /proc/PID/cgroup shows it) under a cgroup2 mount whose
 * root is `mountRoot`. Null when the path is outside what the mount shows, as happens when the mount
 * was made in another cgroup namespace (cgroup_namespaces(7)).
 */
export function cgroupDirOf(mount: string, mountRoot: string, cgroupPath: string): string | null {
  if (mountRoot === '/') return stripSlash(path.join(mount, cgroupPath));
  if (cgroupPath === mountRoot) return mount;
  if (cgroupPath.startsWith(mountRoot + '/')) return stripSlash(path.join(mount, cgroupPath.slice(mountRoot.length)));
  return null;
}

/** path.join keeps a trailing slash; directory comparisons here must not see one. */
function stripSlash(p: string): string {
  return p.length > 1 ? p.replace(/\/+$/, '') : p;
}

/**
 * Where container cgroups go, relative to the caller's cgroup ("own"):
 * - explicit: `LODGER_CGROUP_PARENT` or config named it; containers are its children.
 * - siblings: own is a leaf in a subtree delegated to us (its parent is writable and is not a systemd
 *   unit): containers are created beside own, in the parent. This is the CI layout
 *   (…/lodgertest/session) and Slurm's (…/step_0/user/task_0). Chosen over podman's habit of moving
 *   the caller into an init leaf because own also holds the user's shell and whatever else they run:
 *   lodger must not move processes it did not start. Siblings keep own's processes where they are,
 *   leave the parent free of processes so it may enable controllers for containers (cgroup-v2.rst
 *   "No Internal Process Constraint"), and the move of the container's init from own to its cgroup
 *   needs write access only to the parent's cgroup.procs, their common ancestor (cgroup-v2.rst
 *   "Delegation Containment").
 * - children: own is writable but its parent is not ours: containers are children of own. They work
 *   (freeze, kill, stats) but get no controllers while own has processes.
 * - lodger-scope: own is a `lodger-*.scope` that systemd created for lodger with Delegate=yes: every
 *   process in it is lodger's, so here, and only here, we do move them into a `lodger-init` leaf
 *   before enabling controllers (see prepare.ts), as podman does in its scopes.
 */
export type CgroupPlacement = 'explicit' | 'siblings' | 'children' | 'lodger-scope';

export interface CgroupDiscovery extends CgroupHost {
  /** The caller's own cgroup directory, or null (v1-only host, or not visible through the mount). */
  own: string | null;
  /** The directory container cgroups are created in, or null when lodger has none it may use. */
  base: string | null;
  placement: CgroupPlacement | null;
  /** Controllers the base has (its cgroup.controllers): those it may hand to containers. */
  controllers: string[];
  /** Controllers the base already hands to its children (its cgroup.subtree_control). */
  enabled: string[];
  /** The systemd user manager, when we had to consider asking it for a scope. */
  systemd: UserSystemd | null;
  /** Why base is null, in words that end with what to do. */
  reason?: string;
}

export interface DiscoverOptions {
  /** Base from lodger's config; wins over `$LODGER_CGROUP_PARENT`. */
  cgroupParent?: string;
  env?: NodeJS.ProcessEnv;
  /** Also try `systemctl --user` when the user manager's socket is absent (slower). */
  probeSystemd?: boolean;
  /** Why asking the user manager for a scope failed, when it was tried: the reason then says so. */
  scopeFailure?: string;
}

/** A usable base: a directory we can create cgroups in and move processes into (cgroup-v2.rst "Delegation"). */
function isDelegatedToUs(dir: string): boolean {
  return canWrite(dir) && canWrite(path.join(dir, 'cgroup.procs'));
}

function readList(dir: string, file: string): string[] {
  const t = readOptionalCgroupFile(path.join(dir, file));
  return t === null ? [] : parseControllerList(t);
}

/** Resolves an explicit base: a path under the mount as given, otherwise relative to the hierarchy's root (Docker's --cgroup-parent). */
export function resolveCgroupParent(mount: string, value: string): string {
  const v = stripSlash(path.normalize(value));
  if (v === mount || v.startsWith(mount + '/')) return v;
  const dir = stripSlash(path.join(mount, v));
  if (dir !== mount && !dir.startsWith(mount + '/')) {
    throw new LodgerError('CGROUP_PARENT_UNUSABLE', `cgroup parent ${value}: ${dir} is outside the cgroup2 hierarchy at ${mount}: give a path inside it`);
  }
  return dir;
}

function commonAncestor(a: string, b: string): string {
  const pa = a.split('/');
  const pb = b.split('/');
  let i = 0;
  while (i < pa.length && i < pb.length && pa[i] === pb[i]) i++;
  return pa.slice(0, i).join('/') || '/';
}

function explicitBase(host: CgroupHost, own: string | null, value: string, fromEnv: boolean): string {
  const mount = host.mount as string;
  const label = fromEnv ? `cgroup parent LODGER_CGROUP_PARENT=${value}` : `cgroup parent ${value} (lodger's config)`;
  const undo = fromEnv ? 'or unset LODGER_CGROUP_PARENT' : "or remove it from lodger's config";
  const dir = resolveCgroupParent(mount, value);
  let st: fs.Stats | null = null;
  try {
    st = fs.statSync(dir);
  } catch {
    // reported just below
  }
  if (!st || !st.isDirectory()) {
    throw new LodgerError('CGROUP_PARENT_UNUSABLE',
      `${label}: ${dir} is not a cgroup directory: ask the admin who delegates it to create it (mkdir, then chown -R to you), ${undo}`);
  }
  if (!isDelegatedToUs(dir)) {
    throw new LodgerError('CGROUP_PARENT_UNUSABLE',
      `${label}: ${dir} is not delegated to you (its directory and cgroup.procs must be writable by you, cgroup-v2.rst "Delegation"): ask an admin to chown -R it to you, ${undo}`);
  }
  if (own) {
    const anc = commonAncestor(own, dir);
    if (anc !== dir && !canWrite(path.join(anc, 'cgroup.procs'))) {
      throw new LodgerError('CGROUP_PARENT_UNUSABLE',
        `${label}: lodger runs in ${own}, and moving a container from there into ${dir} needs write access to ${anc}/cgroup.procs, their common ancestor (cgroup-v2.rst "Delegation Containment"): start lodger from a cgroup inside ${dir} (e.g. a leaf you create there), ${undo}`);
    }
  }
  return dir;
}

/**
 * Finds the cgroup2 hierarchy, the caller's cgroup and the base lodger may create container cgroups in.
 * Changes nothing. Throws only when an explicitly configured base is unusable; every other lack is a
 * `reason` so that `run` without limits and `info` still work.
 */
export function discoverCgroups(opts: DiscoverOptions = {}): CgroupDiscovery {
  const env = opts.env ?? process.env;
  const host = classifyHost(parseMountinfo(readProc('/proc/self/mountinfo')));
  const res: CgroupDiscovery = { ...host, own: null, base: null, placement: null, controllers: [], enabled: [], systemd: null };
  if (!host.mount) {
    res.reason = host.kind === 'legacy'
      ? 'this host mounts only cgroup v1 hierarchies (no cgroup2 in /proc/self/mountinfo) and lodger drives only cgroup v2: ask an admin to boot with systemd.unified_cgroup_hierarchy=1'
      : 'no cgroup filesystem is mounted (none in /proc/self/mountinfo): mount cgroup2 at /sys/fs/cgroup, or run containers without cgroup features';
    return res;
  }
  const ownPath = parseProcCgroup(readProc('/proc/self/cgroup')).unified;
  res.own = ownPath === null ? null : cgroupDirOf(host.mount, host.mountRoot, ownPath);

  const explicit = opts.cgroupParent !== undefined && opts.cgroupParent !== ''
    ? { value: opts.cgroupParent, fromEnv: false }
    : env.LODGER_CGROUP_PARENT ? { value: env.LODGER_CGROUP_PARENT, fromEnv: true } : null;
  if (explicit) {
    res.base = explicitBase(host, res.own, explicit.value, explicit.fromEnv);
    res.placement = 'explicit';
  } else if (!res.own) {
    res.reason = ownPath === null
      ? '/proc/self/cgroup has no cgroup v2 ("0::") line: set LODGER_CGROUP_PARENT to a delegated cgroup directory'
      : `your cgroup ${ownPath} is outside what the cgroup2 mount at ${host.mount} shows (another cgroup namespace?): set LODGER_CGROUP_PARENT to a delegated cgroup directory`;
  } else {
    const own = res.own;
    const parent = path.dirname(own);
    const ownIsRoot = own === host.mount;
    if (isLodgerScope(own) && isDelegatedToUs(own)) {
      res.base = own;
      res.placement = 'lodger-scope';
    } else if (isDelegatedToUs(own) && !isSystemdUnitCgroup(own)) {
      const parentOurs = !ownIsRoot && parent.startsWith(host.mount) && isDelegatedToUs(parent) && !isSystemdUnitCgroup(parent);
      res.base = parentOurs ? parent : own;
      res.placement = parentOurs ? 'siblings' : 'children';
    } else {
      res.systemd = detectUserSystemd(env, opts.probeSystemd);
      const why = isDelegatedToUs(own)
        ? `your cgroup ${own} belongs to a systemd unit that was not delegated to lodger, and systemd may move or remove cgroups others create in it (systemd docs/CGROUP_DELEGATION.md; if the unit has Delegate=yes, set LODGER_CGROUP_PARENT=${own})`
        : `your cgroup ${own} is not delegated to you (its cgroup.procs is not writable by you)`;
      const noScope = res.systemd.available ? opts.scopeFailure : res.systemd.reason;
      res.reason = noScope === undefined
        ? `${why}: lodger asks the systemd user manager for a delegated scope per container (lodger-<id>.scope, Delegate=yes)`
        : `${why}, and ${noScope}: ask an admin to delegate a cgroup subtree to you (mkdir + chown -R, or Delegate=yes in user@.service) and set LODGER_CGROUP_PARENT to it`;
    }
  }
  if (res.base) {
    res.controllers = readList(res.base, 'cgroup.controllers');
    res.enabled = readList(res.base, 'cgroup.subtree_control');
  }
  return res;
}

function readProc(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new LodgerError('CGROUP_DISCOVERY', `read ${file}: ${(err as Error).message}: lodger needs /proc mounted to find cgroups`);
  }
}

/** What `lodger info` prints about cgroups. */
export interface CgroupDescription {
  /** The cgroup version lodger drives here: 2 when a cgroup2 hierarchy exists, 1 on v1-only hosts, null with none. */
  version: 2 | 1 | null;
  host: CgroupHostKind;
  mount: string | null;
  own: string | null;
  base: string | null;
  placement: CgroupPlacement | null;
  /** Whether lodger can create container cgroups (a usable, writable base). */
  writable: boolean;
  controllers: string[];
  enabled: string[];
  /** Controllers bound to v1 hierarchies, which lodger cannot use (hybrid and legacy hosts). */
  v1Controllers: string[];
  systemd: boolean;
  reason?: string;
}

/** Discovery summarised for `lodger info`; never throws a LodgerError, it reports it as the reason. */
export function describeCgroups(opts: DiscoverOptions = {}): CgroupDescription {
  let d: CgroupDiscovery;
  try {
    d = discoverCgroups(opts);
  } catch (err) {
    if (!(err instanceof LodgerError)) throw err;
    const host = classifyHost(parseMountinfo(readProc('/proc/self/mountinfo')));
    d = { ...host, own: null, base: null, placement: null, controllers: [], enabled: [], systemd: null, reason: err.message };
  }
  return {
    version: d.kind === 'unified' || d.kind === 'hybrid' ? 2 : d.kind === 'legacy' ? 1 : null,
    host: d.kind,
    mount: d.mount,
    own: d.own,
    base: d.base,
    placement: d.placement,
    writable: d.base !== null,
    controllers: d.controllers,
    enabled: d.enabled,
    v1Controllers: Object.keys(d.v1Controllers).sort(),
    systemd: d.systemd?.available ?? false,
    reason: d.reason,
  };
}
