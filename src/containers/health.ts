// Health checks (--health-*, the image's HEALTHCHECK): the config as Docker records it, the state kept in health.json, and the checker that runs the probes.
//
// Who runs the probes: lodger has no daemon, and a detached container's monitor is the C helper, which
// should stay small and single-threaded. A probe is an exec into the container — the code for that is
// TypeScript (exec.ts execPlan). So each container with a health check gets a small detached lodger
// process, `lodger __healthcheck ROOT ID`, started with the container (run, start) and ending as soon
// as the container is no longer running (or was restarted, which starts a checker of its own). Its
// cost — one Node process per checked container, asleep between probes — is paid only by containers
// that ask for health checks; the CLI's own life (a foreground `run`) is not tied to it either.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LodgerError } from '../errors';
import { readJson, writeJsonAtomic } from '../storage/atomic';
import { containerDir, liveState, readContainer, readState, type ContainerRecord } from '../storage/containers';
import type { StorePaths } from '../storage/paths';

/** Docker's Config.Healthcheck: durations in nanoseconds, 0 meaning the default. Test ["NONE"] turns it off. */
export interface HealthConfig { Test: string[]; Interval?: number; Timeout?: number; StartPeriod?: number; StartInterval?: number; Retries?: number }

export interface HealthLogEntry { Start: string; End: string; ExitCode: number; Output: string }
/** Docker's State.Health. */
export interface HealthState { Status: 'starting' | 'healthy' | 'unhealthy'; FailingStreak: number; Log: HealthLogEntry[] }

const SECOND = 1e9;
const DEFAULTS = { Interval: 30 * SECOND, Timeout: 30 * SECOND, StartPeriod: 0, StartInterval: 5 * SECOND, Retries: 3 };
/** Docker keeps the last five results and 4 KiB of each probe's output. */
const LOG_ENTRIES = 5;
const OUTPUT_MAX = 4096;

/** A Go duration (time.ParseDuration) as --health-interval takes it: "30s", "1m30s", "500ms"; nanoseconds. */
export function parseDuration(flag: string, v: string): number {
  const units: Record<string, number> = { ns: 1, us: 1e3, 'µs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
  if (v === '0') return 0;
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/y;
  let total = 0;
  let i = 0;
  while (i < v.length) {
    re.lastIndex = i;
    const m = re.exec(v);
    if (!m) throw new LodgerError('BAD_DURATION', `${flag} ${v}: expected a duration such as 30s, 1m30s or 500ms`);
    total += Number(m[1]) * units[m[2]];
    i = re.lastIndex;
  }
  if (v === '') throw new LodgerError('BAD_DURATION', `${flag}: empty duration`);
  return Math.round(total);
}

export interface HealthFlags {
  cmd?: string; interval?: string; timeout?: string; startPeriod?: string; startInterval?: string; retries?: string; none?: boolean;
}

/** The container's health check: the flags over the image's HEALTHCHECK, as Docker merges them; undefined when there is none. */
export function healthConfig(f: HealthFlags, image: HealthConfig | undefined): HealthConfig | undefined {
  const given = f.cmd !== undefined || f.interval !== undefined || f.timeout !== undefined || f.startPeriod !== undefined || f.retries !== undefined || f.startInterval !== undefined;
  if (f.none) {
    if (given) throw new LodgerError('BAD_OPTIONS', '--no-healthcheck conflicts with the --health-* options');
    return { Test: ['NONE'] };
  }
  if (!given) return image;
  const hc: HealthConfig = { ...(image ?? { Test: [] }) };
  if (f.cmd !== undefined) hc.Test = f.cmd === '' ? [] : ['CMD-SHELL', f.cmd];
  const dur = (flag: string, v: string | undefined, key: 'Interval' | 'Timeout' | 'StartPeriod' | 'StartInterval') => {
    if (v === undefined) return;
    const n = parseDuration(flag, v);
    if (n !== 0 && n < 1e6) throw new LodgerError('BAD_DURATION', `${flag} ${v}: must be at least 1ms`);
    hc[key] = n;
  };
  dur('--health-interval', f.interval, 'Interval');
  dur('--health-timeout', f.timeout, 'Timeout');
  dur('--health-start-period', f.startPeriod, 'StartPeriod');
  dur('--health-start-interval', f.startInterval, 'StartInterval');
  if (f.retries !== undefined) {
    if (!/^\d+$/.test(f.retries)) throw new LodgerError('BAD_OPTIONS', `--health-retries ${f.retries}: expected a whole number`);
    hc.Retries = Number(f.retries);
  }
  if (hc.Test.length === 0) throw new LodgerError('BAD_OPTIONS', 'the --health-* options need a command: give --health-cmd, or use an image with a HEALTHCHECK');
  return hc;
}

export function healthEnabled(hc: HealthConfig | undefined): hc is HealthConfig {
  return !!hc && hc.Test.length > 0 && hc.Test[0] !== 'NONE';
}

function healthFile(p: StorePaths, id: string): string {
  return path.join(containerDir(p, id), 'health.json');
}

export function readHealth(p: StorePaths, id: string): HealthState | undefined {
  try { return readJson<HealthState>(healthFile(p, id)); } catch { return undefined; }
}

/** What `ps` adds after "Up …": " (health: starting)", " (healthy)", " (unhealthy)". */
export function healthSuffix(p: StorePaths, rec: ContainerRecord, running: boolean): string {
  if (!running || !healthEnabled(rec.Config.Healthcheck)) return '';
  const h = readHealth(p, rec.Id);
  if (!h || h.Status === 'starting') return ' (health: starting)';
  return ` (${h.Status})`;
}

/** The probe's argv: CMD runs as it is, CMD-SHELL through the image's /bin/sh -c (Dockerfile HEALTHCHECK). */
function probeArgv(test: string[]): string[] {
  if (test[0] === 'CMD') return test.slice(1);
  if (test[0] === 'CMD-SHELL') return ['/bin/sh', '-c', test.slice(1).join(' ')];
  return test;
}

/** Starts the checker of REC's health when it has a check; the container has just been started. */
export function startHealthChecker(p: StorePaths, rec: ContainerRecord): void {
  if (!healthEnabled(rec.Config.Healthcheck)) return;
  writeJsonAtomic(healthFile(p, rec.Id), { Status: 'starting', FailingStreak: 0, Log: [] } satisfies HealthState);
  const { packageRoot } = require('../helper/native') as typeof import('../helper/native');
  const child = spawn(process.execPath, [path.join(packageRoot(), 'bin', 'lodger'), '__healthcheck', p.root, rec.Id], { detached: true, stdio: 'ignore' });
  child.unref();
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
