// Puts what a build makes into the store: a layer tar as blob + unpacked layer, and the final image (config, manifest, names).
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as zlib from 'node:zlib';
import { MEDIA, type ImageConfig } from '../oci/config';
import { putBlobStream } from '../storage/blobs';
import { recordNewImage, type ImageRecord } from '../storage/images';
import { adoptLayerStage, storeLayer } from '../storage/layers';
import type { StorePaths } from '../storage/paths';
import type { BuiltLayer } from './cache';

/**
 * Stores the uncompressed layer tar TARFILE: one pass keeps the gzip blob (for push and save), the
 * other unpacks the layer in the user-namespace worker (which maps owners as a pull does) and names it.
 */
export async function storeTarLayer(p: StorePaths, tarFile: string, stage?: string): Promise<BuiltLayer> {
  if (stage) return adoptTarLayer(p, tarFile, stage);
  const [blob, layer] = await Promise.all([
    // Level 1: a build's layers are made on every cache miss; push and save ship them as they are.
    putBlobStream(p, fs.createReadStream(tarFile).pipe(zlib.createGzip({ level: 1 }))),
    storeLayer(p, fs.createReadStream(tarFile)),
  ]);
  return { diffId: layer.diffId, blob: { mediaType: MEDIA.ociLayerGzip, digest: blob.digest, size: blob.size }, size: layer.size };
}

/** sha256 and size of FILE, read once. */
async function fileDigest(file: string): Promise<{ digest: string; size: number }> {
  const h = crypto.createHash('sha256');
  let size = 0;
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 1 << 20 })) { h.update(chunk as Buffer); size += (chunk as Buffer).length; }
  return { digest: 'sha256:' + h.digest('hex'), size };
}

/**
 * The layer's files are already in STAGE/diff, as unpacking TARFILE would leave them (a RUN's upper
 * directory, or a COPY written straight out): only the diff_id and the blob are computed from the tar.
 */
async function adoptTarLayer(p: StorePaths, tarFile: string, stage: string): Promise<BuiltLayer> {
  const [blob, plain] = await Promise.all([
    putBlobStream(p, fs.createReadStream(tarFile).pipe(zlib.createGzip({ level: 1 }))),
    fileDigest(tarFile),
  ]);
  const layer = await adoptLayerStage(p, stage, plain.digest, plain.size, 0);
  return { diffId: layer.diffId, blob: { mediaType: MEDIA.ociLayerGzip, digest: blob.digest, size: blob.size }, size: layer.size };
}

/** Writes CONFIG and a manifest over LAYERS and records the image under NAMES (moved from any other image). */
export async function commitBuiltImage(p: StorePaths, config: ImageConfig, layers: BuiltLayer[], names: string[]): Promise<ImageRecord> {
  return recordNewImage(p, {
    config, layers: layers.map((l) => l.blob), diffIds: layers.map((l) => l.diffId), size: layers.reduce((n, l) => n + l.size, 0),
    names, created: config.created ?? new Date().toISOString(),
  });
}
