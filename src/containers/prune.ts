// `container prune`: removes every container that is not running (optionally filtered by label or age), reporting the space freed.
import * as path from 'node:path';
import { LodgerError } from '../errors';
import { containerDir, type ContainerRecord } from '../storage/containers';
import type { StorePaths } from '../storage/paths';
import { containerEntries } from './list';
import { removeContainer } from './remove';
import { callerMapping, runWorker } from '../helper/usernsWorker';

export interface PruneFilter { key: 'until' | 'label' | 'label!'; value: string }

/** Docker's prune filters: until=TIMESTAMP|DURATION, label=K[=V], label!=K[=V]. */
export function parsePruneFilters(filters: string[]): PruneFilter[] {
  return filters.map((f) => {
    const m = /^(until|label!|label)=(.*)$/s.exec(f);
    if (!m) throw new LodgerError('BAD_FILTER', `--filter ${f}: expected until=TIME, label=KEY[=VALUE] or label!=KEY[=VALUE]`);
    return { key: m[1] as PruneFilter['key'], value: m[2] };
  });
}

/** until=: an RFC 3339 time, Unix seconds, or a Go-style duration before now (10m, 24h, 1h30m). */
export function untilTime(v: string, now = Date.now()): number {
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v) * 1000;
  const dur = /^((\d+(\.\d+)?)(h|m|s|ms))+$/.test(v);
  if (dur) {
    const unit: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 };
    let total = 0;
    for (const part of v.matchAll(/(\d+(?:\.\d+)?)(ms|h|m|s)/g)) total += Number(part[1]) * unit[part[2]];
    return now - total;
  }
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new LodgerError('BAD_FILTER', `--filter until=${v}: not a time (RFC 3339 or Unix seconds) or a duration (e.g. 24h)`);
  return t;
}

function labelMatches(labels: Record<string, string>, spec: string): boolean {
  const i = spec.indexOf('=');
  return i < 0 ? spec in labels : labels[spec.slice(0, i)] === spec.slice(i + 1);
}

export function matchesFilters(created: string, labels: Record<string, string>, filters: PruneFilter[]): boolean {
  return filters.every((f) => {
    if (f.key === 'until') return Date.parse(created) < untilTime(f.value);
    if (f.key === 'label') return labelMatches(labels, f.value);
    return !labelMatches(labels, f.value);
  });
}

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
