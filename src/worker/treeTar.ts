// Archives a directory tree reached through fds (a container's root, or its overlay upper layer) as a tar, never following a symlink in it.
//
// Two readings of the same walk: "rootfs" archives what is there (export, cp to "-"); "diff"
// archives an overlay upper directory as an image layer, turning overlay's on-disk forms back into
// OCI ones (image-spec layer.md): a 0:0 character device becomes an empty ".wh.NAME" file and a
// directory with user.overlay.opaque=y gets a ".wh..wh..opq" entry — the inverse of layerUnpack.ts.
import * as fs from 'node:fs';
import { fsError } from '../errors';
import { at, fdPath, openDirAt } from './rootedFs';
import { TarWriter, type TarEntry, type TarType } from './tarWriter';
import { fsOps } from './xattr';

export interface PackOptions {
  mode: 'rootfs' | 'diff';
}

export interface PackResult {
  entries: number;
  bytes: number;
  notes: string[];
}

const C = fs.constants;
const OPAQUE_XATTR = 'user.overlay.opaque';

/** A node of the tree: NAME in the directory open as DIRFD, or that directory itself when NAME is null. */
export interface Node { dirFd: number; name: Buffer | null }

export function nodePath(n: Node): Buffer | string {
  return n.name === null ? fdPath(n.dirFd) : at(n.dirFd, n.name);
}

/** Opens the directory N without following a symlink (a fresh fd even for the root). */
export function openNodeDir(n: Node): number {
  return n.name === null ? fs.openSync(fdPath(n.dirFd), C.O_RDONLY | C.O_DIRECTORY) : openDirAt(n.dirFd, n.name);
}

/**
 * Kernel filesystems a running container has mounted (statfs(2) magics: proc, sysfs, cgroup2, devpts,
 * mqueue, debugfs, tracefs, securityfs): their directories are copied or archived empty, as they are
 * in the image — their files describe the live system, and some block or refuse when read.
 */
const PSEUDO_FS = new Set([0x9fa0, 0x62656572, 0x63677270, 0x27e0eb, 0x1cd1, 0x19800202, 0x64626720, 0x74726163, 0x73636673]);

/** Whether the directory open as FD is on one of those filesystems. */
export function onPseudoFs(fd: number): boolean {
  try { return PSEUDO_FS.has(Number(fs.statfsSync(fdPath(fd)).type)); } catch { return false; }
}

export function isWhiteout(st: fs.Stats): boolean {
  return st.isCharacterDevice() && st.rdev === 0;
}

/** Linux's dev_t split (glibc major()/minor()), for the 32-bit values device numbers have in practice. */
function devNumbers(rdev: number): { devmajor: number; devminor: number } {
  return { devmajor: (rdev >>> 8) & 0xfff, devminor: (rdev & 0xff) | ((rdev >>> 12) & 0xfff00) };
}

/**
 * The xattrs worth keeping in an archive: user.* and security.capability, as layerUnpack.ts accepts
 * them; overlayfs' own (user.overlay.*, trusted.overlay.*) describe the layer, not the file.
 */
function keptXattrs(p: Buffer | string, st: fs.Stats): Map<string, Buffer> | undefined {
  if (!st.isFile() && !st.isDirectory()) return undefined;
  let names: string[];
  try { names = fsOps().listXattrs(p); } catch { return undefined; }
  const out = new Map<string, Buffer>();
  for (const n of names) {
    if (n.startsWith('user.overlay.') || n.startsWith('trusted.')) continue;
    if (!n.startsWith('user.') && n !== 'security.capability') continue;
    const v = fsOps().getXattr(p, n);
    if (v !== null) out.set(n, v);
  }
  return out.size ? out : undefined;
}

function join(dir: Buffer, name: Buffer): Buffer {
  return dir.length ? Buffer.concat([dir, Buffer.from('/'), name]) : name;
}

class Packer {
  entries = 0;
  private readonly links = new Map<string, Buffer>();

  constructor(private readonly w: TarWriter, private readonly opts: PackOptions) {}

  private base(st: fs.Stats): Pick<TarEntry, 'mode' | 'uid' | 'gid' | 'mtime'> {
    return { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: Math.floor(st.mtimeMs / 1000) };
  }

  /** Archives node N (lstat ST) as ARCH, and its contents if it is a directory. */
  node(n: Node, st: fs.Stats, arch: Buffer): void {
    const p = nodePath(n);
    const diff = this.opts.mode === 'diff';
    if (diff && isWhiteout(st)) {
      const slash = arch.lastIndexOf(0x2f);
      const wh = Buffer.concat([arch.subarray(0, slash + 1), Buffer.from('.wh.'), arch.subarray(slash + 1)]);
      this.add({ name: wh, type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: Math.floor(st.mtimeMs / 1000), size: 0 });
      return;
    }
    if (st.isDirectory()) {
      const fd = openNodeDir(n);
      try {
        if (arch.length) this.add({ name: arch, type: 'directory', ...this.base(st), xattrs: keptXattrs(p, st) });
        const opaque = diff && fsOps().getXattr(p, OPAQUE_XATTR)?.toString() === 'y';
        if (opaque) this.add({ name: join(arch, Buffer.from('.wh..wh..opq')), type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: Math.floor(st.mtimeMs / 1000), size: 0 });
        if (!onPseudoFs(fd)) this.children(fd, arch);
      } finally {
        fs.closeSync(fd);
      }
      return;
    }
    if (st.isFile()) {
      const key = `${st.dev}:${st.ino}`;
      const first = st.nlink > 1 ? this.links.get(key) : undefined;
      if (first) {
        this.add({ name: arch, type: 'link', ...this.base(st), linkname: first });
        return;
      }
      // O_NONBLOCK: a fifo swapped in meanwhile must not hang us; fstat tells what we really opened.
      const fd = fs.openSync(p, C.O_RDONLY | C.O_NOFOLLOW | C.O_NONBLOCK);
      try {
        const fst = fs.fstatSync(fd);
        if (!fst.isFile()) return;
        if (fst.nlink > 1) this.links.set(key, arch);
        this.add({ name: arch, type: 'file', ...this.base(fst), size: fst.size, xattrs: keptXattrs(p, fst) }, fd);
      } finally {
        fs.closeSync(fd);
      }
      return;
    }
    if (st.isSymbolicLink()) {
      this.add({ name: arch, type: 'symlink', ...this.base(st), linkname: fs.readlinkSync(p, { encoding: 'buffer' }) });
      return;
    }
    let type: TarType | undefined;
    if (st.isFIFO()) type = 'fifo';
    else if (st.isCharacterDevice()) type = 'character-device';
    else if (st.isBlockDevice()) type = 'block-device';
    if (type) this.add({ name: arch, type, ...this.base(st), ...devNumbers(st.rdev) });
    // Sockets have no tar form; like tar(1), they are left out.
  }

  children(dirFd: number, arch: Buffer): void {
    const names = fs.readdirSync(fdPath(dirFd), { encoding: 'buffer' }).sort(Buffer.compare);
    for (const name of names) {
      const st = fs.lstatSync(at(dirFd, name), { throwIfNoEntry: false });
      if (st) this.node({ dirFd, name }, st, join(arch, name));  // gone meanwhile: nothing to archive
    }
  }

  private add(e: TarEntry, fd?: number): void {
    this.entries++;
    this.w.add(e, fd);
  }
}

/**
 * Writes a tar of node N to OUTFILE (created, or truncated). With ARCH empty the node must be a
 * directory and only its contents are archived (export, layers); otherwise N is archived as ARCH.
 */
export function packToFile(n: Node, arch: Buffer, outFile: string, opts: PackOptions): PackResult {
  let out: number;
  try {
    out = fs.openSync(outFile, C.O_WRONLY | C.O_CREAT | C.O_TRUNC, 0o644);
  } catch (e) {
    throw fsError('create archive', outFile, e, 'check that its directory exists and is writable');
  }
  try {
    const w = new TarWriter(out);
    const p = new Packer(w, opts);
    const st = fs.lstatSync(nodePath(n));
    if (arch.length === 0) {
      const fd = openNodeDir(n);
      try { p.children(fd, arch); } finally { fs.closeSync(fd); }
    } else {
      p.node(n, st, arch);
    }
    w.finish();
    fs.fsyncSync(out);
    return { entries: p.entries, bytes: w.bytes, notes: w.notes };
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.syscall) throw fsError('archive', String(err.path ?? outFile), e);
    throw e;
  } finally {
    fs.closeSync(out);
  }
}
