// Layers in the store: one unpacked directory per diff_id, shared by every image that uses it.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { fsError, LodgerError } from '../errors';
import { native } from '../native';
import { runWorker, startWorker, type PendingWorker } from '../runtime/usernsWorker';
import { writeJsonAtomic, readJson } from './atomic';
import { withStoreLock } from './lock';
import { ensureStore, type StorePaths } from './paths';

export interface LayerRecord {
  diffId: string;
  size: number;
  entries?: number;
  created: string;
}

const DIGEST_RE = /^sha256:([0-9a-f]{64})$/;

/** The hex of a sha256 digest, refusing anything else before it becomes a path (CVE-2024-3727 class). */
export function digestHex(digest: string): string {
  const m = DIGEST_RE.exec(digest);
  if (!m) throw new LodgerError('BAD_DIGEST', `digest ${JSON.stringify(digest)} is not of the form sha256:<64 hex digits>`);
  return m[1];
}

export function layerDir(p: StorePaths, diffId: string): string {
  return path.join(p.layers, digestHex(diffId));
}

/**
 * The directory overlay uses as a lower layer: this store's, else that of an additional read-only
 * store that has it (additionalStores.ts), else this store's path (where it would be).
 */
export function layerDiffDir(p: StorePaths, diffId: string): string {
  const own = layerDir(p, diffId);
  if (fs.existsSync(path.join(own, 'layer.json'))) return path.join(own, 'diff');
  const { additionalLayerDiffDir } = require('./additionalStores') as typeof import('./additionalStores');
  return additionalLayerDiffDir(p, digestHex(diffId)) ?? path.join(own, 'diff');
}

/** A layer counts as present only once its layer.json was written (last, atomically). */
export function getLayer(p: StorePaths, diffId: string): LayerRecord | undefined {
  return readJson<LayerRecord>(path.join(layerDir(p, diffId), 'layer.json'));
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
interface UnpackReport { diffId: string; size: number; entries: number; notes: string[] }

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
 * layer is staged under a temporary name, its files are flushed to disk (one syncfs), and only then is
 * layer.json written (fsync'ed) and the directory renamed into place under the store lock — a layer
 * that looks complete after a power cut is complete. SLOT: a worker prepareLayerSlot started for it.
 */
export async function storeLayer(p: StorePaths, stream: Readable, expected?: string, slot?: LayerSlot): Promise<LayerRecord> {
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
  let res: UnpackReport;
  try {
    ({ result: res } = await slot.worker.feed(stream, (expected ? expected.slice(7, 19) : '(new)') + '\n'));
  } catch (e) {
    await removeTrees([stage]).catch(() => undefined);
    throw e;
  }
  for (const n of res.notes) process.stderr.write(`lodger: note: ${n}\n`);
  if (res.notes.some((n) => n.startsWith('ownership not kept'))) {
    const { fsKind } = require('./fsType') as typeof import('./fsType');
    const kind = fsKind(p.root);
    // A subordinate range does not help there: the file server refuses chown(2) to any id but ours.
    if (kind.network) process.stderr.write(`lodger: note: the store ${p.root} is on ${kind.name}, a network or FUSE filesystem: its server refuses to give files to ids other than yours, so images with several owners lose them there — keep the store on a local disk (--root or LODGER_ROOT) for exact ownership\n`);
  }
  if (expected && res.diffId !== expected) {
    await removeTrees([stage]);
    throw new LodgerError('DIFFID_MISMATCH', `layer content does not match its diff_id: expected ${expected}, got ${res.diffId} — the image is corrupt; pull or load it again`);
  }
  const record: LayerRecord = { diffId: res.diffId, size: res.size, entries: res.entries, created: new Date().toISOString() };
  try {
    await syncFilesystem(stage);
  } catch (e) {
    await removeTrees([stage]).catch(() => undefined);
    throw e;
  }
  let duplicate = false;
  await withStoreLock(p, () => {
    const final = layerDir(p, res.diffId);
    if (getLayer(p, res.diffId)) { duplicate = true; return; }
    if (fs.existsSync(final)) fs.renameSync(final, stagingDir(p));  // an incomplete leftover: swept below
    writeJsonAtomic(path.join(stage, 'layer.json'), record);
    fs.renameSync(stage, final);
    // The rename is durable once layers/ is: before the image that names the layer is recorded.
    const dfd = fs.openSync(p.layers, 'r');
    try { fs.fsyncSync(dfd); } finally { fs.closeSync(dfd); }
  });
  if (duplicate) await removeTrees([stage]);
  return duplicate ? getLayer(p, res.diffId)! : record;
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
  const out: string[] = [];
  for (const dir of [p.layers, p.blobs]) {
    let names: string[] = [];
    try { names = fs.readdirSync(dir); } catch { continue; }
    for (const n of names) {
      const [dot, pidText, host] = n.split('-');
      const pid = Number(pidText);
      if (dot !== '.tmp' || host !== HOST_TAG || !Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid) continue;
      try { process.kill(pid, 0); continue; } catch (e) { if ((e as NodeJS.ErrnoException).code === 'EPERM') continue; }
      out.push(path.join(dir, n));
    }
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
