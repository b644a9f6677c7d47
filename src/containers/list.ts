// The containers `ps` lists: records joined with their live state, filtered as Docker filters them (raw data: the front doors word it).
import { LodgerError } from '../errors';
import type { PortMapping } from '../network/ports';
import { containerEntries, listContainerIds, liveState, readState, type ContainerRecord, type ContainerState } from '../storage/containers';
import type { StorePaths } from '../storage/paths';
import { healthOf } from './healthState';

/** One container as `ps` sees it: times are ISO dates, ports the mappings it got at its last start. */
export interface ContainerSummary {
  Id: string;
  Image: string;
  ImageID: string;
  Command: string;
  Created: string;
  State: ContainerState['Status'];
  StartedAt: string;
  FinishedAt: string;
  ExitCode: number;
  Ports: PortMapping[];
  Names: string;
  Labels: Record<string, string>;
  /** A running container's health (--health-cmd, the image's HEALTHCHECK): Docker's State.Health.Status. */
  Health?: 'starting' | 'healthy' | 'unhealthy';
  Mounts: ContainerRecord['Mounts'];
  NetworkMode: string;
}

function ports(p: StorePaths, rec: ContainerRecord): PortMapping[] {
  const { readNetworkInfo } = require('./networkSetup') as typeof import('./networkSetup');
  return readNetworkInfo(p, rec.Id)?.Mappings ?? [];
}

export interface ListOptions { all: boolean; filters: string[] }

/** The ids of the running (or paused) containers: what `stats` shows when given none. */
export function runningContainerIds(p: StorePaths): string[] {
  return listContainerIds(p).filter((id) => liveState(readState(p, id)).Running);
}

/** Docker's `ps` filters: values of one key are alternatives, different keys must all match. */
export const PS_FILTERS = ['status', 'name', 'id', 'label', 'ancestor', 'exited', 'before', 'since'] as const;
const STATUSES = ['created', 'restarting', 'running', 'removing', 'paused', 'exited', 'dead'];

export function parseFilters(filters: string[], known: readonly string[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const f of filters) {
    const i = f.indexOf('=');
    if (i <= 0) throw new LodgerError('BAD_FILTER', `--filter ${JSON.stringify(f)}: expected KEY=VALUE (keys: ${known.join(', ')})`);
    const k = f.slice(0, i);
    if (!known.includes(k)) throw new LodgerError('BAD_FILTER', `--filter ${JSON.stringify(f)}: unknown filter ${k} (use ${known.join(', ')})`);
    out.set(k, [...(out.get(k) ?? []), f.slice(i + 1)]);
  }
  return out;
}

export function listContainers(p: StorePaths, o: ListOptions): ContainerSummary[] {
  const filters = parseFilters(o.filters, PS_FILTERS);
  for (const s of filters.get('status') ?? []) {
    if (!STATUSES.includes(s)) throw new LodgerError('BAD_FILTER', `--filter status=${s}: not a status (use ${STATUSES.join(', ')})`);
  }
  for (const e of filters.get('exited') ?? []) {
    if (!/^-?\d+$/.test(e)) throw new LodgerError('BAD_FILTER', `--filter exited=${e}: expected an exit code`);
  }
  const entries = containerEntries(p);
  // before= and since= name a container; those created before (after) it match.
  const created = (k: string) => (filters.get(k) ?? []).map((ref) => {
    const hit = entries.find((e) => e.rec.Id === ref || e.rec.Name === ref || (ref.length >= 3 && e.rec.Id.startsWith(ref)));
    if (!hit) throw new LodgerError('BAD_FILTER', `--filter ${k}=${ref}: no such container`);
    return hit.rec.Created;
  });
  const before = created('before');
  const since = created('since');
  const ancestors = (filters.get('ancestor') ?? []).map((a) => ancestorIds(p, a));
  const rows: ContainerSummary[] = [];
  for (const { rec, state } of entries) {
    if (!o.all && state.Status !== 'running' && state.Status !== 'paused') continue;
    const row: ContainerSummary = {
      Id: rec.Id,
      Image: rec.Image,
      ImageID: rec.ImageID,
      Command: [...(rec.Config.Entrypoint ?? []), ...(rec.Config.Cmd ?? [])].join(' '),
      Created: rec.Created,
      State: state.Status,
      StartedAt: state.StartedAt,
      FinishedAt: state.FinishedAt,
      ...(healthOf(p, rec, state.Running) ? { Health: healthOf(p, rec, state.Running) } : {}),
      ExitCode: state.ExitCode,
      Ports: ports(p, rec),
      Names: rec.Name,
      Labels: rec.Config.Labels ?? {},
      Mounts: rec.Mounts ?? [],
      NetworkMode: rec.HostConfig.NetworkMode,
    };
    const any = (k: string, test: (v: string) => boolean) => !filters.has(k) || filters.get(k)!.some(test);
    const ok = any('status', (v) => row.State === v)
      && any('name', (v) => new RegExp(v).test(row.Names))
      && any('id', (v) => row.Id.startsWith(v))
      && any('exited', (v) => row.State === 'exited' && row.ExitCode === Number(v))
      && any('label', (v) => {
        const i = v.indexOf('=');
        return i < 0 ? v in row.Labels : row.Labels[v.slice(0, i)] === v.slice(i + 1);
      })
      && (!ancestors.length || ancestors.some((a) => a.names.has(rec.Image) || [...a.ids].some((id) => rec.ImageID.startsWith(id))))
      && before.every((c) => rec.Created < c)
      && since.every((c) => rec.Created > c);
    if (ok) rows.push(row);
  }
  return rows.sort((a, b) => b.Created.localeCompare(a.Created));
}

/** ancestor=REF: the image REF names (by name with or without tag, or id prefix) — what Docker matches. */
function ancestorIds(p: StorePaths, ref: string): { names: Set<string>; ids: Set<string> } {
  const { findImage, withDefaultTag } = require('../storage/images') as typeof import('../storage/images');
  const names = new Set([ref, withDefaultTag(ref)]);
  const ids = new Set<string>();
  const img = findImage(p, ref);
  if (img) { ids.add(img.id); for (const n of img.names) names.add(n); }
  else if (/^(sha256:)?[0-9a-f]{3,64}$/.test(ref)) ids.add(ref.startsWith('sha256:') ? ref : `sha256:${ref}`);
  return { names, ids };
}
