// Copies one unpacked layer directory (overlayfs' on-disk form) onto a rootfs, for the copying "vfs" storage driver.
//
// The result must be what overlayfs would show with the layer on top (Documentation/filesystems/
// overlayfs.rst): a 0:0 character device deletes the path below it; a directory with
// `user.overlay.opaque=y` hides everything below it; a directory over a non-directory replaces it;
// anything else replaces what was there.
//
// Safety: the layer is walked with lstat and readdir only, and on the rootfs side every directory is
// made a real directory (a symlink left there by a lower layer is removed, never followed) before
// anything is created inside it — so by induction every parent is a real directory inside ROOTFS.
// As in layerUnpack.ts the checks are not racy: the worker is the only writer of this rootfs while it
// is being prepared (no container runs on it yet). New files are created with O_EXCL (COPYFILE_EXCL),
// which never follows a symlink.
import * as fs from 'node:fs';
import { fsError, LodgerError } from '../errors';
import { fsOps, type FsOps } from './xattr';

export interface ApplyOptions {
  onNote?: (msg: string) => void;
  /** As for unpackLayer: owners this user namespace cannot map are noted, not fatal (default true). */
  rootless?: boolean;
  ops?: FsOps;
  /**
   * Owners to give the copies instead of the layer files' own: lines mapping an id as this namespace
   * sees it (inside) to the id the copy gets (outside) — keep-id's translation (idmap.ts translateIds).
   */
  idMap?: { uid: IdLine[]; gid: IdLine[] };
  /**
   * Merge layers rather than flatten them (a build's --layers=false): whiteouts and opaque directories
   * are kept in the result, in overlayfs' own form, so it still deletes what the layers below it hold.
   */
  keepWhiteouts?: boolean;
}

interface IdLine { inside: number; outside: number; count: number }

function mapId(lines: IdLine[] | undefined, id: number): number {
  if (!lines) return id;
  for (const l of lines) if (id >= l.inside && id < l.inside + l.count) return l.outside + (id - l.inside);
  return id;
}

export interface ApplyResult {
  /** Paths of the layer visited (its root included). */
  entries: number;
  notes: string[];
}

const OPAQUE_XATTR = 'user.overlay.opaque';

function isWhiteoutDevice(st: fs.Stats): boolean {
  return st.isCharacterDevice() && st.rdev === 0;
}

/** Joins byte paths. */
function join(dir: Buffer, name: Buffer): Buffer {
  return Buffer.concat([dir, Buffer.from('/'), name]);
}

class Applier {
  readonly notes: string[] = [];
  entries = 0;
  private readonly ops: FsOps;
  private readonly rootless: boolean;
  /** First rootfs path of each multiply-linked layer file, by "dev:ino", to link the others to. */
  private readonly links = new Map<string, Buffer>();
  private ownerNoted = false;

  constructor(private readonly opts: ApplyOptions) {
    this.ops = opts.ops ?? fsOps();
    this.rootless = opts.rootless ?? true;
  }

  private note(msg: string): void {
    this.notes.push(msg);
    this.opts.onNote?.(msg);
  }

  private show(rel: Buffer): string {
    return '/' + rel.toString('utf8');
  }

  private chown(dst: Buffer, rel: Buffer, st: fs.Stats): void {
    try {
      fs.lchownSync(dst, mapId(this.opts.idMap?.uid, st.uid), mapId(this.opts.idMap?.gid, st.gid));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (!this.rootless || (code !== 'EINVAL' && code !== 'EPERM')) throw err;
      if (!this.ownerNoted) {
        this.ownerNoted = true;
        this.note(`ownership not kept for ${this.show(rel)} (uid ${st.uid}, gid ${st.gid}) and any other file whose ids this user namespace cannot map — give your user a range in /etc/subuid and /etc/subgid (subuid(5))`);
      }
    }
  }

  /** Copies the xattrs of SRC to DST, except overlayfs' own (user.overlay.*), which describe the layer, not the file. */
  private copyXattrs(src: Buffer, dst: Buffer, rel: Buffer): void {
    for (const name of this.ops.listXattrs(src)) {
      if (name.startsWith('user.overlay.')) continue;
      const value = this.ops.getXattr(src, name);
      if (value === null) continue;
      try {
        this.ops.setXattr(dst, name, value);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw err;
        this.note(`skipped xattr ${name} on ${this.show(rel)}: the filesystem refused it (${code})`);
      }
    }
  }

  /** Removes whatever is at DST in the rootfs (a whole tree, if a directory; rm -r never follows symlinks). */
  private clear(dst: Buffer): void {
    const st = fs.lstatSync(dst, { throwIfNoEntry: false });
    if (!st) return;
    if (st.isDirectory()) fs.rmSync(dst, { recursive: true, force: true });
    else fs.unlinkSync(dst);
  }

  /** Applies the layer directory at REL (SRC) onto DST, then its children, then its mode and times. */
  dir(src: Buffer, dst: Buffer, rel: Buffer, st: fs.Stats): void {
    this.entries++;
    const existing = fs.lstatSync(dst, { throwIfNoEntry: false });
    if (!existing || !existing.isDirectory()) {
      if (existing) fs.unlinkSync(dst);
      fs.mkdirSync(dst, 0o700);
    } else if (this.isOpaque(src)) {
      // Opaque: the lower layers' contents of this directory are hidden — gone, in a copy.
      for (const name of fs.readdirSync(dst, { encoding: 'buffer' })) this.clear(join(dst, name));
    }
    if (this.opts.keepWhiteouts && this.isOpaque(src)) this.ops.setXattr(dst, OPAQUE_XATTR, Buffer.from('y'));
    this.chown(dst, rel, st);
    this.copyXattrs(src, dst, rel);
    for (const name of fs.readdirSync(src, { encoding: 'buffer' })) {
      const s = join(src, name);
      const d = join(dst, name);
      const r = rel.length ? join(rel, name) : name;
      const cst = fs.lstatSync(s);
      if (cst.isDirectory()) this.dir(s, d, r, cst);
      else this.nonDir(s, d, r, cst);
    }
    // Last, as nothing more is created inside: chmod(2) after chown(2), which clears set-group-ID.
    fs.chmodSync(dst, st.mode & 0o7777);
    fs.lutimesSync(dst, st.atimeMs / 1000, st.mtimeMs / 1000);
  }

  private isOpaque(src: Buffer): boolean {
    const v = this.ops.getXattr(src, OPAQUE_XATTR);
    return v !== null && v.toString() === 'y';
  }

  private nonDir(src: Buffer, dst: Buffer, rel: Buffer, st: fs.Stats): void {
    this.entries++;
    if (isWhiteoutDevice(st)) {
      this.clear(dst);
      if (this.opts.keepWhiteouts) this.ops.mknodWhiteout(dst);
      return;
    }
    if (st.isBlockDevice() || st.isCharacterDevice() || st.isSocket()) {
      this.note(`skipped ${this.show(rel)}: device nodes and sockets are not copied`);
      return;
    }
    this.clear(dst);
    if (st.isFile() && st.nlink > 1) {
      const key = `${st.dev}:${st.ino}`;
      const first = this.links.get(key);
      if (first && fs.lstatSync(first, { throwIfNoEntry: false })?.isFile()) {
        fs.linkSync(first, dst);
        return;
      }
      this.links.set(key, dst);
    }
    if (st.isFile()) {
      // A reflink where the filesystem can (btrfs, xfs), else a copy; EXCL: never through a symlink.
      fs.copyFileSync(src, dst, fs.constants.COPYFILE_EXCL | fs.constants.COPYFILE_FICLONE);
      this.chown(dst, rel, st);
      fs.chmodSync(dst, st.mode & 0o7777);
      this.copyXattrs(src, dst, rel);
    } else if (st.isSymbolicLink()) {
      fs.symlinkSync(fs.readlinkSync(src, { encoding: 'buffer' }), dst);
      this.chown(dst, rel, st);
    } else if (st.isFIFO()) {
      this.ops.mkfifo(dst, st.mode & 0o7777);
      this.chown(dst, rel, st);
      fs.chmodSync(dst, st.mode & 0o7777);
    }
    fs.lutimesSync(dst, st.atimeMs / 1000, st.mtimeMs / 1000);
  }
}

/**
 * Copies LAYERDIR (an unpacked layer, see layerUnpack.ts) onto ROOTFS (an existing directory holding
 * the layers below), preserving owners, modes, times, symlinks, hardlinks within the layer and xattrs,
 * and carrying out its whiteouts and opaque directories. Runs as root of the user namespace.
 */
export function applyLayerDir(layerDir: string, rootfs: string, opts: ApplyOptions = {}): ApplyResult {
  let layer: Buffer;
  let root: Buffer;
  let st: fs.Stats;
  try {
    layer = fs.realpathSync(layerDir, { encoding: 'buffer' });
    st = fs.lstatSync(layer);
    root = fs.realpathSync(rootfs, { encoding: 'buffer' });
    if (!st.isDirectory() || !fs.lstatSync(root).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
  } catch (e) {
    throw fsError('apply layer', `${layerDir} onto ${rootfs}`, e, 'both must be existing directories');
  }
  const a = new Applier(opts);
  try {
    a.dir(layer, root, Buffer.alloc(0), st);
  } catch (e) {
    if (e instanceof LodgerError) throw e;
    const err = e as NodeJS.ErrnoException;
    throw fsError(`apply layer ${layerDir} onto`, err.path ?? rootfs, e, 'check the free space and permissions of the store');
  }
  return { entries: a.entries, notes: a.notes };
}
