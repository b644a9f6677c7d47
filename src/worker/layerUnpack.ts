// Unpacks one layer tar into its own empty directory in overlayfs' on-disk form, never touching anything outside that directory.
//
// Semantics: OCI image-spec layer.md ("Representing Changes", "Whiteouts", "Opaque Whiteout") on
// tar(5)/pax(1) archives. On disk, a deletion is a 0:0 character device and an opaque directory carries
// `user.overlay.opaque=y` — what kernel overlayfs with `userxattr` (Documentation/filesystems/
// overlayfs.rst, "whiteouts and opaque directories") and fuse-overlayfs read.
//
// Safety: every name is taken as rooted at DEST (like Go's filepath.Join("/", name)), and every
// component of a path is lstat'ed on the way down: a symlink or non-directory where a directory is
// needed refuses the entry instead of being followed. These checks are not racy because nothing else
// writes into DEST: it is a fresh directory in the store's staging area, the worker unpacks one layer
// at a time and the layer is not mounted until it is complete. Files are created with
// O_CREAT|O_EXCL|O_NOFOLLOW after the old entry is removed, so even a lost race could not write
// through a symlink.
import * as fs from 'node:fs';
import type { Readable } from 'node:stream';
import * as tarStream from 'tar-stream';
import { fsError, LodgerError } from '../errors';
import { fsOps, type FsOps } from './xattr';

export interface UnpackOptions {
  /** Called with each note as it is made (skipped device nodes, refused entries, lost ownership). */
  onNote?: (msg: string) => void;
  /**
   * Running as root of a user namespace rather than as real root (default true: lodger is rootless).
   * Then an owner the namespace cannot represent (chown(2) fails with EINVAL) is noted, not fatal.
   */
  rootless?: boolean;
  /** Names the layer in errors and notes (e.g. its digest). */
  label?: string;
  /** The xattr/mknod operations (default: fsOps(), the native addon or the attr tools). */
  ops?: FsOps;
}

export interface UnpackResult {
  /** Tar entries read (pax and GNU long-name headers are part of the entry they describe). */
  entries: number;
  notes: string[];
}

/** Raw pax extended-header records (pax(1) "pax Extended Header"): keys as text, values as bytes. */
type PaxRecords = Map<string, Buffer>;

const OPAQUE_XATTR = 'user.overlay.opaque';
const WHITEOUT_PREFIX = '.wh.';
const OPAQUE_MARKER = '.wh..wh..opq';

/** Metadata of a tar entry, after pax overrides. Names are "byte strings": latin1, one char per byte. */
interface Entry {
  type: string | null;
  name: string;
  linkname: string;
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  atime: number;
  devmajor: number;
  devminor: number;
  xattrs: Map<string, Buffer>;
  sparse: boolean;
}

function parseNumber(v: Buffer | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v.toString('latin1'));
  return Number.isFinite(n) ? n : undefined;
}

/** Parses pax records "%d %s=%s\n" (the length counts the whole record), keeping values as bytes. */
function parsePax(buf: Buffer): PaxRecords {
  const out: PaxRecords = new Map();
  let off = 0;
  while (off < buf.length && buf[off] !== 0) {
    const sp = buf.indexOf(0x20, off);
    const len = sp < 0 ? NaN : Number(buf.toString('latin1', off, sp));
    if (!Number.isInteger(len) || len <= sp - off + 1 || off + len > buf.length || buf[off + len - 1] !== 0x0a) {
      throw new Error('malformed pax extended header');
    }
    const rec = buf.subarray(sp + 1, off + len - 1);
    const eq = rec.indexOf(0x3d);
    if (eq < 0) throw new Error('malformed pax record (no "=")');
    out.set(rec.toString('utf8', 0, eq), Buffer.from(rec.subarray(eq + 1)));
    off += len;
  }
  return out;
}

/** Applies pax records ON to BASE: an empty value removes the key (pax(1): "the keyword shall be deleted"). */
function mergePax(base: PaxRecords, on: PaxRecords): PaxRecords {
  const out = new Map(base);
  for (const [k, v] of on) {
    if (v.length === 0) out.delete(k);
    else out.set(k, v);
  }
  return out;
}

interface ExtractInternals {
  _header: { type: string | null } | null;
  _decodeLongHeader: (buf: Buffer) => void;
}

/**
 * tar-stream decodes pax values as UTF-8 text, which mangles binary xattrs (security.capability) and
 * non-UTF-8 path names. Its Extract keeps the raw header body only inside `_decodeLongHeader`; this
 * wraps that method on this one instance to keep the bytes too. The records of a pax header always
 * belong to the entry tar-stream emits next, so `take()` at each entry pairs them up.
 */
function captureRawPax(extract: tarStream.Extract): { take(): PaxRecords } {
  const inner = extract as unknown as ExtractInternals;
  const decode = inner._decodeLongHeader;
  if (typeof decode !== 'function') {
    throw new LodgerError('INTERNAL', 'unpack layer: the installed tar-stream has no _decodeLongHeader — reinstall lodger with its locked dependencies');
  }
  let global: PaxRecords = new Map();
  let pending: PaxRecords | null = null;
  inner._decodeLongHeader = function (this: ExtractInternals, buf: Buffer) {
    const type = this._header?.type;
    if (type === 'pax-global-header') global = mergePax(global, parsePax(buf));
    else if (type === 'pax-header') pending = parsePax(buf);
    decode.call(this, buf);
  };
  return {
    take() {
      const p = pending ? mergePax(global, pending) : global;
      pending = null;
      return p;
    },
  };
}

function toEntry(h: tarStream.Header, pax: PaxRecords): Entry {
  const latin1 = (b: Buffer | undefined) => (b === undefined ? undefined : b.toString('latin1'));
  const mtime = parseNumber(pax.get('mtime')) ?? (h.mtime ? h.mtime.getTime() / 1000 : 0);
  const xattrs = new Map<string, Buffer>();
  let sparse = false;
  for (const [k, v] of pax) {
    // SCHILY.xattr.NAME is what GNU tar, bsdtar and Go's archive/tar write for extended attributes.
    if (k.startsWith('SCHILY.xattr.')) xattrs.set(k.slice('SCHILY.xattr.'.length), v);
    if (k.startsWith('GNU.sparse.')) sparse = true;
  }
  return {
    type: h.type ?? null,
    name: latin1(pax.get('GNU.sparse.name')) ?? latin1(pax.get('path')) ?? h.name,
    linkname: latin1(pax.get('linkpath')) ?? h.linkname ?? '',
    mode: (h.mode ?? 0) & 0o7777,
    uid: parseNumber(pax.get('uid')) ?? h.uid ?? 0,
    gid: parseNumber(pax.get('gid')) ?? h.gid ?? 0,
    mtime,
    atime: parseNumber(pax.get('atime')) ?? mtime,
    devmajor: h.devmajor ?? 0,
    devminor: h.devminor ?? 0,
    xattrs,
    sparse,
  };
}

/**
 * NAME's components with "", "." and ".." resolved lexically as if NAME were rooted at "/": ".." at
 * the root stays at the root. `escaped` tells that a ".." tried to climb above it.
 */
export function normaliseName(name: string): { comps: string[]; escaped: boolean } {
  const comps: string[] = [];
  let escaped = false;
  for (const c of name.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') {
      if (comps.length === 0) escaped = true;
      else comps.pop();
      continue;
    }
    comps.push(c);
  }
  return { comps, escaped };
}

function isWhiteoutDevice(st: fs.Stats): boolean {
  return st.isCharacterDevice() && st.rdev === 0;
}

function describeType(st: fs.Stats): string {
  if (st.isSymbolicLink()) return 'a symlink';
  if (st.isDirectory()) return 'a directory';
  if (st.isFile()) return 'a regular file';
  if (isWhiteoutDevice(st)) return 'a whiteout';
  return 'a special file';
}

/** An entry's data as tar-stream gives it (a streamx Readable). */
type EntryBody = NodeJS.EventEmitter & { resume(): void };

/**
 * Calls EACH with every chunk of BODY, synchronously as it arrives (no promise per chunk, which for a
 * layer of thousands of small files costs more than writing them), and resolves at its end.
 */
function consume(body: EntryBody, each: (chunk: Buffer) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => { body.off('data', onData); reject(err); };
    const onData = (chunk: Buffer) => {
      try {
        each(chunk);
      } catch (err) {
        body.off('data', onData);
        body.off('end', resolve);
        body.off('error', onError);
        body.resume();
        reject(err);
      }
    };
    body.on('data', onData);
    body.once('end', resolve);
    body.once('error', onError);
  });
}

function writeAll(fd: number, chunk: Buffer): void {
  let off = 0;
  while (off < chunk.length) off += fs.writeSync(fd, chunk, off, chunk.length - off);
}

/** A refused entry: its data is skipped and a note says why; the rest of the layer still applies. */
class Refusal {
  constructor(readonly why: string) {}
}

interface DirMeta {
  mode: number;
  atime: number;
  mtime: number;
}

class Unpacker {
  readonly notes: string[] = [];
  /** DEST's real path as a byte string. */
  private readonly root: string;
  private readonly ops: FsOps;
  private readonly rootless: boolean;
  private readonly label: string;
  /** Directories' modes and times, applied last (deepest first): creating entries inside changes them. */
  private readonly dirMeta = new Map<string, DirMeta>();
  /**
   * Paths this unpacker has made or seen as real directories. Only it changes DEST while it runs, and
   * every change that could turn such a directory into something else goes through remove(), which
   * forgets it: so ensureDirs need not lstat every component of every name again (35k calls for a
   * Debian base layer).
   */
  private readonly knownDirs = new Set<string>();
  /**
   * Non-directories this unpacker has made (files, links, fifos, whiteouts). With knownDirs it is
   * everything in DEST, which started empty: a name in neither set does not exist, so a new entry
   * needs no lstat to find what it replaces. Should the sets ever miss a name, O_EXCL, symlink(2) and
   * link(2) fail with EEXIST instead of writing through what is there.
   */
  private readonly made = new Set<string>();
  /** The process's umask: bits it would take from a mode given to open(2) and mkdir(2). */
  private readonly umask: number;
  private ownerNoted = false;
  private readonly xattrNoted = new Set<string>();

  constructor(dest: string, private readonly opts: UnpackOptions) {
    this.ops = opts.ops ?? fsOps();
    this.rootless = opts.rootless ?? true;
    this.label = opts.label ?? dest;
    // Reading the umask this way is only documentation-deprecated (DEP0139); a worker thread may not set it.
    this.umask = process.umask();
    let real: Buffer;
    try {
      real = fs.realpathSync(dest, { encoding: 'buffer' });
      if (!fs.lstatSync(real).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
    } catch (e) {
      throw fsError('unpack layer into', dest, e, 'the destination must be an existing, empty directory');
    }
    // Only an empty directory makes "already in DEST" mean "unpacked from this layer", which
    // hardlinks and whiteouts rely on.
    if (fs.readdirSync(real).length > 0) {
      throw new LodgerError('LAYER_DEST_NOT_EMPTY', `unpack layer ${this.label} into ${dest}: the directory is not empty — each layer is unpacked into a fresh directory; remove it and retry`);
    }
    this.root = real.toString('latin1');
  }

  note(msg: string): void {
    this.notes.push(msg);
    this.opts.onNote?.(msg);
  }

  /** The host path of REL (a byte string, '' for DEST itself). */
  private abs(rel: string): Buffer {
    return Buffer.from(rel === '' ? this.root : this.root + '/' + rel, 'latin1');
  }

  /** REL as the user should read it: rooted at the layer's "/", UTF-8 decoded. */
  private show(rel: string): string {
    return '/' + Buffer.from(rel, 'latin1').toString('utf8');
  }

  private lstat(rel: string): fs.Stats | undefined {
    return fs.lstatSync(this.abs(rel), { throwIfNoEntry: false });
  }

  /**
   * Makes sure every component of COMPS is a real directory, creating missing ones (mode 0755, as tar
   * does for directories implied by a name). Returns the path or a Refusal: a symlink, file or other
   * non-directory on the way is never followed or replaced — the entry does not name it.
   */
  private ensureDirs(comps: string[]): string | Refusal {
    let rel = '';
    for (const c of comps) {
      rel = rel === '' ? c : rel + '/' + c;
      if (this.knownDirs.has(rel)) continue;
      const st = this.existing(rel);
      if (st === undefined) {
        this.mkdir(rel, 0o755);
        this.knownDirs.add(rel);
        continue;
      }
      if (st.isDirectory()) {
        this.knownDirs.add(rel);
        continue;
      }
      if (isWhiteoutDevice(st)) {
        // A whiteout made earlier in this layer, then a path under it: the lower layers' directory
        // was deleted and this layer makes a new one — an opaque directory (OCI layer.md).
        fs.unlinkSync(this.abs(rel));
        this.made.delete(rel);
        this.mkdir(rel, 0o755);
        this.setOpaque(rel);
        this.knownDirs.add(rel);
        continue;
      }
      return new Refusal(`${this.show(rel)} is ${describeType(st)}, not a directory, and entries are never written through it`);
    }
    return rel;
  }

  /** Makes directory REL with MODE exactly (mkdir(2) applies the umask). */
  private mkdir(rel: string, mode: number): void {
    fs.mkdirSync(this.abs(rel), mode);
    if ((mode & this.umask) !== 0) fs.chmodSync(this.abs(rel), mode);
  }

  /** What is at REL, if this unpacker made anything there (no system call otherwise). */
  private existing(rel: string): fs.Stats | undefined {
    return this.made.has(rel) || this.knownDirs.has(rel) ? this.lstat(rel) : undefined;
  }

  /** Removes REL (a tree, if a directory) so a later entry of the same name can replace it. */
  private remove(rel: string, st: fs.Stats): void {
    if (st.isDirectory()) {
      // rm -r does not follow symlinks inside the tree (Node's rimraf lstat()s each entry).
      fs.rmSync(this.abs(rel), { recursive: true, force: true });
      for (const k of [...this.dirMeta.keys()]) if (k === rel || k.startsWith(rel + '/')) this.dirMeta.delete(k);
      for (const k of [...this.knownDirs]) if (k === rel || k.startsWith(rel + '/')) this.knownDirs.delete(k);
      for (const k of [...this.made]) if (k.startsWith(rel + '/')) this.made.delete(k);
    } else {
      fs.unlinkSync(this.abs(rel));
      this.made.delete(rel);
    }
  }

  private setOpaque(rel: string): void {
    this.ops.setXattr(this.abs(rel), OPAQUE_XATTR, Buffer.from('y'));
  }

  /**
   * Gives REL the entry's owner. FRESH: REL was just created by this process, so it already belongs to
   * 0:0 — the worker's fsuid and fsgid, as no directory is set-group-ID while the layer is unpacked
   * (finish() sets their modes last) — and root-owned entries need no chown(2).
   */
  private chown(rel: string, e: Entry, chown: () => void, fresh = false): void {
    if (fresh && e.uid === 0 && e.gid === 0) return;
    try {
      chown();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // EINVAL: the id has no mapping in this user namespace (chown(2)); EPERM: not root in it at all.
      if (!this.rootless || (code !== 'EINVAL' && code !== 'EPERM')) throw err;
      if (!this.ownerNoted) {
        this.ownerNoted = true;
        this.note(`ownership not kept for ${this.show(rel)} (uid ${e.uid}, gid ${e.gid}) and any other file whose ids this user namespace cannot map: they belong to you instead — give your user a range in /etc/subuid and /etc/subgid (subuid(5)) for exact ownership`);
      }
    }
  }

  /**
   * Sets the entry's xattrs the layer may carry: user.* (not user.overlay.*, which would forge overlay
   * metadata) and security.capability. trusted.* needs real root (xattr(7)); others are not ours to set.
   */
  private setXattrs(rel: string, e: Entry, kind: 'file' | 'dir' | 'other'): void {
    for (const [name, value] of e.xattrs) {
      let skip: string | undefined;
      if (name.startsWith('user.overlay.')) skip = 'it is overlayfs metadata, which only whiteouts in the tar may produce';
      else if (name.startsWith('trusted.')) skip = 'trusted.* attributes need real root (xattr(7))';
      else if (!name.startsWith('user.') && name !== 'security.capability') skip = 'only user.* and security.capability are kept';
      else if (kind === 'other' && name.startsWith('user.')) skip = 'user.* attributes exist only on regular files and directories (xattr(7))';
      if (skip === undefined) {
        try {
          this.ops.setXattr(this.abs(rel), name, value);
          continue;
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw err;
          skip = `the filesystem refused it (${code})`;
        }
      }
      if (!this.xattrNoted.has(name)) {
        this.xattrNoted.add(name);
        this.note(`skipped xattr ${name} on ${this.show(rel)} (and on any later file): ${skip}`);
      }
    }
  }

  /** Handles one entry; returns whether it read the entry's data. */
  async entry(e: Entry, body: EntryBody): Promise<boolean> {
    const shown = '/' + Buffer.from(e.name, 'latin1').toString('utf8').replace(/^\/+/, '');
    if (e.name.includes('\0') || e.linkname.includes('\0')) {
      this.note(`refused ${JSON.stringify(shown)}: a NUL byte in its name`);
      return false;
    }
    const { comps, escaped } = normaliseName(e.name);
    const rel = comps.join('/');
    if (escaped) this.note(`entry ${shown} climbs above the layer's root; unpacked as ${this.show(rel)}`);
    try {
      const r = await this.apply(e, comps, rel, body);
      if (r instanceof Refusal) {
        this.note(`refused ${this.show(rel)}: ${r.why}`);
        return false;
      }
      return r;
    } catch (err) {
      // System calls' failures name the file; anything else (the tar stream failing mid-entry) passes on.
      if (err instanceof LodgerError || !(err as NodeJS.ErrnoException).syscall) throw err;
      throw fsError(`unpack layer ${this.label}: write`, this.show(rel), err, 'check the free space and permissions of the store');
    }
  }

  private async apply(e: Entry, comps: string[], rel: string, body: EntryBody): Promise<boolean | Refusal> {
    if (e.sparse) return new Refusal('GNU sparse files are not supported; the file is missing from the layer');
    const base = comps[comps.length - 1] ?? '';
    // No component but the last may carry the whiteout prefix (OCI layer.md reserves ".wh." names).
    const bad = comps.slice(0, -1).find((c) => c.startsWith(WHITEOUT_PREFIX));
    if (bad !== undefined) return new Refusal(`a path through ${JSON.stringify(bad)} (names starting ".wh." are reserved for whiteouts)`);
    if (base === OPAQUE_MARKER) return this.opaque(comps.slice(0, -1));
    if (base.startsWith(WHITEOUT_PREFIX + WHITEOUT_PREFIX)) return new Refusal('an aufs metadata entry (".wh..wh.*") other than the opaque marker');
    if (base.startsWith(WHITEOUT_PREFIX)) return this.whiteout(comps.slice(0, -1), base.slice(WHITEOUT_PREFIX.length));

    switch (e.type) {
      case 'directory':
        return this.directory(e, comps, rel);
      case 'file':
      case 'contiguous-file':
        return this.file(e, comps, rel, body);
      case 'symlink':
        return this.symlink(e, comps, rel);
      case 'link':
        return this.hardlink(e, comps, rel);
      case 'fifo':
        return this.fifo(e, comps, rel);
      case 'character-device':
      case 'block-device':
        if (e.type === 'character-device' && e.devmajor === 0 && e.devminor === 0) {
          // overlayfs' own form of a whiteout, as a tar of an upper directory holds it.
          return this.whiteout(comps.slice(0, -1), base);
        }
        this.note(`skipped device node ${this.show(rel)}: device nodes cannot be created without root`);
        return false;
      default:
        return new Refusal('an entry type this unpacker does not know (GNU sparse, multi-volume or a volume label)');
    }
  }

  /** Prepares REL for a new non-directory entry: parents exist, any earlier entry of that name is gone. */
  private replaceable(comps: string[], rel: string): Refusal | undefined {
    if (rel === '') return new Refusal("the layer's root can only be a directory");
    const parent = this.ensureDirs(comps.slice(0, -1));
    if (parent instanceof Refusal) return parent;
    const st = this.existing(rel);
    if (st) this.remove(rel, st);
    this.made.add(rel);
    return undefined;
  }

  private directory(e: Entry, comps: string[], rel: string): boolean | Refusal {
    let fresh = false;
    if (rel !== '') {
      const parent = this.ensureDirs(comps.slice(0, -1));
      if (parent instanceof Refusal) return parent;
      const st = this.existing(rel);
      // A directory over an existing directory keeps its contents and takes the new metadata.
      fresh = !st || !st.isDirectory();
      if (fresh) {
        if (st) this.remove(rel, st);
        // Private until finish() gives it its mode: nothing else may enter it half-made.
        fs.mkdirSync(this.abs(rel), 0o700);
        // Whiteout then directory in one layer: the lower directory is gone, this one is new — opaque.
        if (st && isWhiteoutDevice(st)) this.setOpaque(rel);
      }
      this.knownDirs.add(rel);
    }
    this.chown(rel, e, () => fs.lchownSync(this.abs(rel), e.uid, e.gid), fresh);
    this.setXattrs(rel, e, 'dir');
    this.dirMeta.set(rel, { mode: e.mode, atime: e.atime, mtime: e.mtime });
    return false;
  }

  private async file(e: Entry, comps: string[], rel: string, body: EntryBody): Promise<boolean | Refusal> {
    const refused = this.replaceable(comps, rel);
    if (refused) return refused;
    const c = fs.constants;
    // Created with its permission bits (an fd opened by the open(2) that creates a file writes
    // whatever they are); DEST is private to this user until the layer is complete.
    const fd = fs.openSync(this.abs(rel), c.O_WRONLY | c.O_CREAT | c.O_EXCL | c.O_NOFOLLOW, e.mode & 0o777);
    try {
      await consume(body, (chunk) => writeAll(fd, chunk));
      this.chown(rel, e, () => fs.fchownSync(fd, e.uid, e.gid), true);
      // After chown, which clears set-user-ID and set-group-ID bits (chown(2)); open(2) takes neither.
      if ((e.mode & 0o7000) !== 0 || (e.mode & this.umask) !== 0) fs.fchmodSync(fd, e.mode);
      // After chown and the data, which both drop security.capability (capabilities(7), "File capabilities").
      this.setXattrs(rel, e, 'file');
      fs.futimesSync(fd, e.atime, e.mtime);
    } finally {
      fs.closeSync(fd);
    }
    return true;
  }

  private symlink(e: Entry, comps: string[], rel: string): boolean | Refusal {
    if (e.linkname === '') return new Refusal('a symlink with an empty target');
    const refused = this.replaceable(comps, rel);
    if (refused) return refused;
    // The target is stored byte for byte and never resolved here.
    fs.symlinkSync(Buffer.from(e.linkname, 'latin1'), this.abs(rel));
    this.chown(rel, e, () => fs.lchownSync(this.abs(rel), e.uid, e.gid), true);
    this.setXattrs(rel, e, 'other');
    fs.lutimesSync(this.abs(rel), e.atime, e.mtime);
    return false;
  }

  /**
   * A hardlink must name a regular file already unpacked from this layer, reached through real
   * directories only: a link to a symlink, a directory, a missing path or through a symlink is refused.
   */
  private hardlink(e: Entry, comps: string[], rel: string): boolean | Refusal {
    const { comps: tcomps, escaped } = normaliseName(e.linkname);
    const trel = tcomps.join('/');
    const shownTarget = '/' + Buffer.from(e.linkname, 'latin1').toString('utf8').replace(/^\/+/, '');
    if (trel === '') return new Refusal(`a hardlink to ${shownTarget}, the layer's root`);
    if (escaped) this.note(`hardlink target ${shownTarget} climbs above the layer's root; taken as ${this.show(trel)}`);
    let walked = '';
    for (const c of tcomps.slice(0, -1)) {
      walked = walked === '' ? c : walked + '/' + c;
      const st = this.lstat(walked);
      if (!st) return new Refusal(`a hardlink to ${this.show(trel)}, which does not exist in this layer`);
      if (!st.isDirectory()) return new Refusal(`a hardlink to ${this.show(trel)}, through ${this.show(walked)}, which is ${describeType(st)}`);
    }
    const target = this.lstat(trel);
    if (!target) return new Refusal(`a hardlink to ${this.show(trel)}, which does not exist in this layer`);
    if (!target.isFile()) return new Refusal(`a hardlink to ${this.show(trel)}, which is ${describeType(target)}, not a regular file`);
    if (trel === rel) return false;
    if (trel.startsWith(rel + '/')) return new Refusal(`a hardlink to ${this.show(trel)}, inside the directory it would replace`);
    const refused = this.replaceable(comps, rel);
    if (refused) return refused;
    // link(2) does not follow a final symlink, and the target was just checked to be a regular file.
    fs.linkSync(this.abs(trel), this.abs(rel));
    // The link's own header decides the shared inode's owner, mode, xattrs and times, as docker's and
    // podman's unpackers apply it (tar writers normally repeat the target's metadata there).
    this.chown(rel, e, () => fs.lchownSync(this.abs(rel), e.uid, e.gid));
    fs.chmodSync(this.abs(rel), e.mode);
    this.setXattrs(rel, e, 'file');
    fs.lutimesSync(this.abs(rel), e.atime, e.mtime);
    return false;
  }

  private fifo(e: Entry, comps: string[], rel: string): boolean | Refusal {
    const refused = this.replaceable(comps, rel);
    if (refused) return refused;
    this.ops.mkfifo(this.abs(rel), 0o600);
    this.chown(rel, e, () => fs.lchownSync(this.abs(rel), e.uid, e.gid), true);
    // chmod(2) follows symlinks, but REL was just created as a fifo by us, the only writer.
    fs.chmodSync(this.abs(rel), e.mode);
    this.setXattrs(rel, e, 'other');
    fs.lutimesSync(this.abs(rel), e.atime, e.mtime);
    return false;
  }

  /**
   * `.wh.NAME` deletes NAME of the lower layers (OCI layer.md "Whiteouts"); it must not hide what this
   * layer itself holds. So: nothing there yet → a 0:0 character device; a directory from this layer →
   * that directory becomes opaque (lower contents gone, this layer's kept); anything else from this
   * layer already hides the lower NAME.
   */
  private whiteout(parentComps: string[], name: string): boolean | Refusal {
    if (name === '' || name === '.' || name === '..') return new Refusal(`a whiteout of ${JSON.stringify(name)}, which names no file`);
    const parent = this.ensureDirs(parentComps);
    if (parent instanceof Refusal) return parent;
    const rel = parent === '' ? name : parent + '/' + name;
    const st = this.existing(rel);
    if (!st) {
      this.ops.mknodWhiteout(this.abs(rel));
      this.made.add(rel);
    } else if (st.isDirectory()) this.setOpaque(rel);
    return false;
  }

  /** `.wh..wh..opq` in DIR: the lower layers' contents of DIR are hidden, never this layer's (OCI layer.md "Opaque Whiteout"). */
  private opaque(dirComps: string[]): boolean | Refusal {
    const dir = this.ensureDirs(dirComps);
    if (dir instanceof Refusal) return dir;
    this.setOpaque(dir);
    return false;
  }

  /** Gives directories their modes and times, deepest first, so setting one does not disturb another. */
  finish(): void {
    const depth = (k: string) => (k === '' ? -1 : k.split('/').length);
    const dirs = [...this.dirMeta.entries()].sort((a, b) => depth(b[0]) - depth(a[0]));
    const c = fs.constants;
    for (const [rel, m] of dirs) {
      let fd: number;
      try {
        fd = fs.openSync(this.abs(rel), c.O_RDONLY | c.O_DIRECTORY | c.O_NOFOLLOW);
      } catch (err) {
        throw fsError(`unpack layer ${this.label}: set mode of`, this.show(rel), err);
      }
      try {
        fs.fchmodSync(fd, m.mode);
        fs.futimesSync(fd, m.atime, m.mtime);
      } finally {
        fs.closeSync(fd);
      }
    }
  }
}

function wrapTarError(err: unknown, label: string): unknown {
  if (err instanceof LodgerError) return err;
  const e = err as NodeJS.ErrnoException;
  if (e && e.syscall) return fsError(`unpack layer ${label}:`, e.path ?? '', e);
  const msg = err instanceof Error ? err.message : String(err);
  return new LodgerError('LAYER_CORRUPT', `unpack layer ${label}: ${msg} — the layer is not a valid tar archive; remove the image and pull it again`);
}

/**
 * Unpacks the tar stream TAR into DEST, an existing empty directory that will hold this layer only
 * (`$root/layers/<diffid>/diff`). Runs as root of the user namespace that maps the container's ids,
 * so owners land on the host ids they map to. Refused entries, skipped device nodes and lost
 * ownership are reported as notes; malformed archives and filesystem failures throw LodgerError.
 */
export async function unpackLayer(tar: Readable, dest: string, opts: UnpackOptions = {}): Promise<UnpackResult> {
  const u = new Unpacker(dest, opts);
  const label = opts.label ?? dest;
  // latin1 keeps name bytes one-to-one in the strings; they become Buffers again for every fs call.
  // (tar-stream's typings omit its extract options.) allowUnknownFormat: pre-POSIX (v7) headers too.
  const extract = tarStream.extract({ filenameEncoding: 'latin1', allowUnknownFormat: true } as Parameters<typeof tarStream.extract>[0]);
  const pax = captureRawPax(extract);
  // The input's own errors (a failed download, a corrupt compression) reach the caller unchanged.
  let inputError: Error | undefined;
  const onInputError = (err: Error) => {
    inputError = err;
    extract.destroy(err);
  };
  tar.on('error', onInputError);
  tar.pipe(extract);
  let entries = 0;
  try {
    // tar-stream's 'entry' events rather than its async iterator: a promise or two less per entry. The
    // archive may be read to its end while the last entry is still being written: done is when both are.
    await new Promise<void>((resolve, reject) => {
      let active = false;
      let ended = false;
      const settle = () => { if (ended && !active) resolve(); };
      extract.on('entry', (header, body, next) => {
        active = true;
        entries++;
        const e = toEntry(header, pax.take());
        u.entry(e, body)
          .then((consumed) => (consumed ? undefined : consume(body, () => undefined)))
          .then(() => { active = false; next(); settle(); }, (err: unknown) => { extract.destroy(err as Error); reject(err); });
      });
      extract.once('finish', () => { ended = true; settle(); });
      extract.once('error', reject);
    });
    u.finish();
  } catch (err) {
    // Stop reading the blob (and so its download); what it still reports no longer matters.
    tar.on('error', () => undefined);
    tar.unpipe(extract);
    tar.destroy();
    throw err === inputError ? err : wrapTarError(err, label);
  } finally {
    tar.off('error', onInputError);
  }
  return { entries, notes: u.notes };
}
