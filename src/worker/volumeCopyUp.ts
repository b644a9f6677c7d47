// Fills a new, empty volume from the image's content at its mount point, owners and modes kept (Docker's copy-up), run as root of the container's user namespace.
import * as fs from 'node:fs';
import { copy } from './containerCopy';
import { RootedFs } from './rootedFs';

export interface CopyUpRequest {
  /** The container's root as the worker sees it (its layers mounted for the worker, containerFs.ts). */
  root: string;
  items: Array<{ target: string; dataDir: string }>;
}

/**
 * For each item whose image path is a directory and whose volume is still empty: the directory's
 * contents are copied in (cp -a semantics: owners, modes, times, symlinks, hard links), then the
 * volume's root takes the directory's own owner and mode, as moby's copyOwnership does.
 */
export function copyUp(req: CopyUpRequest): { copied: string[]; notes: string[] } {
  const copied: string[] = [];
  const notes: string[] = [];
  const r = new RootedFs(req.root);
  try {
    for (const it of req.items) {
      if (fs.readdirSync(it.dataDir).length > 0) continue;
      let st: fs.Stats | undefined;
      const res = (() => { try { return r.resolve(it.target, true); } catch { return undefined; } })();
      if (!res) continue;
      st = res.st;
      res.release();
      if (!st?.isDirectory()) continue;
      const out = copy({ direction: 'out', root: req.root, containerPath: `${it.target}/.`, hostPath: `${it.dataDir}/.`, archive: true, follow: true });
      notes.push(...out.notes);
      fs.lchownSync(it.dataDir, st.uid, st.gid);
      fs.chmodSync(it.dataDir, st.mode & 0o7777);
      copied.push(it.target);
    }
  } finally {
    r.close();
  }
  return { copied, notes };
}
