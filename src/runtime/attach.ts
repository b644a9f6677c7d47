// `attach`: follows a running detached container's log from now on until its final exit, relaying signals to it (sig-proxy).
import * as fs from 'node:fs';
import { LodgerError } from '../errors';
import { containerDir, liveState, pidRunning, readState, type ContainerState } from '../storage/containers';
import type { StorePaths } from '../storage/paths';
import { logPath } from './detach';
import { killContainer, mustRecord } from './lifecycle';

export interface AttachOptions {
  /** Relay the signals below to the container's init, as `lodger kill -s` would. */
  sigProxy: boolean;
}

interface Line { log: string; stream: 'stdout' | 'stderr' }

/** The signals a terminal or a job controller sends; SIGKILL and SIGSTOP cannot be caught anyway. */
const PROXIED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

function monitorAlive(st: ContainerState | undefined): boolean {
  return st?.MonitorPid ? pidRunning(st.MonitorPid) : false;
}

/**
 * Prints what the container writes from now on (its monitor's json-file log, stdout and stderr kept
 * apart) and returns its exit status once it has stopped for good: with a restart policy, attach
 * stays through the restarts, as `wait` does. Stdin is never attached: the monitor does not keep it.
 */
export async function attachContainer(p: StorePaths, id: string, o: AttachOptions, out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const rec = mustRecord(p, id);
  const st = liveState(readState(p, id));
  if (!st.Running) throw new LodgerError('NOT_RUNNING', `cannot attach to ${rec.Name}: it is not running — start it first ("lodger start -a ${rec.Name}")`);
  if (st.Paused) throw new LodgerError('PAUSED', `cannot attach to ${rec.Name}: it is paused — unpause it first`);
  let fd: number;
  try {
    fd = fs.openSync(logPath(p, id), 'r');
  } catch {
    throw new LodgerError('NO_LOG', `cannot attach to ${rec.Name}: it runs in the foreground of another lodger, whose terminal gets its output (only detached containers, "lodger run -d", can be attached)`);
  }
  // The file stays readable through this descriptor even when --rm deletes the container at its exit.
  let offset = fs.fstatSync(fd).size;
  let partial = '';
  let last: ContainerState | undefined = st;
  const forward = (sig: NodeJS.Signals) => {
    killContainer(p, id, sig).catch(() => undefined);  // not running (between restarts, or gone): nothing to relay
  };
  if (o.sigProxy) for (const s of PROXIED) process.on(s, forward);
  const drain = () => {
    const size = fs.fstatSync(fd).size;
    if (size <= offset) return false;
    const buf = Buffer.alloc(size - offset);
    const n = fs.readSync(fd, buf, 0, buf.length, offset);
    offset += n;
    const chunk = partial + buf.subarray(0, n).toString('utf8');
    const cut = chunk.lastIndexOf('\n');
    partial = chunk.slice(cut + 1);
    for (const text of chunk.slice(0, cut + 1).split('\n')) {
      if (!text) continue;
      let l: Line;
      try { l = JSON.parse(text) as Line; } catch { continue; }
      (l.stream === 'stderr' ? err : out).write(l.log);
    }
    return true;
  };
  try {
    for (;;) {
      // Read the state before the log: whatever was written before a final exit is then printed below.
      const gone = !fs.existsSync(containerDir(p, id));
      const raw = gone ? undefined : readState(p, id);
      if (raw) last = raw;
      const final = gone || (!liveState(raw).Running && !monitorAlive(raw));
      if (drain()) continue;
      if (final) {
        // --rm may have removed the record after its monitor wrote the exit; 0 when we never saw it.
        const end = gone ? last : liveState(raw);
        return end && end.Status !== 'running' ? end.ExitCode : 0;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    if (o.sigProxy) for (const s of PROXIED) process.off(s, forward);
    fs.closeSync(fd);
  }
}
