// The filesystem calls Node has no API for — extended attributes and mknod of whiteouts/fifos — behind one swappable interface.
import * as fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import { LodgerError } from '../errors';

/**
 * A path as Node's fs takes it. Layer file names are bytes, not necessarily UTF-8 (tar(5) stores
 * bytes), so callers pass Buffers when a name did not come from UTF-8 text.
 */
export type FsPath = string | Buffer;

/** Extended attributes of a path itself: like lsetxattr(2)/lgetxattr(2)/llistxattr(2), never following a final symlink. */
export interface XattrOps {
  setXattr(path: FsPath, name: string, value: Buffer): void;
  /** The value, or null when the attribute is absent. */
  getXattr(path: FsPath, name: string): Buffer | null;
  listXattrs(path: FsPath): string[];
}

/** Creating the special files a layer holds (mknod(2)); each fails with EEXIST when PATH exists. */
export interface SpecialFileOps {
  /** An overlay whiteout: a character device 0:0 with mode 0 (root of a user namespace may create it, Linux ≥ 5.8). */
  mknodWhiteout(path: FsPath): void;
  mkfifo(path: FsPath, mode: number): void;
}

export type FsOps = XattrOps & SpecialFileOps;

/** The part of the native addon (src/helper/native.ts) these operations use. */
export interface NativeFsCalls {
  lsetxattr(path: string, name: string, value: Buffer): void;
  lgetxattr(path: string, name: string): Buffer | null;
  llistxattr(path: string): string[];
  mknod(path: string, mode: number, major: number, minor: number): void;
}

// ---------------------------------------------------------------------------------------------
// Implementation by spawning Debian's `attr` tools (setfattr(1), getfattr(1)) and coreutils'
// mknod(1)/mkfifo(1). A process per call: correct for any byte path, slow for many files.
// ---------------------------------------------------------------------------------------------

/** An errno-shaped error as Node's fs throws them, so callers branch on `code` whichever backend ran. */
function errnoError(code: string, message: string, syscall: string): NodeJS.ErrnoException {
  const e = new Error(message) as NodeJS.ErrnoException;
  e.code = code;
  e.syscall = syscall;
  return e;
}

// strerror(3) texts (glibc) the tools print, back to errno names.
const STRERROR_CODES: Array<[string, string]> = [
  ['Operation not permitted', 'EPERM'], ['Operation not supported', 'ENOTSUP'], ['No such attribute', 'ENODATA'],
  ['No data available', 'ENODATA'], ['No such file or directory', 'ENOENT'], ['Permission denied', 'EACCES'],
  ['File exists', 'EEXIST'], ['No space left on device', 'ENOSPC'], ['Argument list too long', 'E2BIG'],
  ['Numerical result out of range', 'ERANGE'], ['Read-only file system', 'EROFS'], ['Disk quota exceeded', 'EDQUOT'],
  ['Not a directory', 'ENOTDIR'], ['Invalid argument', 'EINVAL'],
];

function toolFailure(tool: string, what: string, stderr: string): NodeJS.ErrnoException {
  const hit = STRERROR_CODES.find(([text]) => stderr.includes(text));
  return errnoError(hit ? hit[1] : 'EIO', `${tool} ${what}: ${stderr.trim() || 'failed'}`, tool);
}

const TOOL_PACKAGES: Record<string, string> = { setfattr: 'attr', getfattr: 'attr', mknod: 'coreutils', mkfifo: 'coreutils' };

/** Runs TOOL with ARGS and FD (if any) as the child's fd 3; returns its stdout, throws on failure. */
function runTool(tool: string, args: string[], fd: number | undefined, what: string, okCodes: number[] = [0]): { status: number; stdout: Buffer; stderr: string } {
  const r = spawnSync(tool, args, {
    stdio: fd === undefined ? ['ignore', 'pipe', 'pipe'] : ['ignore', 'pipe', 'pipe', fd],
    // The tools quote file names and print messages by the C locale's rules, which we parse.
    env: { ...process.env, LC_ALL: 'C' },
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.error) {
    const code = (r.error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new LodgerError('TOOL_MISSING', `${what}: ${tool} not found — install the "${TOOL_PACKAGES[tool]}" package (Debian/Ubuntu: apt-get install ${TOOL_PACKAGES[tool]})`);
    }
    throw r.error;
  }
  const status = r.status ?? 128;
  const stderr = r.stderr.toString('utf8');
  if (!okCodes.includes(status)) throw toolFailure(tool, what, stderr);
  return { status, stdout: r.stdout, stderr };
}

function asBuffer(p: FsPath): Buffer {
  return typeof p === 'string' ? Buffer.from(p, 'utf8') : p;
}

/** PATH as an argv string when its bytes survive the trip through UTF-8 (argv of spawn is UTF-8 text). */
function argvPath(p: FsPath): string | undefined {
  if (typeof p === 'string') return p;
  const s = p.toString('utf8');
  return Buffer.from(s, 'utf8').equals(p) ? s : undefined;
}

function display(p: FsPath): string {
  return typeof p === 'string' ? p : p.toString('utf8');
}

/**
 * Runs FN with an argv path naming PATH itself. The path is opened (O_NOFOLLOW, O_NONBLOCK so a fifo
 * does not block) and handed to the child as fd 3, named /proc/self/fd/3 — any byte path works, and
 * the final component is never followed. A symlink (ELOOP) or a device (ENXIO…) cannot be opened that
 * way: then the path itself is passed with the tools' -h (no dereference), when argv can carry it.
 */
function withTarget<T>(p: FsPath, what: string, fn: (target: string, fd: number | undefined, noDeref: boolean) => T): T {
  let fd: number | undefined;
  try {
    fd = fs.openSync(p, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK | fs.constants.O_NOCTTY);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw e;
    const arg = argvPath(p);
    if (arg === undefined) throw errnoError('ENOTSUP', `${what}: ${display(p)} cannot be opened and its name is not UTF-8`, 'open');
    return fn(arg, undefined, true);
  }
  try {
    return fn('/proc/self/fd/3', fd, false);
  } finally {
    fs.closeSync(fd);
  }
}

/** Undoes getfattr's quoting of names: a backslash and three octal digits stand for one byte. */
export function unquoteToolName(s: string): Buffer {
  const out: number[] = [];
  const raw = Buffer.from(s, 'latin1');
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === 0x5c && i + 3 < raw.length && /^[0-7]{3}$/.test(raw.toString('latin1', i + 1, i + 4))) {
      out.push(parseInt(raw.toString('latin1', i + 1, i + 4), 8));
      i += 3;
    } else {
      out.push(raw[i]);
    }
  }
  return Buffer.from(out);
}

/** Splits PATH into its parent directory and last component, as bytes. */
function splitParent(p: FsPath): { parent: Buffer; base: Buffer } {
  const b = asBuffer(p);
  let end = b.length;
  while (end > 1 && b[end - 1] === 0x2f) end--;
  const slash = b.lastIndexOf(0x2f, end - 1);
  if (slash < 0) return { parent: Buffer.from('.'), base: b.subarray(0, end) };
  return { parent: slash === 0 ? Buffer.from('/') : b.subarray(0, slash), base: b.subarray(slash + 1, end) };
}

let tmpCounter = 0;

/**
 * Creates a node with TOOL inside PATH's parent under a temporary ASCII name (the parent is passed as
 * fd 3, so neither its name nor the final name needs to be UTF-8), then renames it into place.
 * The caller is the only writer in that directory (see layerUnpack.ts), so the temporary name is free.
 */
function createNode(p: FsPath, tool: string, args: (target: string) => string[], what: string): void {
  if (fs.lstatSync(p, { throwIfNoEntry: false })) throw errnoError('EEXIST', `${what}: ${display(p)} already exists`, 'mknod');
  const { parent, base } = splitParent(p);
  const dirFd = fs.openSync(parent, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY | fs.constants.O_NOFOLLOW);
  const tmp = `.lodger-mknod-${process.pid}-${++tmpCounter}`;
  try {
    runTool(tool, args(`/proc/self/fd/3/${tmp}`), dirFd, what);
  } finally {
    fs.closeSync(dirFd);
  }
  const tmpPath = Buffer.concat([parent, Buffer.from('/' + tmp)]);
  try {
    fs.renameSync(tmpPath, Buffer.concat([parent, Buffer.from('/'), base]));
  } catch (e) {
    fs.rmSync(tmpPath, { force: true });
    throw e;
  }
}

export const toolFsOps: FsOps = {
  setXattr(p, name, value) {
    const what = `set xattr ${name} on ${display(p)}`;
    withTarget(p, what, (target, fd, noDeref) =>
      // setfattr -v takes "0x…" as hexadecimal bytes, so any binary value passes through argv.
      runTool('setfattr', [...(noDeref ? ['-h'] : []), '-n', name, '-v', '0x' + value.toString('hex'), '--', target], fd, what));
  },

  getXattr(p, name) {
    const what = `get xattr ${name} of ${display(p)}`;
    return withTarget(p, what, (target, fd, noDeref) => {
      const r = runTool('getfattr', [...(noDeref ? ['-h'] : []), '--absolute-names', '--only-values', '-n', name, '--', target], fd, what, [0, 1]);
      if (r.status === 0) return r.stdout;
      if (/No such attribute|No data available/.test(r.stderr)) return null;
      throw toolFailure('getfattr', what, r.stderr);
    });
  },

  listXattrs(p) {
    const what = `list xattrs of ${display(p)}`;
    return withTarget(p, what, (target, fd, noDeref) => {
      // "-m -" matches every name (the default pattern is only "^user\\."); output: "# file: …" then one name a line.
      const r = runTool('getfattr', [...(noDeref ? ['-h'] : []), '--absolute-names', '-m', '-', '--', target], fd, what);
      return r.stdout.toString('latin1').split('\n')
        .filter((l) => l !== '' && !l.startsWith('# file: '))
        .map((l) => unquoteToolName(l).toString('utf8'));
    });
  },

  mknodWhiteout(p) {
    createNode(p, 'mknod', (t) => ['-m', '000', '--', t, 'c', '0', '0'], `create whiteout ${display(p)}`);
  },

  mkfifo(p, mode) {
    createNode(p, 'mkfifo', (t) => ['-m', (mode & 0o7777).toString(8), '--', t], `create fifo ${display(p)}`);
  },
};

// ---------------------------------------------------------------------------------------------
// Implementation by the native addon: one syscall per call. The addon takes UTF-8 strings, so a
// path whose bytes are not UTF-8 goes to the tool implementation instead.
// ---------------------------------------------------------------------------------------------

export function nativeFsOps(addon: NativeFsCalls): FsOps {
  const S_IFCHR = fs.constants.S_IFCHR;
  const S_IFIFO = fs.constants.S_IFIFO;
  return {
    setXattr(p, name, value) {
      const s = argvPath(p);
      if (s === undefined) return toolFsOps.setXattr(p, name, value);
      addon.lsetxattr(s, name, value);
    },
    getXattr(p, name) {
      const s = argvPath(p);
      return s === undefined ? toolFsOps.getXattr(p, name) : addon.lgetxattr(s, name);
    },
    listXattrs(p) {
      const s = argvPath(p);
      return s === undefined ? toolFsOps.listXattrs(p) : addon.llistxattr(s);
    },
    mknodWhiteout(p) {
      const s = argvPath(p);
      if (s === undefined) return toolFsOps.mknodWhiteout(p);
      addon.mknod(s, S_IFCHR, 0, 0);
    },
    mkfifo(p, mode) {
      const s = argvPath(p);
      if (s === undefined) return toolFsOps.mkfifo(p, mode);
      addon.mknod(s, S_IFIFO | (mode & 0o7777), 0, 0);
      // mknod(2) applies the umask; the layer's mode is the one asked for.
      fs.chmodSync(s, mode & 0o7777);
    },
  };
}

let current: FsOps | undefined;

/** The operations in use: the native addon when it loads, else the spawned tools. */
export function fsOps(): FsOps {
  if (current) return current;
  try {
    const { native } = require('../helper/native') as typeof import('../helper/native');
    current = nativeFsOps(native());
  } catch {
    // No addon (not built, or a bundle without it): the tools do the same, one process per call.
    current = toolFsOps;
  }
  return current;
}

/** Replaces the operations in use (tests; a caller that has loaded the addon itself). */
export function setFsOps(ops: FsOps): void {
  current = ops;
}
