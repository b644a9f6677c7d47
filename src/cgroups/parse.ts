// Pure parsers for the kernel's cgroup text formats: /proc/PID/mountinfo, /proc/PID/cgroup and cgroupfs interface files.

/** One line of /proc/PID/mountinfo (proc(5), "/proc/pid/mountinfo"). */
export interface MountInfoEntry {
  /** Field 4: the root of the mount within its filesystem (for cgroup2, a cgroup path). */
  root: string;
  /** Field 5: where it is mounted, octal escapes decoded. */
  mountPoint: string;
  /** The first field after the " - " separator. */
  fstype: string;
  /** The last field: per-superblock options; for cgroup v1 these name the controllers (`rw,cpu,cpuacct`). */
  superOptions: string[];
}

/**
 * The kernel escapes space, tab, newline and backslash in mountinfo paths as 3-digit octal
 * (fs/proc_namespace.c, show_mountinfo → seq_path_root with " \t\n\\").
 */
function unescapeMountPath(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/**
 * Parses mountinfo. Optional fields (`shared:4`, `master:1`) vary in number, so the fstype is found
 * after the lone "-" separator rather than at a fixed index (proc(5)).
 */
export function parseMountinfo(text: string): MountInfoEntry[] {
  const out: MountInfoEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const f = line.split(' ');
    const sep = f.indexOf('-', 6);
    if (sep < 0 || f.length < sep + 4) continue; // not a mountinfo line: ignore rather than guess
    out.push({
      root: unescapeMountPath(f[3]),
      mountPoint: unescapeMountPath(f[4]),
      fstype: f[sep + 1],
      superOptions: f[sep + 3].split(','),
    });
  }
  return out;
}

/** The caller's cgroup membership as /proc/PID/cgroup states it (cgroups(7), "/proc/[pid]/cgroup"). */
export interface ProcCgroup {
  /** The cgroup v2 path from the `0::/path` line, or null on a v1-only host. */
  unified: string | null;
  /** cgroup v1 memberships: controller (or `name=systemd`) → path. */
  v1: Record<string, string>;
}

/**
 * Parses `hierarchy-ID:controller-list:cgroup-path` lines. The path may itself contain ':', so only
 * the first two colons split. The v2 line has ID 0 and an empty controller list (cgroups(7)).
 */
export function parseProcCgroup(text: string): ProcCgroup {
  const res: ProcCgroup = { unified: null, v1: {} };
  for (const line of text.split('\n')) {
    if (!line) continue;
    const a = line.indexOf(':');
    const b = line.indexOf(':', a + 1);
    if (a < 0 || b < 0) continue;
    const id = line.slice(0, a);
    const ctrls = line.slice(a + 1, b);
    const path = line.slice(b + 1);
    if (id === '0' && ctrls === '') res.unified = path;
    else for (const c of ctrls.split(',')) if (c) res.v1[c] = path;
  }
  return res;
}

/** A space-separated controller list: cgroup.controllers, cgroup.subtree_control (cgroup-v2.rst "Core Interface Files"). */
export function parseControllerList(text: string): string[] {
  return text.split(/\s+/).filter(Boolean);
}

/**
 * A flat-keyed file: `key value` per line (cgroup-v2.rst "Interface Files" → "Flat keyed"), e.g.
 * cgroup.events, cpu.stat, memory.events, pids.events. Non-numeric values become NaN and are left out.
 */
export function parseFlatKeyed(text: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of text.split('\n')) {
    const sp = line.indexOf(' ');
    if (sp <= 0) continue;
    const v = Number(line.slice(sp + 1).trim());
    if (!Number.isNaN(v)) m.set(line.slice(0, sp), v);
  }
  return m;
}

/**
 * A nested-keyed file: `KEY sub=val sub=val` per line (cgroup-v2.rst "Nested keyed"), e.g. io.stat's
 * `8:16 rbytes=1459200 wbytes=314773504 rios=192 wios=353 dbytes=0 dios=0`.
 */
export function parseNestedKeyed(text: string): Map<string, Map<string, number>> {
  const m = new Map<string, Map<string, number>>();
  for (const line of text.split('\n')) {
    const parts = line.trim().split(/\s+/);
    if (parts.length < 2 || !parts[0]) continue;
    const sub = new Map<string, number>();
    for (const kv of parts.slice(1)) {
      const eq = kv.indexOf('=');
      if (eq <= 0) continue;
      const v = Number(kv.slice(eq + 1));
      if (!Number.isNaN(v)) sub.set(kv.slice(0, eq), v);
    }
    m.set(parts[0], sub);
  }
  return m;
}

/**
 * A single value that is a number or the word "max" (memory.max, pids.max; cgroup-v2.rst "Conventions").
 * Anything else gives null: callers treat it as "not reported" rather than failing `stats`.
 */
export function parseMaxOrNumber(text: string): number | 'max' | null {
  const t = text.trim();
  if (t === 'max') return 'max';
  const n = Number(t);
  return !t || Number.isNaN(n) ? null : n;
}
