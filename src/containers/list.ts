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

export function listContainers(p: StorePaths, o: ListOptions): ContainerSummary[] {
  const filters = o.filters.map((f) => {
    const i = f.indexOf('=');
    if (i < 0) throw new LodgerError('BAD_FILTER', `--filter ${f}: expected KEY=VALUE`);
    return [f.slice(0, i), f.slice(i + 1)] as const;
  });
  const rows: ContainerSummary[] = [];
  for (const { rec, state } of containerEntries(p)) {
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
    };
    const ok = filters.every(([k, v]) => {
      switch (k) {
        case 'status': return row.State === v;
        case 'name': return new RegExp(v).test(row.Names);
        case 'id': return row.Id.startsWith(v);
        case 'ancestor': return rec.Image === v || rec.ImageID.includes(v);
        case 'exited': return row.State === 'exited' && String(row.ExitCode) === v;
        case 'label': {
          const [lk, lv] = v.split('=');
          return lv === undefined ? lk in row.Labels : row.Labels[lk] === lv;
        }
        default: throw new LodgerError('BAD_FILTER', `--filter ${k}: unknown filter (use status, name, id, label, ancestor, exited)`);
      }
    });
    if (ok) rows.push(row);
  }
  return rows.sort((a, b) => b.Created.localeCompare(a.Created));
}
