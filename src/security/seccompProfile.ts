// Seccomp profiles in Docker's JSON format: lodger's default allow-list, parsing a user's profile, and compiling either into the helper's rules.
import * as os from 'node:os';
import { LodgerError } from '../errors';
import type { SecurityRecord } from '../helper/plan';

/** One argument comparison, as Docker's profiles write it (SCMP_CMP_MASKED_EQ: `value` is the mask, `valueTwo` the result). */
export interface SeccompArg { index: number; value: number; valueTwo?: number; op: string }

export interface SeccompFilterCond { caps?: string[]; arches?: string[]; minKernel?: string }

export interface SeccompSyscall {
  names?: string[];
  /** The format of Docker ≤ 1.12: one name per entry. */
  name?: string;
  action: string;
  errnoRet?: number;
  args?: SeccompArg[] | null;
  includes?: SeccompFilterCond;
  excludes?: SeccompFilterCond;
  comment?: string;
}

export interface SeccompProfile {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures?: string[] | null;
  archMap?: Array<{ architecture: string; subArchitectures?: string[] | null }> | null;
  syscalls?: SeccompSyscall[] | null;
}

const EPERM = 1;
const ENOSYS = 38;

// --- lodger's default profile -------------------------------------------------------------------------------
// An allow-list: anything not named here fails with EPERM, so a syscall added to a later kernel is refused
// until it is reviewed. Names unknown to this machine's libseccomp are skipped by the helper. Grouped by what
// a program uses them for; the groups after ALLOWED are what a container without extra capabilities may not do.

const ALLOWED: Record<string, string[]> = {
  fileIo: ['read', 'write', 'readv', 'writev', 'pread64', 'pwrite64', 'preadv', 'preadv2', 'pwritev', 'pwritev2', 'lseek',
    '_llseek', 'open', 'openat', 'openat2', 'creat', 'close', 'close_range', 'dup', 'dup2', 'dup3', 'fcntl', 'fcntl64',
    'flock', 'fsync', 'fdatasync', 'sync', 'syncfs', 'sync_file_range', 'sync_file_range2', 'arm_sync_file_range',
    'fallocate', 'ftruncate', 'ftruncate64', 'truncate', 'truncate64', 'fadvise64', 'fadvise64_64', 'arm_fadvise64_64',
    'readahead', 'sendfile', 'sendfile64', 'splice', 'tee', 'vmsplice', 'copy_file_range', 'ioctl', 'cachestat', 'pipe', 'pipe2'],
  fileInfo: ['stat', 'stat64', 'lstat', 'lstat64', 'fstat', 'fstat64', 'newfstatat', 'fstatat64', 'statx', 'statfs',
    'statfs64', 'fstatfs', 'fstatfs64', 'access', 'faccessat', 'faccessat2', 'readlink', 'readlinkat', 'getcwd', 'chdir',
    'fchdir', 'getdents', 'getdents64', 'umask', 'name_to_handle_at'],
  fileChange: ['mkdir', 'mkdirat', 'mknod', 'mknodat', 'rmdir', 'unlink', 'unlinkat', 'link', 'linkat', 'symlink',
    'symlinkat', 'rename', 'renameat', 'renameat2', 'chmod', 'fchmod', 'fchmodat', 'fchmodat2', 'chown', 'chown32',
    'fchown', 'fchown32', 'fchownat', 'lchown', 'lchown32', 'utime', 'utimes', 'utimensat', 'utimensat_time64', 'futimesat'],
  xattrs: ['getxattr', 'lgetxattr', 'fgetxattr', 'getxattrat', 'setxattr', 'lsetxattr', 'fsetxattr', 'setxattrat',
    'listxattr', 'llistxattr', 'flistxattr', 'listxattrat', 'removexattr', 'lremovexattr', 'fremovexattr', 'removexattrat'],
  waiting: ['select', '_newselect', 'pselect6', 'pselect6_time64', 'poll', 'ppoll', 'ppoll_time64', 'epoll_create',
    'epoll_create1', 'epoll_ctl', 'epoll_wait', 'epoll_pwait', 'epoll_pwait2', 'eventfd', 'eventfd2', 'signalfd',
    'signalfd4', 'timerfd_create', 'timerfd_settime', 'timerfd_settime64', 'timerfd_gettime', 'timerfd_gettime64',
    'inotify_init', 'inotify_init1', 'inotify_add_watch', 'inotify_rm_watch', 'io_setup', 'io_destroy', 'io_submit',
    'io_cancel', 'io_getevents', 'io_pgetevents', 'io_pgetevents_time64'],
  memory: ['brk', 'mmap', 'mmap2', 'munmap', 'mremap', 'mprotect', 'madvise', 'mincore', 'msync', 'mlock', 'mlock2',
    'mlockall', 'munlock', 'munlockall', 'membarrier', 'memfd_create', 'memfd_secret', 'remap_file_pages', 'pkey_alloc',
    'pkey_free', 'pkey_mprotect', 'mseal', 'map_shadow_stack'],
  processes: ['fork', 'vfork', 'execve', 'execveat', 'exit', 'exit_group', 'wait4', 'waitid', 'waitpid', 'kill', 'tkill',
    'tgkill', 'getpid', 'getppid', 'gettid', 'getpgid', 'setpgid', 'getpgrp', 'getsid', 'setsid', 'pidfd_open',
    'pidfd_send_signal', 'process_mrelease', 'restart_syscall', 'set_tid_address', 'set_robust_list', 'get_robust_list',
    'rseq', 'prctl', 'arch_prctl', 'set_thread_area', 'get_thread_area', 'modify_ldt', 'set_tls', 'cacheflush',
    'breakpoint', 'riscv_flush_icache', 'uname', 'sysinfo', 'getrandom', 'getcpu', 'times', 'getrusage', 'getrlimit',
    'setrlimit', 'prlimit64', 'ugetrlimit', 'getpriority', 'setpriority', 'ioprio_get', 'ioprio_set', 'capget', 'capset',
    // A process may stack its own filters (browsers' sandboxes do); a filter can only take permissions away.
    'seccomp',
    // Unprivileged self-sandboxing.
    'landlock_create_ruleset', 'landlock_add_rule', 'landlock_restrict_self'],
  scheduling: ['sched_yield', 'sched_getaffinity', 'sched_setaffinity', 'sched_getparam', 'sched_setparam',
    'sched_getscheduler', 'sched_setscheduler', 'sched_getattr', 'sched_setattr', 'sched_get_priority_max',
    'sched_get_priority_min', 'sched_rr_get_interval', 'sched_rr_get_interval_time64'],
  signalsAndTimers: ['rt_sigaction', 'rt_sigprocmask', 'rt_sigreturn', 'rt_sigpending', 'rt_sigsuspend', 'rt_sigtimedwait',
    'rt_sigtimedwait_time64', 'rt_sigqueueinfo', 'rt_tgsigqueueinfo', 'sigaltstack', 'sigaction', 'sigreturn',
    'sigprocmask', 'sigpending', 'sigsuspend', 'pause', 'alarm', 'nanosleep', 'clock_nanosleep', 'clock_nanosleep_time64',
    'getitimer', 'setitimer', 'timer_create', 'timer_delete', 'timer_settime', 'timer_settime64', 'timer_gettime',
    'timer_gettime64', 'timer_getoverrun'],
  // Reading the clock; adjtimex(2)/clock_adjtime(2) change it only with CAP_SYS_TIME in the initial user namespace.
  clocks: ['time', 'gettimeofday', 'clock_gettime', 'clock_gettime64', 'clock_getres', 'clock_getres_time64', 'adjtimex',
    'clock_adjtime', 'clock_adjtime64'],
  ids: ['getuid', 'getuid32', 'geteuid', 'geteuid32', 'getgid', 'getgid32', 'getegid', 'getegid32', 'getresuid',
    'getresuid32', 'getresgid', 'getresgid32', 'getgroups', 'getgroups32', 'setuid', 'setuid32', 'setgid', 'setgid32',
    'setreuid', 'setreuid32', 'setregid', 'setregid32', 'setresuid', 'setresuid32', 'setresgid', 'setresgid32', 'setgroups',
    'setgroups32', 'setfsuid', 'setfsuid32', 'setfsgid', 'setfsgid32'],
  futexes: ['futex', 'futex_time64', 'futex_waitv', 'futex_wake', 'futex_wait', 'futex_requeue'],
  ipc: ['ipc', 'msgget', 'msgsnd', 'msgrcv', 'msgctl', 'semget', 'semop', 'semtimedop', 'semtimedop_time64', 'semctl',
    'shmget', 'shmat', 'shmdt', 'shmctl', 'mq_open', 'mq_unlink', 'mq_timedsend', 'mq_timedsend_time64', 'mq_timedreceive',
    'mq_timedreceive_time64', 'mq_notify', 'mq_getsetattr'],
  network: ['socketpair', 'bind', 'listen', 'accept', 'accept4', 'connect', 'getsockname', 'getpeername', 'getsockopt',
    'setsockopt', 'sendto', 'send', 'sendmsg', 'sendmmsg', 'recvfrom', 'recv', 'recvmsg', 'recvmmsg', 'recvmmsg_time64',
    'shutdown', 'socketcall'],
};

/** Syscalls a capability in the container's bounding set unlocks (the kernel still checks the capability itself). */
const BY_CAPABILITY: Array<[string, string[]]> = [
  // Mounting, namespaces, and kernel-wide interfaces: the bulk of container-escape history (e.g. CVE-2022-0185).
  ['CAP_SYS_ADMIN', ['mount', 'umount', 'umount2', 'mount_setattr', 'move_mount', 'open_tree', 'open_tree_attr', 'fsopen',
    'fsconfig', 'fsmount', 'fspick', 'pivot_root', 'unshare', 'setns', 'clone', 'clone3', 'bpf', 'perf_event_open',
    'fanotify_init', 'fanotify_mark', 'lookup_dcookie', 'quotactl', 'quotactl_fd', 'sethostname', 'setdomainname', 'syslog']],
  ['CAP_SYS_BOOT', ['reboot', 'kexec_load', 'kexec_file_load']],
  ['CAP_SYS_MODULE', ['init_module', 'finit_module', 'delete_module']],
  ['CAP_SYS_PACCT', ['acct']],
  // ptrace itself is allowed on kernels ≥ 4.8 (below): before that a tracer could bypass seccomp.
  ['CAP_SYS_PTRACE', ['ptrace', 'process_vm_readv', 'process_vm_writev', 'kcmp', 'pidfd_getfd', 'process_madvise', 'userfaultfd']],
  ['CAP_SYS_RAWIO', ['iopl', 'ioperm']],
  ['CAP_SYS_TIME', ['settimeofday', 'stime', 'clock_settime', 'clock_settime64']],
  ['CAP_SYS_TTY_CONFIG', ['vhangup']],
  ['CAP_SYS_NICE', ['get_mempolicy', 'set_mempolicy', 'set_mempolicy_home_node', 'mbind', 'migrate_pages', 'move_pages']],
  ['CAP_SYSLOG', ['syslog']],
  ['CAP_BPF', ['bpf']],
  ['CAP_PERFMON', ['perf_event_open']],
  // Opening any inode by handle walks around the mount the container was given (the "shocker" escape).
  ['CAP_DAC_READ_SEARCH', ['open_by_handle_at']],
  ['CAP_SYS_CHROOT', ['chroot']],
];

// Never allowed by the default profile, whatever the capabilities: the kernel keyring is not namespaced
// (keyctl, add_key, request_key); io_uring runs operations the filter never sees and has been a steady source
// of kernel bugs; the rest are obsolete or host-only (swapon, nfsservctl, uselib, _sysctl, ustat, sysfs,
// vm86, create_module, …). They are listed in no group, so the default action refuses them.

/** clone(2) flags that create namespaces; without CAP_SYS_ADMIN a container may clone only without them. */
const CLONE_NAMESPACE_FLAGS = 0x00020000 /* NEWNS */ | 0x02000000 /* NEWCGROUP */ | 0x04000000 /* NEWUTS */ |
  0x08000000 /* NEWIPC */ | 0x10000000 /* NEWUSER */ | 0x20000000 /* NEWPID */ | 0x40000000 /* NEWNET */;

/** personality(2) values a program may set: PER_LINUX, PER_LINUX32, UNAME26 (alone or with PER_LINUX32), and the 0xffffffff query. */
const PERSONALITIES = [0x0, 0x8, 0x20000, 0x20008, 0xffffffff];

const AF_VSOCK = 40;

/** lodger's default seccomp profile, in Docker's format (so `--security-opt seccomp=FILE` takes the same shape). */
export function defaultSeccompProfile(): SeccompProfile {
  const syscalls: SeccompSyscall[] = [{ names: Object.values(ALLOWED).flat(), action: 'SCMP_ACT_ALLOW' }];
  syscalls.push({ names: ['ptrace', 'process_vm_readv', 'process_vm_writev'], action: 'SCMP_ACT_ALLOW', includes: { minKernel: '4.8' } });
  // Sockets of every family but vsock, which reaches the hypervisor rather than anything the network namespace owns.
  syscalls.push({ names: ['socket'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: AF_VSOCK, op: 'SCMP_CMP_NE' }] });
  for (const p of PERSONALITIES) syscalls.push({ names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: p, op: 'SCMP_CMP_EQ' }] });
  for (const [cap, names] of BY_CAPABILITY) syscalls.push({ names, action: 'SCMP_ACT_ALLOW', includes: { caps: [cap] } });
  // Threads and processes without new namespaces (s390 passes the flags second).
  syscalls.push({ names: ['clone'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: CLONE_NAMESPACE_FLAGS, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }],
    excludes: { caps: ['CAP_SYS_ADMIN'], arches: ['s390', 's390x'] } });
  syscalls.push({ names: ['clone'], action: 'SCMP_ACT_ALLOW', args: [{ index: 1, value: CLONE_NAMESPACE_FLAGS, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }],
    includes: { arches: ['s390', 's390x'] }, excludes: { caps: ['CAP_SYS_ADMIN'] } });
  // clone3(2) takes its flags in memory, where a filter cannot look: answer ENOSYS so libc falls back to clone(2).
  syscalls.push({ names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS, excludes: { caps: ['CAP_SYS_ADMIN'] } });
  return {
    defaultAction: 'SCMP_ACT_ERRNO',
    defaultErrnoRet: EPERM,
    archMap: [
      { architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86', 'SCMP_ARCH_X32'] },
      { architecture: 'SCMP_ARCH_AARCH64', subArchitectures: ['SCMP_ARCH_ARM'] },
    ],
    syscalls,
  };
}

// --- reading a user's profile --------------------------------------------------------------------------------

const ACTIONS = ['SCMP_ACT_KILL', 'SCMP_ACT_KILL_THREAD', 'SCMP_ACT_KILL_PROCESS', 'SCMP_ACT_TRAP', 'SCMP_ACT_ERRNO',
  'SCMP_ACT_TRACE', 'SCMP_ACT_ALLOW', 'SCMP_ACT_LOG'];
const OPS: Record<string, string> = {
  SCMP_CMP_NE: 'ne', SCMP_CMP_LT: 'lt', SCMP_CMP_LE: 'le', SCMP_CMP_EQ: 'eq', SCMP_CMP_GE: 'ge', SCMP_CMP_GT: 'gt',
  SCMP_CMP_MASKED_EQ: 'masked_eq',
};

function bad(source: string, what: string): LodgerError {
  return new LodgerError('BAD_SECCOMP_PROFILE', `read the seccomp profile ${source}: ${what} — give a profile in Docker's format ({"defaultAction": …, "syscalls": [{"names": […], "action": …}]}) or seccomp=unconfined`);
}

function checkAction(action: unknown, where: string, source: string): void {
  if (action === 'SCMP_ACT_NOTIFY') throw bad(source, `${where}: SCMP_ACT_NOTIFY needs a seccomp agent, which lodger does not run`);
  if (typeof action !== 'string' || !ACTIONS.includes(action)) throw bad(source, `${where}: unknown action ${JSON.stringify(action)} (one of ${ACTIONS.join(', ')})`);
}

const isUint = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= Number.MAX_SAFE_INTEGER;

/** Parses and checks a profile; every mistake is reported with where it is, before any container starts. */
export function parseSeccompProfile(text: string, source: string): SeccompProfile {
  let p: SeccompProfile;
  try { p = JSON.parse(text) as SeccompProfile; } catch (e) { throw bad(source, `not JSON (${(e as Error).message})`); }
  if (!p || typeof p !== 'object' || Array.isArray(p)) throw bad(source, 'not a JSON object');
  checkAction(p.defaultAction, 'defaultAction', source);
  if (p.syscalls != null && !Array.isArray(p.syscalls)) throw bad(source, '"syscalls" is not a list');
  (p.syscalls ?? []).forEach((s, i) => {
    const where = `syscalls[${i}]`;
    if (!s || typeof s !== 'object') throw bad(source, `${where} is not an object`);
    const names = s.names ?? (s.name !== undefined ? [s.name] : undefined);
    if (!Array.isArray(names) || names.length === 0 || names.some((n) => typeof n !== 'string' || !/^[a-z0-9_]+$/.test(n))) {
      throw bad(source, `${where}: "names" must be a non-empty list of syscall names`);
    }
    checkAction(s.action, `${where}.action`, source);
    if (s.errnoRet !== undefined && !isUint(s.errnoRet)) throw bad(source, `${where}.errnoRet is not a number`);
    for (const [j, a] of (s.args ?? []).entries()) {
      if (!a || !isUint(a.index) || a.index > 5) throw bad(source, `${where}.args[${j}].index must be 0…5`);
      if (!isUint(a.value) || (a.valueTwo !== undefined && !isUint(a.valueTwo))) throw bad(source, `${where}.args[${j}]: value and valueTwo must be non-negative integers`);
      if (!OPS[a.op]) throw bad(source, `${where}.args[${j}].op: unknown comparison ${JSON.stringify(a.op)} (one of ${Object.keys(OPS).join(', ')})`);
    }
    if ((s.args ?? []).length > 6) throw bad(source, `${where}: at most 6 argument conditions`);
  });
  if (p.defaultErrnoRet !== undefined && !isUint(p.defaultErrnoRet)) throw bad(source, 'defaultErrnoRet is not a number');
  return p;
}

// --- compiling for the helper ---------------------------------------------------------------------------------

export interface SeccompContext {
  /** The container's bounding set: `includes.caps` needs every one listed, `excludes.caps` any. */
  capabilities: readonly string[];
  /** Node's process.arch. */
  arch?: string;
  /** os.release(), e.g. "6.8.0-45-generic". */
  kernel?: string;
}

export interface CompiledRule { action: string; args: string[]; names: string[] }
export interface CompiledSeccomp { defaultAction: string; arches: string[]; rules: CompiledRule[] }

/** Node's arch → Docker's native SCMP_ARCH_ and the short names Docker's profiles use in includes.arches. */
const ARCHES: Record<string, { scmp: string; names: string[] }> = {
  x64: { scmp: 'SCMP_ARCH_X86_64', names: ['amd64', 'x86_64'] },
  ia32: { scmp: 'SCMP_ARCH_X86', names: ['x86', '386', 'i386'] },
  arm64: { scmp: 'SCMP_ARCH_AARCH64', names: ['arm64', 'aarch64'] },
  arm: { scmp: 'SCMP_ARCH_ARM', names: ['arm'] },
  riscv64: { scmp: 'SCMP_ARCH_RISCV64', names: ['riscv64'] },
  s390x: { scmp: 'SCMP_ARCH_S390X', names: ['s390x'] },
  ppc64: { scmp: 'SCMP_ARCH_PPC64LE', names: ['ppc64le'] },
  loong64: { scmp: 'SCMP_ARCH_LOONGARCH64', names: ['loong64', 'loongarch64'] },
};

/** SCMP_ARCH_X86_64 → x86_64, the name seccomp_arch_resolve_name(3) takes. */
function libseccompArch(scmp: string): string {
  return scmp.replace(/^SCMP_ARCH_/, '').toLowerCase();
}

function kernelAtLeast(release: string, min: string): boolean {
  const v = release.split(/[.-]/).map((x) => parseInt(x, 10));
  const m = min.split('.').map((x) => parseInt(x, 10));
  for (let i = 0; i < m.length; i++) {
    const a = Number.isNaN(v[i]) || v[i] === undefined ? 0 : v[i];
    if (a !== m[i]) return a > m[i];
  }
  return true;
}

function applies(s: SeccompSyscall, caps: ReadonlySet<string>, archNames: string[], kernel: string): boolean {
  const inc = s.includes ?? {};
  const exc = s.excludes ?? {};
  if (inc.caps?.length && !inc.caps.every((c) => caps.has(c))) return false;
  if (inc.arches?.length && !inc.arches.some((a) => archNames.includes(a))) return false;
  if (inc.minKernel && !kernelAtLeast(kernel, inc.minKernel)) return false;
  if (exc.caps?.length && exc.caps.some((c) => caps.has(c))) return false;
  if (exc.arches?.length && exc.arches.some((a) => archNames.includes(a))) return false;
  if (exc.minKernel && kernelAtLeast(kernel, exc.minKernel)) return false;
  return true;
}

function actionOf(action: string, errnoRet: number | undefined, defaultErrno: number): string {
  switch (action) {
    case 'SCMP_ACT_ALLOW': return 'allow';
    case 'SCMP_ACT_ERRNO': return `errno:${errnoRet ?? defaultErrno}`;
    case 'SCMP_ACT_KILL': case 'SCMP_ACT_KILL_THREAD': return 'kill_thread';
    case 'SCMP_ACT_KILL_PROCESS': return 'kill_process';
    case 'SCMP_ACT_TRAP': return 'trap';
    case 'SCMP_ACT_LOG': return 'log';
    case 'SCMP_ACT_TRACE': return `trace:${errnoRet ?? 0}`;
    default: throw new LodgerError('BAD_SECCOMP_PROFILE', `seccomp action ${action} is not supported`);
  }
}

/**
 * The conditions of one profile entry as the helper's rules. libseccomp ANDs the conditions of a rule; Docker
 * reads several conditions on the same argument as alternatives, so each of those becomes a rule of its own
 * (together with the conditions on the other arguments).
 */
function conditionSets(args: SeccompArg[]): string[][] {
  const byIndex = new Map<number, string[]>();
  for (const a of args) {
    const c = `${a.index}:${OPS[a.op]}:${BigInt(a.value)}:${BigInt(a.valueTwo ?? 0)}`;
    byIndex.set(a.index, [...(byIndex.get(a.index) ?? []), c]);
  }
  let sets: string[][] = [[]];
  for (const alts of byIndex.values()) sets = sets.flatMap((s) => alts.map((c) => [...s, c]));
  return sets;
}

/** Which rules apply for this container (capabilities, architecture, kernel), merged and ready for the helper. */
export function compileSeccomp(p: SeccompProfile, ctx: SeccompContext): CompiledSeccomp {
  const arch = ARCHES[ctx.arch ?? process.arch];
  const kernel = ctx.kernel ?? os.release();
  const caps = new Set(ctx.capabilities);
  const defaultErrno = p.defaultErrnoRet ?? EPERM;
  const native = arch?.scmp;
  let scmpArches: string[] = [];
  const mapped = p.archMap?.find((m) => m.architecture === native);
  if (mapped) scmpArches = [mapped.architecture, ...(mapped.subArchitectures ?? [])];
  else if (p.architectures?.length) scmpArches = [...p.architectures];
  // "amd64" in includes.arches means the native x86_64 filter; sub-architectures are covered through it, as in Docker.
  const archNames = arch?.names ?? [process.arch];
  const rules: CompiledRule[] = [];
  const byKey = new Map<string, CompiledRule>();
  for (const s of p.syscalls ?? []) {
    if (!applies(s, caps, archNames, kernel)) continue;
    const names = s.names ?? (s.name !== undefined ? [s.name] : []);
    const action = actionOf(s.action, s.errnoRet, defaultErrno);
    for (const args of conditionSets(s.args ?? [])) {
      // Entries with the same action and conditions share one rule (old profiles list one syscall per entry).
      const key = `${action}\0${args.join('\0')}`;
      let r = byKey.get(key);
      if (!r) { r = { action, args, names: [] }; byKey.set(key, r); rules.push(r); }
      for (const n of names) if (!r.names.includes(n)) r.names.push(n);
    }
  }
  return { defaultAction: actionOf(p.defaultAction, undefined, defaultErrno), arches: scmpArches.map(libseccompArch), rules };
}

/** The helper's records: `seccomp DEFAULT ARCH…` then one `seccomp-rule ACTION NCOND COND… NAME…` per rule with names. */
export function seccompRecords(c: CompiledSeccomp): SecurityRecord[] {
  const out: SecurityRecord[] = [['seccomp', c.defaultAction, ...c.arches]];
  for (const r of c.rules) {
    const [first, ...rest] = [...r.args, ...r.names];
    if (r.names.length) out.push(['seccomp-rule', r.action, r.args.length, first, ...rest]);
  }
  return out;
}
