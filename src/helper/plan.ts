// The plan handed to the native helper: typed steps in TypeScript, encoded as NUL-separated records.
import type { IdMapping } from './idmap';

/** One record: an op and its string arguments. Encoded as "N\0op\0arg…\0" where N counts the tokens. */
export type PlanRecord = [string, ...string[]];

export function encodePlan(records: PlanRecord[]): Buffer {
  const parts: string[] = [];
  for (const r of records) {
    for (const t of r) if (t.includes('\0')) throw new Error(`plan token contains NUL: ${JSON.stringify(t)}`);
    parts.push(String(r.length), ...r);
  }
  return Buffer.from(parts.join('\0') + '\0');
}

/** Builder for a plan's records, with one method per kind of step the helper knows. */
export class Plan {
  readonly records: PlanRecord[] = [];
  private phase: string | undefined;

  add(...r: PlanRecord): this { this.records.push(r); return this; }

  namespaces(ns: string[]): this { return this.add('ns', ...(ns as [string, ...string[]])); }

  idmap(m: IdMapping): this {
    this.add('map-mode', m.mode);
    for (const l of m.uid) this.add('uidmap', String(l.inside), String(l.outside), String(l.count));
    for (const l of m.gid) this.add('gidmap', String(l.inside), String(l.outside), String(l.count));
    if (m.setgroupsDeny) this.add('setgroups-deny');
    return this;
  }

  inPhase(phase: 'prepare' | 'setup' | 'cleanup'): this {
    if (this.phase !== phase) { this.add('phase', phase); this.phase = phase; }
    return this;
  }

  mount(source: string, target: string, fstype: string, flags: string[] = [], data = ''): this {
    return this.add('mount', source, target, fstype, flags.join(','), data);
  }
  bind(source: string, target: string, flags: string[] = []): this { return this.add('bind', source, target, flags.join(',')); }
  mkdir(target: string, mode = 0o755): this { return this.add('mkdir', target, mode.toString(8)); }
  symlink(linkTarget: string, at: string): this { return this.add('symlink', linkTarget, at); }
  readonly(target: string): this { return this.add('readonly', target); }
  remountReadonly(target: string, recursive = false): this { return this.add('remount-ro', target, recursive ? 'rec' : 'norec'); }
  mask(target: string): this { return this.add('mask', target); }
  umount(target: string): this { return this.add('umount', target); }
  rmtree(target: string): this { return this.add('rmtree', target); }

  encode(): Buffer { return encodePlan(this.records); }
}
