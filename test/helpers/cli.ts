// Drives the real lodger CLI from integration tests: one-shot runs with captured output, and background processes to talk to.
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { exitStatus, killChild, runCommand, type CommandResult } from './exec';
import { currentUid, repoRoot } from './paths';
import type { Store } from './store';

export { makeStore, removeTree, type Store } from './store';
export { requirePrereq, requireTool, requireSubids, inCI } from './prereqs';
export { repoRoot } from './paths';

export interface LodgerOptions {
  /** LODGER_ROOT; default: the store of `store`, else the run's scratch store from globalSetup. */
  root?: string;
  /** A store from makeStore(): sets LODGER_ROOT, XDG_RUNTIME_DIR and XDG_CONFIG_HOME. */
  store?: Store;
  /** Extra environment; a key set to undefined is removed. */
  env?: Record<string, string | undefined>;
  input?: string | Buffer;
  /** Default 50 s, under vitest's 60 s test timeout so the output of a hung run is still shown. */
  timeoutMs?: number;
  cwd?: string;
  /** Tests about running as root may opt out of the unprivileged-user check. */
  allowRoot?: boolean;
}

export type LodgerResult = CommandResult;

/**
 * The command that runs lodger: $LODGER_TEST_BIN (an installed lodger under test), else node on the
 * repository's bin/lodger, which needs the bundle from `npm run build`.
 */
export function lodgerCommand(): { cmd: string; args: string[] } {
  const override = process.env.LODGER_TEST_BIN;
  if (override) return { cmd: override, args: [] };
  const bin = path.join(repoRoot, 'bin', 'lodger');
  if (!fs.existsSync(path.join(repoRoot, 'dist', 'lodger.js'))) {
    throw new Error(`${path.join(repoRoot, 'dist', 'lodger.js')} is missing: run \`npm run build\` first`);
  }
  // '--': Node 20 would otherwise take a later --env-file (lodger run's flag) as its own option.
  return { cmd: process.execPath, args: ['--', bin] };
}

/** The environment lodger runs with in tests. */
export function lodgerEnv(opts: Pick<LodgerOptions, 'root' | 'store' | 'env'> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  // Makes every node start ~0.1 s slower (measured here) and has nothing to do with a loopback registry.
  delete env.NODE_EXTRA_CA_CERTS;
  const root = opts.root ?? opts.store?.root ?? process.env.LODGER_TEST_DEFAULT_ROOT;
  if (!root) throw new Error('no lodger store: pass {root} or {store: makeStore()}, or run under vitest with test/helpers/globalSetup.ts');
  env.LODGER_ROOT = root;
  if (opts.store) Object.assign(env, opts.store.env, { LODGER_ROOT: root });
  else if (!opts.root && process.env.LODGER_TEST_DEFAULT_RUNTIME) env.XDG_RUNTIME_DIR = process.env.LODGER_TEST_DEFAULT_RUNTIME;
  for (const [k, v] of Object.entries(opts.env ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

function checkUser(allowRoot: boolean | undefined): void {
  if (currentUid() === 0 && !allowRoot) {
    throw new Error(
      'integration tests must run as an unprivileged user with a subuid range, not as root: ' +
        'e.g. runuser -u lodgertest -- npx vitest run test/integration',
    );
  }
}

/**
 * Runs `lodger ARGS…` to completion. Never throws for a failing command: check `code`. On timeout the
 * whole process group (CLI, helper, container) is killed and `timedOut` is set.
 */
export async function runLodger(args: string[], opts: LodgerOptions = {}): Promise<LodgerResult> {
  checkUser(opts.allowRoot);
  const { cmd, args: pre } = lodgerCommand();
  return runCommand(cmd, [...pre, ...args], {
    env: lodgerEnv(opts),
    cwd: opts.cwd,
    input: opts.input,
    timeoutMs: opts.timeoutMs ?? 50_000,
    processGroup: true,
  });
}

/** runLodger that throws, with the command's output, unless it exits 0. */
export async function runLodgerOk(args: string[], opts: LodgerOptions = {}): Promise<LodgerResult> {
  const r = await runLodger(args, opts);
  if (r.code !== 0) {
    throw new Error(
      `lodger ${args.join(' ')} ${r.timedOut ? 'timed out' : `exited ${r.code}`}\n--- stderr\n${r.stderr}--- stdout\n${r.stdout}`,
    );
  }
  return r;
}

interface Captured {
  stdout: string;
  stderr: string;
  exited: Promise<LodgerResult>;
}

const live = new Set<ChildProcess>();
const captured = new WeakMap<ChildProcess, Captured>();

/**
 * Starts `lodger ARGS…` in the background (own process group; stdio piped unless `stdio` says otherwise).
 * Output is captured for lodgerOutput/waitForOutput/waitForExit. Kill leftovers with killLodgers() in afterEach.
 */
export function spawnLodger(args: string[], opts: Omit<LodgerOptions, 'input' | 'timeoutMs'> & { stdio?: StdioOptions } = {}): ChildProcess {
  checkUser(opts.allowRoot);
  const { cmd, args: pre } = lodgerCommand();
  const child = spawn(cmd, [...pre, ...args], {
    env: lodgerEnv(opts),
    cwd: opts.cwd,
    stdio: opts.stdio ?? ['pipe', 'pipe', 'pipe'],
    detached: true,
  });
  live.add(child);
  const cap: Captured = {
    stdout: '',
    stderr: '',
    exited: new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        live.delete(child);
        // Let the pipes drain before reporting the final output.
        setImmediate(() => resolve({ code: exitStatus(code, signal), signal, stdout: cap.stdout, stderr: cap.stderr, timedOut: false }));
      });
    }),
  };
  child.stdout?.setEncoding('utf8').on('data', (s: string) => (cap.stdout += s));
  child.stderr?.setEncoding('utf8').on('data', (s: string) => (cap.stderr += s));
  child.on('error', () => undefined);
  captured.set(child, cap);
  return child;
}

/** Output a spawned lodger has written so far. */
export function lodgerOutput(child: ChildProcess): { stdout: string; stderr: string } {
  const cap = captured.get(child);
  if (!cap) throw new Error('not a process from spawnLodger');
  return { stdout: cap.stdout, stderr: cap.stderr };
}

/** Waits until the spawned lodger's output (stdout, stderr or both) matches; fails on exit or timeout. */
export async function waitForOutput(
  child: ChildProcess,
  pattern: RegExp | string,
  opts: { stream?: 'stdout' | 'stderr' | 'both'; timeoutMs?: number } = {},
): Promise<string> {
  const cap = captured.get(child);
  if (!cap) throw new Error('not a process from spawnLodger');
  const which = opts.stream ?? 'both';
  const text = () => (which === 'stdout' ? cap.stdout : which === 'stderr' ? cap.stderr : cap.stdout + cap.stderr);
  const matches = () => (typeof pattern === 'string' ? text().includes(pattern) : pattern.test(text()));
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  let exited = false;
  void cap.exited.then(() => (exited = true));
  while (!matches()) {
    if (exited || Date.now() > deadline) {
      throw new Error(
        `lodger ${exited ? 'exited' : 'timed out'} before printing ${String(pattern)}\n--- stdout\n${cap.stdout}--- stderr\n${cap.stderr}`,
      );
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return text();
}

/** Waits for a spawned lodger to exit (SIGKILLing its group after `timeoutMs`, default 30 s) and returns its result. */
export async function waitForExit(child: ChildProcess, timeoutMs = 30_000): Promise<LodgerResult> {
  const cap = captured.get(child);
  if (!cap) throw new Error('not a process from spawnLodger');
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killChild(child, 'SIGKILL', true);
  }, timeoutMs);
  const r = await cap.exited;
  clearTimeout(timer);
  return { ...r, timedOut };
}

/** Kills the process groups of every spawned lodger still running. */
export function killLodgers(signal: NodeJS.Signals = 'SIGKILL'): void {
  for (const child of live) killChild(child, signal, true);
}

// A worker that ends (or crashes) must not leave containers running behind it.
process.once('exit', () => killLodgers());

