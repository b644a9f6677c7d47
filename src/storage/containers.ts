// Container records in the store (containers/<id>/container.json + state.json), Docker-shaped so inspect is a read.
// Config/HostConfig hold the Docker fields of every declared option (containers/options.ts fills them).
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LodgerError } from '../errors';
import { readJson, writeJsonAtomic } from './atomic';
import { withStoreLock } from './lock';
import type { StorePaths } from './paths';

export type StorageDriverName = 'overlay' | 'fuse-overlayfs' | 'vfs';

/**
 * A mount as Docker's inspect shows it. volume: Name is the volume and Source its _data directory;
 * tmpfs: Source is empty and TmpfsOptions the mount data (size=, mode=). Anonymous marks a volume made
 * for this container (`-v /path`, the image's VOLUME): removed with it by `rm -v` and `--rm`.
 */
export interface MountRecord {
  Type: 'bind' | 'volume' | 'tmpfs'; Source: string; Destination: string; Mode: string; RW: boolean; Propagation?: string;
  Name?: string; Driver?: string; Anonymous?: boolean; TmpfsOptions?: string;
}

export interface ContainerRecord {
  Id: string;
  Name: string;
  Created: string;
  /** The image reference as the user typed it, and the image's id. */
  Image: string;
  ImageID: string;
  Config: {
    Hostname: string;
    Domainname: string;
    User: string;
    Env: string[];
    Cmd: string[] | null;
    Entrypoint: string[] | null;
    Image: string;
    WorkingDir: string;
    Labels: Record<string, string>;
    Tty: boolean;
    OpenStdin: boolean;
    /** As the docker CLI sets them: -i without -d attaches stdin once; -d attaches nothing. */
    AttachStdin?: boolean;
    AttachStdout?: boolean;
    AttachStderr?: boolean;
    StdinOnce?: boolean;
    StopSignal?: string;
    /** --stop-timeout: seconds `stop` waits before SIGKILL when -t is not given. */
    StopTimeout?: number;
    /** --health-* over the image's HEALTHCHECK (containers/health.ts); Test ["NONE"]: none. */
    Healthcheck?: { Test: string[]; Interval?: number; Timeout?: number; StartPeriod?: number; StartInterval?: number; Retries?: number };
    ExposedPorts?: Record<string, object>;
  };
  HostConfig: {
    Binds: string[];
    NetworkMode: string;
    AutoRemove: boolean;
    ReadonlyRootfs: boolean;
    Init: boolean;
    Privileged: boolean;
    RestartPolicy: { Name: string; MaximumRetryCount: number };
    PortBindings: Record<string, Array<{ HostIp: string; HostPort: string }>>;
    /** -p values as given and -P: resolved to host ports at each start (see network.json). */
    PublishSpecs?: string[];
    PublishAllPorts?: boolean;
    Dns: string[];
    DnsSearch: string[];
    DnsOptions: string[];
    ExtraHosts: string[];
    CapAdd: string[];
    CapDrop: string[];
    SecurityOpt: string[];
    UsernsMode: string;
    CgroupParent?: string;
    Cgroups?: 'enabled' | 'disabled';
    /** The resource flags as given (cgroups/limits.ts LimitFlags): what start applies. */
    Resources: Record<string, string | number>;
    /** The same limits in Docker's fields, for inspect (bytes, 10^-9 CPUs; containers/options.ts). */
    Memory?: number;
    MemorySwap?: number;
    MemoryReservation?: number;
    NanoCpus?: number;
    CpuShares?: number;
    CpusetCpus?: string;
    PidsLimit?: number;
    BlkioWeight?: number;
    /** Host device nodes bound into the container (--device, CDI deviceNodes). */
    Devices?: Array<{ PathOnHost: string; PathInContainer: string; CgroupPermissions: string }>;
    /** CDI device names asked for (Docker's form: driver "cdi"). */
    DeviceRequests?: Array<{ Driver: string; DeviceIDs: string[] }>;
    /** --ulimit (Soft/Hard -1: unlimited), --sysctl, --group-add, --shm-size (bytes), --pid/--ipc/--uts ('' private, 'host'). */
    Ulimits?: Array<{ Name: string; Soft: number; Hard: number }>;
    Sysctls?: Record<string, string>;
    GroupAdd?: string[];
    ShmSize?: number;
    PidMode?: string;
    IpcMode?: string;
    UTSMode?: string;
    /** --log-opt: max-size (bytes) and max-file of the container's log (processFlags.ts parseLogOpts). */
    LogConfig?: { Type: string; Config: Record<string, string> };
  };
  Mounts: MountRecord[];
  Driver: StorageDriverName;
  /** diff_ids bottom to top. */
  Layers: string[];
  /** os/architecture[/variant] of the image the container runs (runImage.ts imagePlatform). */
  ImagePlatform?: string;
  /** A squashfs image file the container runs from instead of store layers (Layers is then empty). */
  SquashfsImage?: string;
  /** More names on its user network's DNS (Docker's NetworkingConfig Aliases, as Compose sets the service name). */
  NetworkAliases?: string[];
  /** keep-id on kernel overlay: the key of the copies of Layers it mounts instead (storage/shiftedLayers.ts). */
  LayerIdMap?: string;
}

export interface ContainerState {
  Status: 'created' | 'running' | 'paused' | 'exited' | 'dead';
  Running: boolean;
  Paused: boolean;
  Pid: number;
  /** /proc/PID/stat start time, so a reused pid is not mistaken for the container. */
  PidStartTime?: number;
  MonitorPid?: number;
  ExitCode: number;
  OOMKilled: boolean;
  Error: string;
  StartedAt: string;
  FinishedAt: string;
  RestartCount?: number;
  CgroupPath?: string;
}

export const ZERO_TIME = '0001-01-01T00:00:00Z';

export function containerDir(p: StorePaths, id: string): string {
  if (!/^[0-9a-f]{64}$/.test(id)) throw new LodgerError('BAD_ID', `bad container id ${JSON.stringify(id)}`);
  return path.join(p.containers, id);
}

export function newContainerId(): string {
  return crypto.randomBytes(32).toString('hex');
}

const ADJ = ['brave', 'calm', 'eager', 'fond', 'gentle', 'happy', 'jolly', 'keen', 'lucid', 'merry', 'nimble', 'proud', 'quiet', 'swift', 'tidy', 'vivid', 'wise', 'zesty'];
const NOUN = ['lodger', 'tenant', 'guest', 'boarder', 'roomer', 'lessee', 'occupant', 'resident', 'visitor', 'inmate', 'dweller', 'sojourner'];
function randomName(): string {
  const b = crypto.randomBytes(3);
  return `${ADJ[b[0] % ADJ.length]}_${NOUN[b[1] % NOUN.length]}${b[2] % 100}`;
}

export function readContainer(p: StorePaths, id: string): ContainerRecord | undefined {
  return readJson<ContainerRecord>(path.join(containerDir(p, id), 'container.json'));
}

export function readState(p: StorePaths, id: string): ContainerState | undefined {
  return readJson<ContainerState>(path.join(containerDir(p, id), 'state.json'));
}

export function writeState(p: StorePaths, id: string, st: ContainerState): void {
  writeJsonAtomic(path.join(containerDir(p, id), 'state.json'), st);
}

export function listContainerIds(p: StorePaths): string[] {
  try {
    return fs.readdirSync(p.containers).filter((n) => /^[0-9a-f]{64}$/.test(n));
  } catch {
    return [];
  }
}

/** Start time of PID (field 22 of /proc/PID/stat, proc(5)), or undefined when it is gone. */
export function pidStartTime(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[19]);
  } catch {
    return undefined;
  }
}

/** Whether PID runs: it exists and is not a zombie (one that has exited and waits for a reaper, maybe a slow init). */
export function pidRunning(pid: number): boolean {
  try { process.kill(pid, 0); } catch (e) { if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false; }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.charAt(stat.lastIndexOf(')') + 2);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/**
 * Whether PID is a zombie (or dying) that its supervisor MONITOR will not reap: after the monitor was
 * killed the container's init is reparented and stays a zombie until some reaper gets to it.
 */
function orphanedZombie(pid: number, monitor: number | undefined): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (state === 'Z' || state === 'X') && Number(ppid) !== monitor;
  } catch {
    return false;
  }
}

/** The state as it really is: a recorded "running" whose process is gone reads as exited (or dead). */
export function liveState(st: ContainerState | undefined): ContainerState {
  const s: ContainerState = st ?? { Status: 'created', Running: false, Paused: false, Pid: 0, ExitCode: 0, OOMKilled: false, Error: '', StartedAt: ZERO_TIME, FinishedAt: ZERO_TIME };
  if ((s.Status === 'running' || s.Status === 'paused') && s.Pid > 0) {
    const start = pidStartTime(s.Pid);
    if (start === undefined || (s.PidStartTime !== undefined && start !== s.PidStartTime) || orphanedZombie(s.Pid, s.MonitorPid)) {
      return { ...s, Status: 'exited', Running: false, Paused: false, Pid: 0, ExitCode: s.ExitCode || 137, Error: s.Error || 'container process vanished without its exit being recorded (its monitor or CLI was killed)' };
    }
  }
  return s;
}

/** Resolves a name, full id or unique id prefix to a container id. */
export function resolveContainer(p: StorePaths, ref: string): string {
  const ids = listContainerIds(p);
  if (ids.includes(ref)) return ref;
  for (const id of ids) if (readContainer(p, id)?.Name === ref.replace(/^\//, '')) return id;
  const byPrefix = /^[0-9a-f]{3,}$/.test(ref) ? ids.filter((id) => id.startsWith(ref)) : [];
  if (byPrefix.length === 1) return byPrefix[0];
  if (byPrefix.length > 1) throw new LodgerError('AMBIGUOUS', `container id prefix ${ref} matches ${byPrefix.length} containers — give more of the id`);
  throw new LodgerError('NO_SUCH_CONTAINER', `no such container: ${ref} — see "lodger ps -a"`);
}

/**
 * Creates the record under the store lock, choosing a free random name or checking the given one.
 * The directory appears complete: it is built under a temporary name and renamed.
 */
export async function createContainerRecord(p: StorePaths, rec: ContainerRecord, prepare: (dir: string) => void): Promise<ContainerRecord> {
  return withStoreLock(p, () => {
    const taken = new Set(listContainerIds(p).map((id) => readContainer(p, id)?.Name));
    if (rec.Name) {
      if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(rec.Name)) throw new LodgerError('BAD_NAME', `invalid container name ${JSON.stringify(rec.Name)}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
      if (taken.has(rec.Name)) throw new LodgerError('NAME_IN_USE', `the container name "${rec.Name}" is already in use — remove that container ("lodger rm ${rec.Name}") or choose another name`);
    } else {
      do rec.Name = randomName(); while (taken.has(rec.Name));
    }
    const dir = containerDir(p, rec.Id);
    const stage = path.join(p.containers, `.tmp-${process.pid}-${rec.Id.slice(0, 12)}`);
    fs.mkdirSync(stage, { mode: 0o700 });
    writeJsonAtomic(path.join(stage, 'container.json'), rec);
    prepare(stage);
    fs.renameSync(stage, dir);
    return rec;
  });
}

export async function updateContainerRecord(p: StorePaths, id: string, fn: (r: ContainerRecord) => void): Promise<void> {
  await withStoreLock(p, () => {
    const r = readContainer(p, id);
    if (!r) throw new LodgerError('NO_SUCH_CONTAINER', `no such container: ${id}`);
    fn(r);
    writeJsonAtomic(path.join(containerDir(p, id), 'container.json'), r);
  });
}

/** Every container's record with its live state (containers removed while we look are left out). */
export function containerEntries(p: StorePaths): Array<{ rec: ContainerRecord; state: ContainerState }> {
  const out: Array<{ rec: ContainerRecord; state: ContainerState }> = [];
  for (const id of listContainerIds(p)) {
    const rec = readContainer(p, id);
    if (!rec) continue;  // removed while we looked
    out.push({ rec, state: liveState(readState(p, id)) });
  }
  return out;
}
