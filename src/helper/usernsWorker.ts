// Runs a store operation (unpack, remove, copy) in a Node worker inside a user namespace with the caller's id maps.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { LodgerError } from '../errors';
import { native, packageRoot, WORKER_INPUT_CHUNK } from './native';
import { spawnHelper } from './helperProcess';
import { helperFailureToError } from './helperErrors';
import { idMappingForCaller, type IdMapping } from './idmap';
import { Plan } from './plan';

export interface WorkerResult<T> { result: T; stderr: string }

let cachedMapping: IdMapping | undefined;
/** The caller's mapping, computed once per CLI process. */
export function callerMapping(userns?: string): IdMapping {
  if (userns) return idMappingForCaller({ userns });
  return (cachedMapping ??= idMappingForCaller());
}

/**
 * Files in layers are owned by the host ids their container ids map to; only root of a user namespace
 * with that mapping can create or delete them (DESIGN-NOTES "Ownership in the store"). So the CLI
 * re-executes itself as `__worker OP ARGS…` there, through the helper, and reads one JSON result line.
 */
export async function runWorker<T>(op: string, args: string[], input?: Readable, mapping = callerMapping()): Promise<WorkerResult<T>> {
  const plan = new Plan().namespaces(['mnt']).idmap(mapping);
  return runWorkerPlan<T>('run', plan, op, args, input, mapping.user);
}

/** A worker started before its input is known (see startWorker). */
export interface PendingWorker<T> {
  /** Writes PREAMBLE (if any) and then INPUT to the worker's stdin, and waits for its result. */
  feed(input: Readable, preamble?: string): Promise<WorkerResult<T>>;
  /** Ends a worker that will get no input (its stdin closes empty) and waits for it to exit. */
  cancel(): Promise<void>;
}

/**
 * Starts worker OP now and gives it its input later: the worker's start (the helper, the id maps, a
 * Node process) then overlaps whatever the caller does meanwhile — a pull fetching the manifest.
 */
export function startWorker<T>(op: string, args: string[], mapping = callerMapping()): PendingWorker<T> {
  const plan = new Plan().namespaces(['mnt']).idmap(mapping);
  const w = launchWorker<T>('run', plan, op, args, true, mapping.user);
  let used = false;
  return {
    feed(input, preamble) {
      used = true;
      if (preamble !== undefined) w.stdin!.write(preamble);
      pipeInto(input, w.stdin!);
      return w.result;
    },
    async cancel() {
      if (used) return;
      used = true;
      w.stdin!.end();
      await w.result.catch(() => undefined);
    },
  };
}

/**
 * Runs the worker with a plan the caller has begun: 'run' with its namespaces, id maps and prepare
 * steps (e.g. a container's overlay mounted for the worker only), or 'exec' joining a running
 * container's namespaces. The worker's process, environment and protocol are added here.
 */
export async function runWorkerPlan<T>(mode: 'run' | 'exec', plan: Plan, op: string, args: string[], input?: Readable, user = callerMapping().user): Promise<WorkerResult<T>> {
  const w = launchWorker<T>(mode, plan, op, args, input !== undefined, user);
  if (input) pipeInto(input, w.stdin!);
  return w.result;
}

/** INPUT into the worker's stdin; a failing INPUT (a broken download) ends the worker's input with it. */
function pipeInto(input: Readable, stdin: Writable): void {
  input.on('error', (e) => { stdin.destroy(e); });
  input.pipe(stdin);
}

function launchWorker<T>(mode: 'run' | 'exec', plan: Plan, op: string, args: string[], withInput: boolean, user: string): { stdin: Writable | null; result: Promise<WorkerResult<T>> } {
  // Root of the namespace, no capability records: the worker keeps what root there has. Through bin/lodger,
  // which starts the bundle from V8's code cache (some 10 ms sooner than dist/lodger.js).
  plan.process({ uid: 0, gid: 0, env: envForWorker(), argv: [process.execPath, path.join(packageRoot(), 'bin', 'lodger'), '__worker', op, ...args], stdin: withInput ? 'inherit' : 'null' });
  // Input goes through a pipe grown to 1 MiB, written and read in pieces of that size (see
  // WORKER_INPUT_CHUNK): a 120 MB layer through Node's 64 KiB stdio pieces cost the worker some 0.15 s
  // of wakeups and stream events (measured on tmpfs: 0.45 s against 0.28 s for the same unpack).
  const input = withInput ? native().pipe(WORKER_INPUT_CHUNK) : null;
  let h: ReturnType<typeof spawnHelper>;
  try {
    h = spawnHelper(mode, plan, { stdio: [input ? input[0] : 'ignore', 'pipe', 'pipe'] });
  } catch (e) {
    if (input) fs.closeSync(input[1]);
    throw e;
  } finally {
    if (input) fs.closeSync(input[0]);  // the helper has its copy
  }
  const stdin = input ? fs.createWriteStream('', { fd: input[1], highWaterMark: WORKER_INPUT_CHUNK }) : null;
  let stdout = '';
  let stderr = '';
  h.child.stdout!.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
  h.child.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  // A worker that exits early (a failed unpack) closes its end: EPIPE, reported through RESULT instead.
  stdin?.on('error', () => undefined);
  const result = (async (): Promise<WorkerResult<T>> => {
    const { code } = await h.exited;
    if (h.events.errors.length > 0) throw helperFailureToError(h.events.errors[0], { user, what: `store worker (${op})` });
    const last = stdout.trim().split('\n').pop() ?? '';
    let parsed: { ok: boolean; result?: T; error?: { code: string; message: string } } | undefined;
    try { parsed = JSON.parse(last); } catch { /* fall through */ }
    if (!parsed) throw new LodgerError('WORKER_FAILED', `store worker "${op}" failed (exit ${code}): ${stderr.trim() || 'no output'}`);
    if (!parsed.ok) throw new LodgerError(parsed.error?.code ?? 'WORKER_FAILED', parsed.error?.message ?? 'store worker failed');
    return { result: parsed.result as T, stderr };
  })();
  // Whoever feeds the worker awaits RESULT; a cancelled one's failure is nobody's.
  result.catch(() => undefined);
  return { stdin, result };
}

function envForWorker(): string[] {
  const keep = ['PATH', 'HOME', 'LANG', 'TMPDIR', 'LODGER_DEBUG'];
  const env = keep.filter((k) => process.env[k] !== undefined).map((k) => `${k}=${process.env[k]}`);
  return ['LODGER_WORKER=1', ...env];
}
