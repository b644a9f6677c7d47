// Storage drivers: kernel overlayfs in the user namespace (probed once per kernel), fuse-overlayfs, or copying (vfs).
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LodgerError } from '../errors';
import { spawnHelper } from '../helper/helperProcess';
import type { IdMapping } from '../helper/idmap';
import { Plan } from '../helper/plan';
import type { SharedLayerOwner } from './additionalStores';
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
    .process({ uid: 0, gid: 0, env: [], argv: ['/bin/sh', '-c', ':'], stdin: 'null' });
  const h = spawnHelper('run', plan, { stdio: ['ignore', 'ignore', 'ignore'] });
  const { code } = await h.exited;
  const ok = code === 0 && h.events.errors.length === 0;
  fs.rmSync(dir, { recursive: true, force: true });
  fs.rmSync(lower, { recursive: true, force: true });
  writeJsonAtomic(file, { kernel, overlay: ok, checked: new Date().toISOString() } satisfies ProbeRecord);
  return ok;
}

/**
 * Tells the store's reporter MESSAGE the first time only: a marker file in the store remembers it was
 * said. `--log-level info` (or debug; LODGER_LOG_LEVEL) says it every time, `error` never.
 */
function noteOnce(p: StorePaths, marker: string, message: string): void {
  const file = path.join(p.root, marker);
  const level = process.env.LODGER_LOG_LEVEL ?? 'warn';
  // Unsaid when nobody listens: it is remembered only once someone was told.
  if (!p.report || level === 'error' || level === 'fatal') return;
  if (fs.existsSync(file) && level !== 'info' && level !== 'debug') return;
  p.report({ kind: 'note', message: `${message} (Said once; remembered in ${file}.)` });
  try {
    // A first command may get here before anything made the store (run of an image from a shared store).
    fs.mkdirSync(p.root, { recursive: true, mode: 0o700 });
    fs.writeFileSync(file, message + '\n', { mode: 0o600 });
  } catch { /* a read-only store: said again next time */ }
}

/**
 * Why keep-id cannot mount the layers themselves on kernel overlay: layers are stored owned by the host
 * ids of the default mapping (container 0 = you), and under keep-id those host ids are other container
 * ids. Kernel overlayfs shows lower files with their on-disk owners; translating them takes an idmapped
 * mount (mount_setattr(2), MOUNT_ATTR_IDMAP), which needs CAP_SYS_ADMIN in the user namespace that owns
 * the filesystem — the initial one for the host's disks — so an unprivileged user cannot make one.
 * fuse-overlayfs translates ids itself (uidmapping=/gidmapping=, fuse-overlayfs(1)); vfs translates
 * them while it copies the image; and a copy of the layers owned as keep-id needs them, made once per
 * image in the background (shiftedLayers.ts), lets kernel overlay serve the later runs.
 */
const KEEP_ID_WHY = 'the image\'s layers are stored owned by the ids of the default mapping, which --userns=keep-id shifts; ' +
  'kernel overlayfs cannot translate them back without an idmapped mount (mount_setattr(2)), which only a privileged user can create on the host\'s filesystems';

/**
 * Says once per shared store what containers of its images get when its owners are not mapped
 * (containers/imageLayers.ts unmappedSharedLayers): fuse-overlayfs with squash_to_root, or why not.
 */
function noteSharedStores(p: StorePaths, shared: SharedLayerOwner[], driver: StorageDriverName, requested: boolean): void {
  const seen = new Set<string>();
  for (const o of shared) {
    if (seen.has(o.store)) continue;
    seen.add(o.store);
    const why = `images from the read-only store ${o.store} have layers owned by uid ${o.uid}, gid ${o.gid} on the host, which ` +
      `your containers' user namespace does not map: their files would show as nobody (65534) and could not be changed`;
    let what: string;
    if (driver === 'fuse-overlayfs') {
      what = 'so their containers use fuse-overlayfs with squash_to_root: every file shows as owned by root, root in the ' +
        'container may change any of them (the changes go to the container\'s own layer, never to the store), and chown ' +
        'inside has no effect';
    } else if (driver === 'vfs') {
      // vfs copies the image into the container, which may then change its copy: nothing to warn about when asked for.
      if (requested) continue;
      what = 'fuse-overlayfs (which would show them as root\'s) is not installed, so their containers use vfs, which copies ' +
        'the image for each container — install fuse-overlayfs to avoid the copy';
    } else {
      what = 'with --storage-driver overlay they stay so: kernel overlayfs refuses to copy up a file whose owner the namespace ' +
        'cannot map, so writing to the image\'s files and directories fails; use --storage-driver fuse-overlayfs (the default for them)';
    }
    const key = crypto.createHash('sha256').update(`${o.store}\0${driver}`).digest('hex').slice(0, 12);
    noteOnce(p, `shared-store-${key}.note`, `${why}; ${what}`);
  }
}

export interface DriverFor {
  /** The image's layers from additional stores whose owners the mapping cannot map (containers/imageLayers.ts). */
  shared?: SharedLayerOwner[];
  /** The image is a squashfs file: no layers of the store are mounted. */
  squashfs?: boolean;
  /** keep-id: the image's layers have complete copies owned for this mapping (shiftedLayers.ts), which kernel overlay can mount. */
  shifted?: boolean;
}

/**
 * The driver to use: the one asked for (flag, then LODGER_STORAGE_DRIVER), else the best that works here.
 * SHARED layers: fuse-overlayfs is preferred, mounted with squash_to_root (imageLayers.ts sharedSquashOption).
 * A squashfs image under keep-id needs no owner translation — squashfuse_ll, running in the container's
 * namespace, shows the ids stored in the image as they are, which are container ids — so kernel overlay
 * serves it too. A store on a network filesystem is refused for either: keep-id's root, a subordinate id,
 * cannot enter it (the probe and a squashfs image's extracted files live there too).
 */
export async function chooseDriver(p: StorePaths, mapping: IdMapping, requested?: string, o: DriverFor = {}): Promise<StorageDriverName> {
  const want = requested || process.env.LODGER_STORAGE_DRIVER || '';
  const shared = o.shared ?? [];
  const keepIdLayers = !!mapping.keepId && !o.squashfs;
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
    if (want === 'overlay' && keepIdLayers && !o.shifted) {
      // The caller makes the copies first where it can (containers/create.ts): not of another store's layers.
      throw new LodgerError('KEEP_ID_OVERLAY', `--userns=keep-id cannot use the overlay storage driver with this image: ${KEEP_ID_WHY}, ` +
        `and its layers are in a read-only image store, where no copy owned as keep-id needs can be kept — use --storage-driver fuse-overlayfs (the default with keep-id) or vfs`);
    }
    noteSharedStores(p, shared, want as StorageDriverName, true);
    return want as StorageDriverName;
  }
  if (keepIdLayers && o.shifted && !shared.length && await probeKernelOverlay(p, mapping)) return 'overlay';
  if (keepIdLayers || shared.length) {
    const d: StorageDriverName = hasFuseOverlayfs() ? 'fuse-overlayfs' : 'vfs';
    if (keepIdLayers) {
      noteOnce(p, 'keep-id-driver.note', `--userns=keep-id containers of an image use the ${d} storage driver until a copy of its layers ` +
        `owned as keep-id needs is ready, then kernel overlay: ${KEEP_ID_WHY}. The copy is made once per image in the background ` +
        `(as much disk again as the image) and removed with it. ` +
        (d === 'fuse-overlayfs' ? 'Until then fuse-overlayfs translates the owners as it reads (file-heavy work is slower than on kernel overlay).' :
          'Until then, as fuse-overlayfs is not installed, vfs copies the image for each container, translating owners as it copies.'));
    }
    noteSharedStores(p, shared, d, false);
    return d;
  }
  if (await probeKernelOverlay(p, mapping)) return 'overlay';
  return hasFuseOverlayfs() ? 'fuse-overlayfs' : 'vfs';
}
