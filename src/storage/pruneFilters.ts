// Docker's prune filters (until=, label=, label!=), shared by container, image and volume prune.
import { LodgerError } from '../errors';

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
