// Starts a created container in the foreground: resolves its process, hands the plan to the helper, relays signals, records the exit.
import * as path from 'node:path';
import { LodgerError } from '../errors';
import { readImageFile } from '../image/layerLookup';
import { containerDir, readState, writeState, ZERO_TIME, type ContainerRecord } from '../storage/containers';
import type { StorePaths } from '../storage/paths';
import type { ProcessSpec } from './containerPlan';
import { mergeEnv } from './create';
import { launchContainer } from './launch';
import { helperFailureToError } from '../helper/helperErrors';
import type { IdMapping } from '../helper/idmap';
import { parseGroup, resolveUser } from './imageUser';
import { startHealthChecker } from './healthState';
import { removeCgroup } from './cgroupSetup';
import { imageReadDirs } from './imageLayers';
import { keepIdEtcText } from './keepId';

/** The layer directories of the container's view, top first: its own upper layer, then the image's. */
function viewLayers(p: StorePaths, rec: ContainerRecord): string[] {
  const dir = containerDir(p, rec.Id);
  if (rec.Driver === 'vfs') return [path.join(dir, 'rootfs')];
  return [path.join(dir, 'upper'), ...imageReadDirs(p, rec)];
}

export function processSpec(p: StorePaths, rec: ContainerRecord, over: { user?: string; env?: string[]; cwd?: string; argv?: string[] } = {}): ProcessSpec {
  const layers = viewLayers(p, rec);
  // keep-id: the passwd/group bound over the image's are the ones -u names resolve in.
  const etc = (f: 'passwd' | 'group') => (rec.HostConfig.UsernsMode === 'keep-id' ? keepIdEtcText(containerDir(p, rec.Id), f) : undefined) ?? readImageFile(layers, `/etc/${f}`);
  const user = resolveUser(over.user ?? rec.Config.User, etc('passwd'), etc('group'));
  const defaults = [`HOSTNAME=${rec.Config.Hostname}`, `HOME=${user.home}`];
  if (rec.Config.Tty) defaults.push('TERM=xterm');
  const env = mergeEnv(defaults, rec.Config.Env, over.env ?? []);
  // --group-add: numbers as they are, names from the image's /etc/group (docker-run(1)).
  const added = (rec.HostConfig.GroupAdd ?? []).map((g) => groupId(g, etc('group')));
  return {
    uid: user.uid,
    gid: user.gid,
    groups: [...new Set([...user.groups, ...added])],
    cwd: over.cwd ?? (rec.Config.WorkingDir || '/'),
    env,
    argv: over.argv ?? [...(rec.Config.Entrypoint ?? []), ...(rec.Config.Cmd ?? [])],
  };
}

function groupId(g: string, groupText: string | undefined): number {
  if (/^\d+$/.test(g)) return Number(g);
  const hit = parseGroup(groupText).find((x) => x.name === g);
  if (!hit) throw new LodgerError('NO_SUCH_GROUP', `--group-add ${g}: no such group in the image's /etc/group — use a numeric gid or an existing group`);
  return hit.gid;
}

/** How long a container has to exit after SIGTERM before it is killed: `docker stop`'s default, 10 s. */
const STOP_GRACE_MS = 10_000;

const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

/**
 * Runs the container attached to this terminal and returns its exit status. The helper dies with us:
 * if this CLI is killed, the helper reads EOF on its control fd, kills the container and cleans up.
 */
export async function startForeground(p: StorePaths, rec: ContainerRecord, mapping: IdMapping): Promise<number> {
  const proc = processSpec(p, rec);
  const tty = rec.Config.Tty ? { rows: process.stdout.rows ?? 24, cols: process.stdout.columns ?? 80 } : undefined;
  const { h, cgroupPath, network } = await launchContainer(p, rec, mapping, {
    process: proc, tty, keepStdin: rec.Config.OpenStdin, stdio: [rec.Config.OpenStdin || rec.Config.Tty ? 'inherit' : 'ignore', 'inherit', 'inherit'],
  });
  startHealthChecker(p, rec);
  let stopTimer: NodeJS.Timeout | undefined;
  const forward = (sig: NodeJS.Signals) => {
    h.child.kill(sig);
    // SIGTERM to this CLI asks it to stop — kill(1), a service manager, or a batch scheduler cancelling
    // the job (Slurm's scancel signals every process of the job step, then SIGKILLs them KillWait
    // seconds later, 30 by default: slurm.conf(5)). A container whose PID 1 has no handler ignores it
    // (pid_namespaces(7)) and would be SIGKILLed together with the helper, which could then not remove
    // it (--rm). So, as `docker stop` does, the container is killed after a grace and the helper cleans up.
    if (sig === 'SIGTERM' && !stopTimer) {
      stopTimer = setTimeout(() => { void h.pid.then((pid) => { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }, () => undefined); }, STOP_GRACE_MS);
      stopTimer.unref();
    }
  };
  for (const s of FORWARDED) process.on(s, forward);
  const { code, signal } = await h.exited;
  clearTimeout(stopTimer);
  for (const s of FORWARDED) process.off(s, forward);
  await removeCgroup(cgroupPath);
  // A user network's address and forwards outlive the namespaces (slirp4netns and pasta end by themselves).
  if (network?.state.backend === 'user') await network.stop().catch(() => undefined);
  // Failures while tidying up after the exit are worth a warning, not the container's status.
  const failures = h.events.errors.filter((f) => !f.step.startsWith('cleanup-'));
  for (const f of h.events.errors) if (f.step.startsWith('cleanup-')) process.stderr.write(`lodger: warning: ${helperFailureToError(f).message}\n`);
  if (failures.length > 0) {
    const err = helperFailureToError(failures[0], { user: mapping.user });
    if (!rec.HostConfig.AutoRemove) recordExit(p, rec, code, err.message);
    throw err.exitCode === 125 || code === 125 ? err : new LodgerError(err.code, err.message, code);
  }
  if (signal) {
    // The helper itself was killed: nothing recorded the exit.
    const status = 128 + signalNumber(signal);
    if (!rec.HostConfig.AutoRemove) recordExit(p, rec, status, `lodger-helper was killed by ${signal}`);
    return status;
  }
  return code;
}

/** An exit the helper could not record (it failed before the command ran, or was killed); the record may be gone already. */
function recordExit(p: StorePaths, rec: ContainerRecord, code: number, error: string): void {
  const prev = readState(p, rec.Id);
  try {
    writeState(p, rec.Id, { Status: 'exited', Running: false, Paused: false, Pid: 0, ExitCode: code, OOMKilled: false, Error: error, StartedAt: prev?.StartedAt ?? ZERO_TIME, FinishedAt: new Date().toISOString() });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}

function signalNumber(sig: NodeJS.Signals): number {
  const os = require('node:os') as typeof import('node:os');
  return (os.constants.signals as Record<string, number>)[sig] ?? 0;
}
