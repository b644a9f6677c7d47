// Issue 8 point 6, lodger under a real single-node Slurm (started as root by scripts/slurm-setup.sh, which CI runs):
// `srun lodger run` as an unprivileged user, job signals reaching the container, and a cancelled job leaving nothing behind —
// processes (the container's, squashfuse, fuse-overlayfs, pasta/slirp4netns), records, mounts, runtime state, cgroups —
// also for a job step without XDG_RUNTIME_DIR (the batch fallback, $TMPDIR/lodger-run-<uid>).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { lodgerCommand, lodgerEnv, removeTree, requirePrereq, runLodgerOk, type Store } from '../helpers/cli';
import { runCommand } from '../helpers/exec';
import { busyboxFixture, busyboxStore, haveSubids, hostMountsMentioning, marker, ourProcesses, waitUntil } from './foundation-common';

/** Whether Slurm answers here and its node takes jobs (scripts/slurm-setup.sh leaves it idle). */
function slurmUsable(): string | null {
  const r = spawnSync('sinfo', ['-h', '-o', '%T'], { encoding: 'utf8', timeout: 20_000 });
  if (r.error) return `sinfo cannot be run (${(r.error as NodeJS.ErrnoException).code}): Debian slurm-wlm is not installed`;
  if (r.status !== 0) return `sinfo failed (${r.status}): ${(r.stderr ?? '').trim()}`;
  const states = r.stdout.trim().split('\n').filter(Boolean);
  return states.some((s) => /^(idle|mixed|allocated)/.test(s)) ? null : `no Slurm node takes jobs (states: ${states.join(', ') || 'none'})`;
}

const slurmProblem = slurmUsable();
const ok = haveSubids() && busyboxFixture() !== null
  && requirePrereq(slurmProblem === null, `a running single-node Slurm — ${slurmProblem}; start it as root with \`sudo bash scripts/slurm-setup.sh\` (.ci/run does)`)
  && requirePrereq(spawnSync('mksquashfs', ['-version']).status === 0, 'mksquashfs (Debian squashfs-tools)');

let store: Store;
let work: string;
let sqfs: string;
const jobs: ChildProcess[] = [];

beforeAll(async () => {
  if (!ok) return;
  store = await busyboxStore();
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'lodger-hpc-slurm-'));
  sqfs = path.join(work, 'busybox.sqfs');
  await runLodgerOk(['save', '--format', 'squashfs', '-o', sqfs, 'busybox'], { store });
});

afterEach(async () => {
  for (const j of jobs.splice(0)) if (j.exitCode === null && j.signalCode === null) j.kill('SIGKILL');
});

afterAll(async () => {
  if (store) await store.cleanup();
  if (work) await removeTree(work);
});

/** `srun -J NAME -N1 -n1 lodger ARGS…` with the test store's environment (srun passes it on: --export=ALL). */
function srunArgs(name: string, args: string[]): string[] {
  const { cmd, args: pre } = lodgerCommand();
  return ['--job-name', name, '-N1', '-n1', '--unbuffered', cmd, ...pre, ...args];
}

interface SrunOptions {
  /** Extra environment for the job (srun passes its own on); a key set to undefined is removed. */
  env?: Record<string, string | undefined>;
  /** The step runs `env -u XDG_RUNTIME_DIR lodger …`, as a batch job without a user session does. */
  noRuntimeDir?: boolean;
}

/** A running srun: the container's output (stdout) apart from srun's own messages (stderr). */
function srun(name: string, args: string[], o: SrunOptions = {}): { child: ChildProcess; out: () => string; err: () => string; exited: Promise<number> } {
  let argv = srunArgs(name, args);
  if (o.noRuntimeDir) {
    const at = argv.indexOf('--unbuffered') + 1;
    argv = [...argv.slice(0, at), 'env', '-u', 'XDG_RUNTIME_DIR', ...argv.slice(at)];
  }
  const env = lodgerEnv({ store, env: { ...o.env, ...(o.noRuntimeDir ? { XDG_RUNTIME_DIR: undefined } : {}) } });
  const child = spawn('srun', argv, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  jobs.push(child);
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d; });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { err += d; });
  const exited = new Promise<number>((res) => child.once('close', (code, sig) => res(code ?? 128 + (sig ? os.constants.signals[sig] : 0))));
  return { child, out: () => out, err: () => err, exited };
}

async function jobId(name: string): Promise<string> {
  return waitUntil(`job ${name} in squeue`, async () => (await runCommand('squeue', ['-h', '-n', name, '-o', '%i'])).stdout.trim(), 20_000);
}

/** The cgroup2 mount point (field 5 of its mountinfo line): /sys/fs/cgroup, or /sys/fs/cgroup/unified on a hybrid host. */
function cgroup2Mount(): string {
  const line = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').find((l) => l.includes(' - cgroup2 '));
  if (!line) throw new Error('no cgroup2 mount in /proc/self/mountinfo');
  return line.split(' ')[4];
}

/** Directories of the cgroup2 tree (to depth 6) whose name contains ID: lodger names a container's cgroup after it. */
function cgroupsNamed(id: string): string[] {
  const out: string[] = [];
  const walk = (dir: string, depth: number) => {
    let names: fs.Dirent[];
    try { names = fs.readdirSync(dir, { withFileTypes: true }); } catch { return; }
    for (const d of names) {
      if (!d.isDirectory()) continue;
      if (d.name.includes(id)) out.push(path.join(dir, d.name));
      if (depth > 0) walk(path.join(dir, d.name), depth - 1);
    }
  };
  walk(cgroup2Mount(), 6);
  return out;
}

/** The running container of a job step: its id, and the cgroup its init is in (host view, /proc/PID/cgroup "0::"). */
async function runningContainer(runtimeEnv: Record<string, string | undefined> = {}): Promise<{ id: string; cgroup: string }> {
  const id = await waitUntil('the container in `lodger ps`', async () => (await runLodgerOk(['ps', '-q', '--no-trunc'], { store, env: runtimeEnv })).stdout.trim(), 20_000);
  const [c] = JSON.parse((await runLodgerOk(['inspect', id], { store, env: runtimeEnv })).stdout) as Array<{ State: { Pid: number } }>;
  const line = fs.readFileSync(`/proc/${c.State.Pid}/cgroup`, 'utf8').split('\n').find((l) => l.startsWith('0::'));
  return { id, cgroup: path.join(cgroup2Mount(), line!.slice(3)) };
}

interface Leftovers { processes: string[]; network: string[]; containers: string[]; mounts: string[]; runtime: string[]; cgroups: string[] }

/**
 * Everything a container run leaves behind, as seen from the host: processes naming MARK; the network backends
 * (pasta, slirp4netns: their arguments name the container's runtime directory, under RUNTIMEDIR — lodger's runtime
 * directory, $XDG_RUNTIME_DIR/lodger or the fallback); store records; mounts; the containers' runtime directories
 * (RUNTIMEDIR/c/<short id>); and, when CONTAINER is given, its
 * cgroup — a directory named after its id, or the one its init was in if that was its own.
 */
async function leftovers(mark: string, runtimeDir = path.join(store.runtimeDir, 'lodger'), container?: { id: string; cgroup: string; jobCgroup: string }): Promise<Leftovers> {
  const processes = (await ourProcesses(mark)).filter((l) => !/ (srun|squeue|scancel) /.test(l));
  const network = (await ourProcesses(runtimeDir)).filter((l) => /^\d+ (\S*\/)?(pasta|passt|slirp4netns) /.test(l));
  const containers = fs.readdirSync(path.join(store.root, 'containers')).filter((n) => !n.startsWith('.lock'));
  let runtime: string[] = [];
  try { runtime = fs.readdirSync(path.join(runtimeDir, 'c')); } catch { /* never made, or removed */ }
  const cgroups = container ? cgroupsNamed(container.id) : [];
  if (container && container.cgroup !== container.jobCgroup && fs.existsSync(container.cgroup)) cgroups.push(container.cgroup);
  return { processes, network, containers, mounts: hostMountsMentioning(store.root), runtime, cgroups };
}

const NOTHING: Leftovers = { processes: [], network: [], containers: [], mounts: [], runtime: [], cgroups: [] };

/** The cgroup (host view) of the job step's own lodger process: a container cgroup is one apart from it. */
async function jobCgroup(mark: string): Promise<string> {
  const cli = (await ourProcesses(mark, ' run --rm ')).find((l) => !/^\d+ (sh|\S*\/srun|srun) /.test(l));
  const pid = Number(cli?.split(' ')[0]);
  const line = fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').find((l) => l.startsWith('0::'));
  return path.join(cgroup2Mount(), line!.slice(3));
}

describe.skipIf(!ok)('lodger under Slurm', () => {
  it('srun runs a container as the submitting user inside the job; its exit status is the step\'s', async () => {
    const name = marker('srun');
    const j = srun(name, ['run', '--rm', '-e', 'SLURM_JOB_ID', '-e', 'SLURM_STEP_ID', 'busybox', 'sh', '-c', 'echo "job=$SLURM_JOB_ID step=$SLURM_STEP_ID"; cat /proc/self/uid_map; id -u; exit 3']);
    const code = await j.exited;
    expect(code, j.out() + j.err()).toBe(3);
    // Root inside is the submitting user (uid_map line "0 UID 1"), its other ids the user's subordinate range.
    expect(j.out()).toMatch(new RegExp(`^job=\\d+ step=0\n\\s+0\\s+${process.getuid!()}\\s+1\n\\s+1\\s+\\d+\\s+\\d+\n0\n$`));
    expect(j.err()).toMatch(/task 0: Exited with exit code 3/);
    expect(await leftovers(name)).toEqual(NOTHING);
  });

  it('scancel --signal reaches the container; scancel ends it, and the container is removed', async () => {
    const name = marker('signals');
    const script = `trap 'echo got-USR1' USR1; trap 'echo got-TERM; exit 7' TERM; echo ready; while :; do sleep 0.1; done`;
    const j = srun(name, ['run', '--rm', 'busybox', 'sh', '-c', script, name]);
    await waitUntil('the container to be ready', () => j.out().includes('ready'), 30_000);
    const id = await jobId(name);
    await runCommand('scancel', ['--signal', 'USR1', id]);
    await waitUntil('USR1 in the container', () => j.out().includes('got-USR1'), 10_000);
    await runCommand('scancel', [id]);
    const code = await j.exited;
    expect(j.out()).toMatch(/got-TERM/);
    expect(j.err()).toMatch(/task 0: Exited with exit code 7/);
    expect(code).not.toBe(0);
    await waitUntil('the job to leave the queue', async () => (await runCommand('squeue', ['-h', '-j', id])).stdout.trim() === '', 20_000);
    expect(await leftovers(name)).toEqual(NOTHING);
  });

  it('cancelling a job whose container ignores SIGTERM (PID 1 without a handler) leaves nothing behind, squashfuse included', async () => {
    const name = marker('cancel');
    const j = srun(name, ['run', '--rm', sqfs, 'sh', '-c', `echo started; exec sleep 600`, name]);
    await waitUntil('the container to start', () => j.out().includes('started'), 30_000);
    await waitUntil('squashfuse_ll serving the image', async () => (await ourProcesses(store.root)).some((l) => / squashfuse_ll /.test(l)), 10_000);
    const container = { ...(await runningContainer()), jobCgroup: await jobCgroup(name) };
    // What the checks below look for was there while the job ran: its network backend and runtime directory.
    expect((await leftovers(name)).network).toHaveLength(1);
    expect((await leftovers(name)).runtime).toEqual([container.id.slice(0, 12)]);
    const id = await jobId(name);
    await runCommand('scancel', [id]);
    await j.exited;
    // lodger kills the container 10 s after SIGTERM and exits with its status (128 + SIGKILL), before Slurm's own
    // SIGKILL (KillWait, 30 s) — which would end lodger itself mid-cleanup, and srun would report the task "Killed".
    expect(j.err()).toMatch(/task 0: Exited with exit code 137/);
    await waitUntil('the job to leave the queue', async () => (await runCommand('squeue', ['-h', '-j', id])).stdout.trim() === '', 20_000);
    expect(await leftovers(name, undefined, container)).toEqual(NOTHING);
    expect((await ourProcesses(store.root)).filter((l) => / (squashfuse_ll|fuse-overlayfs) /.test(l))).toEqual([]);
  }, 90_000);

  it('a job step without XDG_RUNTIME_DIR keeps runtime state in a private $TMPDIR/lodger-run-<uid>, and a cancel leaves nothing there', async () => {
    const name = marker('nortdir');
    // Sites often give each job its own TMPDIR; it also keeps this test's fallback directory apart from others'.
    const tmp = fs.mkdtempSync(path.join(work, 'jobtmp-'));
    const runtimeDir = path.join(tmp, `lodger-run-${process.getuid!()}`);
    const env = { TMPDIR: tmp, XDG_RUNTIME_DIR: undefined };
    const j = srun(name, ['run', '--rm', 'busybox', 'sh', '-c', `trap 'echo got-TERM; exit 7' TERM; echo ready; while :; do sleep 0.1; done`, name],
      { env: { TMPDIR: tmp }, noRuntimeDir: true });
    await waitUntil('the container to be ready', () => j.out().includes('ready'), 30_000);
    const container = { ...(await runningContainer(env)), jobCgroup: await jobCgroup(name) };
    // The fallback was taken: a private directory (0700, ours) holding the container's runtime state and its network.
    const st = fs.statSync(runtimeDir);
    expect([st.uid, st.mode & 0o777]).toEqual([process.getuid!(), 0o700]);
    expect((await leftovers(name, runtimeDir)).runtime).toEqual([container.id.slice(0, 12)]);
    expect((await leftovers(name, runtimeDir)).network).toHaveLength(1);
    const id = await jobId(name);
    await runCommand('scancel', [id]);
    expect(await j.exited).not.toBe(0);
    expect(j.out()).toBe('ready\ngot-TERM\n');
    expect(j.err()).toMatch(/task 0: Exited with exit code 7/);
    await waitUntil('the job to leave the queue', async () => (await runCommand('squeue', ['-h', '-j', id])).stdout.trim() === '', 20_000);
    expect(await leftovers(name, runtimeDir, container)).toEqual(NOTHING);
  }, 90_000);
});
