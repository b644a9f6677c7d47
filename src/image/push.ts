// `push`: sends an image's blobs (skipping ones the registry has, mounting ones another repository there has) and its manifest.
import * as fs from 'node:fs';
import { LodgerError } from '../errors';
import { blobPath, hasBlob, readBlob } from '../storage/blobs';
import { findImage, imageManifest } from '../storage/images';
import type { StorePaths } from '../storage/paths';
import { MEDIA } from '../oci/config';
import { clientOptions, type PullOptions } from './pull';
import { formatReference, parseReference } from './reference';

export interface PushResult { reference: string; digest: string; blobs: Record<string, 'exists' | 'mounted' | 'uploaded'> }

export async function pushImage(p: StorePaths, source: string, destination: string | undefined, o: PullOptions = {}): Promise<PushResult> {
  const { RegistryClient } = require('./registry/client') as typeof import('./registry/client');
  const img = findImage(p, source);
  if (!img) throw new LodgerError('IMAGE_NOT_FOUND', `push ${source}: no such image in the local store — see "lodger images"`);
  const ref = parseReference(destination ?? source);
  const target = formatReference({ ...ref, tag: ref.digest ? undefined : ref.tag ?? 'latest' });
  const manifestRaw = readBlob(p, img.manifestDigest);
  const manifest = imageManifest(p, img);
  const client = RegistryClient.forReference(ref, clientOptions(o));
  // Repositories of the same registry this image came from: the registry can mount blobs from them.
  const mountFrom = (img.repoDigests ?? []).map((r) => parseReference(r)).filter((r) => r.domain === client.registry && r.path !== client.repository).map((r) => r.path);
  const blobs: PushResult['blobs'] = {};
  for (const desc of [...manifest.layers, manifest.config]) {
    if (!hasBlob(p, desc.digest)) {
      throw new LodgerError('BLOB_MISSING', `push ${target}: layer blob ${desc.digest} is not in the store (images made before blobs were kept cannot be pushed) — pull or load the image again`);
    }
    o.report?.({ kind: 'layer', op: 'push', id: desc.digest, phase: 'pushing', current: 0, total: desc.size });
    const how = await client.pushBlob(desc, () => fs.createReadStream(blobPath(p, desc.digest)), { mountFrom });
    blobs[desc.digest] = how;
    o.report?.({ kind: 'layer', op: 'push', id: desc.digest, phase: how === 'uploaded' ? 'pushed' : how, current: desc.size, total: desc.size });
  }
  const mediaType = (JSON.parse(manifestRaw.toString('utf8')) as { mediaType?: string }).mediaType ?? MEDIA.ociManifest;
  const digest = await client.putManifest(ref.digest ?? ref.tag ?? 'latest', manifestRaw, mediaType);
  return { reference: target, digest, blobs };
}
