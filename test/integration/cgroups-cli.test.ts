// Issue 6 through the CLI on this host's cgroup2 tree with the delegated subtree: each container's own cgroup, pause/unpause, stats, rm -f, limits enforced where delegated and refused where not, --cgroups=disabled, and no delegation at all.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { killLodgers, lodgerCommand, lodgerEnv, spawnLodger, waitForExit, waitForOutput, type LodgerResult, type Store } from '../helpers/cli';
import { runCommand } from '../helpers/exec';
import { requireDelegatedCgroup, requirePrereq } from '../helpers/prereqs';
import { alive, busyboxStore, dropStore, cgroupOf, cliFor, inspectState, lifecyclePrereqs, procStat, sleep, waitUntil } from './lifecycle-common';

/** The cgroup2 mount point, from mountinfo (field 5 of the cgroup2 line). */
function cgroup2Mount(): string | null {
  const line = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').find((l) => l.includes(' - cgroup2 '));
  return line ? line.split(' ')[4] : null;
}

/** Whether this test runner is in DIR's subtree: lodger then places containers under DIR (siblings of its cgroup). */
function runnerInside(dir: string): boolean {
  const mount = cgroup2Mount();
  const own = cgroupOf(process.pid);
  return mount !== null && own !== null && path.join(mount, own).startsWith(dir + '/');
}

const base = requireDelegatedCgroup();
const ready = lifecyclePrereqs() && base !== null &&
  requirePrereq(runnerInside(base), `the test runner must run inside ${base} (e.g. in ${base}/session, as .ci/run does)`);

// The branch this host takes for each limit, decided at collection time so the test titles can name it.
const offered = new Set(base ? fs.readFileSync(path.join(base, 'cgroup.controllers'), 'utf8').trim().split(/\s+/).filter(Boolean) : []);
const has = (c: string) => offered.has(c);
const branch = (c: string) => (has(c) ? `the delegated base offers "${c}"` : `the delegated base does not offer "${c}"`);

let store: Store;
const { lodger, lodgerOk } = cliFor(() => store);

beforeAll(async () => {
  if (ready) store = await busyboxStore('lodger-cgc-');
});
afterEach(() => killLodgers());
afterAll(() => dropStore(store));

const cgDir = (id: string) => path.join(base!, `lodger-${id}`);
const procsOf = (dir: string) => fs.readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
const eventsOf = (dir: string) => fs.readFileSync(path.join(dir, 'cgroup.events'), 'utf8');
const cpuUsec = (dir: string) => Number(/^usage_usec (\d+)$/m.exec(fs.readFileSync(path.join(dir, 'cpu.stat'), 'utf8'))![1]);

async function detached(name: string, script: string, args: string[] = []): Promise<string> {
  return (await lodgerOk(['run', '-d', '--name', name, ...args, 'busybox', 'sh', '-c', script])).stdout.trim();
}

function expectRefused(r: LodgerResult, controller: string): void {
  expect(r.code, r.stdout + r.stderr).toBe(125);
  expect(r.stderr).toContain(`"${controller}"`);
  expect(r.stderr).toMatch(/controller/);
}

describe.skipIf(!ready)('a container\'s own cgroup', () => {
  it('lands in lodger-<id> under the delegated base; its monitor stays outside', async () => {
    const id = await detached('own', 'sleep 600 & sleep 600');
    const dir = cgDir(id);
    const { Pid } = await inspectState(lodgerOk, 'own');
    expect(cgroupOf(Pid)).toBe(`/${path.relative(cgroup2Mount()!, dir)}`);
    expect(fs.statSync(dir).isDirectory()).toBe(true);
    await waitUntil(() => procsOf(dir).length === 2, 'both processes in the container\'s cgroup');
    expect(procsOf(dir)).toContain(Pid);
    const monitor = procStat(Pid)!.ppid;
    expect(procsOf(dir)).not.toContain(monitor);
    expect(cgroupOf(monitor)).toBe(cgroupOf(process.pid));
    // exec'd processes join it too; inside, its own cgroup namespace shows that cgroup as the root.
    await lodgerOk(['exec', '-d', 'own', 'sleep', '601']);
    await waitUntil(() => procsOf(dir).length === 3, 'the exec\'d process in the container\'s cgroup');
    expect((await lodgerOk(['exec', 'own', 'cat', '/proc/self/cgroup'])).stdout).toMatch(/^0::\/$/m);
    await lodgerOk(['rm', '-f', 'own']);
    expect(fs.existsSync(dir)).toBe(false);
  });

  it('cannot write its own or its parent\'s control files from inside (CVE-2023-25809 class)', async () => {
    const id = await detached('cve', 'sleep 600');
    const dir = cgDir(id);
    const parentProcs = fs.readFileSync(path.join(base!, 'cgroup.procs'), 'utf8');
    const parentFreeze = fs.readFileSync(path.join(base!, 'cgroup.freeze'), 'utf8');
    // Inside: /sys/fs/cgroup is the container's own cgroup (its cgroup namespace's root), read-only;
    // nothing above it is reachable — ".." of the mount is /sys/fs, not the parent cgroup.
    const r = await lodger(['exec', 'cve', 'sh', '-c',
      'echo $$ > /sys/fs/cgroup/cgroup.procs && echo wrote-procs; echo 1 > /sys/fs/cgroup/cgroup.freeze && echo wrote-freeze; ' +
      'echo 1 > /sys/fs/cgroup/cgroup.kill && echo wrote-kill; ls /sys/fs/cgroup/.. ; cat /proc/self/cgroup']);
    expect(r.stdout).not.toMatch(/wrote-/);
    expect(r.stderr).toMatch(/Read-only file system/);
    expect(r.stdout).toMatch(/^cgroup$/m);
    expect(r.stdout).toMatch(/^0::\/$/m);
    expect(fs.readFileSync(path.join(base!, 'cgroup.procs'), 'utf8')).toBe(parentProcs);
    expect(fs.readFileSync(path.join(base!, 'cgroup.freeze'), 'utf8')).toBe(parentFreeze);
    expect(eventsOf(dir)).toMatch(/frozen 0/);
    expect((await inspectState(lodgerOk, 'cve')).Running).toBe(true);
    await lodgerOk(['rm', '-f', 'cve']);
  });

  it('a foreground container\'s CLI and helper stay outside it, and the cgroup goes with the container', async () => {
    const cli = spawnLodger(['run', '--rm', '-i', '--name', 'fg', 'busybox', 'sh', '-c', 'echo ready; read _'], { store });
    await waitForOutput(cli, 'ready', { stream: 'stdout' });
    const id = (await lodgerOk(['inspect', '-f', '{{.Id}}', 'fg'])).stdout.trim();
    const { Pid } = await inspectState(lodgerOk, 'fg');
    const dir = cgDir(id);
    expect(procsOf(dir)).toEqual([Pid]);
    expect(cgroupOf(cli.pid!)).toBe(cgroupOf(process.pid));
    expect(cgroupOf(procStat(Pid)!.ppid)).toBe(cgroupOf(process.pid));
    cli.stdin!.end('\n');
    expect((await waitForExit(cli, 10_000)).code).toBe(0);
    expect(fs.existsSync(dir)).toBe(false);
  });
});

describe.skipIf(!ready)('pause, unpause, stats, rm -f', () => {
  let id = '';
  let dir = '';
  beforeAll(async () => {
    id = await detached('busy', 'sleep 600 & while :; do :; done');
    dir = cgDir(id);
  });
  afterAll(async () => {
    if (id) await lodger(['rm', '-f', 'busy']);
  });

  it('stats --no-stream and --format json show the busy loop\'s CPU (> 50%) from cpu.stat and its pids', async () => {
    const json = (await lodgerOk(['stats', '--no-stream', '--format', 'json', 'busy'])).stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(json).toHaveLength(1);
    expect(json[0]).toMatchObject({ ID: id.slice(0, 12), Name: 'busy', PIDs: '2', pids: 2 });
    expect(json[0].cpuPercent as number).toBeGreaterThan(50);
    expect(json[0].cpuPercent as number).toBeLessThan(110);  // one busy thread: at most one CPU
    const table = (await lodgerOk(['stats', '--no-stream', 'busy'])).stdout.split('\n');
    expect(table[0].split(/\s{2,}/)).toEqual(['CONTAINER ID', 'NAME', 'CPU %', 'MEM USAGE / LIMIT', 'MEM %', 'NET I/O', 'BLOCK I/O', 'PIDS']);
    const row = table[1].split(/\s{2,}/);
    expect(row.slice(0, 2)).toEqual([id.slice(0, 12), 'busy']);
    expect(parseFloat(row[2])).toBeGreaterThan(50);
    expect(row[row.length - 1]).toBe('2');
  });

  it('pause freezes the cgroup (frozen 1, cpu.stat stops), ps and inspect say paused; unpause thaws it', async () => {
    expect((await lodgerOk(['pause', 'busy'])).stdout).toBe('busy\n');
    expect(eventsOf(dir)).toMatch(/^frozen 1$/m);
    const u0 = cpuUsec(dir);
    await sleep(400);
    expect(cpuUsec(dir) - u0).toBeLessThan(10_000);  // a running busy loop would add ~400 000 µs
    expect((await lodgerOk(['ps', '--filter', 'name=^busy$', '--format', '{{.Status}}'])).stdout).toMatch(/^Up .* \(Paused\)\n$/);
    expect((await lodgerOk(['inspect', '-f', '{{.State.Status}} {{.State.Paused}} {{.State.Running}}', 'busy'])).stdout).toBe('paused true true\n');
    const ex = await lodger(['exec', 'busy', 'true']);
    expect(ex.code).not.toBe(0);
    expect(ex.stderr).toMatch(/paused/);

    expect((await lodgerOk(['unpause', 'busy'])).stdout).toBe('busy\n');
    expect(eventsOf(dir)).toMatch(/^frozen 0$/m);
    const u1 = cpuUsec(dir);
    await sleep(400);
    expect(cpuUsec(dir) - u1).toBeGreaterThan(100_000);
    expect((await lodgerOk(['ps', '--filter', 'name=^busy$', '--format', '{{.Status}}'])).stdout).toMatch(/^Up [^(]*\n$/);
    expect((await lodgerOk(['inspect', '-f', '{{.State.Status}} {{.State.Paused}}', 'busy'])).stdout).toBe('running false\n');
  });

  it('rm -f kills every process of the container (cgroup.kill) and leaves no cgroup directory', async () => {
    await lodgerOk(['exec', '-d', 'busy', 'sleep', '600']);
    await waitUntil(() => procsOf(dir).length === 3, 'three processes in the container\'s cgroup');
    const pids = procsOf(dir);
    expect((await lodgerOk(['rm', '-f', 'busy'])).stdout).toBe('busy\n');
    id = '';
    expect(fs.existsSync(dir)).toBe(false);
    await waitUntil(() => pids.every((p) => !alive(p)), 'every process of the container to be gone', 5_000);
    expect((await lodger(['inspect', 'busy'])).code).not.toBe(0);
  });
});

describe.skipIf(!ready)('limits', () => {
  // --- memory
  if (has('memory')) {
    it(`--memory 64m is enforced (${branch('memory')}): a memory hog is OOM-killed, exit 137, OOMKilled true`, async () => {
      const hog = 'a=$(head -c 268435456 /dev/zero | tr "\\0" x); echo survived ${#a}';
      const r = await lodger(['run', '--name', 'hog', '--memory', '64m', 'busybox', 'sh', '-c', hog]);
      expect(r.code, r.stdout + r.stderr).toBe(137);
      expect(r.stdout).not.toContain('survived');
      expect((await lodgerOk(['inspect', '-f', '{{.State.OOMKilled}}', 'hog'])).stdout).toBe('true\n');
      const ok = await lodgerOk(['run', '--rm', '--memory', '64m', 'busybox', 'sh', '-c', 'head -c 8388608 /dev/zero | wc -c']);
      expect(ok.stdout.trim()).toBe('8388608');
    });
  } else {
    it(`--memory 64m is refused with 125 naming "memory" (${branch('memory')})`, async () => {
      const r = await lodger(['run', '--rm', '--name', 'memref', '--memory', '64m', 'busybox', 'true']);
      expectRefused(r, 'memory');
      expect(r.stderr).toMatch(/--memory/);
      expect((await lodgerOk(['ps', '-a', '--format', '{{.Names}}'])).stdout).not.toContain('memref');
    });
  }

  // --- pids
  if (has('pids')) {
    it(`--pids-limit 20 is enforced (${branch('pids')}): a fork bomb is stopped by pids.max`, async () => {
      // A bounded bomb (2^7 shells): harmless on a host that did not enforce the limit, and far past 20.
      const bomb = 'b(){ if [ $1 -lt 6 ]; then b $(($1+1)) & b $(($1+1)) & fi; sleep 3; }; b 0 & ' +
        'i=0; while [ $i -lt 30000 ]; do i=$((i+1)); done; set -- /proc/[0-9]*; echo procs=$#';
      const r = await lodger(['run', '--rm', '--pids-limit', '20', 'busybox', 'sh', '-c', bomb]);
      const procs = Number(/procs=(\d+)/.exec(r.stdout)?.[1] ?? NaN);
      expect(procs, r.stdout + r.stderr).toBeLessThanOrEqual(20);
      expect(procs).toBeGreaterThanOrEqual(10);
      expect(r.stderr).toMatch(/fork/i);
    });
  } else {
    it(`--pids-limit 20 is refused with 125 naming "pids" (${branch('pids')})`, async () => {
      const r = await lodger(['run', '--rm', '--pids-limit', '20', 'busybox', 'true']);
      expectRefused(r, 'pids');
      expect(r.stderr).toMatch(/--pids-limit/);
    });
  }

  // --- cpu
  if (has('cpu')) {
    it(`--cpus 0.5 is enforced (${branch('cpu')}): cpu.max 50000 100000, a busy loop gets about half a CPU`, async () => {
      const id = await detached('half', 'while :; do :; done', ['--cpus', '0.5']);
      expect(fs.readFileSync(path.join(cgDir(id), 'cpu.max'), 'utf8').trim()).toBe('50000 100000');
      await sleep(300);
      const u0 = cpuUsec(cgDir(id));
      await sleep(1_000);
      const used = cpuUsec(cgDir(id)) - u0;
      expect(used).toBeLessThan(650_000);
      expect(used).toBeGreaterThan(200_000);
      await lodgerOk(['rm', '-f', 'half']);
    });
  } else {
    it(`--cpus 0.5 is refused with 125 naming "cpu" (${branch('cpu')})`, async () => {
      const r = await lodger(['run', '--rm', '--cpus', '0.5', 'busybox', 'true']);
      expectRefused(r, 'cpu');
      expect(r.stderr).toMatch(/--cpus/);
    });
  }

  it('a container that asks for no limit runs on this host', async () => {
    const r = await lodgerOk(['run', '--rm', 'busybox', 'echo', 'no limits, no problem']);
    expect(r.stdout).toBe('no limits, no problem\n');
  });
});

describe.skipIf(!ready)('--cgroups=disabled', () => {
  it('runs the container in the caller\'s cgroup, makes none, and refuses what needs one', async () => {
    const id = await detached('nocg', 'sleep 600', ['--cgroups=disabled']);
    const { Pid } = await inspectState(lodgerOk, 'nocg');
    expect(cgroupOf(Pid)).toBe(cgroupOf(process.pid));
    expect(fs.existsSync(cgDir(id))).toBe(false);
    const p = await lodger(['pause', 'nocg']);
    expect(p.code).toBe(125);
    expect(p.stderr).toMatch(/no cgroup/);
    const lim = await lodger(['run', '--rm', '--cgroups=disabled', '--pids-limit', '20', 'busybox', 'true']);
    expect(lim.code).toBe(125);
    expect(lim.stderr).toMatch(/cgroups=disabled/);
    await lodgerOk(['rm', '-f', 'nocg']);
  });
});

describe.skipIf(!ready)('no delegation: lodger started from a cgroup the user cannot write', () => {
  // As on a login node whose session cgroup belongs to root: a child of the delegated base that we make
  // read-only after moving the lodger process into it (cgroup.procs not writable: not delegated to us).
  const dir = base ? path.join(base, `t-nodeleg-${process.pid}`) : '';
  beforeAll(() => {
    if (ready) fs.mkdirSync(dir);
  });
  afterAll(async () => {
    if (!ready || !fs.existsSync(dir)) return;
    await lodger(['rm', '-f', 'undeleg']);  // left running by a failed test
    fs.chmodSync(path.join(dir, 'cgroup.procs'), 0o644);
    await waitUntil(() => procsOf(dir).length === 0, `${dir} to empty`, 10_000).catch(() => undefined);
    fs.rmdirSync(dir);
  });

  /** `lodger ARGS` started inside DIR, whose cgroup.procs is made read-only before lodger runs. */
  function lodgerInside(args: string[]): Promise<LodgerResult> {
    const { cmd, args: pre } = lodgerCommand();
    const script = 'chmod u+w "$CG/cgroup.procs" && echo $$ > "$CG/cgroup.procs" && chmod a-w "$CG/cgroup.procs" && exec "$@"';
    return runCommand('sh', ['-c', script, 'sh', cmd, ...pre, ...args], { env: { ...lodgerEnv({ store }), CG: dir }, timeoutMs: 50_000, processGroup: true });
  }

  it('a container without limits still runs, in the caller\'s cgroup; one with limits is refused saying why', async () => {
    const r = await lodgerInside(['run', '--rm', 'busybox', 'echo', 'hello']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('hello\n');
    const d = await lodgerInside(['run', '-d', '--name', 'undeleg', 'busybox', 'sleep', '600']);
    expect(d.code, d.stderr).toBe(0);
    const id = d.stdout.trim();
    const { Pid, Running } = await inspectState(lodgerOk, 'undeleg');
    expect(Running).toBe(true);
    expect(cgroupOf(Pid)).toBe(`/${path.relative(cgroup2Mount()!, dir)}`);
    expect(fs.existsSync(cgDir(id))).toBe(false);
    const lim = await lodgerInside(['run', '--rm', '--memory', '64m', 'busybox', 'true']);
    expect(lim.code).toBe(125);
    expect(lim.stderr).toMatch(/--memory/);
    expect(lim.stderr).toContain('"memory"');
    await lodgerOk(['rm', '-f', 'undeleg']);
  });
});
