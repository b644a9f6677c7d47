// Resolves and opens paths inside a container's root from outside it, so that no symlink or ".." planted in the container leads out of it.
//
// The threat is the CVE-2018-15664 class: `cp ctr:/evil/etc/passwd` where /evil -> / must read the
// container's /etc/passwd, never the host's, and a symlink swapped in while we walk must not redirect
// us either. So the kernel never follows a symlink of the container for us: every step opens one name
// relative to a directory fd we hold — "/proc/self/fd/N/NAME" is openat(N, NAME) for Node, which has
// no openat — with O_NOFOLLOW, and symlinks are read and resolved here as if the root were "/" (what
// openat2's RESOLVE_IN_ROOT does; the helper's C side uses that). ".." is taken lexically within the
// root: it can never climb above it.
import * as fs from 'node:fs';
import { LodgerError } from '../errors';

const MAX_LINKS = 40;  // as the kernel's path walk (path_resolution(7))
const C = fs.constants;

/** The path naming NAME inside the directory open as FD (openat(FD, NAME) for path-based calls). */
export function at(fd: number, name: Buffer | string): Buffer {
  return Buffer.concat([Buffer.from(`/proc/self/fd/${fd}/`), typeof name === 'string' ? Buffer.from(name) : name]);
}

/** The path of what FD itself is open on. */
export function fdPath(fd: number): string {
  return `/proc/self/fd/${fd}`;
}

/** Opens directory NAME in DIRFD without following a symlink there; throws ENOTDIR/ELOOP otherwise. */
export function openDirAt(dirFd: number, name: Buffer | string): number {
  return fs.openSync(at(dirFd, name), C.O_RDONLY | C.O_DIRECTORY | C.O_NOFOLLOW);
}

export interface Resolved {
  /** The directory holding the final component, open (close with release()). */
  dirFd: number;
  /** The final component, or null when the path is the root itself. */
  name: Buffer | null;
  /** lstat of the final component (after following it when asked); undefined when it does not exist. */
  st: fs.Stats | undefined;
  /** The path as resolved inside the root, for messages. */
  shown: string;
  release(): void;
}

function errnoError(code: string, message: string): NodeJS.ErrnoException {
  return Object.assign(new Error(message), { code });
}

/** A directory tree reached through one fd, with every path resolved inside it. */
export class RootedFs {
  readonly rootFd: number;

  constructor(readonly root: string) {
    try {
      // The root itself may be a magic link (/proc/PID/root): following it here is the point.
      this.rootFd = fs.openSync(root, C.O_RDONLY | C.O_DIRECTORY);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? 'EIO';
      throw new LodgerError('CONTAINER_ROOT', `open the container's root filesystem ${root}: ${code} — is the container still there?`);
    }
  }

  close(): void {
    fs.closeSync(this.rootFd);
  }

  /**
   * Resolves P (a path in the container; relative means from "/") inside the root. Symlinks on the
   * way are followed inside the root; the final one only when FOLLOW is set. A missing final component
   * is not an error (st is undefined): the caller may create it. A missing or non-directory parent is.
   */
  resolve(p: string, follow: boolean): Resolved {
    // stack[i] is the directory names[0..i) leads to; stack[0] is the root, which is never closed here.
    const stack: number[] = [this.rootFd];
    const names: string[] = [];
    const closeAbove = (n: number) => { while (stack.length > n) fs.closeSync(stack.pop()!); };
    const release = () => closeAbove(1);
    const rest = (q: string[]) => q.every((x) => x === '' || x === '.');
    let queue = p.split('/');
    let links = 0;
    try {
      for (;;) {
        while (queue.length && (queue[0] === '' || queue[0] === '.')) queue.shift();
        if (queue.length === 0) {
          // The path ended on a directory we entered: hand back its parent and name (or the root).
          if (stack.length === 1) return { dirFd: this.rootFd, name: null, st: fs.fstatSync(this.rootFd), shown: '/', release };
          fs.closeSync(stack.pop()!);
          const parent = stack[stack.length - 1];
          const last = Buffer.from(names[names.length - 1]);
          return { dirFd: parent, name: last, st: fs.lstatSync(at(parent, last)), shown: this.show(names), release };
        }
        const c = queue.shift()!;
        if (c === '..') {
          if (stack.length > 1) { fs.closeSync(stack.pop()!); names.pop(); }
          continue;
        }
        const dir = stack[stack.length - 1];
        const st = fs.lstatSync(at(dir, c), { throwIfNoEntry: false });
        const last = rest(queue);
        if (st === undefined) {
          if (!last) throw errnoError('ENOENT', `${this.show([...names, c])}: no such file or directory`);
          return { dirFd: dir, name: Buffer.from(c), st: undefined, shown: this.show([...names, c]), release };
        }
        // A trailing "/" or "/." after a symlink means its target, as in the kernel's walk.
        if (st.isSymbolicLink() && (!last || follow || queue.length > 0)) {
          if (++links > MAX_LINKS) throw errnoError('ELOOP', `${this.show([...names, c])}: too many levels of symbolic links`);
          const target = fs.readlinkSync(at(dir, c), 'utf8');
          if (target.startsWith('/')) { closeAbove(1); names.length = 0; }
          queue = [...target.split('/'), ...queue];
          continue;
        }
        if (queue.length === 0) return { dirFd: dir, name: Buffer.from(c), st, shown: this.show([...names, c]), release };
        if (!st.isDirectory()) throw errnoError('ENOTDIR', `${this.show([...names, c])}: not a directory`);
        stack.push(openDirAt(dir, c));
        names.push(c);
      }
    } catch (e) {
      release();
      throw e;
    }
  }

  show(names: string[]): string {
    return '/' + names.join('/');
  }
}
