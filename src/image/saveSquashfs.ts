// `save --format squashfs`: one image of the store as a single squashfs file (its flattened root filesystem plus /.lodger/config.json), for `lodger run FILE.sqfs`.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LodgerError, fsError } from '../errors';
import type { Reporter } from '../events';
import { readBlob } from '../storage/blobs';
import { findImage } from '../storage/images';
import { getLayer, layerDiffDir, removeTrees } from '../storage/layers';
import { ensureStore, type StorePaths } from '../storage/paths';
import { runWorker } from '../helper/usernsWorker';
import type { SquashResult } from '../worker/squashBuild';

function onPath(tool: string): boolean {
  return (process.env.PATH ?? '/usr/bin:/bin').split(':').concat(['/usr/sbin', '/sbin']).some((d) => {
    try { fs.accessSync(path.join(d, tool), fs.constants.X_OK); return true; } catch { return false; }
  });
}

/**
 * Writes image REF to TARGET as a squashfs file. The file appears only complete: it is written beside
 * TARGET under a temporary name and renamed into place. The flattened tree is staged in the store's
 * tmp/ (about the image's unpacked size) and removed afterwards. REPORT (default: the store's) gets
 * mksquashfs's notes (e.g. owners the flattened tree could not keep).
 */
export async function saveSquashfs(p: StorePaths, ref: string, target: string, report: Reporter | undefined = p.report): Promise<SquashResult> {
  const img = findImage(p, ref);
  if (!img) throw new LodgerError('IMAGE_NOT_FOUND', `save: no such image ${ref} — see "lodger images"`);
  for (const d of img.layers) {
    if (!getLayer(p, d)) throw new LodgerError('LAYER_MISSING', `save: layer ${d} of ${ref} is missing from the store — remove the image and pull or load it again`);
  }
  if (!onPath('mksquashfs')) throw new LodgerError('NO_SQUASHFS_TOOLS', 'save --format squashfs: mksquashfs is not installed — install it (Debian: apt install squashfs-tools)');
  try {
    if (!fs.statSync(path.dirname(target)).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
  } catch (e) {
    throw fsError('save: write', target, e, 'give a file in an existing, writable directory');
  }
  ensureStore(p);
  const stage = path.join(p.tmp, `squash-${process.pid}-${crypto.randomBytes(6).toString('hex')}`);
  fs.mkdirSync(stage, { mode: 0o700 });
  const cfgFile = path.join(stage, 'config.json');
  fs.writeFileSync(cfgFile, readBlob(p, img.id), { mode: 0o644 });
  const tmp = path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.tmp`);
  try {
    const { result } = await runWorker<SquashResult>('squash', [path.join(stage, 'rootfs'), cfgFile, tmp, ...img.layers.map((d) => layerDiffDir(p, d))]);
    for (const n of result.notes) report?.({ kind: 'note', message: n });
    try { fs.renameSync(tmp, target); } catch (e) { throw fsError('save: write', target, e, 'give a file in a writable directory'); }
    return result;
  } finally {
    fs.rmSync(tmp, { force: true });
    await removeTrees([stage]);
  }
}
