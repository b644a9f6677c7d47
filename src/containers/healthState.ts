// Health-check state (health.json, Docker's State.Health) and starting a container's checker (health.ts runs the probes).
// Why a detached lodger process runs the probes: health.ts.
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { readJson, writeJsonAtomic } from '../storage/atomic';
import { containerDir, type ContainerRecord } from '../storage/containers';
import type { StorePaths } from '../storage/paths';
import { healthEnabled } from './healthConfig';

export interface HealthLogEntry { Start: string; End: string; ExitCode: number; Output: string }
/** Docker's State.Health. */
export interface HealthState { Status: 'starting' | 'healthy' | 'unhealthy'; FailingStreak: number; Log: HealthLogEntry[] }


export function healthFile(p: StorePaths, id: string): string {
  return path.join(containerDir(p, id), 'health.json');
}

export function readHealth(p: StorePaths, id: string): HealthState | undefined {
  try { return readJson<HealthState>(healthFile(p, id)); } catch { return undefined; }
}

/** A running container's health status for `ps` (undefined: no check, or not running). */
export function healthOf(p: StorePaths, rec: ContainerRecord, running: boolean): HealthState['Status'] | undefined {
  if (!running || !healthEnabled(rec.Config.Healthcheck)) return undefined;
  return readHealth(p, rec.Id)?.Status ?? 'starting';
}

/** Starts the checker of REC's health when it has a check; the container has just been started. */
export function startHealthChecker(p: StorePaths, rec: ContainerRecord): void {
  if (!healthEnabled(rec.Config.Healthcheck)) return;
  writeJsonAtomic(healthFile(p, rec.Id), { Status: 'starting', FailingStreak: 0, Log: [] } satisfies HealthState);
  const { packageRoot } = require('../helper/native') as typeof import('../helper/native');
  const child = spawn(process.execPath, [path.join(packageRoot(), 'bin', 'lodger'), '__healthcheck', p.root, rec.Id], { detached: true, stdio: 'ignore' });
  child.unref();
}
