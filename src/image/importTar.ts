// `lodger import`: a root filesystem tarball (plain, gzip or zstd) becomes a one-layer image.
import * as fs from 'node:fs';
import { fsError } from '../errors';
import type { Reporter } from '../events';
import { putBlobStream } from '../storage/blobs';
import { recordNewImage, type ImageRecord } from '../storage/images';
import { storeLayer } from '../storage/layers';
import type { StorePaths } from '../storage/paths';
import { DEFAULT_PATH, hostArchitecture, layerMediaTypeFor, type ImageConfig, type ImageRuntimeConfig } from '../oci/config';
import { applyChanges } from './changes';

/** REPORT (default: the store's) gets the layer's 'layer' event once stored and the unpack's notes. */
export async function importRootfsTar(p: StorePaths, file: string, name: string, changes: string[] = [], report: Reporter | undefined = p.report): Promise<ImageRecord> {
  let head: Buffer;
  try {
    const fd = fs.openSync(file, 'r');
    head = Buffer.alloc(4);
    fs.readSync(fd, head, 0, 4, 0);
    fs.closeSync(fd);
  } catch (e) {
    throw fsError('import: open', file, e, 'give the path of a tar archive of a root filesystem');
  }
  // Both passes stream the file: one keeps the blob (for save and push), one unpacks it.
  const [blob, layer] = await Promise.all([
    putBlobStream(p, fs.createReadStream(file)),
    storeLayer(p, fs.createReadStream(file), undefined, undefined, report),
  ]);
  report?.({ kind: 'layer', op: 'import', id: layer.diffId, phase: 'stored', current: layer.size, total: layer.size });
  const created = new Date().toISOString();
  const runtime: ImageRuntimeConfig = applyChanges({ Env: [`PATH=${DEFAULT_PATH}`] }, changes);
  const config: ImageConfig = {
    created,
    architecture: hostArchitecture(),
    os: 'linux',
    config: runtime,
    rootfs: { type: 'layers', diff_ids: [layer.diffId] },
    history: [{ created, created_by: `lodger import ${file}` }],
  };
  return recordNewImage(p, {
    config, layers: [{ mediaType: layerMediaTypeFor(head), digest: blob.digest, size: blob.size }], diffIds: [layer.diffId],
    size: layer.size, names: [name], created,
  });
}
