// Exec instances of the API (create, start, inspect): kept in this service's memory as Docker keeps them
// in its daemon's; a start runs the engine's exec (containers/exec.ts) with the connection's streams.
import { PassThrough } from 'node:stream';
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

interface ExecInstance { id: string; containerId: string; config: ExecConfig; running: boolean; exitCode: number | null; pid: number }

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
    const { execInContainer } = await import('../../containers/exec');
    const opts = {
      command: c.Cmd, interactive: c.AttachStdin && !o.detach, tty: o.tty ?? c.Tty, env: c.Env, envFile: [], user: c.User, workdir: c.WorkingDir,
      detach: o.detach, privileged: c.Privileged,
    };
    // The client's stdin is copied through a pipe (a PassThrough has no fd): the hijacked socket stays
    // this process's alone to read.
    const stdin = opts.interactive && sinks?.input ? sinks.input.pipe(new PassThrough()) : 'ignore';
    x.running = true;
    const finish = (code: number) => {
      x.running = false;
      x.exitCode = code;
      setTimeout(() => this.instances.delete(id), KEEP_MS).unref();
    };
    let code: number;
    try {
      code = await execInContainer(this.p, x.containerId, opts, {
        stdin,
        stdout: c.AttachStdout && sinks ? sinks.out : 'ignore',
        stderr: c.AttachStderr && sinks ? sinks.err : 'ignore',
      });
    } catch (e) {
      // Docker reports a command that cannot be run as the exec's exit code (126/127) after the stream.
      if (e instanceof LodgerError && (e.exitCode === 126 || e.exitCode === 127) && !o.detach) {
        sinks?.err.write(`${e.message}\n`);
        finish(e.exitCode);
        return;
      }
      x.running = false;
      throw e;
    }
    // exec -d: the process runs on its own; nobody reports its end to us.
    if (!o.detach) finish(code);
    void abort;
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
