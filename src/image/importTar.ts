// `lodger import`: a root filesystem tarball (plain, gzip or zstd) becomes a one-layer image.
import * as fs from 'node:fs';
import { fsError } from '../errors';
import type { Reporter } from '../events';
import { putBlob, putBlobStream } from '../storage/blobs';
import { addImage, qualifyLocalName, type ImageRecord } from '../storage/images';
import { storeLayer } from '../storage/layers';
import type { StorePaths } from '../storage/paths';
import { DEFAULT_PATH, MEDIA, hostArchitecture, layerMediaTypeFor, type ImageConfig, type ImageManifest, type ImageRuntimeConfig } from '../oci/config';
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
  const configBytes = Buffer.from(JSON.stringify(config));
  const configDigest = putBlob(p, configBytes);
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MEDIA.ociManifest,
    config: { mediaType: MEDIA.ociConfig, digest: configDigest, size: configBytes.length },
    layers: [{ mediaType: layerMediaTypeFor(head), digest: blob.digest, size: blob.size }],
  };
  const manifestDigest = putBlob(p, Buffer.from(JSON.stringify(manifest)));
  return addImage(p, {
    id: configDigest,
    names: [qualifyLocalName(name)],
    manifestDigest,
    layers: [layer.diffId],
    created,
    size: layer.size,
  });
}
