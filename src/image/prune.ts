// `image prune`: removes images no container uses — only unnamed (dangling) ones unless asked for all — and the layers they alone held.
import { LodgerError } from '../errors';
import { containerEntries } from '../storage/containers';
import { matchesFilters, type PruneFilter } from '../storage/pruneFilters';
import { imageConfig, readIndex } from '../storage/images';
import { listLayers } from '../storage/layers';
import type { StorePaths } from '../storage/paths';
import { removeImage } from './remove';

export interface ImagePruneResult { untagged: string[]; deleted: string[]; reclaimed: number; errors: string[] }

export async function pruneImages(p: StorePaths, all: boolean, filters: PruneFilter[]): Promise<ImagePruneResult> {
  const used = new Set(containerEntries(p).map((c) => c.rec.ImageID));
  const victims = readIndex(p).filter((img) => {
    if (used.has(img.id) || (!all && img.names.length > 0)) return false;
    let labels: Record<string, string> = {};
    try { labels = imageConfig(p, img).config?.Labels ?? {}; } catch { /* a corrupt config has no labels to match */ }
    return matchesFilters(img.created, labels, filters);
  });
  const before = new Map(listLayers(p).map((l) => [l.diffId, l.size]));
  const out: ImagePruneResult = { untagged: [], deleted: [], reclaimed: 0, errors: [] };
  for (const img of victims) {
    try {
      const r = await removeImage(p, img.id, false);
      out.untagged.push(...r.untagged);
      out.deleted.push(...r.deleted);
    } catch (e) {
      // A container created meanwhile now uses it: it stays, as it should.
      if (!(e instanceof LodgerError)) throw e;
      if (e.code !== 'IMAGE_IN_USE' && e.code !== 'IMAGE_NOT_FOUND') out.errors.push(e.message);
    }
  }
  const after = new Set(listLayers(p).map((l) => l.diffId));
  for (const [diffId, size] of before) {
    if (!after.has(diffId)) { out.deleted.push(diffId); out.reclaimed += size; }
  }
  return out;
}
