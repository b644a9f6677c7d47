// COPY and ADD as a layer: the selected context files written as a tar at their destination, owned as --chown says (root otherwise).
//
// The layer holds what the step changes, as a diff of the container would: the copied files and the
// directories on the way to them. Directories that already exist below keep their mode, owner and
// time (read from the layers beneath and turned back into container ids); new ones are 0755 and get
// the --chown owner, as Docker creates them. Owners in the tar are container ids; the unpack worker
// maps them onto the caller's subordinate ids, as for a pulled layer.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { IdMapLine } from '../helper/idmap';
import { resolveInLayers } from '../image/layerLookup';
import { TarWriter, type TarEntry } from '../worker/tarWriter';
import type { SelectedFile } from './context';
import { BuildError } from './errors';

export interface CopyOwner { uid: number; gid: number }

/** One source of a COPY: its files (from context.ts selectSource, or a stage's tree), and the name it was given. */
export interface CopySource { arg: string; files: SelectedFile[]; glob: boolean }

export interface CopyRequest {
  /** Absolute destination in the image; a trailing "/" means a directory. */
  dest: string;
  sources: CopySource[];
  owner?: CopyOwner;
  chmod?: number;
  /** Seconds since the epoch for every entry (--timestamp / SOURCE_DATE_EPOCH); else the files' own. */
  mtime?: number;
  /** The image's layer directories as the step starts, top first (to see what exists). */
  lowerDirs: string[];
  /** The caller's maps, to read owners of existing directories back as container ids. */
  uidMap: IdMapLine[];
  gidMap: IdMapLine[];
}

function toContainerId(lines: IdMapLine[], host: number): number {
  for (const l of lines) if (host >= l.outside && host < l.outside + l.count) return l.inside + (host - l.outside);
  return 65534;  // not mapped: overflow id, as the kernel shows it (user_namespaces(7))
}

function rel(p: string): string {
  return p.replace(/^\/+/, '');
}

/**
 * Writes the same entries as files under a directory, when every entry belongs to container root —
 * the caller on the host — so the layer needs no unpacking in a user namespace. Directory modes and
 * times are set last, once nothing more is written into them.
 */
class DirMirror {
  usable = true;
  private readonly dirs: Array<{ p: string; mode: number; mtime: number }> = [];
  constructor(private readonly root: string) {}

  add(e: TarEntry, src?: string): void {
    if (!this.usable) return;
    if (e.uid !== 0 || e.gid !== 0 || e.xattrs) { this.usable = false; return; }
    const dst = path.join(this.root, e.name.toString());
    switch (e.type) {
      case 'directory':
        if (!fs.existsSync(dst)) fs.mkdirSync(dst, { mode: 0o700 });
        this.dirs.push({ p: dst, mode: e.mode, mtime: e.mtime });
        return;
      case 'file':
        fs.copyFileSync(src!, dst, fs.constants.COPYFILE_FICLONE);
        fs.chmodSync(dst, e.mode);
        fs.utimesSync(dst, e.mtime, e.mtime);
        return;
      case 'symlink':
        fs.symlinkSync(e.linkname!, dst);
        fs.lutimesSync(dst, e.mtime, e.mtime);
        return;
      case 'link':
        fs.linkSync(path.join(this.root, e.linkname!.toString()), dst);
        return;
      default:
        this.usable = false;
    }
  }

  finish(): void {
    if (!this.usable) return;
    for (const d of this.dirs.reverse()) {
      fs.chmodSync(d.p, d.mode);
      fs.utimesSync(d.p, d.mtime, d.mtime);
    }
  }
}

/**
 * Writes the COPY's layer to OUTFILE; returns the number of entries, and whether MIRROR (a directory
 * given to receive the same tree) holds the layer's files, ready to become the layer as they are.
 */
export function writeCopyLayer(req: CopyRequest, outFile: string, mirror?: string): { entries: number; mirrored: boolean } {
  const destIsDirByName = req.dest.endsWith('/');
  const dest = path.posix.normalize(req.dest);
  const existing = resolveInLayers(req.lowerDirs, dest);
  const multi = req.sources.length > 1 || req.sources.some((s) => s.files.filter((f) => f.top).length > 1);
  const anyDirSource = req.sources.some((s) => s.files[0]?.rel === '' && s.files[0].st.isDirectory());
  const destIsDir = destIsDirByName || multi || anyDirSource || !!existing?.stat.isDirectory();
  if (multi && !destIsDirByName && !existing?.stat.isDirectory()) {
    throw new BuildError('BUILD_SYNTAX', `When using COPY with more than one source file, the destination must be a directory and end with a / (${req.dest})`);
  }
  const out = fs.openSync(outFile, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC, 0o600);
  let entries = 0;
  try {
    const tar = new TarWriter(out);
    const dir = mirror ? new DirMirror(mirror) : undefined;
    const w = {
      add(e: TarEntry, fd?: number, src?: string) {
        tar.add(e, fd);
        try { dir?.add(e, src); } catch { if (dir) dir.usable = false; }
      },
    };
    const written = new Set<string>();
    const links = new Map<string, Buffer>();
    const owner = req.owner ?? { uid: 0, gid: 0 };
    const addDirChain = (target: string) => {
      // Every directory above TARGET, top down; existing ones as they are below, new ones made now.
      const parts = rel(target).split('/').filter(Boolean);
      for (let i = 1; i < parts.length; i++) {
        const d = parts.slice(0, i).join('/');
        if (written.has(d)) continue;
        written.add(d);
        const have = resolveInLayers(req.lowerDirs, '/' + d);
        if (have && !have.stat.isDirectory()) throw new BuildError('BUILD_COPY_SOURCE', `cannot copy to ${target}: /${d} exists in the image and is not a directory`);
        const e: TarEntry = have
          ? { name: Buffer.from(d), type: 'directory', mode: have.stat.mode & 0o7777, uid: toContainerId(req.uidMap, have.stat.uid), gid: toContainerId(req.gidMap, have.stat.gid), mtime: req.mtime ?? Math.floor(have.stat.mtimeMs / 1000) }
          : { name: Buffer.from(d), type: 'directory', mode: 0o755, uid: owner.uid, gid: owner.gid, mtime: req.mtime ?? Math.floor(Date.now() / 1000) };
        w.add(e);
        entries++;
      }
    };
    const add = (f: SelectedFile, target: string) => {
      const name = rel(target);
      if (!name) {
        // Copying a directory onto / itself: only its contents go.
        return;
      }
      addDirChain(target);
      if (written.has(name) && f.st.isDirectory()) return;
      written.add(name);
      const st = f.st;
      const mode = req.chmod !== undefined ? req.chmod : (f.archived?.mode ?? st.mode & 0o7777);
      const own = req.owner ?? f.archived ?? owner;
      const base = { name: Buffer.from(name), uid: own.uid, gid: own.gid, mtime: req.mtime ?? Math.floor(st.mtimeMs / 1000) };
      if (st.isDirectory()) {
        w.add({ ...base, type: 'directory', mode });
      } else if (st.isSymbolicLink()) {
        w.add({ ...base, type: 'symlink', mode: 0o777, linkname: fs.readlinkSync(f.abs, { encoding: 'buffer' }) });
      } else if (st.isFile()) {
        const key = `${st.dev}:${st.ino}`;
        const first = st.nlink > 1 ? links.get(key) : undefined;
        if (first) {
          w.add({ ...base, type: 'link', mode, linkname: first });
        } else {
          const fd = fs.openSync(f.abs, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
          try {
            const fst = fs.fstatSync(fd);
            w.add({ ...base, type: 'file', mode, size: fst.size }, fd, f.abs);
          } finally {
            fs.closeSync(fd);
          }
          if (st.nlink > 1) links.set(key, Buffer.from(name));
        }
      } else {
        // Sockets, fifos and devices of a context are not copied (Docker's COPY skips what it cannot read as data).
        return;
      }
      entries++;
    };
    for (const s of req.sources) {
      for (const f of s.files) {
        let target: string;
        if (f.rel === '' && f.st.isDirectory()) {
          // A directory's contents are copied, not the directory: the destination is made (or kept) as a directory.
          if (rel(dest)) addDirChain(path.posix.join(dest, 'x'));
          continue;
        }
        if (f.rel === '') {
          target = destIsDir ? path.posix.join(dest, path.posix.basename(s.arg)) : dest;
        } else {
          target = path.posix.join(dest, f.rel);
        }
        add(f, target);
      }
    }
    tar.finish();
    fs.fsyncSync(out);
    try { dir?.finish(); } catch { if (dir) dir.usable = false; }
    return { entries, mirrored: !!dir?.usable };
  } finally {
    fs.closeSync(out);
  }
}
