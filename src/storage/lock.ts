// Locks: the store's (every change to the store happens inside withStoreLock) and a directory's (user networks); proper-lockfile, stale after 10 s.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LodgerError } from '../errors';
import { ensureStore, storeNotWritable, type StorePaths } from './paths';

/**
 * Runs FN holding the store's lock. proper-lockfile uses an atomic mkdir and refreshes the lock's mtime
 * while held, so a lock left by a crashed CLI goes stale and is taken over instead of blocking forever.
 * EXISTING: lock only a store that is already set up.
 */
export async function withStoreLock<T>(p: StorePaths, fn: () => Promise<T> | T, opts: { existing?: boolean } = {}): Promise<T> {
  if (opts.existing) {
    // For work in the background (the layer syncer): a store removed or made read-only meanwhile is
    // left as it is — not created again, probed or marked (ensureStore) — and the work is dropped.
    if (!fs.existsSync(p.lockTarget)) throw new LodgerError('STORE_GONE', `lock the store ${p.root}: it is gone`);
  } else {
    ensureStore(p);
    if (!fs.existsSync(p.lockTarget)) fs.writeFileSync(p.lockTarget, '', { flag: 'a', mode: 0o600 });
  }
  const lockfile = require('proper-lockfile') as typeof import('proper-lockfile');
  let release: () => Promise<void>;
  try {
    release = await lockfile.lock(p.lockTarget, {
      stale: 10_000,
      update: 2_000,
      retries: { retries: 600, factor: 1, minTimeout: 25, maxTimeout: 100 },
      realpath: false,
    });
  } catch (e) {
    // Not a busy lock: a store this user cannot change at all (a shared, read-only one).
    throw storeNotWritable(p, 'lock', e) ?? new LodgerError('STORE_LOCKED', `lock the store ${p.root}: ${(e as Error).message} — another lodger command may be stuck; try again`);
  }
  try {
    return await fn();
  } finally {
    await release().catch(() => undefined);
  }
}

/**
 * Runs FN holding DIR/.lock (proper-lockfile, as withStoreLock: atomic mkdir, stale after 10 s so a
 * crashed lodger does not wedge it). For state kept outside a store: user networks' records and runtime.
 */
export async function withDirLock<T>(dir: string, fn: () => T | Promise<T>): Promise<T> {
  const lockfile = require('proper-lockfile') as typeof import('proper-lockfile');
  const lockPath = path.join(dir, '.lock');
  let release: () => Promise<void>;
  try {
    release = await lockfile.lock(dir, { realpath: false, lockfilePath: lockPath, stale: 10_000, retries: { retries: 100, minTimeout: 10, maxTimeout: 200 } });
  } catch (e) {
    throw new LodgerError('LOCK_FAILED', `lock ${dir}: ${(e as Error).message} — another lodger may be stuck; remove ${lockPath} if none runs`);
  }
  try {
    return await fn();
  } finally {
    await release().catch(() => undefined);
  }
}
