// Where lodger keeps things: the persistent store (--root, LODGER_ROOT, XDG_DATA_HOME) and the runtime dir.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LodgerError } from '../errors';

export interface StorePaths {
  root: string;
  layers: string;
  blobs: string;
  containers: string;
  tmp: string;
  imagesIndex: string;
  lockTarget: string;
  runtime: string;
}

/** The store root: --root, then $LODGER_ROOT, then $XDG_DATA_HOME/lodger, then ~/.local/share/lodger. */
export function storeRoot(override?: string): string {
  if (override) return path.resolve(override);
  if (process.env.LODGER_ROOT) return path.resolve(process.env.LODGER_ROOT);
  const data = process.env.XDG_DATA_HOME || path.join(os.homedir(), '.local', 'share');
  return path.join(data, 'lodger');
}

/**
 * Runtime state (sockets, pid files): $XDG_RUNTIME_DIR/lodger, or — under ssh sessions and batch jobs
 * that have no XDG_RUNTIME_DIR — a private /tmp/lodger-run-<uid> that we create 0700 and check is ours.
 */
export function runtimeDir(): string {
  const uid = process.getuid?.() ?? 0;
  const xdg = process.env.XDG_RUNTIME_DIR;
  if (xdg && fs.existsSync(xdg)) return path.join(xdg, 'lodger');
  const dir = path.join(os.tmpdir(), `lodger-run-${uid}`);
  try {
    fs.mkdirSync(dir, { mode: 0o700 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  const st = fs.lstatSync(dir);
  if (!st.isDirectory() || st.uid !== uid || (st.mode & 0o077) !== 0) {
    throw new LodgerError('RUNTIME_DIR_UNSAFE', `runtime directory ${dir} is not a private directory owned by uid ${uid} — remove it, or set XDG_RUNTIME_DIR`);
  }
  return dir;
}

export function storePaths(override?: string): StorePaths {
  const root = storeRoot(override);
  return {
    root,
    layers: path.join(root, 'layers'),
    blobs: path.join(root, 'blobs', 'sha256'),
    containers: path.join(root, 'containers'),
    tmp: path.join(root, 'tmp'),
    imagesIndex: path.join(root, 'images.json'),
    lockTarget: path.join(root, 'store'),
    get runtime() { return runtimeDir(); },
  };
}

/** Creates the store's directories (idempotent); cheap enough to call before every write. */
export function ensureStore(p: StorePaths): void {
  for (const d of [p.root, p.layers, p.blobs, p.containers, p.tmp]) fs.mkdirSync(d, { recursive: true, mode: 0o700 });
}
