// Layers in the store: one unpacked directory per diff_id, shared by every image that uses it.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { LodgerError } from '../errors';
import { runWorker } from '../runtime/usernsWorker';
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

/** The directory overlay uses as a lower layer. */
export function layerDiffDir(p: StorePaths, diffId: string): string {
  return path.join(layerDir(p, diffId), 'diff');
}

/** A layer counts as present only once its layer.json was written (last, atomically). */
export function getLayer(p: StorePaths, diffId: string): LayerRecord | undefined {
  return readJson<LayerRecord>(path.join(layerDir(p, diffId), 'layer.json'));
}

function stagingDir(p: StorePaths): string {
  // The pid in the name lets a later sweep tell a crashed CLI's leftovers from a running one's.
  return path.join(p.layers, `.tmp-${process.pid}-${crypto.randomBytes(6).toString('hex')}`);
}

/**
 * Unpacks a layer blob (any compression) from STREAM into the store in a user-namespace worker and
 * returns its record. When EXPECTED is given the diff_id must match it. Safe against crashes: the
 * layer is staged under a temporary name and renamed into place under the store lock.
 */
export async function storeLayer(p: StorePaths, stream: Readable, expected?: string): Promise<LayerRecord> {
  ensureStore(p);
  if (expected) {
    const have = getLayer(p, expected);
    if (have) { stream.resume(); return have; }
  }
  const stage = stagingDir(p);
  fs.mkdirSync(stage, { mode: 0o700 });
  let res: { diffId: string; size: number; entries: number; notes: string[] };
  try {
    ({ result: res } = await runWorker<typeof res>('unpack', [path.join(stage, 'diff'), expected ? `layer ${expected.slice(7, 19)}` : 'layer'], stream));
  } catch (e) {
    await removeTrees([stage]).catch(() => undefined);
    throw e;
  }
  for (const n of res.notes) process.stderr.write(`lodger: note: ${n}\n`);
  if (expected && res.diffId !== expected) {
    await removeTrees([stage]);
    throw new LodgerError('DIFFID_MISMATCH', `layer content does not match its diff_id: expected ${expected}, got ${res.diffId} — the image is corrupt; pull or load it again`);
  }
  const record: LayerRecord = { diffId: res.diffId, size: res.size, entries: res.entries, created: new Date().toISOString() };
  let duplicate = false;
  await withStoreLock(p, () => {
    const final = layerDir(p, res.diffId);
    if (getLayer(p, res.diffId)) { duplicate = true; return; }
    if (fs.existsSync(final)) fs.renameSync(final, stagingDir(p));  // an incomplete leftover: swept below
    writeJsonAtomic(path.join(stage, 'layer.json'), record);
    fs.renameSync(stage, final);
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

/** Staging leftovers of CLIs that died mid-unpack (their pid is gone). */
export function staleStaging(p: StorePaths): string[] {
  let names: string[] = [];
  try { names = fs.readdirSync(p.layers); } catch { return []; }
  return names
    .filter((n) => n.startsWith('.tmp-'))
    .filter((n) => {
      const pid = Number(n.split('-')[1]);
      if (!pid || pid === process.pid) return false;
      try { process.kill(pid, 0); return false; } catch { return true; }
    })
    .map((n) => path.join(p.layers, n));
}

export function listLayers(p: StorePaths): LayerRecord[] {
  let names: string[] = [];
  try { names = fs.readdirSync(p.layers); } catch { return []; }
  return names.filter((n) => /^[0-9a-f]{64}$/.test(n)).map((n) => getLayer(p, `sha256:${n}`)).filter((l): l is LayerRecord => !!l);
}
