// `container prune`: removes every container that is not running (optionally filtered by label or age), reporting the space freed.
import * as path from 'node:path';
import { LodgerError } from '../errors';
import { containerDir, containerEntries, type ContainerRecord } from '../storage/containers';
import type { StorePaths } from '../storage/paths';
import { type PruneFilter, matchesFilters } from '../storage/pruneFilters';
import { removeContainer } from './remove';
import { callerMapping, runWorker } from '../helper/usernsWorker';

/** The directory holding a container's own changes (its size is what removing it frees, beside its small record). */
export function writableLayerDir(p: StorePaths, rec: ContainerRecord): string {
  return path.join(containerDir(p, rec.Id), rec.Driver === 'vfs' ? 'rootfs' : 'upper');
}

/** Sizes of the containers' writable layers, measured in one worker (their files belong to mapped ids). */
export async function writableLayerSizes(p: StorePaths, recs: ContainerRecord[]): Promise<number[]> {
  if (recs.length === 0) return [];
  const { result } = await runWorker<number[]>('du', recs.map((r) => writableLayerDir(p, r)), undefined, callerMapping());
  return result;
}

export interface PruneResult { deleted: string[]; reclaimed: number; errors: string[] }

export async function pruneContainers(p: StorePaths, filters: PruneFilter[]): Promise<PruneResult> {
  const victims = containerEntries(p)
    .filter(({ state }) => !state.Running && state.Status !== 'paused')
    .filter(({ rec }) => matchesFilters(rec.Created, rec.Config.Labels ?? {}, filters))
    .map(({ rec }) => rec);
  const sizes = await writableLayerSizes(p, victims);
  const out: PruneResult = { deleted: [], reclaimed: 0, errors: [] };
  for (let i = 0; i < victims.length; i++) {
    try {
      // Not forced: one started since we looked is running now, and stays.
      await removeContainer(p, victims[i].Id, false);
      out.deleted.push(victims[i].Id);
      out.reclaimed += sizes[i] ?? 0;
    } catch (e) {
      if (!(e instanceof LodgerError)) throw e;
      if (e.code !== 'CONTAINER_RUNNING') out.errors.push(e.message);
    }
  }
  return out;
}
