// `images` and `tag`: the images a user can run (theirs, then the shared stores' they lack) and new names for one of them.
import { LodgerError } from '../errors';
import { addImage, findImage, qualifyLocalName, readIndex, readOnlyImages, type ImageRecord } from '../storage/images';
import type { StorePaths } from '../storage/paths';
import { formatReference, isShortName, parseReference } from './reference';

/** Ours, then those of the additional read-only stores that we do not have ourselves; newest first. */
export function listImages(p: StorePaths): ImageRecord[] {
  const own = readIndex(p);
  const ids = new Set(own.map((i) => i.id));
  return [...own, ...readOnlyImages(p).filter((i) => !ids.has(i.id))].sort((a, b) => b.created.localeCompare(a.created));
}

/**
 * Gives image SOURCE the names TARGETS. A name without a registry stays local (localhost/…), as import
 * and load name them; one with a registry is normalised as push will use it.
 */
export async function tagImage(p: StorePaths, source: string, targets: string[]): Promise<ImageRecord> {
  const img = findImage(p, source);
  if (!img) throw new LodgerError('IMAGE_NOT_FOUND', `tag: no such image ${source}`, { operation: 'tag', object: source });
  const names = targets.map((t) => {
    if (isShortName(t)) return qualifyLocalName(t);
    const r = parseReference(t);
    return formatReference({ ...r, tag: r.tag ?? 'latest' });
  });
  return addImage(p, { ...img, names });
}
