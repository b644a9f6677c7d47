// Where the test harness keeps things: the repository, the per-user fixture caches, and private scratch directories.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const repoRoot = path.resolve(__dirname, '..', '..');

export function currentUid(): number {
  return process.getuid?.() ?? 0;
}

/**
 * Creates (or reuses) a directory only we can enter. Cache directories have predictable names in shared
 * /tmp and /var/tmp, so one that someone else made, or made open, is refused rather than trusted.
 */
export function privateDir(dir: string): string {
  try {
    fs.mkdirSync(dir, { mode: 0o700 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  const st = fs.lstatSync(dir);
  if (!st.isDirectory() || st.uid !== currentUid() || (st.mode & 0o077) !== 0) {
    throw new Error(`${dir} is not a private directory owned by uid ${currentUid()}: remove it and run again`);
  }
  return dir;
}

/** Cheap per-run fixtures (busybox rootfs and images), rebuilt when their inputs change: os.tmpdir()/lodger-test-<uid>. */
export function runCacheDir(): string {
  return privateDir(path.join(os.tmpdir(), `lodger-test-${currentUid()}`));
}

/** Heavy fixtures kept across runs and reboots of the test user: /var/tmp/lodger-fixtures-<uid>. */
export function persistentCacheDir(): string {
  return privateDir(`/var/tmp/lodger-fixtures-${currentUid()}`);
}

/** Where .ci/run (as root) leaves the world-readable debootstrap tarball. */
export const sharedFixturesDir = '/var/tmp/lodger-fixtures';

/**
 * Fills a cache entry exactly once, even with several test runs racing (every engineer's runs share the
 * lodgertest cache): build into a temporary sibling, then rename; whoever renames first wins and the
 * others discard their copy. Entries are keyed by their inputs' hash, so a stale one is never replaced, only left.
 */
export async function cachedEntry(dir: string, build: (tmp: string) => Promise<void>): Promise<string> {
  if (fs.existsSync(dir)) return dir;
  const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
  fs.mkdirSync(tmp, { mode: 0o700 });
  try {
    await build(tmp);
    try {
      fs.renameSync(tmp, dir);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw e;
    }
  } finally {
    if (fs.existsSync(tmp)) fs.rmSync(tmp, { recursive: true, force: true });
  }
  return dir;
}
