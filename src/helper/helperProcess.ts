// Spawns the native helper with a plan and speaks its protocol: plan on fd 3, JSON-line reports on fd 4, control on fd 5.
import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable, Stream, Writable } from 'node:stream';
import { helperExecutable } from './native';
import type { Plan } from './plan';
import type { FailureStep } from './steps';

/** A failure the helper (or the container's init) reported: which step (steps.def), on what, and errno. */
export interface HelperFailure { step: FailureStep; path: string; errno: number; detail: string }

export interface HelperEvents {
  pid?: number;
  started: boolean;
  exitCode?: number;
  errors: HelperFailure[];
}

export interface HelperHandle {
  child: ChildProcess;
  events: HelperEvents;
  /** Resolves with the container init's host pid once the helper has created it. */
  pid: Promise<number>;
  /** Tells a helper started with `wait-go` to let the container exec. */
  go(): void;
  /** Resolves with the helper's exit status (the container's, or 125). */
  exited: Promise<{ code: number; signal: NodeJS.Signals | null }>;
  /** Resolves once the command was exec'd, or the helper reported an error, or exited. */
  settled: Promise<void>;
  /** Lets a detached helper live on without this process: closes our ends, unrefs it. */
  release(): void;
  /** Gives up on a helper waiting for `go`: closes the control fd, so it kills the container and cleans up. */
  abort(): void;
  /** Our end of the helper's fd 6 (when spawned with `life`): EOF on its peer means the container is gone. */
  life?: Readable & Writable;
}

/** What the helper gets as fd 0, 1 or 2: ours, a pipe, /dev/null, an fd, or a stream with an fd (a socket). */
export type StdioSlot = 'inherit' | 'pipe' | 'ignore' | number | Stream;

export interface SpawnHelperOptions {
  stdio?: [StdioSlot, StdioSlot, StdioSlot];
  env?: NodeJS.ProcessEnv;
  detached?: boolean;
  /** Give the helper a socket on fd 6 that it holds for the container's life; `life` is our end. */
  life?: boolean;
}

export function spawnHelper(mode: 'run' | 'exec', plan: Plan, opts: SpawnHelperOptions = {}): HelperHandle {
  const std = opts.stdio ?? ['inherit', 'inherit', 'inherit'];
  const child = spawn(helperExecutable(), [mode], {
    stdio: opts.life ? [std[0], std[1], std[2], 'pipe', 'pipe', 'pipe', 'pipe'] : [std[0], std[1], std[2], 'pipe', 'pipe', 'pipe'],
    env: opts.env ?? process.env,
    detached: opts.detached ?? false,
  });
  const events: HelperEvents = { started: false, errors: [] };
  const fds = child.stdio as unknown as Array<Readable & Writable>;
  const planPipe: Writable = fds[3];
  planPipe.on('error', () => undefined);
  planPipe.end(plan.encode());
  const control: Writable = fds[5];
  control.on('error', () => undefined);

  let resolvePid!: (pid: number) => void;
  let rejectPid!: (e: Error) => void;
  const pid = new Promise<number>((res, rej) => { resolvePid = res; rejectPid = rej; });
  pid.catch(() => undefined);

  const report: Readable = fds[4];
  let buf = '';
  let settle!: () => void;
  const settled = new Promise<void>((res) => { settle = res; });
  report.setEncoding('utf8');
  report.on('data', (chunk: string) => {
    buf += chunk;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      let ev: Record<string, unknown>;
      try { ev = JSON.parse(line); } catch { continue; }
      switch (ev.event) {
        case 'pid': events.pid = ev.pid as number; resolvePid(events.pid); break;
        case 'started': events.started = true; settle(); break;
        case 'exit': events.exitCode = ev.code as number; break;
        case 'error': events.errors.push({ step: String(ev.step) as FailureStep, path: String(ev.path), errno: Number(ev.errno), detail: String(ev.detail ?? '') }); settle(); break;
      }
    }
  });
  const reportDone = new Promise<void>((res) => { report.on('end', res); report.on('close', res); report.on('error', () => res()); });
  const exited = new Promise<{ code: number; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      // The report pipe may still hold the last lines: read them before anyone looks at events.
      void reportDone.then(() => {
        settle();
        if (events.pid === undefined) rejectPid(new Error('helper exited before creating the container'));
        resolve({ code: code ?? 125, signal });
      });
    });
  });
  return {
    child,
    events,
    pid,
    go: () => { control.write('g'); },
    exited,
    settled,
    release: () => {
      for (const f of fds.slice(3)) f.destroy();
      child.unref();
    },
    abort: () => { control.destroy(); },
    life: opts.life ? fds[6] : undefined,
  };
}
