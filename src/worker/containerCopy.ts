// `cp` in the worker: copies a tree between a container's root (resolved inside it, see rootedFs.ts) and the host, with Docker's path rules.
//
// Both ends are walked through directory fds: every name is opened relative to the fd of its parent
// with O_NOFOLLOW, and a directory we create is opened the same way before anything goes into it, so
// a symlink the container swaps in while we copy makes the copy fail instead of leading out of the
// container. The worker runs as root of the container's user namespace, so owners read and written
// are container ids.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LodgerError, errnoText } from '../errors';
import { RootedFs, at, fdPath, openDirAt } from './rootedFs';
import { nodePath, onPseudoFs, openNodeDir, packToFile, type Node } from './treeTar';
import { fsOps } from './xattr';

const C = fs.constants;

export interface CopyRequest {
  direction: 'in' | 'out';
  /** The container's root as the worker sees it: /proc/PID/root or a mount made for the worker. */
  root: string;
  /** The path in the container (as given: absolute or relative to its "/"). */
  containerPath: string;
  /** An absolute host path, or "-" for a tar stream (out: written to tarFile). */
  hostPath: string;
  /** -a: keep the source's owners (else: into the container root's, out of it the caller's). */
  archive: boolean;
  /** -L: follow a symlink named as the source. */
  follow: boolean;
  /** Where to write the tar when hostPath is "-". */
  tarFile?: string;
}

export interface CopyResult {
  bytes: number;
  entries: number;
  notes: string[];
}

interface Endpoint {
  node: Node;
  st: fs.Stats | undefined;
  /** The name a copy of it takes inside an existing directory. */
  base: Buffer;
  shown: string;
  release(): void;
}

function fail(op: string, shown: string, e: unknown, hint?: string): LodgerError {
  if (e instanceof LodgerError) return e;
  const err = e as NodeJS.ErrnoException;
  const why = err.code ? errnoText(err.code) : String(err.message ?? e);
  return new LodgerError('CP_' + (err.code ?? 'FAILED'), `${op} ${shown}: ${why}${hint ? ` — ${hint}` : ''}`);
}

/** A path ends with "/." (copy the directory's contents) — Docker's rule, checked on the path as typed. */
function contentsOnly(p: string): boolean {
  return p === '.' || p.endsWith('/.');
}

function trailingSlash(p: string): boolean {
  return p.endsWith('/') || p.endsWith('/.');
}

function baseOf(p: string): Buffer {
  const parts = p.split('/').filter((x) => x !== '' && x !== '.');
  return Buffer.from(parts.length ? parts[parts.length - 1] : '');
}

/** The container end, resolved inside the root. */
function containerEnd(r: RootedFs, p: string, follow: boolean): Endpoint {
  let res;
  try {
    res = r.resolve(p, follow);
  } catch (e) {
    throw fail('resolve', `${p} in the container`, e);
  }
  return { node: { dirFd: res.dirFd, name: res.name }, st: res.st, base: baseOf(p), shown: res.shown, release: res.release };
}

/** The host end: the user's own path, resolved by the kernel as any program of theirs would. */
function hostEnd(p: string, follow: boolean): Endpoint {
  let target = p;
  let st: fs.Stats | undefined = fs.lstatSync(p, { throwIfNoEntry: false });
  if (st?.isSymbolicLink() && (follow || trailingSlash(p))) {
    // A dangling link stays itself: as a destination it is replaced, as a source it is missing.
    const real = (() => { try { return fs.realpathSync(p); } catch { return undefined; } })();
    if (real !== undefined) { target = real; st = fs.lstatSync(target); }
    else if (trailingSlash(p)) st = undefined;
  }
  const clean = target.replace(/\/+\.?$/, '') || '/';
  if (clean === '/') {
    const fd = fs.openSync('/', C.O_RDONLY | C.O_DIRECTORY);
    return { node: { dirFd: fd, name: null }, st: fs.fstatSync(fd), base: Buffer.from(''), shown: p, release: () => fs.closeSync(fd) };
  }
  let fd: number;
  try {
    fd = fs.openSync(path.dirname(clean), C.O_RDONLY | C.O_DIRECTORY);
  } catch (e) {
    throw fail('open the directory of', p, e, 'the parent directory must exist');
  }
  return { node: { dirFd: fd, name: Buffer.from(path.basename(clean)) }, st, base: baseOf(p), shown: p, release: () => fs.closeSync(fd) };
}

class Copier {
  bytes = 0;
  entries = 0;
  readonly notes: string[] = [];
  private readonly skipped: string[] = [];
  /** First destination (relative to the top destination directory) of each multiply-linked source file. */
  private readonly links = new Map<string, string>();

  constructor(
    /** The owner to give a copy of ST, or null to leave it ours. */
    private readonly owner: (st: fs.Stats) => { uid: number; gid: number } | null,
    /** Hard links are kept only on the host: a link(2) by path inside the container could be redirected. */
    private readonly keepLinks: { topFd: number } | null,
    /** The directory copies land in, for messages. */
    private readonly shownTop: string,
  ) {}

  private chown(p: Buffer | string | number, st: fs.Stats): void {
    const o = this.owner(st);
    if (!o) return;
    try {
      if (typeof p === 'number') fs.fchownSync(p, o.uid, o.gid);
      else fs.lchownSync(p, o.uid, o.gid);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'EINVAL' && code !== 'EPERM') throw e;
      if (!this.notes.some((n) => n.startsWith('ownership'))) this.notes.push(`ownership ${o.uid}:${o.gid} (and any other id the container's user namespace does not map) not kept: those copies belong to its root`);
    }
  }

  /**
   * Copies SRC (lstat ST) to NAME in the directory open as DSTDIR, replacing a non-directory there.
   * REL is the copy's path below the top directory (hard links are made by it).
   */
  copy(src: Node, st: fs.Stats, dstDir: number, name: Buffer, rel: string): void {
    const dst = at(dstDir, name);
    const shown = `${this.shownTop}/${rel}`.replace(/\/+/g, '/');
    const existing = fs.lstatSync(dst, { throwIfNoEntry: false });
    this.entries++;
    if (st.isDirectory()) {
      if (existing && !existing.isDirectory()) throw new LodgerError('CP_CONFLICT', `cannot overwrite non-directory ${shown} with a directory`);
      if (!existing) fs.mkdirSync(dst, 0o700);
      const sfd = openNodeDir(src);
      let dfd: number | undefined;
      try {
        dfd = openDirAt(dstDir, name);
        if (!onPseudoFs(sfd)) this.children(sfd, dfd, rel);
        this.chown(dfd, st);
        fs.fchmodSync(dfd, st.mode & 0o7777);
        fs.futimesSync(dfd, st.atimeMs / 1000, st.mtimeMs / 1000);
      } finally {
        fs.closeSync(sfd);
        if (dfd !== undefined) fs.closeSync(dfd);
      }
      return;
    }
    if (existing?.isDirectory()) throw new LodgerError('CP_CONFLICT', `cannot overwrite directory ${shown} with a non-directory`);
    if (existing) fs.unlinkSync(dst);
    const sp = nodePath(src);
    if (st.isFile()) {
      const key = `${st.dev}:${st.ino}`;
      const first = this.keepLinks && st.nlink > 1 ? this.links.get(key) : undefined;
      if (first !== undefined && this.keepLinks) {
        fs.linkSync(at(this.keepLinks.topFd, first), dst);
        return;
      }
      const sfd = fs.openSync(sp, C.O_RDONLY | C.O_NOFOLLOW | C.O_NONBLOCK);
      try {
        const fst = fs.fstatSync(sfd);
        if (!fst.isFile()) { this.notes.push(`skipped ${shown}: it changed into a special file while copying`); return; }
        const dfd = fs.openSync(dst, C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW, 0o600);
        try {
          // Both ends are open: copy between the fds' own paths (copy_file_range where it can).
          fs.copyFileSync(fdPath(sfd), fdPath(dfd));
          this.chown(dfd, fst);
          fs.fchmodSync(dfd, fst.mode & 0o7777);
          fs.futimesSync(dfd, fst.atimeMs / 1000, fst.mtimeMs / 1000);
        } finally {
          fs.closeSync(dfd);
        }
        this.bytes += fst.size;
        if (this.keepLinks && fst.nlink > 1) this.links.set(key, rel);
      } finally {
        fs.closeSync(sfd);
      }
      return;
    }
    if (st.isSymbolicLink()) {
      // The target is copied as text, never resolved here.
      const target = fs.readlinkSync(sp, { encoding: 'buffer' });
      fs.symlinkSync(target, dst);
      this.chown(dst, st);
      fs.lutimesSync(dst, st.atimeMs / 1000, st.mtimeMs / 1000);
      return;
    }
    if (st.isFIFO()) {
      fsOps().mkfifo(dst, st.mode & 0o7777);
      this.chown(dst, st);
      return;
    }
    this.entries--;
    this.skipped.push(shown);
  }

  /** Notes for the user, the skipped special files summed up in one. */
  summary(): string[] {
    if (this.skipped.length === 0) return this.notes;
    const more = this.skipped.length > 1 ? ` and ${this.skipped.length - 1} more` : '';
    return [...this.notes, `skipped ${this.skipped[0]}${more}: device nodes and sockets are not copied`];
  }

  children(srcFd: number, dstFd: number, rel: string): void {
    for (const name of fs.readdirSync(fdPath(srcFd), { encoding: 'buffer' }).sort(Buffer.compare)) {
      const st = fs.lstatSync(at(srcFd, name), { throwIfNoEntry: false });
      if (st) this.copy({ dirFd: srcFd, name }, st, dstFd, name, rel ? `${rel}/${name.toString()}` : name.toString());
    }
  }
}

/** Carries out Docker's rules for where SRC lands given what DST is. */
function place(c: Copier, src: Endpoint, srcPath: string, dst: Endpoint, dstPath: string): void {
  const st = src.st!;
  if (dst.st && dst.st.isDirectory()) {
    const dfd = openNodeDir(dst.node);
    try {
      if (st.isDirectory() && (contentsOnly(srcPath) || src.base.length === 0)) {
        const sfd = openNodeDir(src.node);
        try { c.children(sfd, dfd, ''); } finally { fs.closeSync(sfd); }
      } else {
        c.copy(src.node, st, dfd, src.base, src.base.toString());
      }
    } finally {
      fs.closeSync(dfd);
    }
    return;
  }
  if (dst.st && st.isDirectory()) throw new LodgerError('CP_CONFLICT', `cannot copy a directory to a file: ${dstPath} is not a directory`);
  if (!dst.st && trailingSlash(dstPath)) throw new LodgerError('CP_NO_DEST_DIR', `destination directory ${dstPath} does not exist — create it first, or drop the trailing "/" to copy to that name`);
  if (dst.node.name === null) throw new LodgerError('CP_CONFLICT', `cannot copy to ${dstPath}`);
  c.copy(src.node, st, dst.node.dirFd, dst.node.name, dst.node.name.toString());
}

/** Runs one `cp` request inside the worker. */
export function copy(req: CopyRequest): CopyResult {
  const r = new RootedFs(req.root);
  const ends: Endpoint[] = [];
  try {
    if (req.direction === 'out') {
      const src = containerEnd(r, req.containerPath, req.follow);
      ends.push(src);
      if (!src.st) throw new LodgerError('CP_NO_SOURCE', `copy from the container: ${req.containerPath} does not exist in it`);
      if (trailingSlash(req.containerPath) && !src.st.isDirectory()) throw new LodgerError('CP_NOT_DIR', `copy from the container: ${req.containerPath} is not a directory`);
      if (req.hostPath === '-') {
        const arch = src.base.length ? src.base : Buffer.from('.');
        const res = packToFile(src.node, arch, req.tarFile!, { mode: 'rootfs' });
        return { bytes: res.bytes, entries: res.entries, notes: res.notes };
      }
      const dst = hostEnd(req.hostPath, true);
      ends.push(dst);
      // Hard links are made relative to the directory the copy lands in, which stays open meanwhile.
      const intoDir = dst.st?.isDirectory() ?? false;
      const top = intoDir ? openNodeDir(dst.node) : dst.node.dirFd;
      const c = new Copier((st) => (req.archive ? { uid: st.uid, gid: st.gid } : null), { topFd: top }, intoDir ? req.hostPath : path.dirname(req.hostPath));
      try {
        place(c, src, req.containerPath, dst, req.hostPath);
      } finally {
        if (intoDir) fs.closeSync(top);
      }
      return { bytes: c.bytes, entries: c.entries, notes: c.summary() };
    }
    const src = hostEnd(req.hostPath, req.follow);
    ends.push(src);
    if (!src.st) throw new LodgerError('CP_NO_SOURCE', `copy into the container: ${req.hostPath} does not exist`);
    const dst = containerEnd(r, req.containerPath, true);
    ends.push(dst);
    const c = new Copier((st) => (req.archive ? { uid: st.uid, gid: st.gid } : { uid: 0, gid: 0 }), null, dst.st?.isDirectory() ? dst.shown : path.posix.dirname(dst.shown));
    place(c, src, req.hostPath, dst, req.containerPath);
    return { bytes: c.bytes, entries: c.entries, notes: c.summary() };
  } catch (e) {
    if (e instanceof LodgerError) throw e;
    const err = e as NodeJS.ErrnoException;
    const where = req.direction === 'out' ? `${req.containerPath} from the container to ${req.hostPath}` : `${req.hostPath} into the container at ${req.containerPath}`;
    throw fail('copy', where, e, err.code === 'EROFS' ? "the container's root filesystem is read-only" : err.code === 'ENOSPC' ? 'free some disk space' : undefined);
  } finally {
    for (const e of ends.reverse()) e.release();
    r.close();
  }
}
