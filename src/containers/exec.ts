// `exec`: runs a process in a running container by joining every namespace of its init (and its cgroup).
import { EXIT_CANNOT_INVOKE, LodgerError } from '../errors';
import { liveState, readState, type ContainerRecord, type ContainerState } from '../storage/containers';
import type { StorePaths } from '../storage/paths';
import type { ContainerIO } from './containerIO';
import { mergeEnv, parseEnv } from './create';
import { spawnHelper } from '../helper/helperProcess';
import { helperFailureToError } from '../helper/helperErrors';
import { mustRecord } from './lifecycle';
import { checkUserMapped } from '../helper/idmap';
import { Plan } from '../helper/plan';
import { pipeStdio, processSpec, stdioSlot } from './start';
import { containerProcess } from './containerPlan';
import type { StdioSlot } from '../helper/helperProcess';
import type { StdioEnd } from './containerIO';
import { callerMapping } from '../helper/usernsWorker';

export interface ExecOptions { command: string[]; interactive: boolean; tty: boolean; env: string[]; envFile: string[]; user?: string; workdir?: string; detach: boolean; privileged: boolean }

/**
 * Runs O.command in running container ID and returns its exit status; the process gets IO's stdio
 * (stdin only with -i or -t) and terminal size, and the signals IO relays. With -d it runs on its own
 * and 0 is returned once it was started (IO is not used).
 */
export async function execInContainer(p: StorePaths, id: string, o: ExecOptions, io: ContainerIO): Promise<number> {
  const rec = mustRecord(p, id);
  const st = liveState(readState(p, id));
  if (!st.Running) throw new LodgerError('NOT_RUNNING', `container ${rec.Name} is not running — start it first ("lodger start ${rec.Name}")`, EXIT_CANNOT_INVOKE);
  if (st.Paused) throw new LodgerError('PAUSED', `container ${rec.Name} is paused — unpause it first`, EXIT_CANNOT_INVOKE);
  if (o.command.length === 0) throw new LodgerError('NO_COMMAND', 'exec needs a command');
  const tty = o.tty ? { rows: io.ttySize?.rows ?? 24, cols: io.ttySize?.cols ?? 80 } : undefined;
  const plan = execPlan(p, rec, st, o, tty);
  if (o.detach) plan.detach('/dev/null');
  const ends: [StdioEnd, StdioEnd, StdioEnd] = o.detach ? ['ignore', 'ignore', 'ignore'] : [o.interactive || o.tty ? io.stdin : 'ignore', io.stdout, io.stderr];
  const slots = ends.map(stdioSlot) as [StdioSlot, StdioSlot, StdioSlot];
  const h = spawnHelper('exec', plan, { stdio: slots, detached: o.detach });
  if (o.detach) {
    await h.settled;
    if (h.events.errors.length) throw helperFailureToError(h.events.errors[0], { what: 'exec process' });
    h.release();
    return 0;
  }
  const copied = pipeStdio(h.child, ends, slots);
  const stopRelay = io.relaySignals?.((sig) => { h.child.kill(sig); });
  const { code } = await h.exited;
  stopRelay?.();
  await copied;
  if (h.events.errors.length) {
    const e = helperFailureToError(h.events.errors[0], { what: 'exec process' });
    throw code === 126 || code === 127 ? new LodgerError(e.code, e.message, code) : e;
  }
  return code;
}

/** The helper plan of a process joining the running container REC (whose state is ST): its namespaces, cgroup, user, capabilities. */
export function execPlan(p: StorePaths, rec: ContainerRecord, st: ContainerState, o: Omit<ExecOptions, 'detach'>, tty?: { rows: number; cols: number }): Plan {
  const proc = processSpec(p, rec, { user: o.user, cwd: o.workdir, argv: o.command });
  checkUserMapped(callerMapping(rec.HostConfig.UsernsMode || undefined), proc.uid, proc.gid, proc.groups);
  proc.env = mergeEnv(proc.env, o.tty ? ['TERM=xterm'] : [], parseEnv(o.env, o.envFile));
  // The namespaces the container has of its own: those it shares with the host (--pid/--ipc/--uts host,
  // --network host) are ours already, and setns(2) into the host's would need the host's root.
  const hc = rec.HostConfig;
  const own = (['pid', 'uts', 'ipc'] as const).filter((n) => ({ pid: hc.PidMode, uts: hc.UTSMode, ipc: hc.IpcMode })[n] !== 'host');
  const plan = new Plan().join(st.Pid, ['user', 'mnt', ...own, 'cgroup', ...(hc.NetworkMode !== 'host' ? ['net' as const] : [])]);
  if (st.CgroupPath) plan.cgroup(st.CgroupPath);
  // With a single-id mapping setgroups(2) is denied in the container's user namespace.
  if (rec.HostConfig.UsernsMode === 'single') plan.setgroupsDeny();
  // The exec'd process gets the container's capabilities and seccomp filter, never more.
  plan.process(containerProcess(rec.HostConfig, proc, { tty, keepStdin: o.interactive, execPrivileged: o.privileged }));
  return plan;
}
