// Sizes of trees in the store whose files belong to mapped ids (container layers), walked without following symlinks.
import * as fs from 'node:fs';
import { at, fdPath, openDirAt } from './rootedFs';

/**
 * Apparent size of the tree at ROOT: the sum of st_size of everything but directories, each hard-linked
 * file once (what `docker ps -s` and `docker system df` report as a container's size). 0 if absent.
 */
export function treeSize(root: string): number {
  let fd: number;
  try {
    fd = fs.openSync(root, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY | fs.constants.O_NOFOLLOW);
  } catch {
    return 0;
  }
  const seen = new Set<string>();
  const walk = (dirFd: number): number => {
    let total = 0;
    for (const name of fs.readdirSync(fdPath(dirFd), { encoding: 'buffer' })) {
      const st = fs.lstatSync(at(dirFd, name), { throwIfNoEntry: false });
      if (!st) continue;
      if (st.isDirectory()) {
        let child: number;
        try { child = openDirAt(dirFd, name); } catch { continue; }  // replaced meanwhile: not ours to count
        try { total += walk(child); } finally { fs.closeSync(child); }
        continue;
      }
      if (st.nlink > 1) {
        const key = `${st.dev}:${st.ino}`;
        if (seen.has(key)) continue;
        seen.add(key);
      }
      total += st.size;
    }
    return total;
  };
  try { return walk(fd); } finally { fs.closeSync(fd); }
}
