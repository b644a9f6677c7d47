// `stats` and `pause`/`unpause`: read and freeze the container's own cgroup (cpu.stat, memory.*, pids.*, io.stat, cgroup.freeze).
import * as fs from 'node:fs';
import * as os from 'node:os';
import { LodgerError } from '../errors';
import { liveState, readState, writeState, type ContainerState } from '../storage/containers';
import type { StorePaths } from '../storage/paths';
import { mustRecord } from './lifecycle';

function cgroupOf(p: StorePaths, id: string, op: string): { dir: string; st: ContainerState } {
  const rec = mustRecord(p, id);
  const st = liveState(readState(p, id));
  if (!st.Running) throw new LodgerError('NOT_RUNNING', `${op} ${rec.Name}: the container is not running`);
  if (!st.CgroupPath) {
    throw new LodgerError('NO_CGROUP', `${op} ${rec.Name}: the container has no cgroup of its own — this host delegates no cgroup v2 subtree to you (see "lodger info"), or it was started with --cgroups=disabled`);
  }
  return { dir: st.CgroupPath, st };
}

export async function pauseContainer(p: StorePaths, id: string, pause: boolean): Promise<void> {
  const cg = require('../cgroups') as typeof import('../cgroups');
  const { dir } = cgroupOf(p, id, pause ? 'pause' : 'unpause');
  if (pause) await cg.freeze(dir); else await cg.thaw(dir);
  // state.json's one writer is the supervisor; Paused is derived here from cgroup.events, so keep it in step.
  const raw = readState(p, id);
  if (raw) writeState(p, id, { ...raw, Status: pause ? 'paused' : 'running', Paused: pause });
}

/** One container's usage over the sampling interval: numbers only (bytes, percent of one host's CPUs); the front doors word them. */
export interface StatsSample {
  id: string; name: string;
  cpuPercent: number;
  /** memory.current; undefined when the memory controller is not delegated. */
  memoryCurrent?: number;
  /** memory.max as read ('max': no limit). */
  memoryMax?: number | 'max';
  /** What usage is measured against: memory.max, or the host's memory without a limit. */
  memoryLimit: number;
  pids: number;
  netRx: number; netTx: number;
  /** io.stat totals; undefined when the io controller is not delegated. */
  ioReadBytes?: number; ioWriteBytes?: number;
}

/** Bytes received/sent on the container's interfaces other than lo, from its network namespace (proc(5) /proc/PID/net/dev). */
function netIO(pid: number): { rx: number; tx: number } {
  let rx = 0, tx = 0;
  try {
    for (const line of fs.readFileSync(`/proc/${pid}/net/dev`, 'utf8').split('\n').slice(2)) {
      const [name, rest] = line.split(':');
      if (!rest || name.trim() === 'lo') continue;
      const f = rest.trim().split(/\s+/).map(Number);
      rx += f[0]; tx += f[8];
    }
  } catch { /* gone */ }
  return { rx, tx };
}

export async function sampleStats(p: StorePaths, ids: string[], intervalMs = 500): Promise<StatsSample[]> {
  const cg = require('../cgroups') as typeof import('../cgroups');
  const targets = ids.map((id) => ({ id, rec: mustRecord(p, id), ...cgroupOf(p, id, 'stats') }));
  const first = targets.map((t) => cg.readStats(t.dir));
  const t0 = process.hrtime.bigint();
  await new Promise((r) => setTimeout(r, intervalMs));
  const elapsed = Number(process.hrtime.bigint() - t0);
  const ncpu = os.availableParallelism();
  return targets.map((t, i) => {
    const s = cg.readStats(t.dir);
    const cpu = cg.cpuPercent(first[i], s, elapsed, ncpu);
    const limit = s.memoryMax === undefined || s.memoryMax === 'max' ? os.totalmem() : s.memoryMax;
    const net = netIO(t.st.Pid);
    return {
      id: t.id, name: t.rec.Name, cpuPercent: cpu, memoryCurrent: s.memoryCurrent, memoryMax: s.memoryMax, memoryLimit: limit,
      pids: s.pidsCurrent, netRx: net.rx, netTx: net.tx, ioReadBytes: s.ioReadBytes, ioWriteBytes: s.ioReadBytes === undefined ? undefined : s.ioWriteBytes ?? 0,
    };
  });
}
