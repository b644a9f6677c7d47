// `builder prune`: forgets cache entries (those no image uses, or all) and collects the layers and blobs nothing holds any more.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { collectGarbage } from '../image/remove';
import { readIndex } from '../storage/images';
import { listLayers, removeTrees } from '../storage/layers';
import { withStoreLock } from '../storage/lock';
import type { StorePaths } from '../storage/paths';
import { cacheDir, listCache } from './cache';

export interface BuilderPruneResult { entries: number; layers: number; reclaimed: number }

export async function pruneBuildCache(p: StorePaths, o: { all: boolean }): Promise<BuilderPruneResult> {
  const used = new Set(readIndex(p).flatMap((i) => i.layers));
  const victims = listCache(p).filter((e) => o.all || !used.has(e.layer.diffId));
  const before = new Map(listLayers(p).map((l) => [l.diffId, l.size]));
  await withStoreLock(p, () => {
    for (const e of victims) fs.rmSync(path.join(cacheDir(p), `${e.key.replace(/^sha256:/, '')}.json`), { force: true });
  });
  if (o.all) {
    const mounts = path.join(p.root, 'build-cache-mounts');
    if (fs.existsSync(mounts)) {
      const trash = path.join(p.root, `.trash-build-cache-mounts-${process.pid}`);
      await withStoreLock(p, () => fs.renameSync(mounts, trash));
      await removeTrees([trash]);
    }
  }
  await collectGarbage(p, victims.map((e) => e.layer.blob.digest));
  const after = new Set(listLayers(p).map((l) => l.diffId));
  let layers = 0;
  let reclaimed = 0;
  for (const [d, size] of before) if (!after.has(d)) { layers++; reclaimed += size; }
  return { entries: victims.length, layers, reclaimed };
}
