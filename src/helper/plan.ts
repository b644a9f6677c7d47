// The plan handed to the native helper: typed records (steps.ts), built by one method per kind of record, encoded as NUL-separated tokens.
import type { IdMapping } from './idmap';
import { checkExecSize } from './execLimits';
import { isPhaseStep, recordTokens, type MountFlag, type Namespace, type Phase, type PlanRecord, type SecurityRecord } from './steps';

export type { PlanRecord, SecurityRecord, MountFlag } from './steps';

/** Encodes RECORDS as the helper reads them (plan.c): per record "N\0name\0arg…\0", N counting the tokens. */
export function encodePlan(records: PlanRecord[]): Buffer {
  const parts: string[] = [];
  for (const r of records) {
    const t = recordTokens(r);
    parts.push(String(t.length));
    for (const token of t) parts.push(token);  // not push(...t): a record may hold more tokens than a call takes arguments
  }
  return Buffer.from(parts.length ? parts.join('\0') + '\0' : '');
}

/** The process a plan starts: its ids, directory, environment, command, privileges and terminal. */
export interface ProcessPlan {
  uid: number;
  gid: number;
  groups?: number[];
  /** Unset: the process starts where the helper is (store workers). */
  cwd?: string;
  env: string[];
  argv: string[];
  /** Capabilities, no_new_privs and seccomp (security.ts); none: the process keeps what it has. */
  security?: SecurityRecord[];
  tty?: { rows: number; cols: number };
  stdin: 'inherit' | 'null';
}

/** Builder for a plan's records, with one method per kind of record the helper knows. */
export class Plan {
  readonly records: PlanRecord[] = [];
  private phase: Phase | undefined;

  /** Any record, typed; a step of a phase only once a phase has begun (inPhase). */
  record(r: PlanRecord): this {
    if (isPhaseStep(r) && this.phase === undefined) throw new Error(`plan step ${r[0]} outside a phase`);
    this.records.push(r);
    return this;
  }

  namespaces(ns: Namespace[]): this { return this.record(['ns', ...ns]); }

  idmap(m: IdMapping): this {
    this.record(['map-mode', m.mode]);
    for (const l of m.uid) this.record(['uidmap', l.inside, l.outside, l.count]);
    for (const l of m.gid) this.record(['gidmap', l.inside, l.outside, l.count]);
    if (m.setgroupsDeny) this.setgroupsDeny();
    return this;
  }

  inPhase(phase: Phase): this {
    if (this.phase !== phase) { this.record(['phase', phase]); this.phase = phase; }
    return this;
  }

  // Steps, run in order in the current phase (mounts.c).
  mount(source: string, target: string, fstype: string, flags: MountFlag[] = [], data = ''): this {
    return this.record(['mount', source, target, fstype, flags, data]);
  }
  bind(source: string, target: string, flags: MountFlag[] = []): this { return this.record(['bind', source, target, flags]); }
  fuseOverlayfs(target: string, options: string): this { return this.record(['fuse-overlayfs', target, options]); }
  squashfuse(imageFile: string, target: string): this { return this.record(['squashfuse', imageFile, target]); }
  mkdir(target: string, mode = 0o755): this { return this.record(['mkdir', target, mode]); }
  symlink(linkTarget: string, at: string): this { return this.record(['symlink', linkTarget, at]); }
  readonly(target: string): this { return this.record(['readonly', target]); }
  remountReadonly(target: string, recursive = false): this { return this.record(['remount-ro', target, recursive ? 'rec' : 'norec']); }
  mask(target: string): this { return this.record(['mask', target]); }
  loopbackUp(): this { return this.record(['loopback-up']); }
  umount(target: string): this { return this.record(['umount', target]); }
  rmtree(target: string): this { return this.record(['rmtree', target]); }
  rmdirCgroup(dir: string): this { return this.record(['rmdir-cgroup', dir]); }
  killPidfile(pidFile: string): this { return this.record(['kill-pidfile', pidFile]); }
  /** --sysctl: KEY (dotted) written in the container's /proc/sys. */
  sysctl(key: string, value: string): this { return this.record(['sysctl', key, value]); }

  // Settings of the container and its monitor.
  setgroupsDeny(): this { return this.record(['setgroups-deny']); }
  rootfs(path: string): this { return this.record(['rootfs', path]); }
  hostname(name: string): this { return this.record(['hostname', name]); }
  cgroup(dir: string): this { return this.record(['cgroup', dir]); }
  waitForGo(): this { return this.record(['wait-go']); }
  init(): this { return this.record(['init']); }
  joinNetns(pid: number): this { return this.record(['join-netns', pid]); }
  /** --pid/--ipc container:X: X's init, whose user namespace and that namespace the container joins. */
  joinPidns(pid: number): this { return this.record(['join-pidns', pid]); }
  joinIpcns(pid: number): this { return this.record(['join-ipcns', pid]); }
  parentUserns(pid: number): this { return this.record(['parent-userns', pid]); }
  attachSocket(path: string): this { return this.record(['attach-socket', path]); }
  state(path: string): this { return this.record(['state', path]); }
  detach(logPath: string): this { return this.record(['detach', logPath]); }
  restart(policy: string, maximumRetryCount: number): this { return this.record(['restart', policy, maximumRetryCount]); }
  /** --ulimit: a resource limit of the container's process (setrlimit(2); SOFT/HARD a number or "unlimited"). */
  rlimit(name: string, soft: string, hard: string): this { return this.record(['rlimit', name, soft, hard]); }
  /** --log-opt max-size/max-file: the monitor rotates the container's log at BYTES, keeping FILES files. */
  logMax(bytes: number, files: number): this { return this.record(['log-max', bytes, files]); }
  /** exec: the running process whose namespaces NS are joined. */
  join(pid: number, ns: [Namespace | 'user', ...(Namespace | 'user')[]]): this {
    return this.record(['target', pid]).record(['join', ...ns]);
  }

  /**
   * The process the helper starts, for `run`, `exec` and the store workers alike. Its command and
   * environment are checked against the kernel's limits first (execLimits.ts): a LodgerError naming
   * which is too long, rather than E2BIG from the helper after the container was set up.
   */
  process(p: ProcessPlan): this {
    if (p.argv.length === 0) throw new Error('plan process without a command');
    checkExecSize(p.argv, p.env);
    if (p.tty) this.record(['tty', p.tty.rows, p.tty.cols]);
    this.record(['stdin', p.stdin]);
    this.record(['user', p.uid, p.gid]);
    for (const r of p.security ?? []) this.record(r);
    if (p.groups?.length) this.record(['groups', ...p.groups]);
    if (p.cwd !== undefined) this.record(['cwd', p.cwd]);
    if (p.env.length) this.record(['env', ...p.env]);
    return this.record(['argv', p.argv[0], ...p.argv.slice(1)]);
  }

  encode(): Buffer { return encodePlan(this.records); }
}
