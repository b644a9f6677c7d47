// Exec instances of the API (create, start, inspect): kept in this service's memory as Docker keeps them
// in its daemon's. A start runs `lodger exec` itself with pipes for its stdio — the engine's exec takes
// only this process's own stdio today (runtime/exec.ts), and an API connection is not that.
// TODO(#13): call the engine's exec directly once it takes streams.
import * as os from 'node:os';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { LodgerError } from '../../errors';
import { liveState, readContainer, readState, resolveContainer } from '../../storage/containers';
import type { StorePaths } from '../../storage/paths';
import type { OutputSinks } from '../backend';
import { badRequest, conflict } from '../httpError';

export interface ExecConfig {
  AttachStdin: boolean; AttachStdout: boolean; AttachStderr: boolean; Tty: boolean;
  Cmd: string[]; Env: string[]; WorkingDir?: string; User?: string; Privileged: boolean;
}

interface ExecInstance { id: string; containerId: string; config: ExecConfig; running: boolean; exitCode: number | null; pid: number; child?: ChildProcess }

/** Instances are forgotten this long after they end (Docker drops them when the container goes). */
const KEEP_MS = 10 * 60_000;

export class ExecEngine {
  private readonly instances = new Map<string, ExecInstance>();
  constructor(readonly p: StorePaths) {}

  create(ref: string, body: Record<string, unknown>): { Id: string } {
    const containerId = resolveContainer(this.p, ref);
    const st = liveState(readState(this.p, containerId));
    if (!st.Running) throw conflict(`Container ${containerId} is not running`);
    if (st.Paused) throw conflict(`Container ${containerId} is paused, unpause the container before exec`);
    const list = (v: unknown, f: string): string[] => {
      if (v === undefined || v === null) return [];
      if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) throw badRequest(`invalid ${f}: expected a list of strings`);
      return v;
    };
    const cmd = list(body.Cmd, 'Cmd');
    if (!cmd.length) throw badRequest('No exec command specified');
    const config: ExecConfig = {
      AttachStdin: body.AttachStdin === true, AttachStdout: body.AttachStdout === true, AttachStderr: body.AttachStderr === true,
      Tty: body.Tty === true, Cmd: cmd, Env: list(body.Env, 'Env'), Privileged: body.Privileged === true,
      WorkingDir: typeof body.WorkingDir === 'string' && body.WorkingDir ? body.WorkingDir : undefined,
      User: typeof body.User === 'string' && body.User ? body.User : undefined,
    };
    const id = randomBytes(32).toString('hex');
    this.instances.set(id, { id, containerId, config, running: false, exitCode: null, pid: 0 });
    return { Id: id };
  }

  private get(id: string): ExecInstance {
    const x = this.instances.get(id);
    if (!x) throw new LodgerError('NO_SUCH_EXEC', `No such exec instance: ${id}`);
    return x;
  }

  tty(id: string): boolean {
    return this.get(id).config.Tty;
  }

  /** Runs the instance; with DETACH returns once it is started, else relays its stdio and resolves at its exit. */
  async start(id: string, o: { detach: boolean; tty?: boolean }, sinks: OutputSinks | undefined, abort: AbortSignal): Promise<void> {
    const x = this.get(id);
    if (x.running || x.exitCode !== null) throw conflict(`exec ${id} has already been started`);
    const c = x.config;
    const tty = o.tty ?? c.Tty;
    const args = ['exec'];
    if (o.detach) args.push('-d');
    if (c.AttachStdin && !o.detach) args.push('-i');
    if (tty) args.push('-t');
    if (c.Privileged) args.push('--privileged');
    if (c.User) args.push('-u', c.User);
    if (c.WorkingDir) args.push('-w', c.WorkingDir);
    for (const e of c.Env) args.push('-e', e);
    args.push(x.containerId, ...c.Cmd);
    const child = spawn(process.execPath, [...process.execArgv, process.argv[1], ...args], {
      env: { ...process.env, LODGER_ROOT: this.p.root },
      stdio: [c.AttachStdin && !o.detach ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    });
    x.child = child;
    x.running = true;
    x.pid = child.pid ?? 0;
    const exited = new Promise<number>((resolve) => {
      child.once('error', () => resolve(126));
      child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 + (os.constants.signals[signal] ?? 0) : 125)));
    });
    const finish = (code: number) => {
      x.running = false;
      x.exitCode = code;
      x.child = undefined;
      setTimeout(() => this.instances.delete(id), KEEP_MS).unref();
    };
    if (o.detach) {
      const errText: Buffer[] = [];
      child.stderr!.on('data', (b: Buffer) => errText.push(b));
      const code = await exited;
      if (code !== 0) { finish(code); throw new LodgerError('EXEC_FAILED', Buffer.concat(errText).toString().trim() || `exec failed with ${code}`); }
      // `lodger exec -d` returns once its process runs; that process is no longer ours to watch.
      x.running = true;
      return;
    }
    if (c.AttachStdout && sinks) child.stdout!.pipe(sinks.out, { end: false }); else child.stdout!.resume();
    if (c.AttachStderr && sinks) child.stderr!.pipe(sinks.err, { end: false }); else child.stderr!.resume();
    if (child.stdin && sinks?.input) {
      sinks.input.pipe(child.stdin);
      child.stdin.on('error', () => undefined);
    }
    const onAbort = () => { /* the client left: the exec'd process goes on, as with Docker */ };
    abort.addEventListener('abort', onAbort, { once: true });
    const code = await exited;
    // Output still in the pipes is relayed before the answer ends.
    await Promise.all([child.stdout, child.stderr].map((s) => (s!.readableEnded ? undefined : new Promise((r) => s!.once('end', r)))));
    finish(code);
  }

  inspect(id: string): Record<string, unknown> {
    const x = this.get(id);
    const rec = readContainer(this.p, x.containerId);
    return {
      ID: x.id, Running: x.running, ExitCode: x.exitCode ?? 0, ProcessConfig: { tty: x.config.Tty, entrypoint: x.config.Cmd[0], arguments: x.config.Cmd.slice(1), privileged: x.config.Privileged, user: x.config.User ?? '' },
      OpenStdin: x.config.AttachStdin, OpenStderr: x.config.AttachStderr, OpenStdout: x.config.AttachStdout, CanRemove: false,
      ContainerID: x.containerId, DetachKeys: '', Pid: x.pid, ...(rec ? {} : {}),
    };
  }
}
