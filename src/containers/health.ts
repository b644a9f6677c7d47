// The health checker of a container: `lodger __healthcheck ROOT ID` probes it by exec and keeps Docker's state in health.json.
//
// Who runs the probes: lodger has no daemon, and a detached container's monitor is the C helper, which
// should stay small and single-threaded. A probe is an exec into the container — the code for that is
// TypeScript (exec.ts execPlan). So each container with a health check gets a small detached lodger
// process, `lodger __healthcheck ROOT ID`, started with the container (run, start) and ending as soon
// as the container is no longer running (or was restarted, which starts a checker of its own). Its
// cost — one Node process per checked container, asleep between probes — is paid only by containers
// that ask for health checks; the CLI's own life (a foreground `run`) is not tied to it either.
import * as fs from 'node:fs';
import { DEFAULTS, healthEnabled, type HealthConfig } from './healthConfig';
import { writeJsonAtomic } from '../storage/atomic';
import { containerDir, liveState, readContainer, readState, type ContainerRecord } from '../storage/containers';
import type { StorePaths } from '../storage/paths';
import { healthFile, readHealth, type HealthLogEntry, type HealthState } from './healthState';

export { healthConfig, healthEnabled, parseDuration, type HealthConfig, type HealthFlags } from './healthConfig';

/** Docker keeps the last five results and 4 KiB of each probe's output. */
const LOG_ENTRIES = 5;
const OUTPUT_MAX = 4096;

/** The probe's argv: CMD runs as it is, CMD-SHELL through the image's /bin/sh -c (Dockerfile HEALTHCHECK). */
function probeArgv(test: string[]): string[] {
  if (test[0] === 'CMD') return test.slice(1);
  if (test[0] === 'CMD-SHELL') return ['/bin/sh', '-c', test.slice(1).join(' ')];
  return test;
}

/** One probe: an exec of the test command with a time limit; exit 0 is healthy, anything else not. */
async function probe(p: StorePaths, rec: ContainerRecord, timeoutNs: number): Promise<HealthLogEntry> {
  const { execPlan } = await import('./exec');
  const { spawnHelper } = await import('../helper/helperProcess');
  const start = new Date().toISOString();
  const st = liveState(readState(p, rec.Id));
  const plan = execPlan(p, rec, st, { command: probeArgv(rec.Config.Healthcheck!.Test), interactive: false, tty: false, env: [], envFile: [], privileged: false });
  const h = spawnHelper('exec', plan, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const take = (d: Buffer) => { if (out.length < OUTPUT_MAX) out += d.toString('utf8'); };
  h.child.stdout!.on('data', take);
  h.child.stderr!.on('data', take);
  let timedOut = false;
  const timer = setTimeout(() => { timedOut = true; h.child.kill('SIGKILL'); }, timeoutNs / 1e6);
  const { code } = await h.exited.catch(() => ({ code: -1 }));
  clearTimeout(timer);
  const end = new Date().toISOString();
  if (timedOut) return { Start: start, End: end, ExitCode: -1, Output: `Health check exceeded timeout (${timeoutNs / 1e9}s)` };
  if (h.events.errors.length) {
    const { helperFailureToError } = await import('../helper/helperErrors');
    return { Start: start, End: end, ExitCode: code === 126 || code === 127 ? code : -1, Output: helperFailureToError(h.events.errors[0], { what: 'health check' }).message };
  }
  return { Start: start, End: end, ExitCode: code, Output: out.slice(0, OUTPUT_MAX) };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * `lodger __healthcheck ROOT ID`: probes every Interval (StartInterval during the start period) while
 * the container that was started runs. Docker's rules: a success makes it healthy; Retries failures
 * in a row make it unhealthy, but failures during the start period do not count.
 */
export async function healthCheckerMain(p: StorePaths, id: string): Promise<void> {
  const rec = readContainer(p, id);
  if (!rec || !healthEnabled(rec.Config.Healthcheck)) return;
  const hc = { ...DEFAULTS, ...Object.fromEntries(Object.entries(rec.Config.Healthcheck).filter(([, v]) => v !== 0 && v !== undefined)) } as Required<HealthConfig>;
  // The run of the container we watch: a restart (a new pid) gets a checker of its own.
  let pid = 0;
  for (let i = 0; i < 200 && !pid; i++) {
    const st = liveState(readState(p, id));
    if (st.Running) pid = st.Pid;
    else await sleep(50);
  }
  if (!pid) return;
  const began = Date.now();
  let health: HealthState = readHealth(p, id) ?? { Status: 'starting', FailingStreak: 0, Log: [] };
  for (;;) {
    const inStart = Date.now() - began < hc.StartPeriod / 1e6;
    await sleep((inStart && health.Status === 'starting' ? Math.min(hc.StartInterval, hc.Interval) : hc.Interval) / 1e6);
    const st = liveState(readState(p, id));
    if (!st.Running || st.Pid !== pid || !fs.existsSync(containerDir(p, id))) return;
    const r = await probe(p, rec, hc.Timeout);
    const counts = !(Date.now() - began < hc.StartPeriod / 1e6);
    if (r.ExitCode === 0) health = { ...health, Status: 'healthy', FailingStreak: 0 };
    else if (counts || health.Status !== 'starting') {
      const streak = health.FailingStreak + 1;
      health = { ...health, FailingStreak: streak, Status: streak >= hc.Retries ? 'unhealthy' : health.Status };
    }
    health.Log = [...health.Log, r].slice(-LOG_ENTRIES);
    const now = liveState(readState(p, id));
    if (!now.Running || now.Pid !== pid) return;
    try { writeJsonAtomic(healthFile(p, id), health); } catch { return; }  // removed meanwhile
  }
}
