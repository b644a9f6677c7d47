// Builds the helper plan for a container: namespaces, id maps, rootfs assembly, /dev /proc /sys, binds, the process.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { containerDir, type ContainerRecord } from '../storage/containers';
import { overlayOptions } from '../storage/driver';
import type { StorePaths } from '../storage/paths';
import { checkUserMapped, hostIdFor, type IdMapping } from '../helper/idmap';
import { keepIdEtcFiles } from './keepId';
import { bindFlags } from '../devices/devices';
import { fuseOverlayExtraOptions, imageLowerDirs, imageUnmount } from './imageLayers';
import { Plan, type MountFlag, type ProcessPlan } from '../helper/plan';
import { rlimitArgs } from './processFlags';
import type { Namespace } from '../helper/steps';
import { securityRecords, securitySettings, type SecurityConfig } from '../security/security';

/** Paths docker masks so a container cannot read host kernel state through them (moby's defaults). */
export const MASKED_PATHS = ['/proc/acpi', '/proc/asound', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list',
  '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware', '/sys/dev/block', '/sys/devices/virtual/powercap'];
export const READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

const HOST_DEVICES = ['null', 'zero', 'full', 'random', 'urandom', 'tty'];

export interface ProcessSpec {
  uid: number;
  gid: number;
  groups: number[];
  cwd: string;
  env: string[];
  argv: string[];
}

export interface ContainerPlanInput {
  store: StorePaths;
  rec: ContainerRecord;
  mapping: IdMapping;
  process: ProcessSpec;
  /** Remove the container's directory when it exits (--rm). */
  removeOnExit: boolean;
  cgroupPath?: string;
  waitForGo?: boolean;
  /** --network container:X: X's init pid, whose user and network namespaces are joined. */
  joinNetnsPid?: number;
  /** --pid/--ipc container:X: X's init pid, whose user and pid (resp. IPC) namespaces are joined. */
  joinPidnsPid?: number;
  joinIpcnsPid?: number;
  /** The container's runtime dir (network sockets, logs): removed after the final exit. */
  runtimeDir?: string;
  tty?: { rows: number; cols: number };
  keepStdin: boolean;
}

/**
 * Where the monitor of a detached container created with -i listens for `lodger attach` to give the
 * container stdin: in the container's runtime dir (networkSetup.ts containerRuntimeDir, whose short id
 * keeps the path under sun_path's 108 bytes). The monitor makes the directory if the network did not.
 */
export function attachSocketPath(store: StorePaths, id: string): string {
  return path.join(store.runtime, 'c', id.slice(0, 12), 'attach.sock');
}

export function containerRootfs(store: StorePaths, rec: ContainerRecord): string {
  const dir = containerDir(store, rec.Id);
  return path.join(dir, rec.Driver === 'vfs' ? 'rootfs' : 'merged');
}

/** A tmpfs's mount flags and data from its recorded options (mounts.ts): the flags the helper knows, the rest is data. */
function tmpfsArgs(opts: string): [MountFlag[], string] {
  const all = opts.split(',').filter(Boolean);
  const flags = ['ro', 'nosuid', 'nodev', 'noexec'];
  return [all.filter((o) => flags.includes(o)) as MountFlag[], all.filter((o) => !flags.includes(o)).join(',')];
}

export function buildContainerPlan(i: ContainerPlanInput): Plan {
  const { rec, store } = i;
  checkUserMapped(i.mapping, i.process.uid, i.process.gid, i.process.groups);
  const dir = containerDir(store, rec.Id);
  const rootfs = containerRootfs(store, rec);
  const hostNet = rec.HostConfig.NetworkMode === 'host';
  const hc = rec.HostConfig;
  // --pid/--ipc/--uts host: the helper's own (the host's) namespace is kept (processFlags.ts).
  const hostPid = hc.PidMode === 'host';
  const hostIpc = hc.IpcMode === 'host';
  const hostUts = hc.UTSMode === 'host';
  const ns: Namespace[] = ['mnt', ...(hostPid || i.joinPidnsPid ? [] : ['pid' as const]), ...(hostUts ? [] : ['uts' as const]), ...(hostIpc || i.joinIpcnsPid ? [] : ['ipc' as const]), 'cgroup'];
  // A network namespace of its own (the helper's, so it outlives restarts) unless host or container:X.
  if (!hostNet && !i.joinNetnsPid) ns.push('net');
  const plan = new Plan().namespaces(ns).idmap(i.mapping);

  plan.inPhase('prepare');
  if (rec.Driver !== 'vfs') {
    const lower = imageLowerDirs(plan, store, rec);
    const extra = rec.Driver === 'fuse-overlayfs' ? fuseOverlayExtraOptions(store, rec, i.mapping) : '';
    const opts = overlayOptions(lower, path.join(dir, 'upper'), path.join(dir, 'work'), rec.Driver === 'overlay', extra);
    if (rec.Driver === 'overlay') plan.mount('overlay', rootfs, 'overlay', [], opts);
    else plan.fuseOverlayfs(rootfs, opts);
  }

  plan.inPhase('setup');
  // procfs may be mounted only by a user namespace that owns the pid namespace (proc(5), mount(2)
  // EPERM): with --pid host the host's /proc is bound instead, its masked paths masked as below.
  if (hostPid) plan.bind('/proc', '/proc', ['rec', 'nosuid', 'nodev', 'noexec']);
  else plan.mount('proc', '/proc', 'proc', ['nosuid', 'nodev', 'noexec']);
  // --sysctl: into the container's own namespaces' /proc/sys, before it is made read-only below.
  for (const [k, v] of Object.entries(hc.Sysctls ?? {})) plan.sysctl(k, v);
  plan.mount('tmpfs', '/dev', 'tmpfs', ['nosuid', 'strictatime'], 'mode=755,size=65536k');
  // Device nodes cannot be created in a user namespace; bind the host's harmless ones (as runc rootless does).
  for (const d of HOST_DEVICES) plan.bind(`/dev/${d}`, `/dev/${d}`);
  // --device and CDI device nodes: the host's node bound the same way (devices.ts).
  for (const d of rec.HostConfig.Devices ?? []) plan.bind(d.PathOnHost, d.PathInContainer, ['rec']);
  const ttyGid = hostIdFor(i.mapping.gid, 5) !== undefined ? ',gid=5' : '';
  plan.mount('devpts', '/dev/pts', 'devpts', ['nosuid', 'noexec'], `newinstance,ptmxmode=0666,mode=0620${ttyGid}`);
  plan.symlink('pts/ptmx', '/dev/ptmx');
  if (hostIpc) {
    // The host's IPC namespace: its POSIX shared memory and message queues are the host's files
    // (mqueue can be mounted only by the IPC namespace's owner, mq_overview(7)); a host without an
    // mqueue mount (not every distribution makes one) leaves the container without it.
    for (const d of ['/dev/shm', '/dev/mqueue']) if (fs.existsSync(d)) plan.bind(d, d, ['rec']);
  } else {
    plan.mount('shm', '/dev/shm', 'tmpfs', ['nosuid', 'nodev', 'noexec'], `mode=1777,size=${Math.ceil((hc.ShmSize || 64 << 20) / 1024)}k`);
    plan.mount('mqueue', '/dev/mqueue', 'mqueue', ['nosuid', 'nodev', 'noexec']);
  }
  plan.symlink('/proc/self/fd', '/dev/fd');
  plan.symlink('/proc/self/fd/0', '/dev/stdin');
  plan.symlink('/proc/self/fd/1', '/dev/stdout');
  plan.symlink('/proc/self/fd/2', '/dev/stderr');
  if (hostNet) {
    // sysfs can only be mounted by the owner of the network namespace; share the host's, read-only.
    plan.bind('/sys', '/sys', ['rec', 'ro', 'nosuid', 'nodev', 'noexec']);
  } else {
    plan.mount('sysfs', '/sys', 'sysfs', ['nosuid', 'nodev', 'noexec', 'ro']);
    plan.mount('cgroup2', '/sys/fs/cgroup', 'cgroup2', ['nosuid', 'nodev', 'noexec', 'ro']);
  }
  for (const f of ['hostname', 'hosts', 'resolv.conf']) plan.bind(path.join(dir, f), `/etc/${f}`);
  if (rec.HostConfig.UsernsMode === 'keep-id') for (const [host, at] of keepIdEtcFiles(dir)) plan.bind(host, at);
  for (const m of rec.Mounts) {
    if (m.Type === 'tmpfs') plan.mount('tmpfs', m.Destination, 'tmpfs', ...tmpfsArgs(m.TmpfsOptions ?? ''));
    else plan.bind(m.Source, m.Destination, bindFlags(m));  // a volume is its _data directory, bound
  }
  plan.mkdir(i.process.cwd);
  if (!rec.HostConfig.Privileged && !securitySettings(rec.HostConfig.SecurityOpt ?? []).unmaskSystemPaths) {
    for (const m of MASKED_PATHS) plan.mask(m);
    for (const r of READONLY_PATHS) plan.readonly(r);
  }
  if (rec.HostConfig.ReadonlyRootfs) plan.remountReadonly('/');
  if (!hostNet) plan.loopbackUp();

  plan.inPhase('cleanup');
  if (i.runtimeDir) {
    // pasta holds the namespace it serves and would outlive the container: stop it by its pid file.
    plan.killPidfile(path.join(i.runtimeDir, 'pasta.pid'));
    plan.rmtree(i.runtimeDir);
  }
  if (rec.Driver !== 'vfs') { plan.umount(rootfs); imageUnmount(plan, store, rec); }
  if (i.removeOnExit) {
    plan.rmtree(dir);
    // --rm takes the container's anonymous volumes along, as Docker does (not named ones, not
    // --volumes-from ones: those records carry no Anonymous mark). Done here, in the user namespace,
    // because their files are subuid-owned.
    for (const m of rec.Mounts) if (m.Type === 'volume' && m.Anonymous) plan.rmtree(path.dirname(m.Source));
  }

  plan.rootfs(rootfs);
  if (!hostUts) plan.hostname(rec.Config.Hostname);
  for (const u of hc.Ulimits ?? []) plan.rlimit(...rlimitArgs(u));
  if (i.cgroupPath) plan.cgroup(i.cgroupPath);
  if (i.waitForGo) plan.waitForGo();
  if (i.joinNetnsPid) plan.joinNetns(i.joinNetnsPid);
  if (i.joinPidnsPid) plan.joinPidns(i.joinPidnsPid);
  if (i.joinIpcnsPid) plan.joinIpcns(i.joinIpcnsPid);
  if (rec.HostConfig.Init) plan.init();
  // Used by a detached helper only (the monitor); an attached one gives the container our own stdin.
  if (i.keepStdin) plan.attachSocket(attachSocketPath(store, rec.Id));
  return plan.process(containerProcess(rec.HostConfig, i.process, { tty: i.tty, keepStdin: i.keepStdin }));
}

/**
 * The process part of a plan, for the container's first process (`run`, `start`) and for `exec` alike:
 * PROC's ids, directory, environment and command, the terminal and stdin, and the capabilities,
 * no_new_privs and seccomp filter the container's settings give that user (security.ts; carried out
 * by caps.c/seccomp.c). EXEC_PRIVILEGED: `exec --privileged`.
 */
export function containerProcess(hc: SecurityConfig, proc: ProcessSpec, io: { tty?: { rows: number; cols: number }; keepStdin: boolean; execPrivileged?: boolean }): ProcessPlan {
  return {
    ...proc,
    security: securityRecords(hc, proc.uid, { execPrivileged: io.execPrivileged }),
    tty: io.tty,
    stdin: io.keepStdin ? 'inherit' : 'null',
  };
}
