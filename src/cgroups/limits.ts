// Pure translation of Docker's resource flags into cgroup v2 interface files, and the refusals when a controller is missing.
import { LodgerError } from '../errors';
import type { CgroupHostKind } from './discover';

/** The resource flags of `docker run`, as the CLI parsed them (strings as typed, or numbers). */
export interface LimitFlags {
  memory?: string | number;
  memorySwap?: string | number;
  memoryReservation?: string | number;
  cpus?: string | number;
  cpuShares?: string | number;
  cpusetCpus?: string;
  pidsLimit?: string | number;
  blkioWeight?: string | number;
}

/** One write into the container's cgroup, done before its init joins it. */
export interface LimitFile {
  file: string;
  value: string;
  controller: string;
  /** The flag it comes from, for messages (`--memory`). */
  flag: string;
  /** Skip silently when the file does not exist (a default lodger adds, not something the user asked for). */
  optional?: boolean;
  /** Write this instead when `file` does not exist (ENOENT). */
  orElse?: { file: string; value: string };
}

export interface LimitPlan {
  files: LimitFile[];
  /** Controllers the files need enabled in the base's cgroup.subtree_control, sorted. */
  controllers: string[];
}

/** What planLimits needs to explain a refusal; a CgroupDiscovery fits. */
export interface LimitContext {
  kind?: CgroupHostKind;
  base?: string | null;
  /** Why there is no base (discovery's reason). */
  reason?: string;
  /** v1 controller name → v1 mount point, on hybrid and legacy hosts. */
  v1Controllers?: Readonly<Record<string, string>>;
  /** Controller → why enabling it in the base failed (prepareCgroupBase's notEnabled). */
  notEnabled?: Readonly<Record<string, string>>;
  /** Online CPUs, to refuse --cpus and --cpuset-cpus beyond the host as Docker does. */
  hostCpus?: number;
}

const FLAG: Record<keyof LimitFlags, string> = {
  memory: '--memory', memorySwap: '--memory-swap', memoryReservation: '--memory-reservation',
  cpus: '--cpus', cpuShares: '--cpu-shares', cpusetCpus: '--cpuset-cpus', pidsLimit: '--pids-limit',
  blkioWeight: '--blkio-weight',
};

/** The cgroup v1 name of each v2 controller lodger writes (cgroups(7)): only io was renamed. */
const V1_NAME: Record<string, string> = { io: 'blkio', memory: 'memory', cpu: 'cpu', cpuset: 'cpuset', pids: 'pids' };

/** Docker's minimum for --memory (daemon: linuxMinMemory = 6 MiB); below it a container cannot even start its runtime. */
export const MIN_MEMORY = 6 * 1024 * 1024;
/** The cpu.max period lodger uses, in µs: Docker's and the kernel's default (cgroup-v2.rst, cpu.max). */
export const CPU_PERIOD = 100000;
/** The kernel rejects a cpu.max quota below 1 ms (kernel/sched/core.c, min_cfs_quota_period). */
const MIN_CPU_QUOTA = 1000;

function bad(flag: string, value: unknown, want: string): LodgerError {
  return new LodgerError('CGROUP_BAD_VALUE', `invalid value ${JSON.stringify(String(value))} for ${flag}: ${want}`);
}

const UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };

/**
 * A size as Docker reads it (go-units RAMInBytes): digits with an optional fraction, an optional
 * space, then an optional binary unit k/m/g/t/p with optional `i` and `b`, any case: `512m`, `1g`,
 * `1.5GiB`, `1048576`. Numbers are bytes. The fraction is truncated to whole bytes, as Docker does.
 */
export function parseBytes(value: string | number, flag: string): number {
  const want = 'expected a size such as 512m, 1g or a number of bytes';
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) throw bad(flag, value, want);
    return value;
  }
  const m = /^(\d+(?:\.\d+)?) ?([kmgtp]?)i?b?$/i.exec(value.trim());
  if (!m) throw bad(flag, value, want);
  const n = Math.floor(Number(m[1]) * UNITS[m[2].toLowerCase()]);
  if (!Number.isSafeInteger(n)) throw bad(flag, value, 'the size is too large');
  return n;
}

function parseInteger(value: string | number, flag: string, want: string): number {
  const s = String(value).trim();
  if (!/^-?\d+$/.test(s)) throw bad(flag, value, want);
  const n = Number(s);
  if (!Number.isSafeInteger(n)) throw bad(flag, value, want);
  return n;
}

function fmtBytes(n: number): string {
  for (const [u, f] of [['g', 1024 ** 3], ['m', 1024 ** 2], ['k', 1024]] as const) if (n % f === 0) return `${n / f}${u}`;
  return `${n} bytes`;
}

/**
 * --cpu-shares (cgroup v1 cpu.shares, 2..262144, default 1024) → cpu.weight (1..10000, default 100),
 * with the linear map runc and crun use: weight = 1 + ((shares - 2) * 9999) / 262142, integer
 * division, so 2 → 1 and 262144 → 10000 (runc libcontainer/cgroups ConvertCPUSharesToCgroupV2Value;
 * crun cgroup-utils convert_shares_to_weight). It is not proportional in the middle: 1024 → 39, not
 * 100. Values outside 2..262144 are clamped into it first, as the v1 kernel clamped cpu.shares
 * (kernel/sched/core.c, MIN_SHARES/MAX_SHARES), so a Docker command that worked on v1 works here.
 */
export function cpuSharesToWeight(shares: number): number {
  const s = Math.min(Math.max(shares, 2), 262144);
  return 1 + Math.floor(((s - 2) * 9999) / 262142);
}

/**
 * --blkio-weight (10..1000) → io.weight (1..10000), crun's linear map for kernels without BFQ:
 * 1 + ((weight - 10) * 9999) / 990, integer division, so 10 → 1, 500 → 4950, 1000 → 10000 (crun
 * cgroup-resources.c write_blkio_resources; runc ConvertBlkIOToIOWeightValue). With BFQ the value goes
 * unchanged to io.bfq.weight, whose scale (1..1000) is v1's; crun likewise tries that file first.
 */
export function blkioWeightToIoWeight(weight: number): number {
  return 1 + Math.floor(((weight - 10) * 9999) / 990);
}

/** Parses a cpuset list (`0-3,5`; cpuset(7) "List format") and returns the highest CPU named. */
function cpusetMax(value: string, flag: string): number {
  const want = 'expected a CPU list such as 0-3 or 0,2';
  if (!/^\d+(-\d+)?(,\d+(-\d+)?)*$/.test(value)) throw bad(flag, value, want);
  let max = 0;
  for (const part of value.split(',')) {
    const [a, b] = part.split('-').map(Number);
    if (b !== undefined && b < a) throw bad(flag, value, `the range ${part} runs backwards`);
    max = Math.max(max, b ?? a);
  }
  return max;
}

/** Validates the flags and lists the cgroup files they become; no controller check. */
function translate(flags: LimitFlags, hostCpus: number | undefined): LimitFile[] {
  const files: LimitFile[] = [];
  const add = (key: keyof LimitFlags, controller: string, file: string, value: string, extra: Partial<LimitFile> = {}): void => {
    files.push({ file, value, controller, flag: FLAG[key], ...extra });
  };

  // memory: 0 means "no limit" in Docker; memory.max takes bytes (cgroup-v2.rst, memory.max).
  const memory = flags.memory === undefined ? 0 : parseBytes(flags.memory, FLAG.memory);
  if (memory > 0 && memory < MIN_MEMORY) {
    throw new LodgerError('CGROUP_BAD_VALUE', `--memory ${flags.memory} is below the minimum of 6m (${MIN_MEMORY} bytes) that Docker also enforces: give at least 6m`);
  }
  if (memory > 0) add('memory', 'memory', 'memory.max', String(memory));

  // --memory-swap is memory plus swap (Docker), while memory.swap.max is swap alone (cgroup-v2.rst,
  // memory.swap.max), hence swap - memory. -1 is unlimited. Unset with --memory set, Docker allows as
  // much swap as memory; that default is optional, since kernels without swap accounting lack the file.
  if (flags.memorySwap !== undefined && String(flags.memorySwap).trim() === '-1') {
    if (memory > 0) add('memorySwap', 'memory', 'memory.swap.max', 'max');
  } else if (flags.memorySwap !== undefined) {
    const total = parseBytes(flags.memorySwap, FLAG.memorySwap);
    if (total > 0 && memory === 0) {
      throw new LodgerError('CGROUP_BAD_VALUE', '--memory-swap needs --memory: it limits memory plus swap, so give --memory too (or --memory-swap -1 for unlimited swap)');
    }
    if (total > 0 && total < memory) {
      throw new LodgerError('CGROUP_BAD_VALUE', `--memory-swap ${flags.memorySwap} is less than --memory ${flags.memory}: it counts memory plus swap, so give at least ${fmtBytes(memory)} (equal means no swap), or -1 for unlimited swap`);
    }
    if (total > 0) add('memorySwap', 'memory', 'memory.swap.max', String(total - memory));
    else if (memory > 0) add('memory', 'memory', 'memory.swap.max', String(memory), { optional: true });
  } else if (memory > 0) {
    add('memory', 'memory', 'memory.swap.max', String(memory), { optional: true });
  }

  // --memory-reservation is a soft floor: memory.low protects it from reclaim (cgroup-v2.rst, memory.low).
  if (flags.memoryReservation !== undefined) {
    const low = parseBytes(flags.memoryReservation, FLAG.memoryReservation);
    if (memory > 0 && low > memory) {
      throw new LodgerError('CGROUP_BAD_VALUE', `--memory-reservation ${flags.memoryReservation} is more than --memory ${flags.memory}: the reservation must fit inside the limit`);
    }
    if (low > 0) add('memoryReservation', 'memory', 'memory.low', String(low));
  }

  // --cpus N → cpu.max "quota period": N CPUs' worth of time per period (cgroup-v2.rst, cpu.max).
  if (flags.cpus !== undefined) {
    const s = String(flags.cpus).trim();
    if (!/^\d+(\.\d+)?$|^\.\d+$/.test(s)) throw bad(FLAG.cpus, flags.cpus, 'expected a number of CPUs such as 1.5');
    // Docker keeps CPUs in nano-CPUs and computes quota = nanoCPUs * period / 1e9 in integers.
    const nano = Math.round(Number(s) * 1e9);
    if (nano > 0) {
      const quota = Math.floor((nano * CPU_PERIOD) / 1e9);
      if (quota < MIN_CPU_QUOTA) throw bad(FLAG.cpus, flags.cpus, 'the smallest limit is 0.01 (1 ms of CPU per 100 ms)');
      if (hostCpus !== undefined && nano > hostCpus * 1e9) {
        throw bad(FLAG.cpus, flags.cpus, `this host has ${hostCpus} CPUs, so give a value from 0.01 to ${hostCpus}`);
      }
      add('cpus', 'cpu', 'cpu.max', `${quota} ${CPU_PERIOD}`);
    }
  }

  // --cpu-shares → cpu.weight (see cpuSharesToWeight); 0 means unset, as in Docker.
  if (flags.cpuShares !== undefined) {
    const shares = parseInteger(flags.cpuShares, FLAG.cpuShares, 'expected a whole number of shares such as 512 (default 1024)');
    if (shares < 0) throw bad(FLAG.cpuShares, flags.cpuShares, 'shares cannot be negative');
    if (shares > 0) add('cpuShares', 'cpu', 'cpu.weight', String(cpuSharesToWeight(shares)));
  }

  // --cpuset-cpus → cpuset.cpus (cgroup-v2.rst, cpuset.cpus), same list syntax.
  if (flags.cpusetCpus !== undefined && flags.cpusetCpus.trim() !== '') {
    const v = flags.cpusetCpus.trim();
    const max = cpusetMax(v, FLAG.cpusetCpus);
    if (hostCpus !== undefined && max >= hostCpus) {
      throw bad(FLAG.cpusetCpus, v, `this host has CPUs 0-${hostCpus - 1}, so CPU ${max} does not exist`);
    }
    add('cpusetCpus', 'cpuset', 'cpuset.cpus', v);
  }

  // --pids-limit → pids.max (cgroup-v2.rst, pids.max). Docker treats 0 and -1 as unlimited, which is
  // the kernel's default: nothing to write and no controller needed.
  if (flags.pidsLimit !== undefined) {
    const n = parseInteger(flags.pidsLimit, FLAG.pidsLimit, 'expected a whole number of processes, or -1 for unlimited');
    if (n < -1) throw bad(FLAG.pidsLimit, flags.pidsLimit, 'expected a positive number, or -1 for unlimited');
    if (n > 0) add('pidsLimit', 'pids', 'pids.max', String(n));
  }

  // --blkio-weight (10..1000, 0 = unset) → io.bfq.weight, or io.weight without BFQ (see blkioWeightToIoWeight).
  if (flags.blkioWeight !== undefined) {
    const w = parseInteger(flags.blkioWeight, FLAG.blkioWeight, 'expected a whole number from 10 to 1000');
    if (w !== 0 && (w < 10 || w > 1000)) throw bad(FLAG.blkioWeight, flags.blkioWeight, 'expected a whole number from 10 to 1000 (0 leaves it unset)');
    if (w > 0) {
      add('blkioWeight', 'io', 'io.bfq.weight', String(w), { orElse: { file: 'io.weight', value: String(blkioWeightToIoWeight(w)) } });
    }
  }
  return files;
}

function list(words: string[]): string {
  return words.length <= 1 ? words.join('') : `${words.slice(0, -1).join(', ')} and ${words[words.length - 1]}`;
}

/** Why a controller is missing, as one of the situations a refusal sentence covers. */
type Lack =
  | { kind: 'legacy' | 'none' | 'no-base' | 'not-delegated' }
  | { kind: 'v1'; at: string }
  | { kind: 'not-enabled'; why: string };

function lackOf(controller: string, ctx: LimitContext): Lack {
  if (ctx.kind === 'legacy' || ctx.kind === 'none') return { kind: ctx.kind };
  const v1 = ctx.v1Controllers?.[V1_NAME[controller] ?? controller];
  if (v1) return { kind: 'v1', at: v1 };
  if (!ctx.base) return { kind: 'no-base' };
  const why = ctx.notEnabled?.[controller];
  return why ? { kind: 'not-enabled', why } : { kind: 'not-delegated' };
}

/**
 * One sentence for the controllers missing for the same reason and the flags that need them; it ends
 * with what to do. With one controller: `--memory needs the "memory" cgroup controller, which …`.
 */
function refusal(controllers: string[], flags: string[], lack: Lack, ctx: LimitContext): string {
  const one = controllers.length === 1;
  const quoted = list(controllers.map((c) => `"${c}"`));
  const what = `${list(flags)} ${flags.length > 1 ? 'need' : 'needs'} the ${quoted} cgroup controller${one ? '' : 's'}`;
  const them = one ? quoted : 'them';
  const without = `run without ${list(flags)}`;
  const v1Names = list(controllers.map((c) => `"${V1_NAME[c] ?? c}"`));
  switch (lack.kind) {
    case 'legacy': {
      const at = controllers.map((c) => ctx.v1Controllers?.[V1_NAME[c] ?? c]).filter((x): x is string => !!x);
      const where = at.length === controllers.length ? ` (${v1Names} ${one ? 'is' : 'are'} at ${list(at)})` : '';
      return `${what}, but this host has only cgroup v1 hierarchies${where} and lodger drives only cgroup v2: ask an admin to boot with systemd.unified_cgroup_hierarchy=1 and delegate ${them} to you, or ${without}`;
    }
    case 'none':
      return `${what}, but no cgroup filesystem is mounted here: ask an admin to mount cgroup2 at /sys/fs/cgroup and delegate ${them} to you, or ${without}`;
    case 'v1':
      return `${what}, but this host runs hybrid cgroups and ${one ? `${v1Names} is bound to the cgroup v1 hierarchy at ${lack.at}` : `they are bound to cgroup v1 hierarchies (${list(controllers.map((c) => ctx.v1Controllers?.[V1_NAME[c] ?? c] ?? c))})`}, which lodger cannot use (a controller serves one hierarchy at a time; cgroup-v2.rst "Support for Multiple Hierarchies"): ask an admin to boot with systemd.unified_cgroup_hierarchy=1 (cgroup v2 only) and delegate ${them} to you, or ${without}`;
    case 'no-base':
      return `${what}, but lodger has no delegated cgroup to put ${one ? 'it' : 'them'} in: ${ctx.reason ?? 'none was found'}; or ${without}`;
    case 'not-enabled':
      return `${what}, which lodger could not enable for containers in ${ctx.base}: ${lack.why}; or ${without}`;
    case 'not-delegated':
      return `${what}, which ${one ? 'is' : 'are'} not delegated to you in ${ctx.base}: ask an admin to enable ${one ? 'it' : 'them'} (systemd: Delegate=${controllers.join(' ')} in user@.service) or ${without}`;
  }
}

/**
 * Validates Docker resource flags and translates them into cgroup v2 files. `available` is the set of
 * controllers the container's cgroup will have (the base's cgroup.subtree_control after
 * prepareCgroupBase). Throws LodgerError CGROUP_BAD_VALUE for a bad value, and
 * CGROUP_CONTROLLER_UNAVAILABLE naming every missing controller, the flags that need it and what to do.
 * Both exit 125, as Docker does for options it cannot honour.
 */
export function planLimits(flags: LimitFlags, available: ReadonlySet<string>, ctx: LimitContext = {}): LimitPlan {
  const files = translate(flags, ctx.hostCpus);
  const controllers = [...new Set(files.map((f) => f.controller))].sort();
  const missing = controllers.filter((c) => !available.has(c));
  if (missing.length > 0) {
    // Group by situation (hybrid, not delegated, …) so that three flags make one sentence, not three.
    const groups = new Map<string, { lack: Lack; controllers: string[] }>();
    for (const c of missing) {
      const lack = lackOf(c, ctx);
      const key = lack.kind === 'not-enabled' ? `not-enabled:${lack.why}` : lack.kind;
      const g = groups.get(key) ?? groups.set(key, { lack, controllers: [] }).get(key)!;
      g.controllers.push(c);
    }
    const sentences = [...groups.values()].map((g) => {
      const flagsOf = [...new Set(files.filter((f) => g.controllers.includes(f.controller) && !f.optional).map((f) => f.flag))];
      return refusal(g.controllers, flagsOf, g.lack, ctx);
    });
    throw new LodgerError('CGROUP_CONTROLLER_UNAVAILABLE', sentences.join('; also, '));
  }
  return { files, controllers };
}
