// Copies one unpacked layer directory as it is — whiteouts, opaque directories, hardlinks, xattrs — giving every copy the owner an id map says: keep-id's shifted layers.
//
// Runs as root of the keep-id user namespace (storage/shiftedLayers.ts). There a layer file stored with
// the default mapping (container id N on disk as N's host id) shows as another id K, and the copy gets
// back N — which this namespace stores as N's keep-id host id. Kernel overlayfs can then show the copy
// as the image has it, with no translation at mount time (idmapped mounts, which would do that, need
// privilege on the host's filesystems; see storage/driver.ts).
//
// Ids are in three places: the inode's owner, POSIX ACL entries (system.posix_acl_*, acl(5): the kernel
// shows and takes their ids as this namespace sees them) and a v3 file capability's root id
// (capabilities(7), "Namespaced file capabilities"). All three are mapped.
//
// Safety: SRC is walked with lstat and readdir only; DEST is new (created by this copy) and nobody else
// writes to it, so every parent is a directory this copy made. Files are created with O_EXCL.
import * as fs from 'node:fs';
import { fsError, LodgerError } from '../errors';
import { fsOps, type FsOps } from './xattr';

interface IdLine { inside: number; outside: number; count: number }
export interface IdMap { uid: IdLine[]; gid: IdLine[] }

export interface ShiftResult { entries: number; bytes: number; notes: string[] }

function mapId(lines: IdLine[], id: number): number {
  for (const l of lines) if (id >= l.inside && id < l.inside + l.count) return l.outside + (id - l.inside);
  return id;
}

/** acl(5) xattr: a 4-byte version (2), then entries of tag (u16), perm (u16), id (u32), little-endian. */
const ACL_USER = 0x02;
const ACL_GROUP = 0x08;
export function shiftAcl(v: Buffer, ids: IdMap): Buffer {
  const out = Buffer.from(v);
  for (let o = 4; o + 8 <= out.length; o += 8) {
    const tag = out.readUInt16LE(o);
    if (tag === ACL_USER) out.writeUInt32LE(mapId(ids.uid, out.readUInt32LE(o + 4)), o + 4);
    else if (tag === ACL_GROUP) out.writeUInt32LE(mapId(ids.gid, out.readUInt32LE(o + 4)), o + 4);
  }
  return out;
}

/** vfs_cap_data revision 3 (linux/capability.h): 20 bytes as revision 2, then the root uid (u32). */
const VFS_CAP_REVISION_3 = 0x03000000;
export function shiftCapability(v: Buffer, ids: IdMap): Buffer {
  if (v.length !== 24 || (v.readUInt32LE(0) & 0xff000000) !== VFS_CAP_REVISION_3) return v;
  const out = Buffer.from(v);
  out.writeUInt32LE(mapId(ids.uid, out.readUInt32LE(20)), 20);
  return out;
}

function join(dir: Buffer, name: Buffer): Buffer {
  return Buffer.concat([dir, Buffer.from('/'), name]);
}

class Shifter {
  readonly notes: string[] = [];
  entries = 0;
  bytes = 0;
  private readonly links = new Map<string, Buffer>();

  constructor(private readonly ids: IdMap, private readonly ops: FsOps) {}

  private owner(dst: Buffer, st: fs.Stats): void {
    fs.lchownSync(dst, mapId(this.ids.uid, st.uid), mapId(this.ids.gid, st.gid));
  }

  /** Every xattr, overlayfs' own too (user.overlay.opaque marks an opaque directory of this layer). */
  private xattrs(src: Buffer, dst: Buffer): void {
    for (const name of this.ops.listXattrs(src)) {
      let value = this.ops.getXattr(src, name);
      if (value === null) continue;
      if (name === 'system.posix_acl_access' || name === 'system.posix_acl_default') value = shiftAcl(value, this.ids);
      else if (name === 'security.capability') value = shiftCapability(value, this.ids);
      try {
        this.ops.setXattr(dst, name, value);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw err;
        this.notes.push(`skipped xattr ${name} on ${dst.toString()}: the filesystem refused it (${code})`);
      }
    }
  }

  dir(src: Buffer, dst: Buffer, st: fs.Stats): void {
    this.entries++;
    fs.mkdirSync(dst, 0o700);
    for (const name of fs.readdirSync(src, { encoding: 'buffer' })) {
      const s = join(src, name);
      const cst = fs.lstatSync(s);
      if (cst.isDirectory()) this.dir(s, join(dst, name), cst);
      else this.nonDir(s, join(dst, name), cst);
    }
    this.owner(dst, st);
    this.xattrs(src, dst);
    // chmod(2) after chown(2), which clears set-group-ID; times last, once nothing more is created inside.
    fs.chmodSync(dst, st.mode & 0o7777);
    fs.lutimesSync(dst, st.atime, st.mtime);
  }

  private nonDir(src: Buffer, dst: Buffer, st: fs.Stats): void {
    this.entries++;
    if (st.isFile() && st.nlink > 1) {
      const key = `${st.dev}:${st.ino}`;
      const first = this.links.get(key);
      if (first) { fs.linkSync(first, dst); return; }
      this.links.set(key, dst);
    }
    if (st.isFile()) {
      fs.copyFileSync(src, dst, fs.constants.COPYFILE_EXCL);
      this.bytes += st.size;
    } else if (st.isSymbolicLink()) {
      fs.symlinkSync(fs.readlinkSync(src, { encoding: 'buffer' }), dst);
    } else if (st.isCharacterDevice() && st.rdev === 0) {
      this.ops.mknodWhiteout(dst);  // a whiteout (overlayfs.rst): it must stay one in the copy
    } else if (st.isFIFO()) {
      this.ops.mkfifo(dst, st.mode & 0o7777);
    } else {
      // The unpacker makes no other device nodes or sockets (layerUnpack.ts): a layer that has one was not made by it.
      throw new LodgerError('SHIFT_UNEXPECTED', `copy layer for keep-id: ${src.toString()} is a device node or socket, which no layer of this store holds — remove the image and pull it again`);
    }
    this.owner(dst, st);
    if (!st.isSymbolicLink()) {
      this.xattrs(src, dst);
      fs.chmodSync(dst, st.mode & 0o7777);
    }
    fs.lutimesSync(dst, st.atime, st.mtime);
  }
}

/** Copies the layer directory SRC to DEST (which must not exist), owners mapped through IDS. */
export function shiftLayer(src: string, dest: string, ids: IdMap, ops: FsOps = fsOps()): ShiftResult {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(src);
    if (!st.isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
  } catch (e) {
    throw fsError('copy layer for keep-id', src, e, 'pull or load the image again');
  }
  const s = new Shifter(ids, ops);
  try {
    s.dir(Buffer.from(src), Buffer.from(dest), st);
  } catch (e) {
    if (e instanceof LodgerError) throw e;
    const err = e as NodeJS.ErrnoException;
    throw fsError('copy layer for keep-id to', err.path ?? dest, e, 'check the free space of the store');
  }
  return { entries: s.entries, bytes: s.bytes, notes: s.notes };
}
