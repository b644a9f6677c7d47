// Layers in the store: one unpacked directory per diff_id, shared by every image that uses it.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { fsError, LodgerError } from '../errors';
import { native, packageRoot } from '../helper/native';
import { runWorker, startWorker, type PendingWorker } from '../helper/usernsWorker';
import { additionalLayer } from './additionalStores';
import { writeJsonAtomic } from './atomic';
import { withStoreLock } from './lock';
import { currentBootId, digestHex, getLayer, layerDir, readLayerRecord, type LayerRecord } from './layerRecords';
import { ensureStore, type StorePaths } from './paths';
import type { Reporter } from '../events';

export { currentBootId, digestHex, getLayer, layerDir, readLayerRecord, type LayerRecord };

/**
 * Where a container takes layer DIFFID from: this store when it has the layer (getLayer), else the
 * first additional read-only store that has it (additionalStores.ts; STORE says which), else nowhere.
 */
export function locateLayer(p: StorePaths, diffId: string): { diff: string; store?: StorePaths } | undefined {
  if (getLayer(p, diffId)) return { diff: path.join(layerDir(p, diffId), 'diff') };
  return additionalLayer(p, digestHex(diffId));
}

/** The directory overlay uses as a lower layer (locateLayer), else this store's path (where it would be). */
export function layerDiffDir(p: StorePaths, diffId: string): string {
  return locateLayer(p, diffId)?.diff ?? path.join(layerDir(p, diffId), 'diff');
}

/** The unpacked directories of IMAGE's LAYERS, top first (overlay's lowerdir order); fails when one is missing. */
export function imageLayerDirs(p: StorePaths, image: string, layers: string[]): string[] {
  return [...layers].reverse().map((d) => {
    const found = locateLayer(p, d);
    if (!found) throw new LodgerError('LAYER_MISSING', `image ${image}: layer ${d} is missing from the store (removed, or written just before the machine went down and not kept) — pull or load the image again`);
    return found.diff;
  });
}

/** This machine in staging names: on a store shared between hosts, a pid means something only on the host that wrote it. */
const HOST_TAG = crypto.createHash('sha256').update(os.hostname()).digest('hex').slice(0, 8);

/**
 * A staging name, `.tmp-<pid>-<host>-<random>` (layers/ and blobs/ use it): the pid and host let a later
 * sweep tell a crashed CLI's leftovers from a running one's.
 */
export function stagingName(): string {
  return `.tmp-${process.pid}-${HOST_TAG}-${crypto.randomBytes(6).toString('hex')}`;
}

function stagingDir(p: StorePaths): string {
  return path.join(p.layers, stagingName());
}

/**
 * Makes everything written under DIR durable: syncfs(2) of its filesystem, on the thread pool
 * (addon/native/syncfs.cc). One call for a whole layer, where an fsync per file would cost thousands.
 */
export function syncFilesystem(dir: string): Promise<void> {
  return new Promise((resolve, reject) => {
    native().syncfs(dir, (err) => (err ? reject(fsError('write the layer to disk: syncfs of', dir, err, 'check the disk holding the store')) : resolve()));
  });
}

/** What the worker's unpack reports (src/worker/main.ts). */
interface UnpackReport { entries: number; notes: string[] }

/** A staging directory with an unpack worker already started on it, waiting for a layer blob. */
export interface LayerSlot { stage: string; worker: PendingWorker<UnpackReport> }

/**
 * Starts the unpack worker of a layer before the layer is known: a pull does this while it fetches the
 * manifest, so the worker's start overlaps the registry's round trips. Give the slot to storeLayer, or
 * to discardLayerSlot if no layer comes.
 */
export async function prepareLayerSlot(p: StorePaths): Promise<LayerSlot> {
  ensureStore(p);
  await sweepStaleStaging(p);
  const stage = stagingDir(p);
  fs.mkdirSync(stage, { mode: 0o700 });
  // The layer's name (for errors) comes first on stdin, once the layer is known (storeLayer).
  return { stage, worker: startWorker<UnpackReport>('unpack', [path.join(stage, 'diff')]) };
}

export async function discardLayerSlot(slot: LayerSlot): Promise<void> {
  await slot.worker.cancel();
  await removeTrees([slot.stage]).catch(() => undefined);
}

/**
 * Unpacks a layer blob (any compression) from STREAM into the store in a user-namespace worker and
 * returns its record. When EXPECTED is given the diff_id must match it. Safe against crashes: the
 * layer is staged under a temporary name, then layer.json is written (fsync'ed) and the directory
 * renamed into place under the store lock; the record names this boot until a syncfs has made the
 * files durable (scheduleLayerSync), so a layer that is trusted after a power cut is complete.
 * SLOT: a worker prepareLayerSlot started for it. REPORT gets the unpack's notes (ownership not kept…).
 */
export async function storeLayer(p: StorePaths, stream: Readable, expected?: string, slot?: LayerSlot, report: Reporter | undefined = p.report): Promise<LayerRecord> {
  if (expected) {
    const have = getLayer(p, expected);
    if (have) {
      if (slot) await discardLayerSlot(slot);
      stream.resume();
      return have;
    }
  }
  slot ??= await prepareLayerSlot(p);
  const { stage } = slot;
  const label = expected ? expected.slice(7, 19) : '(new)';
  // Decoded here, unpacked there: this process's main thread has little else to do, so the decoder's
  // next step starts as soon as one ends, while the worker's main thread is busy creating files (a
  // decoder in the worker waited for it between steps: measured 0.1-0.2 s more per 120 MB layer).
  const { decompressStream } = require('../oci/decompress') as typeof import('../oci/decompress');
  const plain = decompressStream(stream, undefined, label);
  let decodeError: unknown;
  plain.digest.catch((e) => { decodeError = e; });
  let res: UnpackReport & { diffId: string; size: number };
  try {
    const [{ result }, d] = await Promise.all([slot.worker.feed(plain, label + '\n'), plain.digest]);
    res = { ...result, diffId: d.digest, size: d.size };
  } catch (e) {
    // A blob that does not decode also ends the worker's archive early: the decoder's error says why.
    const cause = decodeError ?? e;
    plain.destroy();
    await removeTrees([stage]).catch(() => undefined);
    throw cause;
  }
  for (const n of res.notes) report?.({ kind: 'note', message: n });
  if (report && res.notes.some((n) => n.startsWith('ownership not kept'))) {
    const { fsKind } = require('./fsType') as typeof import('./fsType');
    const kind = fsKind(p.root);
    // A subordinate range does not help there: the file server refuses chown(2) to any id but ours.
    if (kind.network) report({ kind: 'note', message: `the store ${p.root} is on ${kind.name}, a network or FUSE filesystem: its server refuses to give files to ids other than yours, so images with several owners lose them there — keep the store on a local disk (--root or LODGER_ROOT) for exact ownership` });
  }
  if (expected && res.diffId !== expected) {
    await removeTrees([stage]);
    throw new LodgerError('DIFFID_MISMATCH', `layer content does not match its diff_id: expected ${expected}, got ${res.diffId} — the image is corrupt; pull or load it again`);
  }
  return adoptLayerStage(p, stage, res.diffId, res.size, res.entries);
}

/**
 * Records the staging directory STAGE (from newLayerStage, its files under diff/) as layer DIFFID:
 * layer.json written, the directory renamed into place under the store lock. storeLayer ends here;
 * a build hands over a container's upper directory the same way instead of unpacking its tar again.
 */
export async function adoptLayerStage(p: StorePaths, stage: string, diffId: string, size: number, entries: number): Promise<LayerRecord> {
  const res = { diffId, size, entries };
  // Recorded before its files are synced, as valid for this boot only: a detached syncer makes it durable
  // once this command is done (scheduleLayerSync), off the pull's critical path (a syncfs(2) here cost
  // 0.07-0.1 s per 120 MB layer).
  const boot = currentBootId();
  const record: LayerRecord = { diffId: res.diffId, size: res.size, entries: res.entries, created: new Date().toISOString() };
  const { fsKind } = require('./fsType') as typeof import('./fsType');
  if (boot !== '' && !fsKind(p.layers).network) {
    record.unsyncedBoot = boot;
    scheduleLayerSync(p);
  } else {
    // Durable before it is recorded: with no boot id to tell a later boot by (no /proc), or on a
    // network filesystem, where other hosts (with boots of their own) may share the store.
    try {
      await syncFilesystem(stage);
    } catch (e) {
      await removeTrees([stage]).catch(() => undefined);
      throw e;
    }
  }
  let duplicate = false;
  let replaced: string | undefined;
  await withStoreLock(p, () => {
    const final = layerDir(p, res.diffId);
    if (getLayer(p, res.diffId)) { duplicate = true; return; }
    // What is there is incomplete, or was not synced before the machine restarted: removed below.
    if (fs.existsSync(final)) fs.renameSync(final, (replaced = stagingDir(p)));
    writeJsonAtomic(path.join(stage, 'layer.json'), record);
    fs.renameSync(stage, final);
    // The rename is durable once layers/ is: before the image that names the layer is recorded.
    const dfd = fs.openSync(p.layers, 'r');
    try { fs.fsyncSync(dfd); } finally { fs.closeSync(dfd); }
  });
  if (duplicate) await removeTrees([stage]);
  if (replaced) await removeTrees([replaced]).catch(() => undefined);  // else a later sweep removes it
  return duplicate ? getLayer(p, res.diffId)! : record;
}

/** A new staging directory in layers/ for adoptLayerStage (on the store's filesystem, so it renames into place). */
export function newLayerStage(p: StorePaths): string {
  ensureStore(p);
  const stage = stagingDir(p);
  fs.mkdirSync(stage, { mode: 0o700 });
  return stage;
}

let syncScheduled = false;
/**
 * At this process's exit, starts `lodger __sync-layers ROOT` detached: it syncs the store's filesystem
 * and then clears the unsyncedBoot mark of this boot's layers (syncStoreLayers). Should it never run
 * or finish, the layers stay valid until the machine restarts, and are pulled again after that.
 */
function scheduleLayerSync(p: StorePaths): void {
  if (syncScheduled) return;
  syncScheduled = true;
  process.once('exit', () => {
    try {
      const { spawn } = require('node:child_process') as typeof import('node:child_process');
      spawn(process.execPath, [path.join(packageRoot(), 'bin', 'lodger'), '__sync-layers', p.root], { detached: true, stdio: 'ignore' }).unref();
    } catch { /* the layers stay valid for this boot */ }
  });
}

/**
 * Makes this boot's unsynced layers durable: one syncfs(2) of the store's filesystem, then, under the
 * store lock, each one's record rewritten without its mark. Returns how many were marked.
 */
export async function syncStoreLayers(p: StorePaths): Promise<number> {
  const boot = currentBootId();
  const pending = (): string[] => {
    let names: string[] = [];
    try { names = fs.readdirSync(p.layers); } catch { return []; }
    return names.filter((n) => /^[0-9a-f]{64}$/.test(n) && getLayer(p, `sha256:${n}`)?.unsyncedBoot === boot);
  };
  if (boot === '' || pending().length === 0) return 0;
  await syncFilesystem(p.layers);
  let done = 0;
  await withStoreLock(p, () => {
    for (const n of pending()) {
      const { unsyncedBoot: _, ...durable } = getLayer(p, `sha256:${n}`)!;
      writeJsonAtomic(path.join(p.layers, n, 'layer.json'), durable);
      done++;
    }
  }, { existing: true });
  return done;
}

/** Removes directory trees that hold files of mapped ids (needs the user-namespace worker). */
export async function removeTrees(paths: string[]): Promise<void> {
  const existing = paths.filter((x) => fs.existsSync(x));
  if (existing.length === 0) return;
  try {
    // Fast path: a tree that is only ours needs no namespace.
    for (const x of existing) fs.rmSync(x, { recursive: true, force: true });
  } catch {
    await runWorker('rm', existing.filter((x) => fs.existsSync(x)));
  }
}

/** Staging leftovers (layers/ and blobs/) of CLIs on this host that died mid-unpack or mid-download: their pid is gone. */
export function staleStaging(p: StorePaths): string[] {
  return [p.layers, p.blobs].flatMap(staleStagingIn);
}

/** The staging entries (stagingName) directly in DIR whose CLI, on this host, is gone. */
export function staleStagingIn(dir: string): string[] {
  const out: string[] = [];
  let names: string[] = [];
  try { names = fs.readdirSync(dir); } catch { return out; }
  for (const n of names) {
    const [dot, pidText, host] = n.split('-');
    const pid = Number(pidText);
    if (dot !== '.tmp' || host !== HOST_TAG || !Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid) continue;
    try { process.kill(pid, 0); continue; } catch (e) { if ((e as NodeJS.ErrnoException).code === 'EPERM') continue; }
    out.push(path.join(dir, n));
  }
  return out;
}

/**
 * Removes what killed CLIs left staged (a pull SIGKILLed mid-layer leaves a tree of subordinate-id files
 * its user cannot delete alone). Runs before each layer is stored; a failure here never fails the caller.
 */
export async function sweepStaleStaging(p: StorePaths): Promise<void> {
  const stale = staleStaging(p);
  if (stale.length > 0) await removeTrees(stale).catch(() => undefined);
}

export function listLayers(p: StorePaths): LayerRecord[] {
  let names: string[] = [];
  try { names = fs.readdirSync(p.layers); } catch { return []; }
  return names.filter((n) => /^[0-9a-f]{64}$/.test(n)).map((n) => getLayer(p, `sha256:${n}`)).filter((l): l is LayerRecord => !!l);
}
