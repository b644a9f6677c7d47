// `run`: create the container, then start it attached (or hand it to a monitor with -d).
import { LodgerError } from '../errors';
import type { Reporter } from '../events';
import type { StorePaths } from '../storage/paths';
import { createContainer } from './create';
import { ensureRunImage } from './runImage';
import { checkSecurityOptions } from '../security/security';
import type { CreateOptions } from './options';
import type { ContainerIO } from './containerIO';
import { startForeground } from './start';
import { callerMapping } from '../helper/usernsWorker';

let warned = false;
/** The single-id warning, said once per process. */
export function warnMapping(m: { warning?: string }, report: Reporter | undefined): void {
  if (m.warning && !warned && report) {
    warned = true;
    report({ kind: 'warning', message: m.warning });
  }
}

/** What `run` did: the container's exit status in the foreground; with -d, its id (it runs on, under its monitor). */
export type RunResult = { detached: false; id: string; exitCode: number } | { detached: true; id: string };

/**
 * `-a stdin|stdout|stderr` (docker-run(1)): only the streams named are attached; the others are not
 * relayed (a foreground lodger container has no log to keep them in). None named: all of them.
 */
export function attachStreams(names: string[], detach: boolean, io: ContainerIO): ContainerIO {
  if (names.length === 0) return io;
  if (detach) throw new LodgerError('BAD_OPTIONS', 'conflicting options: -a and -d — a detached container is attached to nothing');
  const want = new Set(names.map((n) => n.toLowerCase()));
  for (const n of want) if (!['stdin', 'stdout', 'stderr'].includes(n)) throw new LodgerError('BAD_OPTIONS', `-a ${n}: expected stdin, stdout or stderr`);
  return { ...io, stdin: want.has('stdin') ? io.stdin : 'ignore', stdout: want.has('stdout') ? io.stdout : 'ignore', stderr: want.has('stderr') ? io.stderr : 'ignore' };
}

/**
 * `run`: pulls the image when needed, creates the container and starts it — attached to IO (its
 * stdio, terminal size, signals) until it exits, or, with -d, under its monitor.
 */
export async function runContainer(p: StorePaths, o: CreateOptions, io: ContainerIO): Promise<RunResult> {
  const report = io.report ?? p.report;
  const mapping = callerMapping(o.userns);
  warnMapping(mapping, report);
  if (o.userns && !['single', 'keep-id', 'auto', ''].includes(o.userns)) {
    throw new LodgerError('BAD_USERNS', `--userns=${o.userns} is not supported — use --userns=single (only your own id), --userns=keep-id (your own uid inside) or leave it out`);
  }
  if (o.detach && o.rm && o.restart && o.restart !== 'no') {
    throw new LodgerError('BAD_OPTIONS', '--rm and --restart cannot be combined: a container that restarts is never removed');
  }
  // Bad flags fail before anything is downloaded.
  checkSecurityOptions(o);
  const attached = attachStreams(o.attach, o.detach, io);
  await ensureRunImage(p, o, report);
  const { rec } = await createContainer(p, o, mapping, report);
  try {
    if (o.detach) {
      const { startDetached } = await import('./detach');
      await startDetached(p, rec, mapping);
      return { detached: true, id: rec.Id };
    }
    return { detached: false, id: rec.Id, exitCode: await startForeground(p, rec, mapping, attached) };
  } catch (e) {
    // --rm: a container that failed to start (e.g. -u names a user the image lacks, found only once the
    // record exists) is removed like one that ran; the helper's own cleanup covers failures after it started.
    if (o.rm) {
      const { removeContainer } = await import('./remove');
      await removeContainer(p, rec.Id, true, { volumes: true }).catch(() => undefined);
    }
    throw e;
  }
}
