// Runs a store operation (unpack, remove, copy) in a Node worker inside a user namespace with the caller's id maps.
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { LodgerError } from '../errors';
import { packageRoot } from '../native';
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

/**
 * Runs the worker with a plan the caller has begun: 'run' with its namespaces, id maps and prepare
 * steps (e.g. a container's overlay mounted for the worker only), or 'exec' joining a running
 * container's namespaces. The worker's process, environment and protocol are added here.
 */
export async function runWorkerPlan<T>(mode: 'run' | 'exec', plan: Plan, op: string, args: string[], input?: Readable, user = callerMapping().user): Promise<WorkerResult<T>> {
  plan
    .add('stdin', input ? 'inherit' : 'null')
    .add('user', '0', '0')
    .add('env', ...envForWorker())
    .add('argv', process.execPath, path.join(packageRoot(), 'dist', 'lodger.js'), '__worker', op, ...args);
  const h = spawnHelper(mode, plan, { stdio: [input ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  h.child.stdout!.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
  h.child.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  if (input) {
    input.on('error', (e) => { h.child.stdin!.destroy(e); });
    h.child.stdin!.on('error', () => undefined);
    input.pipe(h.child.stdin!);
  }
  const { code } = await h.exited;
  if (h.events.errors.length > 0) throw helperFailureToError(h.events.errors[0], { user, what: `store worker (${op})` });
  const last = stdout.trim().split('\n').pop() ?? '';
  let parsed: { ok: boolean; result?: T; error?: { code: string; message: string } } | undefined;
  try { parsed = JSON.parse(last); } catch { /* fall through */ }
  if (!parsed) throw new LodgerError('WORKER_FAILED', `store worker "${op}" failed (exit ${code}): ${stderr.trim() || 'no output'}`);
  if (!parsed.ok) throw new LodgerError(parsed.error?.code ?? 'WORKER_FAILED', parsed.error?.message ?? 'store worker failed');
  return { result: parsed.result as T, stderr };
}

function envForWorker(): [string, ...string[]] {
  const keep = ['PATH', 'HOME', 'LANG', 'TMPDIR', 'LODGER_DEBUG'];
  const env = keep.filter((k) => process.env[k] !== undefined).map((k) => `${k}=${process.env[k]}`);
  return ['LODGER_WORKER=1', ...env];
}
