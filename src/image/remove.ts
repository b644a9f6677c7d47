// `rmi`: untag or delete images, then delete the layers and blobs no image uses any more.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LodgerError } from '../errors';
import { containerEntries } from '../storage/containers';
import { blobPath } from '../storage/blobs';
import { findImage, imageManifest, nameCandidates, readIndex, updateIndex, type ImageRecord } from '../storage/images';
import { layerDir, removeTrees } from '../storage/layers';
import type { StorePaths } from '../storage/paths';
import { removeUnusedShifted } from '../storage/shiftedLayers';

export interface RmiResult { untagged: string[]; deleted: string[] }

export async function removeImage(p: StorePaths, ref: string, force: boolean): Promise<RmiResult> {
  const img = findImage(p, ref);
  if (!img) throw new LodgerError('IMAGE_NOT_FOUND', `no such image: ${ref} — see "lodger images"`);
  if (img.readOnlyStore) {
    throw new LodgerError('IMAGE_READ_ONLY', `remove image ${ref}: it lives in the read-only image store ${img.readOnlyStore} (LODGER_ADDITIONAL_STORES or additionalimagestores in storage.conf), which lodger never changes — ask its owner to remove it there`);
  }
  const byName = nameCandidates(ref).find((n) => img.names.includes(n)) ?? img.names.find((n) => n.endsWith('/' + ref) || n.endsWith('/' + ref + ':latest'));
  const users = containerEntries(p).filter((c) => c.rec.ImageID === img.id);
  // Removing one of several names only untags; removing the last name (or by id) deletes the image.
  const untagOnly = byName !== undefined && img.names.length > 1;
  if (!untagOnly && users.length > 0 && !force) {
    throw new LodgerError('IMAGE_IN_USE', `image ${ref} is used by container ${users[0].rec.Id.slice(0, 12)} (${users[0].rec.Name}) — remove the container first, or use "lodger rmi -f"`);
  }
  let manifestBlobs: string[] = [];
  try { const m = imageManifest(p, img); manifestBlobs = [img.manifestDigest, m.config.digest, ...m.layers.map((l) => l.digest)]; } catch { manifestBlobs = [img.manifestDigest, img.id]; }
  const res = await updateIndex(p, (images) => {
    const cur = images.find((i) => i.id === img.id);
    if (!cur) return { images, result: { untagged: [], deleted: [] } as RmiResult };
    if (untagOnly) {
      cur.names = cur.names.filter((n) => n !== byName);
      return { images, result: { untagged: [byName!], deleted: [] } };
    }
    const rest = images.filter((i) => i.id !== img.id);
    return { images: rest, result: { untagged: cur.names, deleted: [cur.id] } };
  });
  if (res.deleted.length) await collectGarbage(p, manifestBlobs);
  return res;
}

/** Deletes layers and the given blobs that no remaining image (or container) references. */
export async function collectGarbage(p: StorePaths, candidateBlobs: string[] = []): Promise<{ layers: number; blobs: number }> {
  const images: ImageRecord[] = readIndex(p);
  const usedLayers = new Set<string>(images.flatMap((i) => i.layers));
  for (const c of containerEntries(p)) for (const l of c.rec.Layers) usedLayers.add(l);
  const usedBlobs = new Set<string>();
  for (const i of images) {
    usedBlobs.add(i.manifestDigest); usedBlobs.add(i.id);
    try { const m = imageManifest(p, i); for (const l of m.layers) usedBlobs.add(l.digest); } catch { /* keep going */ }
  }
  const dead: string[] = [];
  let names: string[] = [];
  try { names = fs.readdirSync(p.layers); } catch { /* none */ }
  for (const n of names) {
    if (/^[0-9a-f]{64}$/.test(n) && !usedLayers.has(`sha256:${n}`)) dead.push(layerDir(p, `sha256:${n}`));
  }
  // Rename first so a half-deleted layer is never mistaken for a complete one.
  const trash = dead.map((d) => { const t = path.join(p.layers, `.trash-${path.basename(d)}`); fs.renameSync(d, t); return t; });
  await removeTrees(trash);
  // keep-id's copies of the layers removed (and of any removed before without them).
  await removeUnusedShifted(p, usedLayers);
  let blobs = 0;
  for (const b of candidateBlobs) {
    if (usedBlobs.has(b)) continue;
    try { fs.rmSync(blobPath(p, b)); blobs++; } catch { /* already gone */ }
  }
  return { layers: dead.length, blobs };
}
