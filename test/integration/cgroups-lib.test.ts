// Integration tests of src/cgroups on this host's real cgroup2 tree: discovery, a container cgroup's life, and limits.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LodgerError } from '../../src/errors';
import { CgroupDiscovery, describeCgroups, discoverCgroups } from '../../src/cgroups/discover';
import { enableControllers, prepareCgroupBase } from '../../src/cgroups/prepare';
import { planLimits, LimitFlags } from '../../src/cgroups/limits';
import {
  applyLimits, createContainerCgroup, freeze, isPopulated, killAll, listPids, oomKilled, readEvents,
  removeContainerCgroup, thaw, waitUntilEmpty,
} from '../../src/cgroups/containerCgroup';
import { readStats } from '../../src/cgroups/stats';
import { requirePrereq } from '../helpers/prereqs';

const TEST_CG = process.env.LODGER_TEST_CGROUP ?? '';

/** Whether `pid` is in `dir` or below it, read straight from cgroup.procs (not through the library under test). */
function subtreeHolds(dir: string, pid: number): boolean {
  let procs: string;
  try {
    procs = fs.readFileSync(path.join(dir, 'cgroup.procs'), 'utf8');
  } catch {
    return false;
  }
  if (procs.split('\n').includes(String(pid))) return true;
  return fs.readdirSync(dir, { withFileTypes: true }).some((e) => e.isDirectory() && subtreeHolds(path.join(dir, e.name), pid));
}

const ready = requirePrereq(
  TEST_CG !== '' && TEST_CG !== path.dirname(TEST_CG) && subtreeHolds(TEST_CG, process.pid),
  'the cgroups tests need a cgroup2 subtree delegated to the test user with the test runner in a leaf of it: as root, ' +
    'mkdir -p /sys/fs/cgroup/unified/lodger.delegate/lodgertest/session && chown -R lodgertest /sys/fs/cgroup/unified/lodger.delegate/lodgertest, ' +
    'start the runner\'s shell in …/session (echo $$ > …/session/cgroup.procs) and export LODGER_TEST_CGROUP=/sys/fs/cgroup/unified/lodger.delegate/lodgertest',
);

// Discovery runs at collection time so that the limit tests can name the branch this host takes.
const d: CgroupDiscovery | null = ready ? discoverCgroups({ env: { ...process.env, LODGER_CGROUP_PARENT: '' } }) : null;
const has = (c: string): boolean => d !== null && d.controllers.includes(c);

const children: ChildProcess[] = [];
const cgroups: string[] = [];
let seq = 0;

afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const dir of cgroups.splice(0)) await removeContainerCgroup(dir).catch(() => undefined);
});

function newCgroup(): string {
  const dir = createContainerCgroup(d!.base!, `t${process.pid}-${++seq}`);
  cgroups.push(dir);
  return dir;
}

/** Starts `sh -c script`; with `gate`, the script waits for one line on stdin first, so it can be moved before it acts. */
function sh(script: string, gate = false): ChildProcess {
  const c = spawn('sh', ['-c', gate ? `read _go; ${script}` : script], { stdio: ['pipe', 'ignore', 'pipe'] });
  children.push(c);
  return c;
}

/** Starts `sleep 100` itself, not under sh: a shell could fork it before the shell is moved, leaving it behind. */
function sleeper(): ChildProcess {
  const c = spawn('sleep', ['100'], { stdio: 'ignore' });
  children.push(c);
  return c;
}

/** Moves a process into a cgroup the way the helper does: its pid into cgroup.procs. */
function move(pid: number, dir: string): void {
  fs.writeFileSync(path.join(dir, 'cgroup.procs'), String(pid));
}

function exited(c: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve({ code: c.exitCode, signal: c.signalCode });
  return new Promise((resolve) => c.once('exit', (code, signal) => resolve({ code, signal })));
}

function stderrOf(c: ChildProcess): () => string {
  let s = '';
  c.stderr!.on('data', (b: Buffer) => { s += b.toString(); });
  return () => s;
}

/** Field 3 of /proc/PID/stat (proc(5)): R running, S sleeping, T stopped, … */
function procState(pid: number): string {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await sleep(20);
  }
  return cond();
}

const BUSY = 'while :; do i=$((i+1)); done';

describe.skipIf(!ready)('cgroups library on this host', () => {
  it('discovery finds the cgroup2 mount, the caller\'s session leaf and the delegated base beside it', () => {
    const mountLine = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').find((l) => l.includes(' - cgroup2 '));
    expect(mountLine).toBeDefined();
    expect(d!.mount).toBe(mountLine!.split(' ')[4]);
    expect(TEST_CG.startsWith(d!.mount + '/')).toBe(true);
    if (d!.mount === '/sys/fs/cgroup/unified') expect(d!.kind).toBe('hybrid');
    expect(d!.base).toBe(TEST_CG);
    expect(d!.placement).toBe('siblings');
    expect(path.dirname(d!.own!)).toBe(TEST_CG);
    expect(d!.reason).toBeUndefined();

    const info = describeCgroups({ env: { ...process.env, LODGER_CGROUP_PARENT: '' } });
    expect(info).toMatchObject({ version: 2, mount: d!.mount, base: TEST_CG, writable: true, placement: 'siblings' });
    expect(info.controllers).toEqual(d!.controllers);
  });

  it('an explicit LODGER_CGROUP_PARENT that is not delegated is refused with what to do', () => {
    let err: unknown;
    try {
      discoverCgroups({ env: { LODGER_CGROUP_PARENT: path.dirname(TEST_CG) } });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(LodgerError);
    expect((err as LodgerError).code).toBe('CGROUP_PARENT_UNUSABLE');
    expect((err as LodgerError).message).toContain(`${path.dirname(TEST_CG)} is not delegated to you`);
    expect((err as LodgerError).message).toContain('or unset LODGER_CGROUP_PARENT');
    // and lodger info reports it instead of failing
    expect(describeCgroups({ env: { LODGER_CGROUP_PARENT: path.dirname(TEST_CG) } }).reason).toContain('is not delegated to you');
  });

  it('the explicit base, given as the delegated directory, is used as is', () => {
    const e = discoverCgroups({ env: { LODGER_CGROUP_PARENT: TEST_CG } });
    expect(e.base).toBe(TEST_CG);
    expect(e.placement).toBe('explicit');
  });

  it('a container cgroup takes a moved process; freeze stops it, thaw resumes it, cgroup.kill empties it, remove rmdirs it', async () => {
    const dir = newCgroup();
    expect(path.dirname(dir)).toBe(TEST_CG);
    expect(readEvents(dir)).toEqual({ populated: false, frozen: false });

    const busy = sh(BUSY);
    os.setPriority(busy.pid!, 19); // share the machine politely; the counters still move
    move(busy.pid!, dir);
    expect(listPids(dir)).toEqual([busy.pid]);
    expect(isPopulated(dir)).toBe(true);
    expect(await until(() => readStats(dir).cpuUsageUsec > 0, 5000)).toBe(true);

    await freeze(dir);
    expect(readEvents(dir)).toEqual({ populated: true, frozen: true });
    expect(procState(busy.pid!)).not.toBe('R');
    const frozenAt = readStats(dir).cpuUsageUsec;
    await sleep(300);
    expect(readStats(dir).cpuUsageUsec).toBe(frozenAt);

    await thaw(dir);
    expect(readEvents(dir).frozen).toBe(false);
    expect(await until(() => readStats(dir).cpuUsageUsec > frozenAt, 5000)).toBe(true);

    const stats = readStats(dir);
    expect(stats.userUsec).toBeGreaterThan(0);
    expect(stats.cpuUsageUsec).toBeGreaterThanOrEqual(stats.userUsec);
    expect(stats.pidsCurrent).toBe(1); // one single-threaded sh, counted even without the pids controller
    if (!d!.enabled.includes('memory')) expect(stats.memoryCurrent).toBeUndefined();

    expect(killAll(dir, 'SIGKILL')).toBe(0); // cgroup.kill did it
    expect(await exited(busy)).toEqual({ code: null, signal: 'SIGKILL' });
    await waitUntilEmpty(dir, 5000);
    expect(readEvents(dir).populated).toBe(false);

    await removeContainerCgroup(dir);
    expect(fs.existsSync(dir)).toBe(false);
    await removeContainerCgroup(dir); // again: already gone is fine
  });

  it('killAll with SIGTERM signals every process, including those in sub-cgroups', async () => {
    const dir = newCgroup();
    const sub = path.join(dir, 'inner');
    fs.mkdirSync(sub);
    const a = sleeper();
    const b = sleeper();
    move(a.pid!, dir);
    move(b.pid!, sub);
    expect(listPids(dir).sort()).toEqual([a.pid, b.pid].sort());
    expect(readStats(dir).pidsCurrent).toBe(2);

    expect(killAll(dir, 'SIGTERM')).toBe(2);
    expect(await exited(a)).toEqual({ code: null, signal: 'SIGTERM' });
    expect(await exited(b)).toEqual({ code: null, signal: 'SIGTERM' });
    await removeContainerCgroup(dir);
    expect(fs.existsSync(dir)).toBe(false);
  });

  it('removing a frozen container kills its processes and removes its cgroup', async () => {
    const dir = newCgroup();
    const p = sleeper();
    move(p.pid!, dir);
    await freeze(dir);
    await removeContainerCgroup(dir, 5000);
    expect(await exited(p)).toEqual({ code: null, signal: 'SIGKILL' });
    expect(fs.existsSync(dir)).toBe(false);
  });

  it('creating a cgroup for an id that is running is refused; a stale empty one is replaced', async () => {
    const dir = newCgroup();
    const id = path.basename(dir).slice('lodger-'.length);
    const p = sleeper();
    move(p.pid!, dir);
    expect(() => createContainerCgroup(TEST_CG, id)).toThrow(/already exists and has processes, so another container with id .* is running/);
    await removeContainerCgroup(dir);
    expect(await exited(p)).toEqual({ code: null, signal: 'SIGKILL' });

    const again = createContainerCgroup(TEST_CG, id);
    cgroups.push(again);
    fs.mkdirSync(path.join(again, 'leftover'));
    expect(createContainerCgroup(TEST_CG, id)).toBe(again); // empty leftover: replaced
    expect(fs.existsSync(path.join(again, 'leftover'))).toBe(false);
  });

  it('refuses to remove a cgroup lodger did not create, and ids that are not one path component', async () => {
    await expect(removeContainerCgroup(TEST_CG)).rejects.toThrow(/not a container cgroup/);
    expect(fs.existsSync(TEST_CG)).toBe(true);
    expect(() => createContainerCgroup(TEST_CG, '../escape')).toThrow(/the id must be letters, digits/);
  });

  it('oomKilled is false for a container that was not OOM-killed', () => {
    expect(oomKilled(newCgroup())).toBe(false);
  });

  const delegated = d?.controllers ?? [];
  it(delegated.length > 0
    ? `the base hands its controllers (${delegated.join(' ')}) to container cgroups, and a cgroup with processes is refused with the no-internal-process reason (branch: controllers delegated here)`
    : 'the base hands no controllers to container cgroups (branch: no controller delegated here)', () => {
    const prepared = prepareCgroupBase(d!);
    expect(prepared.base).toBe(TEST_CG);
    expect([...prepared.enabled].sort()).toEqual([...delegated].sort());
    expect(prepared.notEnabled).toEqual({});
    const dir = newCgroup();
    const listed = fs.readFileSync(path.join(dir, 'cgroup.controllers'), 'utf8').split(/\s+/).filter(Boolean);
    expect(listed.sort()).toEqual([...prepared.enabled].sort());
    if (delegated.length === 0) return;
    const p = sleeper();
    move(p.pid!, dir);
    const r = enableControllers(dir, listed);
    expect(r.enabled).toEqual([]);
    for (const c of listed) expect(r.notEnabled[c]).toContain('has processes of its own');
    for (const c of listed) expect(r.notEnabled[c]).toContain('"No Internal Process Constraint"');
  });

  // --- limits: enforced where the controller is delegated, refused with the right message where not ---

  /** The plan for `flags` on this host after preparing the base, or the refusal. */
  function plan(flags: LimitFlags): ReturnType<typeof planLimits> {
    const prepared = prepareCgroupBase(d!);
    return planLimits(flags, new Set(prepared.enabled), { ...d!, notEnabled: prepared.notEnabled, hostCpus: os.cpus().length });
  }

  function expectRefusal(flags: LimitFlags, controller: string, flag: string): void {
    let err: unknown;
    try {
      plan(flags);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(LodgerError);
    const e = err as LodgerError;
    expect(e.code).toBe('CGROUP_CONTROLLER_UNAVAILABLE');
    expect(e.exitCode).toBe(125);
    const v1 = d!.v1Controllers[controller];
    if (v1) {
      // hybrid host: the controller lives in a v1 hierarchy (this CI host)
      expect(e.message).toBe(`${flag} needs the "${controller}" cgroup controller, but this host runs hybrid cgroups and "${controller}" is bound to the cgroup v1 hierarchy at ${v1}, which lodger cannot use (a controller serves one hierarchy at a time; cgroup-v2.rst "Support for Multiple Hierarchies"): ask an admin to boot with systemd.unified_cgroup_hierarchy=1 (cgroup v2 only) and delegate "${controller}" to you, or run without ${flag}`);
    } else {
      expect(e.message).toBe(`${flag} needs the "${controller}" cgroup controller, which is not delegated to you in ${TEST_CG}: ask an admin to enable it (systemd: Delegate=${controller} in user@.service) or run without ${flag}`);
    }
  }

  it(has('pids')
    ? '--pids-limit 5 is enforced: a fork loop fails past 5 tasks (branch: pids controller delegated here)'
    : '--pids-limit 5 is refused, naming the missing "pids" controller (branch: pids controller not delegated here)', async () => {
    if (!has('pids')) return expectRefusal({ pidsLimit: 5 }, 'pids', '--pids-limit');
    const limits = plan({ pidsLimit: 5 });
    expect(limits.files.map((f) => `${f.file}=${f.value}`)).toEqual(['pids.max=5']);
    const dir = newCgroup();
    applyLimits(dir, limits);
    const p = sh('i=0; while [ $i -lt 10 ]; do sleep 30 & i=$((i+1)); done; wait', true);
    const err = stderrOf(p);
    move(p.pid!, dir);
    p.stdin!.end('go\n');
    expect(await until(() => /fork/i.test(err()), 10000)).toBe(true);
    const s = readStats(dir);
    expect(s.pidsMax).toBe(5);
    expect(s.pidsCurrent).toBeLessThanOrEqual(5);
    await removeContainerCgroup(dir);
  });

  it(has('memory')
    ? '--memory 16m is enforced: a memory hog is OOM-killed and oomKilled() says so (branch: memory controller delegated here)'
    : '--memory 16m is refused, naming the missing "memory" controller (branch: memory controller not delegated here)', async () => {
    if (!has('memory')) return expectRefusal({ memory: '16m' }, 'memory', '--memory');
    const limits = plan({ memory: '16m' });
    const dir = newCgroup();
    applyLimits(dir, limits);
    expect(readStats(dir).memoryMax).toBe(16 * 1024 * 1024);
    // doubles a shell string until it passes memory.max (plus as much swap, Docker's default)
    const hog = sh('x=0123456789abcdef; while :; do x=$x$x; done', true);
    move(hog.pid!, dir);
    hog.stdin!.end('go\n');
    expect(await exited(hog)).toEqual({ code: null, signal: 'SIGKILL' });
    expect(oomKilled(dir)).toBe(true);
  });

  it(has('cpu')
    ? '--cpus 0.1 is enforced: a busy loop gets about a tenth of a CPU (branch: cpu controller delegated here)'
    : '--cpus 0.1 is refused, naming the missing "cpu" controller (branch: cpu controller not delegated here)', async () => {
    if (!has('cpu')) return expectRefusal({ cpus: '0.1' }, 'cpu', '--cpus');
    const limits = plan({ cpus: '0.1' });
    expect(limits.files.map((f) => `${f.file}=${f.value}`)).toEqual(['cpu.max=10000 100000']);
    const dir = newCgroup();
    applyLimits(dir, limits);
    const busy = sh(BUSY, true);
    move(busy.pid!, dir);
    busy.stdin!.end('go\n');
    await sleep(200);
    const before = readStats(dir).cpuUsageUsec;
    await sleep(1000);
    const used = readStats(dir).cpuUsageUsec - before;
    expect(used).toBeGreaterThan(0);
    expect(used).toBeLessThan(250_000); // unthrottled it would be ~1 000 000 µs
    const throttled = fs.readFileSync(path.join(dir, 'cpu.stat'), 'utf8');
    expect(Number(/nr_throttled (\d+)/.exec(throttled)?.[1])).toBeGreaterThan(0);
    await removeContainerCgroup(dir);
  });
});
