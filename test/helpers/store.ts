// Per-test lodger stores in temp directories, and removal of trees that hold files owned by the user's subordinate ids.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runCommand } from './exec';
import { currentUid } from './paths';
import { subidRange, toolPath } from './prereqs';

export interface Store {
  /** The temp directory holding everything below; cleanup() removes it. */
  dir: string;
  /** LODGER_ROOT for the CLI. */
  root: string;
  /** XDG_RUNTIME_DIR for the CLI (0700): its runtime state stays per test as well. */
  runtimeDir: string;
  /** XDG_CONFIG_HOME for the CLI, so the test user's own registries.conf or auth never leak in. */
  configDir: string;
  /** The environment that points the CLI at this store. */
  env: Record<string, string>;
  cleanup(): Promise<void>;
}

/** A fresh, empty store under os.tmpdir(); call cleanup() (e.g. in afterEach) to remove it. */
export function makeStore(prefix = 'lodger-store-'): Store {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const root = path.join(dir, 'root');
  const runtimeDir = path.join(dir, 'run');
  const configDir = path.join(dir, 'config');
  fs.mkdirSync(runtimeDir, { mode: 0o700 });
  fs.mkdirSync(configDir, { mode: 0o700 });
  return {
    dir,
    root,
    runtimeDir,
    configDir,
    env: { LODGER_ROOT: root, XDG_RUNTIME_DIR: runtimeDir, XDG_CONFIG_HOME: configDir },
    cleanup: () => removeTree(dir),
  };
}

/** FUSE mounts (fuse-overlayfs, squashfuse) at or below `dir` in our mount namespace, deepest first. */
function fuseMountsUnder(dir: string): string[] {
  let text: string;
  try {
    text = fs.readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return [];
  }
  const found: string[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    const sep = fields.indexOf('-');
    if (sep < 0 || !fields[sep + 1]?.startsWith('fuse')) continue;
    // mountinfo escapes space, tab, newline and backslash as octal.
    const mnt = (fields[4] ?? '').replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    if (mnt === dir || mnt.startsWith(dir + '/')) found.push(mnt);
  }
  return found.sort((a, b) => b.length - a.length);
}

function exists(p: string): boolean {
  try {
    fs.lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

/**
 * Removes a directory tree that may contain files owned by the user's subordinate ids (unpacked layers,
 * container upper dirs), which the user cannot delete as itself. `rm` runs as root of a user namespace
 * mapping the user and its subuid range (like `podman unshare`), where it owns every such file. Users
 * without a range own all their files anyway, so plain removal is the fallback. FUSE mounts a test left
 * behind are lazily unmounted first; --one-file-system keeps rm from walking into any other mount.
 */
export async function removeTree(target: string): Promise<void> {
  const abs = path.resolve(target);
  if (abs === '/' || abs.split('/').filter(Boolean).length < 2 || abs === os.homedir()) {
    throw new Error(`removeTree refuses to remove ${abs}`);
  }
  if (!exists(abs)) return;
  const fusermount = toolPath('fusermount3') ?? toolPath('fusermount');
  for (const mnt of fuseMountsUnder(abs)) {
    if (fusermount) await runCommand(fusermount, ['-u', '-z', mnt], { timeoutMs: 30_000 });
  }
  let why = '';
  if (currentUid() !== 0 && subidRange() !== null && toolPath('unshare') !== null) {
    // Again when something still wrote there (a keep-id layer copy lodger makes in the background after a
    // run stops once its directory is gone, storage/shiftedLayers.ts): rm -rf then finds a directory not empty.
    for (let attempt = 0; attempt < 3 && exists(abs); attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, 500));
      const r = await runCommand('unshare', ['--map-root-user', '--map-auto', 'rm', '-rf', '--one-file-system', '--', abs], {
        timeoutMs: 300_000,
      });
      why = r.stderr.trim();
    }
    if (!exists(abs)) return;
  }
  try {
    await fs.promises.rm(abs, { recursive: true, force: true, maxRetries: 2 });
  } catch (e) {
    why = `${why}\n${(e as Error).message}`.trim();
  }
  if (exists(abs)) {
    // Directories we own but made unwritable (chmod 0500 inside a test) are the remaining common case.
    await runCommand('chmod', ['-R', 'u+rwX', '--', abs], { timeoutMs: 60_000 });
    await fs.promises.rm(abs, { recursive: true, force: true }).catch(() => undefined);
  }
  if (exists(abs)) throw new Error(`could not remove ${abs}: ${why || 'unknown reason'}`);
}
