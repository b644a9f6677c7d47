// Starts a created container in the foreground: resolves its process, hands the plan to the helper, relays signals, records the exit.
import * as path from 'node:path';
import { LodgerError } from '../errors';
import { readImageFile } from '../image/layerLookup';
import { containerDir, readState, writeState, ZERO_TIME, type ContainerRecord } from '../storage/containers';
import type { StorePaths } from '../storage/paths';
import type { ProcessSpec } from './containerPlan';
import type { ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import type { ContainerIO, StdioEnd } from './containerIO';
import type { StdioSlot } from '../helper/helperProcess';
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

/**
 * What the helper is given for one of IO's ends: an fd or a stream with one (a socket, a terminal) as
 * it is — the container then reads and writes it directly; any other stream (a PassThrough a build
 * collects output in) through a pipe that pipeStdio copies.
 */
export function stdioSlot(end: StdioEnd): StdioSlot {
  if (typeof end === 'number' || end === 'ignore') return end;
  const s = end as { fd?: unknown; _handle?: unknown };
  return typeof s.fd === 'number' || s._handle ? end : 'pipe';
}

/**
 * Copies between the helper's piped stdio (SLOTS 'pipe') and IO's streams; resolves once its output
 * has all been copied. The caller's streams are not ended: they are the caller's.
 */
export function pipeStdio(child: ChildProcess, ends: [StdioEnd, StdioEnd, StdioEnd], slots: StdioSlot[]): Promise<void> {
  if (slots[0] === 'pipe' && child.stdin) {
    child.stdin.on('error', () => undefined);  // the container exited or closed its stdin: the rest is not wanted
    (ends[0] as unknown as Readable).pipe(child.stdin);
    child.once('exit', () => (ends[0] as unknown as Readable).unpipe(child.stdin!));
  }
  const copied: Array<Promise<void>> = [];
  for (const [i, from] of [[1, child.stdout], [2, child.stderr]] as const) {
    if (slots[i] !== 'pipe' || !from) continue;
    from.pipe(ends[i] as unknown as Writable, { end: false });
    copied.push(new Promise((resolve) => { from.once('close', () => resolve()); }));
  }
  return Promise.all(copied).then(() => undefined);
}

/** How long a container has to exit after SIGTERM before it is killed: `docker stop`'s default, 10 s. */
const STOP_GRACE_MS = 10_000;

/**
 * Runs the container attached to IO (the CLI's terminal, the API's socket) and returns its exit status.
 * The helper dies with us: if this process is killed, the helper reads EOF on its control fd, kills
 * the container and cleans up.
 */
export async function startForeground(p: StorePaths, rec: ContainerRecord, mapping: IdMapping, io: ContainerIO): Promise<number> {
  const proc = processSpec(p, rec);
  const tty = rec.Config.Tty ? { rows: io.ttySize?.rows ?? 24, cols: io.ttySize?.cols ?? 80 } : undefined;
  const ends: [StdioEnd, StdioEnd, StdioEnd] = [rec.Config.OpenStdin || rec.Config.Tty ? io.stdin : 'ignore', io.stdout, io.stderr];
  const slots = ends.map(stdioSlot) as [StdioSlot, StdioSlot, StdioSlot];
  const { h, cgroupPath, network } = await launchContainer(p, rec, mapping, { process: proc, tty, keepStdin: rec.Config.OpenStdin, stdio: slots });
  const copied = pipeStdio(h.child, ends, slots);
  startHealthChecker(p, rec);
  let stopTimer: NodeJS.Timeout | undefined;
  const send = (sig: NodeJS.Signals) => {
    h.child.kill(sig);
    // A SIGTERM relayed by the front door asks to stop — to the CLI: kill(1), a service manager, or a batch scheduler cancelling
    // the job (Slurm's scancel signals every process of the job step, then SIGKILLs them KillWait
    // seconds later, 30 by default: slurm.conf(5)). A container whose PID 1 has no handler ignores it
    // (pid_namespaces(7)) and would be SIGKILLed together with the helper, which could then not remove
    // it (--rm). So, as `docker stop` does, the container is killed after a grace and the helper cleans up.
    if (sig === 'SIGTERM' && !stopTimer) {
      stopTimer = setTimeout(() => { void h.pid.then((pid) => { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }, () => undefined); }, STOP_GRACE_MS);
      stopTimer.unref();
    }
  };
  const stopRelay = io.relaySignals?.(send);
  const { code, signal } = await h.exited;
  clearTimeout(stopTimer);
  stopRelay?.();
  await copied;
  await removeCgroup(cgroupPath);
  // A user network's address and forwards outlive the namespaces (slirp4netns and pasta end by themselves).
  if (network?.state.backend === 'user') await network.stop().catch(() => undefined);
  // Failures while tidying up after the exit are worth a warning, not the container's status.
  const failures = h.events.errors.filter((f) => !f.step.startsWith('cleanup-'));
  const report = io.report ?? p.report;
  for (const f of h.events.errors) if (f.step.startsWith('cleanup-')) report?.({ kind: 'warning', message: helperFailureToError(f).message });
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
