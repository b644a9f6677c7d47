// Runs host programs for the test helpers: captures output, enforces a timeout, and kills the whole process group when asked.
import { spawn, type ChildProcess } from 'node:child_process';
import * as os from 'node:os';

export interface CommandResult {
  /** Exit status; 128 + signal number when the process was killed, as a shell reports it. */
  code: number;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

export interface CommandOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Written to stdin, which is then closed; without it stdin is /dev/null. */
  input?: string | Buffer;
  /** Default 120 s; the process (group) is SIGKILLed when it runs out. */
  timeoutMs?: number;
  /** Start the command in its own process group and kill the whole group on timeout. */
  processGroup?: boolean;
}

/** Sends a signal to a child, or to its process group; a process that is already gone is not an error. */
export function killChild(child: ChildProcess, signal: NodeJS.Signals, group: boolean): void {
  if (child.pid === undefined) return;
  try {
    process.kill(group ? -child.pid : child.pid, signal);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
  }
}

/** Exit status as a shell reports it: the code, or 128 + the signal's number. */
export function exitStatus(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  return 128 + (signal ? (os.constants.signals[signal] ?? 0) : 0);
}

/**
 * Resolves once the child has exited and its output is read. A grandchild that outlives it (a detached
 * container, say) can hold stdout open for ever, so after the exit we wait for the pipes only briefly.
 */
export function collectChild(child: ChildProcess, opts: { timeoutMs: number; processGroup: boolean }): Promise<CommandResult> {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout?.on('data', (c: Buffer) => out.push(c));
  child.stderr?.on('data', (c: Buffer) => err.push(c));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killChild(child, 'SIGKILL', opts.processGroup);
  }, opts.timeoutMs);
  return new Promise((resolve, reject) => {
    let settled = false;
    const finish = (code: number | null, signal: NodeJS.Signals | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.stdout?.destroy();
      child.stderr?.destroy();
      resolve({
        code: exitStatus(code, signal),
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        timedOut,
      });
    };
    child.once('error', (e) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(e);
    });
    child.once('close', finish);
    child.once('exit', (code, signal) => {
      setTimeout(() => finish(code, signal), 2000).unref();
    });
  });
}

/** Runs a command to completion and returns its status and output; never throws for a non-zero exit. */
export function runCommand(cmd: string, args: readonly string[], opts: CommandOptions = {}): Promise<CommandResult> {
  const processGroup = opts.processGroup ?? false;
  const child = spawn(cmd, args, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    detached: processGroup,
  });
  if (opts.input !== undefined && child.stdin) {
    // A command may exit without reading its input; the resulting EPIPE says nothing about the command.
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input);
  }
  return collectChild(child, { timeoutMs: opts.timeoutMs ?? 120_000, processGroup });
}

/** Runs a command and returns its stdout; throws an error naming the command, its status and its stderr otherwise. */
export async function mustRun(cmd: string, args: readonly string[], opts: CommandOptions = {}): Promise<string> {
  const r = await runCommand(cmd, args, opts);
  if (r.code !== 0) {
    const why = r.timedOut ? `timed out after ${opts.timeoutMs ?? 120_000} ms` : `exited with status ${r.code}`;
    throw new Error(`\`${cmd} ${args.join(' ')}\` ${why}\n${r.stderr.trim() || r.stdout.trim()}`);
  }
  return r.stdout;
}
