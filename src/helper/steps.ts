// The helper's records and failure steps, typed: the TypeScript side of addon/helper/steps.def (test/unit/helper/steps.test.ts keeps the two equal).
import { LodgerError } from '../errors';

/**
 * Every record the helper decodes: its argument kinds (steps.def's grammar: s string, i decimal integer,
 * o octal mode, f mount flags; a trailing '*' or '+' repeats the last kind zero/one or more times) and
 * whether it is a step run in a phase (prepare, setup, cleanup) or a setting of the plan.
 */
export const RECORDS = {
  'phase': { kinds: 's', step: false },
  'ns': { kinds: 's*', step: false },
  'map-mode': { kinds: 's', step: false },
  'uidmap': { kinds: 'iii', step: false },
  'gidmap': { kinds: 'iii', step: false },
  'newuidmap': { kinds: 's', step: false },
  'newgidmap': { kinds: 's', step: false },
  'setgroups-deny': { kinds: '', step: false },
  'rootfs': { kinds: 's', step: false },
  'no-pivot': { kinds: '', step: false },
  'hostname': { kinds: 's', step: false },
  'cgroup': { kinds: 's', step: false },
  'tty': { kinds: 'ii', step: false },
  'init': { kinds: '', step: false },
  'wait-go': { kinds: '', step: false },
  'stdin': { kinds: 's', step: false },
  'user': { kinds: 'ii', step: false },
  'groups': { kinds: 'i*', step: false },
  'cwd': { kinds: 's', step: false },
  'env': { kinds: 's*', step: false },
  'argv': { kinds: 's+', step: false },
  'detach': { kinds: 's', step: false },
  'state': { kinds: 's', step: false },
  'attach-socket': { kinds: 's', step: false },
  'parent-userns': { kinds: 'i', step: false },
  'join-netns': { kinds: 'i', step: false },
  'join-pidns': { kinds: 'i', step: false },
  'join-ipcns': { kinds: 'i', step: false },
  'restart': { kinds: 'si', step: false },
  'target': { kinds: 'i', step: false },
  'join': { kinds: 's+', step: false },
  'caps': { kinds: 'sssss', step: false },
  'no-new-privileges': { kinds: '', step: false },
  'seccomp': { kinds: 's+', step: false },
  'seccomp-rule': { kinds: 'sis+', step: false },
  'seccomp-cache': { kinds: 's', step: false },
  'rlimit': { kinds: 'sss', step: false },
  'log-max': { kinds: 'ii', step: false },
  'mount': { kinds: 'sssfs', step: true },
  'bind': { kinds: 'ssf', step: true },
  'fuse-overlayfs': { kinds: 'ss', step: true },
  'squashfuse': { kinds: 'ss', step: true },
  'mkdir': { kinds: 'so', step: true },
  'symlink': { kinds: 'ss', step: true },
  'remount-ro': { kinds: 'ss', step: true },
  'readonly': { kinds: 's', step: true },
  'mask': { kinds: 's', step: true },
  'loopback-up': { kinds: '', step: true },
  'umount': { kinds: 's', step: true },
  'rmtree': { kinds: 's', step: true },
  'rmdir-cgroup': { kinds: 's', step: true },
  'kill-pidfile': { kinds: 's', step: true },
  'sysctl': { kinds: 'ss', step: true },
} as const satisfies Record<string, { kinds: string; step: boolean }>;

export type RecordName = keyof typeof RECORDS;

/** The step names the helper reports failures under ({step, path, errno, detail}; helperErrors.ts). */
export const FAILURES = [
  'read-plan', 'parse-plan', 'plan', 'newuidmap', 'newgidmap', 'idmap', 'unshare', 'setns', 'open-namespace', 'make-rprivate',
  'make-rslave', 'pivot_root', 'bind-rootfs', 'open-in-rootfs', 'open-bind-source', 'bind-mount', 'mount-setattr', 'mount',
  'remount-ro', 'umount', 'mask', 'mkdir', 'symlink', 'create', 'remove', 'lstat', 'stat', 'open', 'write', 'fuse-overlayfs',
  'squashfuse', 'rmdir-cgroup', 'join-cgroup', 'socket', 'get-if-flags', 'set-if-flags', 'fork', 'clone', 'pipe', 'socketpair',
  'signalfd', 'open-log', 'attach-socket', 'bind', 'listen', 'chdir', 'sethostname', 'setsid', 'setgroups',
  'setresgid', 'setresuid', 'setgid', 'setuid', 'unlockpt', 'open-pty-peer', 'send-pty', 'dup2', 'set-controlling-tty',
  'close-fds', 'exec', 'drop-capability', 'raise-ambient-capability', 'clear-ambient-capabilities', 'keep-capabilities',
  'get-capabilities', 'set-capabilities', 'no-new-privileges', 'seccomp', 'seccomp-rule', 'setrlimit', 'sysctl',
] as const;

/** A failure's step: one of FAILURES, or a cleanup step's failure reported as `cleanup-STEP` (supervise.c). */
export type FailureStep = (typeof FAILURES)[number] | `cleanup-${PhaseStep[0]}`;

export type Namespace = 'mnt' | 'pid' | 'uts' | 'ipc' | 'net' | 'cgroup';
export type MountFlag = 'ro' | 'nosuid' | 'nodev' | 'noexec' | 'rec' | 'rbind' | 'bind' | 'relatime' | 'strictatime';
export type Phase = 'prepare' | 'setup' | 'cleanup';

/** A step run in order in its phase; container paths are resolved inside the rootfs (mounts.c). */
export type PhaseStep =
  | ['mount', source: string, target: string, fstype: string, flags: MountFlag[], data: string]
  | ['bind', source: string, target: string, flags: MountFlag[]]
  | ['fuse-overlayfs', target: string, options: string]
  | ['squashfuse', imageFile: string, target: string]
  | ['mkdir', path: string, mode: number]
  | ['symlink', linkTarget: string, at: string]
  | ['remount-ro', path: string, recursive: 'rec' | 'norec']
  | ['readonly', path: string]
  | ['mask', path: string]
  | ['loopback-up']
  | ['umount', target: string]
  | ['rmtree', path: string]
  | ['rmdir-cgroup', dir: string]
  | ['kill-pidfile', pidFile: string]
  | ['sysctl', key: string, value: string];

/** What the container's process may do (caps.c, seccomp.c), as security.ts decides it. */
export type SecurityRecord =
  | ['caps', bounding: string, effective: string, permitted: string, inheritable: string, ambient: string]
  | ['no-new-privileges']
  | ['seccomp', defaultAction: string, ...arches: string[]]
  | ['seccomp-rule', action: string, conditionCount: number, first: string, ...conditionsThenNames: string[]]
  | ['seccomp-cache', path: string];

/** A setting of the plan: namespaces, id maps, the container, its process, the monitor. */
export type Setting =
  | ['phase', phase: Phase]
  | ['ns', ...namespaces: Namespace[]]
  | ['map-mode', mode: 'helper' | 'direct']
  | ['uidmap', inside: number, outside: number, count: number]
  | ['gidmap', inside: number, outside: number, count: number]
  | ['newuidmap', program: string]
  | ['newgidmap', program: string]
  | ['setgroups-deny']
  | ['rootfs', path: string]
  | ['no-pivot']
  | ['hostname', name: string]
  | ['cgroup', dir: string]
  | ['tty', rows: number, cols: number]
  | ['init']
  | ['wait-go']
  | ['stdin', mode: 'inherit' | 'null']
  | ['user', uid: number, gid: number]
  | ['groups', ...gids: number[]]
  | ['cwd', path: string]
  | ['env', ...variables: string[]]
  | ['argv', arg0: string, ...args: string[]]
  | ['detach', logPath: string]
  | ['state', path: string]
  | ['attach-socket', path: string]
  | ['parent-userns', pid: number]
  | ['join-netns', pid: number]
  | ['join-pidns', pid: number]
  | ['join-ipcns', pid: number]
  | ['restart', policy: string, maximumRetryCount: number]
  | ['target', pid: number]
  | ['join', first: Namespace | 'user', ...rest: (Namespace | 'user')[]]
  | ['rlimit', name: string, soft: string, hard: string]
  | ['log-max', bytes: number, files: number]
  | SecurityRecord;

/** Any record of a plan. */
export type PlanRecord = Setting | PhaseStep;

// The union above and RECORDS name the same records, and the steps are RECORDS' steps: a record added to one
// and not the other fails the type check.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type StepNames = { [K in RecordName]: (typeof RECORDS)[K]['step'] extends true ? K : never }[RecordName];
const recordsAgree: Same<PlanRecord[0], RecordName> & Same<PhaseStep[0], StepNames> = true;
void recordsAgree;

export function isPhaseStep(r: PlanRecord): r is PhaseStep {
  return RECORDS[r[0]].step;
}

/** The arity RECORDS gives NAME: the fixed kinds, and whether the last one repeats ('*': from zero, '+': from one). */
export function recordArity(name: RecordName): { kinds: string; min: number; max: number } {
  const k: string = RECORDS[name].kinds;
  const rep = k.endsWith('*') || k.endsWith('+') ? k[k.length - 1] : '';
  const kinds = rep ? k.slice(0, -1) : k;
  const min = rep === '*' ? kinds.length - 1 : kinds.length;
  return { kinds, min, max: rep ? Infinity : kinds.length };
}

/** The tokens of record R as the helper reads them; a record that breaks its kinds is a bug here, not the user's. */
export function recordTokens(r: PlanRecord): string[] {
  const [name, ...args] = r as [RecordName, ...unknown[]];
  const { kinds, min, max } = recordArity(name);
  if (args.length < min || args.length > max) throw new Error(`plan record ${name}: ${args.length} arguments, expected ${min}${max === Infinity ? ' or more' : max > min ? `-${max}` : ''}`);
  const tokens = [name as string];
  args.forEach((a, i) => {
    const kind = kinds[Math.min(i, kinds.length - 1)];
    let t: string;
    if (kind === 'i' || kind === 'o') {
      if (typeof a !== 'number' || !Number.isInteger(a) || a < 0 || a > 0xffffffff) throw new Error(`plan record ${name}: argument ${i + 1} (${String(a)}) is not a non-negative integer`);
      t = a.toString(kind === 'o' ? 8 : 10);
    } else if (kind === 'f') {
      if (!Array.isArray(a)) throw new Error(`plan record ${name}: argument ${i + 1} is not a list of mount flags`);
      t = a.join(',');
    } else {
      if (typeof a !== 'string') throw new Error(`plan record ${name}: argument ${i + 1} is not a string`);
      t = a;
    }
    // execve(2) and mount(2) take C strings: a NUL would cut the value short, so it is refused instead.
    if (t.includes('\0')) throw new LodgerError('NUL_IN_ARGUMENT', `${name} ${JSON.stringify(t)}: a string given to the kernel cannot contain a NUL byte — remove it`);
    tokens.push(t);
  });
  return tokens;
}
