// `lodger info`: gathers host facts — id mapping, storage driver, runtime dir, cgroups, network backends.
import * as os from 'node:os';
import * as path from 'node:path';
import { chooseDriver } from '../storage/driver';
import type { StorePaths } from '../storage/paths';
import { mappedCount } from '../helper/idmap';
import { callerMapping } from '../helper/usernsWorker';

export async function gatherInfo(p: StorePaths): Promise<Record<string, unknown>> {
  const m = callerMapping();
  let driver: string;
  try { driver = await chooseDriver(p, m); } catch (e) { driver = `unavailable: ${(e as Error).message}`; }
  const info: Record<string, unknown> = {
    host: { kernel: os.release(), arch: process.arch, cpus: os.cpus().length, memTotal: os.totalmem() },
    user: { name: m.user, uid: process.getuid?.(), idMapping: m.mode === 'helper' ? 'newuidmap/newgidmap (subordinate ranges)' : m.uid.length === 1 && m.uid[0].count === 1 ? 'single id (no subordinate range)' : 'identity (root)', uidsMapped: mappedCount(m.uid), gidsMapped: mappedCount(m.gid) },
    store: { root: p.root, runtime: p.runtime, storageDriver: driver },
    // Where `lodger system service` listens by default, and how Docker clients find it (docs/API.md).
    dockerApi: { socket: path.join(p.runtime, 'lodger.sock'), dockerHost: `DOCKER_HOST=unix://${path.join(p.runtime, 'lodger.sock')}`, start: 'lodger system service --time 0' },
  };
  // Where containers live and why (docs/HPC.md), and the read-only stores images may come from.
  const { fsKind } = require('../storage/fsType') as typeof import('../storage/fsType');
  const { additionalStores } = require('../storage/additionalStores') as typeof import('../storage/additionalStores');
  Object.assign(info.store as object, { filesystem: fsKind(p.root).name, containers: p.containers, additionalStores: additionalStores(p).map((s) => s.root) });
  try {
    const cg = require('../cgroups/discover') as { describeCgroups?: () => unknown };
    if (cg.describeCgroups) info.cgroups = cg.describeCgroups();
  } catch { /* cgroups library not present */ }
  try {
    const net = require('../network/mode') as typeof import('../network/mode');
    const backends = await net.detectBackends();
    let dflt: string;
    try { dflt = net.defaultBackend(backends, (process.env.LODGER_NETWORK_BACKEND || null) as 'pasta' | 'slirp4netns' | null); } catch (e) { dflt = `none: ${(e as Error).message}`; }
    info.network = { backends: Object.fromEntries(Object.entries(backends).map(([k, v]) => [k, v ? v.version || 'installed' : 'not installed'])), default: dflt };
  } catch { /* network library not present */ }
  return info;
}
