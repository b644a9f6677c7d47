// `pull`: resolves a reference (short names via registries.conf), fetches manifest and config, and streams each
// layer into the store while it downloads — verified, kept as a blob, unpacked — with the image recorded last.
import { PassThrough } from 'node:stream';
import { LodgerError } from '../errors';
import type { Reporter } from '../events';
import { hasBlob, putBlob, putBlobStream } from '../storage/blobs';
import { addImage, findImage, type ImageRecord } from '../storage/images';
import { discardLayerSlot, getLayer, prepareLayerSlot, storeLayer, type LayerSlot } from '../storage/layers';
import type { StorePaths } from '../storage/paths';
import type { ImageConfig } from '../oci/config';
import { parsePlatform } from './platform';
import { formatReference, isShortName, parseReference, withDigest, type Reference } from './reference';
import { loadRegistriesConf, resolveShortName } from './registriesConf';
import type { Descriptor } from '../oci/manifest';
import type { RegistryClientOptions } from './registry/client';

export interface PullOptions {
  platform?: string;
  tlsVerify?: boolean;
  certDir?: string;
  authFile?: string;
  creds?: string;
  /**
   * Progress and notes: a 'layer' event (op 'pull' or 'push', the blob's digest) as each layer's bytes
   * move, and the notes of unpacking them. Default: the store's reporter.
   */
  report?: Reporter;
}

/** Docker downloads three layers at a time; so do we. */
const CONCURRENCY = 3;

export function clientOptions(o: PullOptions): RegistryClientOptions {
  const opts: RegistryClientOptions = { tlsVerify: o.tlsVerify, certDir: o.certDir, authFile: o.authFile };
  if (o.platform) opts.platform = parsePlatform(o.platform);
  if (o.creds) {
    const i = o.creds.indexOf(':');
    opts.credentials = { username: i < 0 ? o.creds : o.creds.slice(0, i), password: i < 0 ? '' : o.creds.slice(i + 1) };
  }
  return opts;
}

async function resolve(input: string, opts: RegistryClientOptions) {
  const { RegistryClient } = require('./registry/client') as typeof import('./registry/client');
  const conf = loadRegistriesConf();
  const candidates: Reference[] = isShortName(input) ? resolveShortName(input, conf) : [parseReference(input)];
  let last: unknown;
  for (const ref of candidates) {
    try {
      return await RegistryClient.resolveForPull(ref, { ...opts, registriesConf: conf });
    } catch (e) {
      last = e;
      // A short name tries the next search registry only when this one does not have it.
      if (!(e instanceof LodgerError) || !/NOT_FOUND|UNKNOWN/.test(e.code) || candidates.length === 1) throw e;
    }
  }
  throw last;
}

/** Runs FN over ITEMS, at most N at a time. */
async function pool<T>(items: T[], n: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => { while (next < items.length) { const i = next++; await fn(items[i], i); } };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
}

export async function pullImage(p: StorePaths, input: string, o: PullOptions = {}): Promise<ImageRecord> {
  // The first layer's unpack worker starts now and is ready when its blob arrives (its start would
  // otherwise follow the manifest's round trips). Unused, it is discarded at the end.
  let slot: Promise<LayerSlot | undefined> | undefined = prepareLayerSlot(p).catch(() => undefined);
  const takeSlot = () => { const s = slot; slot = undefined; return s; };
  try {
    return await pullWith(p, input, o, takeSlot);
  } finally {
    const unused = await takeSlot();
    if (unused) await discardLayerSlot(unused);
  }
}

async function pullWith(p: StorePaths, input: string, o: PullOptions, takeSlot: () => Promise<LayerSlot | undefined> | undefined): Promise<ImageRecord> {
  const copts = clientOptions(o);
  const { client, reference, result } = await resolve(input, copts);
  const name = formatReference(reference.digest ? reference : { ...reference, tag: reference.tag ?? 'latest' });
  const configBytes = await client.fetchBlobBuffer(result.configDescriptor);
  const config = JSON.parse(configBytes.toString('utf8')) as ImageConfig;
  const diffIds = config.rootfs?.diff_ids ?? [];
  if (diffIds.length !== result.layers.length) {
    throw new LodgerError('BAD_IMAGE', `pull ${name}: the config lists ${diffIds.length} layers but the manifest ${result.layers.length} — the image is malformed`);
  }
  const layerSize = new Map<string, number>();
  const report = o.report ?? p.report;
  const progress = (id: string, phase: 'downloading' | 'exists' | 'done', current: number, total: number) => {
    report?.({ kind: 'layer', op: 'pull', id, phase, current, total });
  };
  await pool(result.layers, CONCURRENCY, async (desc: Descriptor, i) => {
    const have = getLayer(p, diffIds[i]);
    if (have && hasBlob(p, desc.digest)) { layerSize.set(diffIds[i], have.size); progress(desc.digest, 'exists', desc.size, desc.size); return; }
    const slot = await takeSlot();
    progress(desc.digest, 'downloading', 0, desc.size);
    const blob = client.fetchBlob(desc);  // verifies digest and size as it streams: ends only if both match
    let done = 0;
    const toBlob = new PassThrough({ highWaterMark: 1 << 20 });
    const toLayer = new PassThrough({ highWaterMark: 1 << 20 });
    blob.on('data', (c: Buffer) => { done += c.length; progress(desc.digest, 'downloading', done, desc.size); });
    blob.on('error', (e) => { toBlob.destroy(e); toLayer.destroy(e); });
    blob.pipe(toBlob);
    blob.pipe(toLayer);
    // Unpack while downloading; keep the compressed blob for push and save.
    const [, layer] = await Promise.all([putBlobStream(p, toBlob, desc.digest, { verified: true }), storeLayer(p, toLayer, diffIds[i], slot, report)]);
    layerSize.set(diffIds[i], layer.size);
    progress(desc.digest, 'done', desc.size, desc.size);
  });
  const configDigest = putBlob(p, configBytes);
  const manifestDigest = putBlob(p, result.raw);
  if (manifestDigest !== result.digest) throw new LodgerError('DIGEST_MISMATCH', `pull ${name}: manifest digest changed in transit`);
  const repoDigest = formatReference(withDigest({ domain: reference.domain, path: reference.path }, result.index?.digest ?? result.digest));
  return addImage(p, {
    id: configDigest,
    names: reference.digest ? [] : [name],
    manifestDigest,
    layers: diffIds,
    created: config.created ?? new Date().toISOString(),
    size: [...layerSize.values()].reduce((a, b) => a + b, 0),
    repoDigests: [repoDigest],
  });
}

/** For `run --pull`: the local image, pulling it when missing (or always). */
export async function ensureImage(p: StorePaths, ref: string, policy: 'missing' | 'always' | 'never' = 'missing', o: PullOptions = {}): Promise<ImageRecord> {
  const local = findImage(p, ref);
  if (policy === 'never' || (policy === 'missing' && local)) {
    if (!local) throw new LodgerError('IMAGE_NOT_FOUND', `image "${ref}" is not in the local store and --pull=never was given — pull it first ("lodger pull ${ref}")`);
    return local;
  }
  return pullImage(p, ref, o);
}

