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
import { ensureStore, type StorePaths } from './paths';

export const DRIVERS: StorageDriverName[] = ['overlay', 'fuse-overlayfs', 'vfs'];

interface ProbeRecord { kernel: string; overlay: boolean; checked: string }

/**
 * overlay mount options; lowerdir lists the top layer first (overlayfs.rst). userxattr: we are not real
 * root. EXTRA: further options as they are (fuse-overlayfs' uidmapping=/gidmapping= for keep-id).
 */
export function overlayOptions(lower: string[], upper: string, work: string, kernel: boolean, extra = ''): string {
  const esc = (s: string) => s.replace(/\\/g, '\\\\').replace(/:/g, '\\:').replace(/,/g, '\\,');
  const opts = [`lowerdir=${lower.map(esc).join(':')}`, `upperdir=${esc(upper)}`, `workdir=${esc(work)}`];
  if (kernel) opts.push('userxattr');
  if (extra) opts.push(extra);
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
  ensureStore(p);
  // As a container will: the lower layer in the store, upper/work/merged where containers live (which
  // is local storage even when the store is on a network filesystem, see resolveContainersDir).
  const lower = fs.mkdtempSync(path.join(p.tmp, 'probe-'));
  const dir = fs.mkdtempSync(path.join(p.containers, '.probe-'));
  for (const d of ['upper', 'work', 'merged']) fs.mkdirSync(path.join(dir, d));
  const plan = new Plan().namespaces(['mnt']).idmap(mapping)
    .inPhase('prepare').mount('overlay', path.join(dir, 'merged'), 'overlay', [], overlayOptions([lower], path.join(dir, 'upper'), path.join(dir, 'work'), true))
    .inPhase('cleanup').umount(path.join(dir, 'merged')).rmtree(dir)
    .add('user', '0', '0').add('argv', '/bin/sh', '-c', ':');
  const h = spawnHelper('run', plan, { stdio: ['ignore', 'ignore', 'ignore'] });
  const { code } = await h.exited;
  const ok = code === 0 && h.events.errors.length === 0;
  fs.rmSync(dir, { recursive: true, force: true });
  fs.rmSync(lower, { recursive: true, force: true });
  writeJsonAtomic(file, { kernel, overlay: ok, checked: new Date().toISOString() } satisfies ProbeRecord);
  return ok;
}

/** Prints MESSAGE the first time only: a marker file in the store remembers it was said. */
function noteOnce(p: StorePaths, marker: string, message: string): void {
  const file = path.join(p.root, marker);
  if (fs.existsSync(file)) return;
  process.stderr.write(`lodger: note: ${message} (Said once; remembered in ${file}.)\n`);
  try { fs.writeFileSync(file, message + '\n', { mode: 0o600 }); } catch { /* a read-only store: said again next time */ }
}

/**
 * Why keep-id needs fuse-overlayfs (or vfs): layers are stored owned by the host ids of the default
 * mapping (container 0 = you), and under keep-id those host ids are other container ids. Kernel overlayfs
 * shows lower files with their on-disk owners; translating them takes an idmapped mount
 * (mount_setattr(2), MOUNT_ATTR_IDMAP), which needs CAP_SYS_ADMIN in the user namespace that owns the
 * filesystem — the initial one for the host's disks — so an unprivileged user cannot make one.
 * fuse-overlayfs translates ids itself (uidmapping=/gidmapping=, fuse-overlayfs(1)); vfs translates
 * them while it copies the image.
 */
const KEEP_ID_WHY = 'the image\'s layers are stored owned by the ids of the default mapping, which --userns=keep-id shifts; ' +
  'kernel overlayfs cannot translate them back without an idmapped mount (mount_setattr(2)), which only a privileged user can create on the host\'s filesystems';

/** The driver to use: the one asked for (flag, then LODGER_STORAGE_DRIVER), else the best that works here. */
export async function chooseDriver(p: StorePaths, mapping: IdMapping, requested?: string): Promise<StorageDriverName> {
  const want = requested || process.env.LODGER_STORAGE_DRIVER || '';
  if (mapping.keepId) {
    // Under keep-id, root of the container's namespace — who mounts the layers or copies them — is a
    // subordinate id, not the user. A network filesystem's server (or a FUSE daemon without allow_other)
    // checks the host uid, not our namespace's capabilities, so it keeps that id out of the user's store.
    const { fsKind } = require('./fsType') as typeof import('./fsType');
    const kind = fsKind(p.root);
    if (kind.network) {
      throw new LodgerError('KEEP_ID_NETWORK_STORE', `--userns=keep-id: the store ${p.root} is on ${kind.name}, a network or FUSE filesystem, whose server ` +
        `lets only your own uid into it — but under keep-id the container's root, which reads the image's layers, is one of your subordinate ids. ` +
        `Keep the store on a local disk (--root or LODGER_ROOT), or run without --userns=keep-id`);
    }
  }
  if (want) {
    if (!DRIVERS.includes(want as StorageDriverName)) {
      throw new LodgerError('BAD_DRIVER', `unknown storage driver "${want}" — use one of ${DRIVERS.join(', ')}`);
    }
    if (want === 'fuse-overlayfs' && !hasFuseOverlayfs()) {
      throw new LodgerError('NO_FUSE_OVERLAYFS', 'storage driver fuse-overlayfs: fuse-overlayfs is not installed — install it (Debian: apt install fuse-overlayfs) or use --storage-driver overlay|vfs');
    }
    if (want === 'overlay' && mapping.keepId) {
      throw new LodgerError('KEEP_ID_OVERLAY', `--userns=keep-id cannot use the overlay storage driver: ${KEEP_ID_WHY} — use --storage-driver fuse-overlayfs (the default with keep-id) or vfs`);
    }
    return want as StorageDriverName;
  }
  if (mapping.keepId) {
    const d: StorageDriverName = hasFuseOverlayfs() ? 'fuse-overlayfs' : 'vfs';
    noteOnce(p, 'keep-id-driver.note', `--userns=keep-id containers use the ${d} storage driver, not kernel overlay: ${KEEP_ID_WHY}. ` +
      (d === 'fuse-overlayfs' ? 'fuse-overlayfs translates the owners as it reads (file-heavy work is slower than on kernel overlay).' :
        'fuse-overlayfs is not installed, so vfs copies the image for each container, translating owners as it copies (install fuse-overlayfs to avoid the copy).'));
    return d;
  }
  if (await probeKernelOverlay(p, mapping)) return 'overlay';
  return hasFuseOverlayfs() ? 'fuse-overlayfs' : 'vfs';
}
