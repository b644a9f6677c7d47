// Issue 8 point 6, lodger under a real single-node Slurm (started as root by scripts/slurm-setup.sh, which CI runs):
// `srun lodger run` as an unprivileged user, job signals reaching the container, and a cancelled job leaving nothing behind.
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

/** A running srun: the container's output (stdout) apart from srun's own messages (stderr). */
function srun(name: string, args: string[]): { child: ChildProcess; out: () => string; err: () => string; exited: Promise<number> } {
  const child = spawn('srun', srunArgs(name, args), { env: lodgerEnv({ store }), stdio: ['ignore', 'pipe', 'pipe'] });
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

/** Everything a container run leaves behind, as seen from the host: processes naming MARK, store records, mounts. */
async function leftovers(mark: string): Promise<{ processes: string[]; containers: string[]; mounts: string[] }> {
  const processes = (await ourProcesses(mark)).filter((l) => !/ (srun|squeue|scancel) /.test(l));
  const containers = fs.readdirSync(path.join(store.root, 'containers')).filter((n) => !n.startsWith('.lock'));
  return { processes, containers, mounts: hostMountsMentioning(store.root) };
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
    expect(await leftovers(name)).toEqual({ processes: [], containers: [], mounts: [] });
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
    expect(await leftovers(name)).toEqual({ processes: [], containers: [], mounts: [] });
  });

  it('cancelling a job whose container ignores SIGTERM (PID 1 without a handler) leaves nothing behind, squashfuse included', async () => {
    const name = marker('cancel');
    const j = srun(name, ['run', '--rm', sqfs, 'sh', '-c', `echo started; exec sleep 600`, name]);
    await waitUntil('the container to start', () => j.out().includes('started'), 30_000);
    await waitUntil('squashfuse_ll serving the image', async () => (await ourProcesses(store.root)).some((l) => / squashfuse_ll /.test(l)), 10_000);
    const id = await jobId(name);
    const t0 = Date.now();
    await runCommand('scancel', [id]);
    await j.exited;
    // lodger kills the container 10 s after SIGTERM, before Slurm's own SIGKILL (KillWait, 30 s) would stop its cleanup.
    expect(Date.now() - t0).toBeLessThan(25_000);
    await waitUntil('the job to leave the queue', async () => (await runCommand('squeue', ['-h', '-j', id])).stdout.trim() === '', 20_000);
    expect(await leftovers(name)).toEqual({ processes: [], containers: [], mounts: [] });
    expect((await ourProcesses(store.root)).filter((l) => / (squashfuse_ll|fuse-overlayfs) /.test(l))).toEqual([]);
  }, 90_000);
});
