// Stop, kill, wait and start for existing containers — all daemonless: signals to the container's init, state from state.json.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LodgerError } from '../errors';
import { containerDir, liveState, pidRunning, readContainer, readState, type ContainerRecord, type ContainerState } from '../storage/containers';
import type { StorePaths } from '../storage/paths';
import { waitForExit } from './remove';

export function signalNumber(sig: string | number): number {
  if (typeof sig === 'number') return sig;
  if (/^\d+$/.test(sig)) return Number(sig);
  const name = sig.toUpperCase().startsWith('SIG') ? sig.toUpperCase() : `SIG${sig.toUpperCase()}`;
  const n = (os.constants.signals as Record<string, number>)[name];
  if (!n) throw new LodgerError('BAD_SIGNAL', `unknown signal "${sig}" — use a name like SIGTERM or TERM, or a number`);
  return n;
}

export function mustRecord(p: StorePaths, id: string): ContainerRecord {
  const rec = readContainer(p, id);
  if (!rec) throw new LodgerError('NO_SUCH_CONTAINER', `no such container: ${id}`);
  return rec;
}

/** Marks a deliberate stop so the monitor does not apply the restart policy (see should_restart in supervise.c). */
function markStopRequested(p: StorePaths, id: string): void {
  try { fs.writeFileSync(path.join(containerDir(p, id), 'stop-requested'), new Date().toISOString() + '\n'); } catch { /* removed meanwhile */ }
}

export async function killContainer(p: StorePaths, id: string, signal: string | number = 'SIGKILL'): Promise<void> {
  const sig = signalNumber(signal);
  const st = liveState(readState(p, id));
  if (!st.Running) throw new LodgerError('NOT_RUNNING', `container ${id.slice(0, 12)} is not running`);
  markStopRequested(p, id);
  try { process.kill(st.Pid, sig); } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw new LodgerError('KILL_FAILED', `send signal ${sig} to container ${id.slice(0, 12)} (pid ${st.Pid}): ${(e as Error).message}`);
  }
}

/**
 * Docker's stop: the image's StopSignal (default SIGTERM) to PID 1, then SIGKILL after TIMEOUT seconds.
 * (A PID 1 without a handler ignores SIGTERM — pid_namespaces(7) — so the SIGKILL matters.)
 * A container between two runs of its restart policy is stopped too: the marker keeps its monitor
 * from starting it again, and we wait for the monitor to be gone (or to have started it anyway, then stop that run).
 */
export async function stopContainer(p: StorePaths, id: string, timeoutSec?: number): Promise<void> {
  const rec = mustRecord(p, id);
  if (!liveState(readState(p, id)).Running && !monitorAlive(readState(p, id))) return;
  markStopRequested(p, id);
  const sig = signalNumber(rec.Config.StopSignal || 'SIGTERM');
  // -1 (--stop-timeout -1): no SIGKILL, as Docker; a day stands for that here.
  const t0 = timeoutSec ?? rec.Config.StopTimeout ?? 10;
  const t = t0 < 0 ? 86_400 : t0;
  // The longest restart back-off is 10 s (supervise.c).
  const deadline = Date.now() + 11_000;
  for (;;) {
    const st = liveState(readState(p, id));
    if (st.Running) {
      try { process.kill(st.Pid, sig); } catch { /* gone already */ }
      if (!(await waitForExit(st.Pid, t * 1000))) {
        try { process.kill(st.Pid, 'SIGKILL'); } catch { /* gone */ }
        await waitForExit(st.Pid, 10_000);
      }
      await waitForRecordedExit(p, id, st, 5_000);
    }
    if (!monitorAlive(readState(p, id)) || Date.now() > deadline) return;
    await new Promise((r) => setTimeout(r, 20));
  }
}

function monitorAlive(raw: ContainerState | undefined): boolean {
  return raw?.MonitorPid ? pidRunning(raw.MonitorPid) : false;
}

/** After the init is gone, its supervisor writes the exit into state.json: wait for that (briefly). */
async function waitForRecordedExit(p: StorePaths, id: string, was: ContainerState, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const raw = readState(p, id);
    if (!raw || raw.Status !== 'running' || raw.Pid !== was.Pid) return;
    if (!monitorAlive(raw)) return;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** `wait`: blocks until the container stops (across restarts of its monitor only until the final exit), returns its code. */
export async function waitContainer(p: StorePaths, id: string): Promise<number> {
  for (;;) {
    if (!fs.existsSync(containerDir(p, id))) return 0;  // --rm: gone
    const st = liveState(readState(p, id));
    if (!st.Running && st.Status !== 'created') {
      // The monitor may restart it: a final exit is one whose monitor is gone too.
      if (!monitorAlive(readState(p, id))) return st.ExitCode;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
