// keep-id's shifted layers: per-mapping copies of this store's layers owned as --userns=keep-id needs them, so its containers run on kernel overlayfs.
//
// Layers are stored owned by the host ids of the default mapping; keep-id maps the same host ids to
// other container ids, so kernel overlayfs would show the image's files with the wrong owners and
// fuse-overlayfs has to translate every call (2× slower on file-heavy work, bench/keep-id.sh). An
// idmapped mount would translate in the kernel but needs privilege over the host's filesystem
// (storage/driver.ts), and ext4 has no reflinks: so each layer is copied once per mapping, in the
// background after the first keep-id run of an image, by a worker in the keep-id user namespace
// (worker/layerShift.ts) that gives each copy the owner keep-id must see.
//
// $root/shifted/<key>/<layer hex>/diff          the copy; <key> names the translation (shiftKey)
// $root/shifted/<key>/<layer hex>/shifted.json  written inside the staging directory before it is renamed
//                                               into place: a copy exists only once complete
// $root/shifted/<key>/<layer hex>.lock          proper-lockfile: one preparer per copy at a time
// $root/shifted/<key>/.tmp-<pid>-<host>-<rand>  staging (stagingName), swept once its preparer is gone
//
// Crash-safe: the copy is synced (syncfs) before its directory is renamed into place under the store
// lock, and only after checking that the layer it copies is still the same one (its record's created
// time); a copy of a layer that was replaced is ignored. Removed with its layer (collectGarbage).
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LodgerError } from '../errors';
import { translateIds, type IdMapLine, type IdMapping } from '../helper/idmap';
import { packageRoot } from '../helper/native';
import { runWorker } from '../helper/usernsWorker';
import { readJson, writeJsonAtomic } from './atomic';
import { digestHex, getLayer, layerDir } from './layerRecords';
import { removeTrees, stagingName, staleStagingIn, syncFilesystem } from './layers';
import { withStoreLock } from './lock';
import type { StorePaths } from './paths';

interface ShiftedRecord {
  diffId: string;
  /** The layer record's created time: a layer replaced since (pulled again) has another. */
  layerCreated: string;
  created: string;
  entries: number;
  bytes: number;
}

/** A failed preparation, so the next runs do not start the same failing copy again at once. */
interface FailureRecord { at: string; message: string }
const RETRY_AFTER_FAILURE_MS = 10 * 60_000;

export interface ShiftIds { uid: IdMapLine[]; gid: IdMapLine[] }

/** For keep-id: each id as the keep-id namespace sees a layer file (inside) → the id the copy gets (outside). */
export function shiftIds(m: IdMapping): ShiftIds | undefined {
  if (!m.keepId) return undefined;
  return { uid: translateIds(m.keepId.storage.uid, m.uid), gid: translateIds(m.keepId.storage.gid, m.gid) };
}

/**
 * The name of MAPPING's copies: its translation and its host ids (a copy's owners on disk), so a copy
 * is used only by the mapping it was made for — another uid, or a subordinate range changed by an admin,
 * gets copies of its own.
 */
export function shiftKey(mapping: IdMapping): string {
  return crypto.createHash('sha256').update(JSON.stringify({ ids: shiftIds(mapping), uid: mapping.uid, gid: mapping.gid })).digest('hex').slice(0, 16);
}

function shiftedBase(p: StorePaths): string {
  return path.join(p.root, 'shifted');
}

function keyDir(p: StorePaths, key: string): string {
  if (!/^[0-9a-f]{16}$/.test(key)) throw new LodgerError('BAD_SHIFT_KEY', `bad keep-id copy key ${JSON.stringify(key)}`);
  return path.join(shiftedBase(p), key);
}

function copyDir(p: StorePaths, key: string, diffId: string): string {
  return path.join(keyDir(p, key), digestHex(diffId));
}

/** Whether the copy of layer DIFFID for KEY is complete and of the layer the store has now. */
export function shiftedReady(p: StorePaths, key: string, diffId: string): boolean {
  const layer = getLayer(p, diffId);
  if (!layer) return false;
  let rec: ShiftedRecord | undefined;
  try { rec = readJson<ShiftedRecord>(path.join(copyDir(p, key, diffId), 'shifted.json')); } catch { return false; }
  return rec?.diffId === diffId && rec.layerCreated === layer.created;
}

/** Whether LAYERS can have copies: all of them in this store (not in a read-only additional one). */
export function shiftable(p: StorePaths, layers: string[]): boolean {
  return layers.length > 0 && layers.every((d) => getLayer(p, d) !== undefined);
}

export function allShiftedReady(p: StorePaths, key: string, layers: string[]): boolean {
  return layers.every((d) => shiftedReady(p, key, d));
}

/** The copies' directories for overlay, top first, as imageLayerDirs gives the layers'; fails when one is gone. */
export function shiftedLayerDirs(p: StorePaths, image: string, layers: string[], key: string): string[] {
  return [...layers].reverse().map((d) => {
    if (!shiftedReady(p, key, d)) {
      throw new LodgerError('LAYER_MISSING', `image ${image}: the keep-id copy of layer ${d} is missing or out of date (the image was removed or pulled again) — remove the container and run it again`);
    }
    return path.join(copyDir(p, key, d), 'diff');
  });
}

function failurePath(p: StorePaths, key: string, diffId: string): string {
  return copyDir(p, key, diffId) + '.failed';
}

/** Whether a preparation of this copy failed lately (then it is not retried in the background yet). */
function failedLately(p: StorePaths, key: string, diffId: string): boolean {
  let f: FailureRecord | undefined;
  try { f = readJson<FailureRecord>(failurePath(p, key, diffId)); } catch { return false; }
  return !!f && Date.now() - Date.parse(f.at) < RETRY_AFTER_FAILURE_MS;
}

export interface PrepareOptions {
  /** Wait for another preparer of the same copy instead of leaving it to them (a foreground run). */
  wait?: boolean;
}

/**
 * Makes the copies of LAYERS for MAPPING (keep-id) that are missing, one layer at a time, each under a
 * lock of its own. Returns whether all are ready. Without WAIT a copy another process is making is left
 * to it, and one whose making failed in the last minutes is not tried again.
 */
export async function prepareShiftedLayers(p: StorePaths, layers: string[], mapping: IdMapping, o: PrepareOptions = {}): Promise<boolean> {
  const ids = shiftIds(mapping);
  if (!ids || !shiftable(p, layers)) return false;
  const key = shiftKey(mapping);
  const base = keyDir(p, key);
  // Not recursive: a store removed meanwhile (the preparer runs after its command) is not made again.
  for (const d of [shiftedBase(p), base]) {
    try { fs.mkdirSync(d, { mode: 0o700 }); } catch (e) { if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e; }
  }
  const lockfile = require('proper-lockfile') as typeof import('proper-lockfile');
  for (const diffId of layers) {
    if (shiftedReady(p, key, diffId) || (!o.wait && failedLately(p, key, diffId))) continue;
    const final = copyDir(p, key, diffId);
    let release: () => Promise<void>;
    try {
      release = await lockfile.lock(final, {
        realpath: false, lockfilePath: `${final}.lock`, stale: 10_000, update: 2_000,
        retries: o.wait ? { retries: 1200, factor: 1, minTimeout: 100, maxTimeout: 100 } : 0,
      });
    } catch (e) {
      if (!o.wait && (e as NodeJS.ErrnoException).code === 'ELOCKED') continue;  // another process is making it
      throw new LodgerError('SHIFT_LOCKED', `lock the keep-id copy of layer ${diffId}: ${(e as Error).message} — another lodger may be making it; try again`);
    }
    try {
      if (shiftedReady(p, key, diffId)) continue;
      await makeCopy(p, key, diffId, ids, mapping);
      fs.rmSync(failurePath(p, key, diffId), { force: true });
    } catch (e) {
      try { writeJsonAtomic(failurePath(p, key, diffId), { at: new Date().toISOString(), message: (e as Error).message } satisfies FailureRecord); } catch { /* the store is gone */ }
      throw e;
    } finally {
      await release().catch(() => undefined);
    }
  }
  return allShiftedReady(p, key, layers);
}

async function makeCopy(p: StorePaths, key: string, diffId: string, ids: ShiftIds, mapping: IdMapping): Promise<void> {
  const base = keyDir(p, key);
  // What a preparer killed mid-copy left (its pid is gone); the lock says nobody else works on this one.
  const stale = staleStagingIn(base);
  if (stale.length) await removeTrees(stale).catch(() => undefined);
  const layer = getLayer(p, diffId);
  if (!layer) return;
  const stage = path.join(base, stagingName());
  fs.mkdirSync(stage, { mode: 0o700 });
  try {
    const { result } = await runWorker<{ entries: number; bytes: number }>('shift',
      [path.join(layerDir(p, diffId), 'diff'), path.join(stage, 'diff'), JSON.stringify(ids)], undefined, mapping);
    // Durable before it is recorded: a copy is made once, in the background, so the sync costs nobody a wait.
    await syncFilesystem(stage);
    const rec: ShiftedRecord = { diffId, layerCreated: layer.created, created: new Date().toISOString(), entries: result.entries, bytes: result.bytes };
    writeJsonAtomic(path.join(stage, 'shifted.json'), rec);
    let replaced: string | undefined;
    let placed = false;
    await withStoreLock(p, () => {
      // The layer may have been removed, or replaced by another copy of it, while this one was made.
      if (getLayer(p, diffId)?.created !== layer.created) return;
      const final = copyDir(p, key, diffId);
      if (fs.existsSync(final)) fs.renameSync(final, (replaced = path.join(base, stagingName())));
      fs.renameSync(stage, final);
      const dfd = fs.openSync(base, 'r');
      try { fs.fsyncSync(dfd); } finally { fs.closeSync(dfd); }
      placed = true;
    }, { existing: true });
    if (!placed) await removeTrees([stage]);
    if (replaced) await removeTrees([replaced]).catch(() => undefined);
  } catch (e) {
    await removeTrees([stage]).catch(() => undefined);
    throw e;
  }
}

/**
 * Removes the copies of layers not in USED (diff ids), of every key: called where unused layers are
 * removed (image/remove.ts collectGarbage). Renamed to a staging name first, so a copy half removed
 * is never taken for a complete one.
 */
export async function removeUnusedShifted(p: StorePaths, used: Set<string>): Promise<number> {
  const base = shiftedBase(p);
  let keys: string[] = [];
  try { keys = fs.readdirSync(base).filter((k) => /^[0-9a-f]{16}$/.test(k)); } catch { return 0; }
  const trash: string[] = [];
  for (const key of keys) {
    let names: string[] = [];
    try { names = fs.readdirSync(path.join(base, key)); } catch { continue; }
    for (const n of names) {
      const hex = /^([0-9a-f]{64})(\.failed)?$/.exec(n);
      if (!hex || used.has(`sha256:${hex[1]}`)) continue;
      const from = path.join(base, key, n);
      if (hex[2]) { fs.rmSync(from, { force: true }); continue; }
      const to = path.join(base, key, stagingName());
      try { fs.renameSync(from, to); trash.push(to); } catch { /* gone meanwhile */ }
    }
  }
  await removeTrees(trash);
  return trash.length;
}

let scheduled: string[] | undefined;
/**
 * At this process's exit, starts `lodger __shift-layers ROOT DIFFID…` detached, which makes the copies
 * of LAYERS for the caller's keep-id mapping (prepareShiftedLayers): the run that asked goes on on
 * fuse-overlayfs, later ones find the copies. Layers already ready or being made are skipped there.
 */
export function scheduleShiftedLayers(p: StorePaths, layers: string[]): void {
  if (scheduled) { scheduled.push(...layers); return; }
  scheduled = [...layers];
  const list = scheduled;
  process.once('exit', () => {
    try {
      const { spawn } = require('node:child_process') as typeof import('node:child_process');
      spawn(process.execPath, [path.join(packageRoot(), 'bin', 'lodger'), '__shift-layers', p.root, ...new Set(list)], { detached: true, stdio: 'ignore' }).unref();
    } catch { /* the next keep-id run schedules it again */ }
  });
}

/** `lodger __shift-layers ROOT DIFFID…` (started by scheduleShiftedLayers). */
export async function shiftLayersMain(p: StorePaths, layers: string[], mapping: IdMapping): Promise<void> {
  // No copies where kernel overlay cannot mount them (probed once per kernel, usually long before).
  const { probeKernelOverlay } = require('./driver') as typeof import('./driver');
  if (!await probeKernelOverlay(p, mapping)) return;
  await prepareShiftedLayers(p, layers, mapping);
}
