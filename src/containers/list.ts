// The rows of `ps`: container records joined with their live state, filtered as Docker filters them.
import { LodgerError } from '../errors';
import { containerEntries, ZERO_TIME, type ContainerRecord, type ContainerState } from '../storage/containers';
import type { StorePaths } from '../storage/paths';
import { healthSuffix } from './healthState';

export interface PsRow {
  Id: string;
  Image: string;
  Command: string;
  Created: string;
  State: ContainerState['Status'];
  Status: string;
  ExitCode: number;
  Ports: string;
  Names: string;
  Labels: Record<string, string>;
}

function ago(iso: string): string {
  const { humanAge } = require('../cli/format') as typeof import('../cli/format');
  return humanAge(iso);
}

export function statusText(st: ContainerState): string {
  switch (st.Status) {
    case 'running': return `Up ${ago(st.StartedAt)}`;
    case 'paused': return `Up ${ago(st.StartedAt)} (Paused)`;
    // A container whose supervisor was killed has no recorded finish time: no age rather than 2000 years.
    case 'exited': return st.FinishedAt === ZERO_TIME ? `Exited (${st.ExitCode})` : `Exited (${st.ExitCode}) ${ago(st.FinishedAt)} ago`;
    case 'dead': return 'Dead';
    default: return 'Created';
  }
}

function portsText(p: StorePaths, rec: ContainerRecord): string {
  const { readNetworkInfo } = require('./networkSetup') as typeof import('./networkSetup');
  const out: string[] = [];
  for (const m of readNetworkInfo(p, rec.Id)?.Mappings ?? []) out.push(`${m.hostIp || '0.0.0.0'}:${m.hostPort}->${m.containerPort}/${m.protocol}`);
  return out.join(', ');
}

export interface ListOptions { all: boolean; filters: string[] }

export function listContainers(p: StorePaths, o: ListOptions): PsRow[] {
  const filters = o.filters.map((f) => {
    const i = f.indexOf('=');
    if (i < 0) throw new LodgerError('BAD_FILTER', `--filter ${f}: expected KEY=VALUE`);
    return [f.slice(0, i), f.slice(i + 1)] as const;
  });
  const rows: PsRow[] = [];
  for (const { rec, state } of containerEntries(p)) {
    if (!o.all && state.Status !== 'running' && state.Status !== 'paused') continue;
    const row: PsRow = {
      Id: rec.Id,
      Image: rec.Image,
      Command: [...(rec.Config.Entrypoint ?? []), ...(rec.Config.Cmd ?? [])].join(' '),
      Created: rec.Created,
      State: state.Status,
      Status: statusText(state) + healthSuffix(p, rec, state.Running),
      ExitCode: state.ExitCode,
      Ports: portsText(p, rec),
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
