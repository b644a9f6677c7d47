// The build cache: which layer (and when it was made) a step with a given key produced, kept per key under $root/build-cache/.
//
// A key is a digest over the parent step's key and what makes the step's result: the instruction
// after expansion, the build args in scope of a RUN, the content/mode of the files a COPY reads. The
// entry records the layer and the time the step ran; reusing that time is what makes a second
// identical build produce the same image ID. An entry whose layer or blob is gone is a miss.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Descriptor } from '../oci/config';
import { readJson, writeJsonAtomic } from '../storage/atomic';
import { hasBlob } from '../storage/blobs';
import { getLayer } from '../storage/layers';
import { withStoreLock } from '../storage/lock';
import type { StorePaths } from '../storage/paths';

/** A layer made by a step: its diff_id, its compressed blob (as a manifest names it) and unpacked size. */
export interface BuiltLayer {
  diffId: string;
  blob: Descriptor;
  size: number;
}

export interface CacheEntry {
  key: string;
  layer: BuiltLayer;
  created: string;
  createdBy: string;
}

export function cacheDir(p: StorePaths): string {
  return path.join(p.root, 'build-cache');
}

/** sha256 over the parts, each length-prefixed so that no two part lists collide. */
export function cacheKey(parts: Array<string | undefined>): string {
  const h = crypto.createHash('sha256');
  for (const part of parts) {
    const s = part ?? '\u0000undefined';
    h.update(`${Buffer.byteLength(s)}:`);
    h.update(s);
  }
  return 'sha256:' + h.digest('hex');
}

function entryFile(p: StorePaths, key: string): string {
  return path.join(cacheDir(p), `${key.replace(/^sha256:/, '')}.json`);
}

export function lookupCache(p: StorePaths, key: string): CacheEntry | undefined {
  let e: CacheEntry | undefined;
  try { e = readJson<CacheEntry>(entryFile(p, key)); } catch { return undefined; }  // half-written by a crash: a miss
  if (!e || e.key !== key) return undefined;
  if (!getLayer(p, e.layer.diffId) || !hasBlob(p, e.layer.blob.digest)) return undefined;
  return e;
}

export async function recordCache(p: StorePaths, entry: CacheEntry): Promise<void> {
  await withStoreLock(p, () => {
    fs.mkdirSync(cacheDir(p), { recursive: true, mode: 0o700 });
    writeJsonAtomic(entryFile(p, entry.key), entry);
  });
}

export function listCache(p: StorePaths): CacheEntry[] {
  let names: string[];
  try { names = fs.readdirSync(cacheDir(p)); } catch { return []; }
  const out: CacheEntry[] = [];
  for (const n of names) {
    if (!n.endsWith('.json') || n.startsWith('.')) continue;
    try {
      const e = readJson<CacheEntry>(path.join(cacheDir(p), n));
      if (e) out.push(e);
    } catch { /* unreadable: prune removes it */ }
  }
  return out;
}
