// Storage drivers: kernel overlayfs in the user namespace (probed once per kernel), fuse-overlayfs, or copying (vfs).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LodgerError } from '../errors';
import { spawnHelper } from '../runtime/helperProcess';
import type { IdMapping } from '../runtime/idmap';
import { Plan } from '../runtime/plan';
import { readJson, writeJsonAtomic } from './atomic';
import type { StorageDriverName } from './containers';
import type { StorePaths } from './paths';

export const DRIVERS: StorageDriverName[] = ['overlay', 'fuse-overlayfs', 'vfs'];

interface ProbeRecord { kernel: string; overlay: boolean; checked: string }

/** overlay mount options; lowerdir lists the top layer first (overlayfs.rst). userxattr: we are not real root. */
export function overlayOptions(lower: string[], upper: string, work: string, kernel: boolean): string {
  const esc = (s: string) => s.replace(/\\/g, '\\\\').replace(/:/g, '\\:').replace(/,/g, '\\,');
  const opts = [`lowerdir=${lower.map(esc).join(':')}`, `upperdir=${esc(upper)}`, `workdir=${esc(work)}`];
  if (kernel) opts.push('userxattr');
  return opts.join(',');
}

function hasFuseOverlayfs(): boolean {
  for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(':')) {
    try { fs.accessSync(path.join(dir, 'fuse-overlayfs'), fs.constants.X_OK); return true; } catch { /* next */ }
  }
  return false;
}

/**
 * Whether this kernel mounts overlayfs inside a user namespace (Linux ≥ 5.11 unless a distribution
 * disabled it). Probed by really mounting one, once per kernel release; the answer is kept in the store.
 */
export async function probeKernelOverlay(p: StorePaths, mapping: IdMapping): Promise<boolean> {
  const file = path.join(p.root, 'storage-probe.json');
  const kernel = os.release();
  const rec = readJson<ProbeRecord>(file);
  if (rec && rec.kernel === kernel) return rec.overlay;
  const dir = fs.mkdtempSync(path.join(p.tmp, 'probe-'));
  for (const d of ['lower', 'upper', 'work', 'merged']) fs.mkdirSync(path.join(dir, d));
  const plan = new Plan().namespaces(['mnt']).idmap(mapping)
    .inPhase('prepare').mount('overlay', path.join(dir, 'merged'), 'overlay', [], overlayOptions([path.join(dir, 'lower')], path.join(dir, 'upper'), path.join(dir, 'work'), true))
    .inPhase('cleanup').umount(path.join(dir, 'merged')).rmtree(dir)
    .add('user', '0', '0').add('argv', '/bin/sh', '-c', ':');
  const h = spawnHelper('run', plan, { stdio: ['ignore', 'ignore', 'ignore'] });
  const { code } = await h.exited;
  const ok = code === 0 && h.events.errors.length === 0;
  fs.rmSync(dir, { recursive: true, force: true });
  writeJsonAtomic(file, { kernel, overlay: ok, checked: new Date().toISOString() } satisfies ProbeRecord);
  return ok;
}

/** The driver to use: the one asked for (flag, then LODGER_STORAGE_DRIVER), else the best that works here. */
export async function chooseDriver(p: StorePaths, mapping: IdMapping, requested?: string): Promise<StorageDriverName> {
  const want = requested || process.env.LODGER_STORAGE_DRIVER || '';
  if (want) {
    if (!DRIVERS.includes(want as StorageDriverName)) {
      throw new LodgerError('BAD_DRIVER', `unknown storage driver "${want}" — use one of ${DRIVERS.join(', ')}`);
    }
    if (want === 'fuse-overlayfs' && !hasFuseOverlayfs()) {
      throw new LodgerError('NO_FUSE_OVERLAYFS', 'storage driver fuse-overlayfs: fuse-overlayfs is not installed — install it (Debian: apt install fuse-overlayfs) or use --storage-driver overlay|vfs');
    }
    return want as StorageDriverName;
  }
  if (await probeKernelOverlay(p, mapping)) return 'overlay';
  return hasFuseOverlayfs() ? 'fuse-overlayfs' : 'vfs';
}
