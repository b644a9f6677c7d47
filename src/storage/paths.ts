// Where lodger keeps things: the persistent store (--root, LODGER_ROOT, XDG_DATA_HOME), the runtime dir, and where containers live.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LodgerError } from '../errors';
import type { Reporter } from '../events';

export interface StorePaths {
  root: string;
  layers: string;
  blobs: string;
  containers: string;
  tmp: string;
  imagesIndex: string;
  lockTarget: string;
  runtime: string;
  /** Where the store's own notes go (where containers live, storage.conf warnings, a driver's note): the opener's renderer. */
  report?: Reporter;
}

/** The store root: --root, then $LODGER_ROOT, then $XDG_DATA_HOME/lodger, then ~/.local/share/lodger. */
export function storeRoot(override?: string): string {
  if (override) return path.resolve(override);
  if (process.env.LODGER_ROOT) return path.resolve(process.env.LODGER_ROOT);
  const data = process.env.XDG_DATA_HOME || path.join(os.homedir(), '.local', 'share');
  return path.join(data, 'lodger');
}

/** Creates DIR 0700 if missing and checks it is a private directory of ours (it may sit in a world-writable /tmp or /var/tmp). */
function privateDir(dir: string, what: string, hint: string): string {
  const uid = process.getuid?.() ?? 0;
  try {
    fs.mkdirSync(dir, { mode: 0o700 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  const st = fs.lstatSync(dir);
  if (!st.isDirectory() || st.uid !== uid || (st.mode & 0o077) !== 0) {
    throw new LodgerError('RUNTIME_DIR_UNSAFE', `${what} ${dir} is not a private directory owned by uid ${uid} — remove it, or ${hint}`);
  }
  return dir;
}

/**
 * Runtime state (sockets, pid files): $XDG_RUNTIME_DIR/lodger, or — under ssh sessions and batch jobs
 * that have no XDG_RUNTIME_DIR — a private /tmp/lodger-run-<uid> that we create 0700 and check is ours.
 */
export function runtimeDir(): string {
  const uid = process.getuid?.() ?? 0;
  const xdg = process.env.XDG_RUNTIME_DIR;
  if (xdg && fs.existsSync(xdg)) return path.join(xdg, 'lodger');
  return privateDir(path.join(os.tmpdir(), `lodger-run-${uid}`), 'runtime directory', 'set XDG_RUNTIME_DIR');
}

interface ContainerDirNotice { dir: string; filesystem: string; noted: string }

/**
 * Where containers live — their records and their writable layers (overlay upper/, work/, merged/, or
 * the vfs rootfs/). Every path to a container goes through here (StorePaths.containers, containerDir).
 *
 * - LODGER_CONTAINER_DIR, when set: the user's choice, used as it is.
 * - $root/containers when the store is on a local filesystem.
 * - Local storage when the store is on a network or FUSE filesystem (fsType.ts says why overlay
 *   upper layers cannot live there): $XDG_RUNTIME_DIR/lodger/containers/<store key>, else
 *   /var/tmp/lodger-<uid>/containers/<store key> (/var/tmp: on disk, not RAM, and kept across reboots,
 *   filesystem-hierarchy(7)). The key (a hash of the store's path) keeps two stores' containers apart.
 *   The records move along with the layers: a container's state (pids, its monitor) belongs to the
 *   node it runs on, and records and layers must be renamed into place together (rename(2) does not
 *   cross filesystems). The user is told once per location, remembered in $root/container-dir.json.
 */
export function resolveContainersDir(root: string, report?: Reporter): string {
  if (process.env.LODGER_CONTAINER_DIR) return path.resolve(process.env.LODGER_CONTAINER_DIR);
  const { fsKind } = require('./fsType') as typeof import('./fsType');
  const kind = fsKind(root);
  if (!kind.network) return path.join(root, 'containers');
  const uid = process.getuid?.() ?? 0;
  const xdg = process.env.XDG_RUNTIME_DIR;
  const key = crypto.createHash('sha256').update(root).digest('hex').slice(0, 12);
  let base: string;
  if (xdg && fs.existsSync(xdg)) {
    base = path.join(xdg, 'lodger');
    fs.mkdirSync(base, { recursive: true, mode: 0o700 });
  } else {
    base = privateDir(`/var/tmp/lodger-${uid}`, 'container directory', 'set LODGER_CONTAINER_DIR to a local directory of yours');
  }
  const dir = path.join(base, 'containers', key);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (report) noteContainerDir(root, dir, kind.name, path.join(base, 'containers', `${key}.noted.json`), report);
  return dir;
}

/**
 * Tells the user once per store and location where its containers went. Remembered in the store
 * ($root/container-dir.json), or — when the store is read-only to us — in LOCAL, a file of ours beside
 * the local containers directory, so the note is not repeated on every command.
 */
function noteContainerDir(root: string, dir: string, filesystem: string, local: string, report: Reporter): void {
  const marker = path.join(root, 'container-dir.json');
  const noted = (file: string) => {
    try { return (JSON.parse(fs.readFileSync(file, 'utf8')) as ContainerDirNotice).dir === dir; } catch { return false; }
  };
  if (noted(marker) || noted(local)) return;
  const { writeJsonAtomic } = require('./atomic') as typeof import('./atomic');
  const record: ContainerDirNotice = { dir, filesystem, noted: new Date().toISOString() };
  let where = marker;
  try {
    fs.mkdirSync(root, { recursive: true, mode: 0o700 });
    writeJsonAtomic(marker, record);
  } catch {
    where = local;
    try { writeJsonAtomic(local, record); } catch { /* nowhere to remember it: said again next time */ }
  }
  report({
    kind: 'note',
    message: `the store ${root} is on ${filesystem}, a network or FUSE filesystem, where overlay upper layers ` +
      `cannot live (no whiteouts, xattrs or chown to your subordinate ids there); containers (their records and ` +
      `writable layers) are kept on local storage in ${dir} instead, so they are visible on this node only. ` +
      `Set LODGER_CONTAINER_DIR to choose another local directory. (Said once; remembered in ${where}.)`,
  });
}

/** The paths of the store at OVERRIDE (else storeRoot's choice); REPORT receives the store's own notes. */
export function storePaths(override?: string, report?: Reporter): StorePaths {
  const root = storeRoot(override);
  let containers: string | undefined;
  return {
    root,
    layers: path.join(root, 'layers'),
    blobs: path.join(root, 'blobs', 'sha256'),
    tmp: path.join(root, 'tmp'),
    imagesIndex: path.join(root, 'images.json'),
    lockTarget: path.join(root, 'store'),
    get runtime() { return runtimeDir(); },
    // Resolved on first use only: commands that never touch a container pay no statfs.
    get containers() { return (containers ??= resolveContainersDir(root, report)); },
    report,
  };
}

/**
 * Creates the store's directories (idempotent); cheap enough to call before every write. A store this
 * user cannot write (an admin's shared one, a read-only mount) is refused here with what to do.
 */
export function ensureStore(p: StorePaths): void {
  try {
    for (const d of [p.root, p.layers, p.blobs, p.containers, p.tmp]) fs.mkdirSync(d, { recursive: true, mode: 0o700 });
    fs.accessSync(p.root, fs.constants.W_OK);
  } catch (e) {
    throw storeNotWritable(p, 'prepare', e) ?? e;
  }
}

/**
 * The error for a store this user may read but not change (EACCES, EPERM or EROFS from OPERATION),
 * else undefined: its images are still usable from a store of one's own.
 */
export function storeNotWritable(p: StorePaths, operation: string, e: unknown): LodgerError | undefined {
  const code = (e as NodeJS.ErrnoException).code;
  if (code !== 'EACCES' && code !== 'EPERM' && code !== 'EROFS') return undefined;
  return new LodgerError('STORE_READONLY', `${operation} the store ${p.root}: ${code === 'EROFS' ? 'it is on a read-only filesystem' : 'permission denied'} — it is not writable for you; use a store of your own (--root or LODGER_ROOT) and name this one as an additional image store (LODGER_ADDITIONAL_STORES) to run its images`);
}
