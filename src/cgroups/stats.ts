// Resource usage of a container's cgroup for `lodger stats`: what the kernel counts, and CPU percent between two samples.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readCgroupFile, readOptionalCgroupFile } from './files';
import { parseFlatKeyed, parseMaxOrNumber, parseNestedKeyed } from './parse';

/**
 * Fields are absent when their controller is not enabled for the cgroup (its files do not exist), so
 * `stats` can print "--" rather than a made-up number. memoryMax/pidsMax are "max" when unlimited.
 */
export interface CgroupStats {
  /** cpu.stat usage_usec/user_usec/system_usec: present in every cgroup2 cgroup, controller or not (cgroup-v2.rst, cpu.stat). */
  cpuUsageUsec: number;
  userUsec: number;
  systemUsec: number;
  memoryCurrent?: number;
  memoryMax?: number | 'max';
  /** pids.current, or without the pids controller the tasks listed in cgroup.threads of the subtree. */
  pidsCurrent: number;
  pidsMax?: number | 'max';
  /** Summed over devices from io.stat rbytes/wbytes. */
  ioReadBytes?: number;
  ioWriteBytes?: number;
}

function optionalNumber(dir: string, file: string): number | 'max' | undefined {
  const t = readOptionalCgroupFile(path.join(dir, file));
  if (t === null) return undefined;
  return parseMaxOrNumber(t) ?? undefined;
}

/** Counts tasks (threads) in the subtree, as pids.current would: cgroup.threads lists a cgroup's own tasks only. */
function countTasks(dir: string, top = true): number {
  const threads = top
    ? readCgroupFile(path.join(dir, 'cgroup.threads'), 'count tasks of')
    : readOptionalCgroupFile(path.join(dir, 'cgroup.threads')) ?? ''; // a sub-cgroup may vanish while we look
  let sum = threads.split('\n').filter(Boolean).length;
  let entries: fs.Dirent[] = [];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    // gone meanwhile: it has no tasks to count
  }
  for (const e of entries) if (e.isDirectory()) sum += countTasks(path.join(dir, e.name), false);
  return sum;
}

/** Reads the cgroup's counters. Throws (naming cpu.stat) when the cgroup is gone. */
export function readStats(dir: string): CgroupStats {
  const cpu = parseFlatKeyed(readCgroupFile(path.join(dir, 'cpu.stat'), 'read stats from'));
  const s: CgroupStats = {
    cpuUsageUsec: cpu.get('usage_usec') ?? 0,
    userUsec: cpu.get('user_usec') ?? 0,
    systemUsec: cpu.get('system_usec') ?? 0,
    pidsCurrent: 0,
  };
  const memCur = optionalNumber(dir, 'memory.current');
  if (typeof memCur === 'number') s.memoryCurrent = memCur;
  const memMax = optionalNumber(dir, 'memory.max');
  if (memMax !== undefined) s.memoryMax = memMax;
  const pidsCur = optionalNumber(dir, 'pids.current');
  s.pidsCurrent = typeof pidsCur === 'number' ? pidsCur : countTasks(dir);
  const pidsMax = optionalNumber(dir, 'pids.max');
  if (pidsMax !== undefined) s.pidsMax = pidsMax;
  const io = readOptionalCgroupFile(path.join(dir, 'io.stat'));
  if (io !== null) {
    let r = 0;
    let w = 0;
    for (const dev of parseNestedKeyed(io).values()) {
      r += dev.get('rbytes') ?? 0;
      w += dev.get('wbytes') ?? 0;
    }
    s.ioReadBytes = r;
    s.ioWriteBytes = w;
  }
  return s;
}

/**
 * CPU use between two samples taken `elapsedNs` apart, in Docker's unit: percent of one CPU, so a
 * container busy on two CPUs shows 200%. Docker computes cpuDelta / systemDelta * ncpu * 100 where
 * systemDelta is elapsed time times ncpu, which reduces to cpuDelta / elapsed * 100. `ncpu` caps the
 * result at ncpu * 100: samples are not taken at the exact instants the kernel's counters moved, so
 * a short interval can otherwise overshoot. 0 when the interval is empty or the counter went back
 * (a new container under the same name).
 */
export function cpuPercent(prev: Pick<CgroupStats, 'cpuUsageUsec'>, cur: Pick<CgroupStats, 'cpuUsageUsec'>, elapsedNs: number, ncpu: number): number {
  if (!(elapsedNs > 0)) return 0;
  const deltaNs = (cur.cpuUsageUsec - prev.cpuUsageUsec) * 1000;
  if (deltaNs <= 0) return 0;
  return Math.min((deltaNs / elapsedNs) * 100, Math.max(1, ncpu) * 100);
}
