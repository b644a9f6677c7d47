// Starts a created container in the foreground: resolves its process, hands the plan to the helper, relays signals, records the exit.
import * as path from 'node:path';
import { LodgerError } from '../errors';
import { readImageFile } from '../image/layerLookup';
import { containerDir, pidStartTime, readState, writeState, ZERO_TIME, type ContainerRecord, type ContainerState } from '../storage/containers';
import { layerDiffDir } from '../storage/layers';
import type { StorePaths } from '../storage/paths';
import { buildContainerPlan, type ProcessSpec } from './containerPlan';
import { mergeEnv } from './create';
import { spawnHelper } from './helperProcess';
import { helperFailureToError } from './helperErrors';
import type { IdMapping } from './idmap';
import { resolveUser } from './imageUser';
import { createCgroupFor, removeCgroup, wasOomKilled } from './cgroupSetup';

/** The layer directories of the container's view, top first: its own upper layer, then the image's. */
function viewLayers(p: StorePaths, rec: ContainerRecord): string[] {
  const dir = containerDir(p, rec.Id);
  if (rec.Driver === 'vfs') return [path.join(dir, 'rootfs')];
  return [path.join(dir, 'upper'), ...[...rec.Layers].reverse().map((d) => layerDiffDir(p, d))];
}

export function processSpec(p: StorePaths, rec: ContainerRecord, over: { user?: string; env?: string[]; cwd?: string; argv?: string[] } = {}): ProcessSpec {
  const layers = viewLayers(p, rec);
  const user = resolveUser(over.user ?? rec.Config.User, readImageFile(layers, '/etc/passwd'), readImageFile(layers, '/etc/group'));
  const defaults = [`HOSTNAME=${rec.Config.Hostname}`, `HOME=${user.home}`];
  if (rec.Config.Tty) defaults.push('TERM=xterm');
  const env = mergeEnv(defaults, rec.Config.Env, over.env ?? []);
  return {
    uid: user.uid,
    gid: user.gid,
    groups: user.groups,
    cwd: over.cwd ?? (rec.Config.WorkingDir || '/'),
    env,
    argv: over.argv ?? [...(rec.Config.Entrypoint ?? []), ...(rec.Config.Cmd ?? [])],
  };
}

const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

function runningState(pid: number): ContainerState {
  return { Status: 'running', Running: true, Paused: false, Pid: pid, PidStartTime: pidStartTime(pid), ExitCode: 0, OOMKilled: false, Error: '', StartedAt: new Date().toISOString(), FinishedAt: ZERO_TIME };
}

/**
 * Runs the container attached to this terminal and returns its exit status. The helper dies with us:
 * if this CLI is killed, the helper reads EOF on its control fd, kills the container and cleans up.
 */
export async function startForeground(p: StorePaths, rec: ContainerRecord, mapping: IdMapping): Promise<number> {
  const proc = processSpec(p, rec);
  const tty = rec.Config.Tty ? { rows: process.stdout.rows ?? 24, cols: process.stdout.columns ?? 80 } : undefined;
  const cgroupPath = createCgroupFor(rec);
  const plan = buildContainerPlan({ store: p, rec, mapping, process: proc, removeOnExit: rec.HostConfig.AutoRemove, tty, keepStdin: rec.Config.OpenStdin, cgroupPath });
  const h = spawnHelper('run', plan, { stdio: [rec.Config.OpenStdin || rec.Config.Tty ? 'inherit' : 'ignore', 'inherit', 'inherit'] });
  const forward = (sig: NodeJS.Signals) => { h.child.kill(sig); };
  for (const s of FORWARDED) process.on(s, forward);
  h.pid.then((pid) => {
    if (!rec.HostConfig.AutoRemove) writeState(p, rec.Id, { ...runningState(pid), CgroupPath: cgroupPath });
  }, () => undefined);
  const { code, signal } = await h.exited;
  for (const s of FORWARDED) process.off(s, forward);
  const oom = wasOomKilled(cgroupPath);
  await removeCgroup(cgroupPath);
  if (h.events.errors.length > 0) {
    const err = helperFailureToError(h.events.errors[0], { user: mapping.user });
    if (!rec.HostConfig.AutoRemove) recordExit(p, rec, code, err.message);
    throw err.exitCode === 125 || code === 125 ? err : new LodgerError(err.code, err.message, code);
  }
  const status = signal ? 128 + signalNumber(signal) : code;
  if (!rec.HostConfig.AutoRemove) recordExit(p, rec, status, '', oom);
  return status;
}

/** The exit as state.json keeps it; the record may be gone already (rm -f from another CLI). */
function recordExit(p: StorePaths, rec: ContainerRecord, code: number, error: string, oom = false): void {
  const prev = readState(p, rec.Id);
  try {
    writeState(p, rec.Id, { Status: 'exited', Running: false, Paused: false, Pid: 0, ExitCode: code, OOMKilled: oom, Error: error, StartedAt: prev?.StartedAt ?? ZERO_TIME, FinishedAt: new Date().toISOString() });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}

function signalNumber(sig: NodeJS.Signals): number {
  const os = require('node:os') as typeof import('node:os');
  return (os.constants.signals as Record<string, number>)[sig] ?? 0;
}
