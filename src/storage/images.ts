// The image index (images.json): which images exist, their names, config, manifest and layers.
import { MEDIA, type Descriptor, type ImageConfig, type ImageManifest } from '../oci/config';
import { readJson, writeJsonAtomic } from './atomic';
import { putBlob, readBlob } from './blobs';
import { withStoreLock } from './lock';
import { storePaths, type StorePaths } from './paths';

export interface ImageRecord {
  /** sha256 digest of the config blob, as Docker's image ID. */
  id: string;
  /** Fully qualified names, e.g. docker.io/library/busybox:latest, localhost/tiny:1. */
  names: string[];
  /** Manifest digest (repo@digest references resolve through it). */
  manifestDigest: string;
  /** diff_ids bottom to top. */
  layers: string[];
  created: string;
  /** Sum of the unpacked layer sizes. */
  size: number;
  /** registry/repo@digest forms this image was pulled by. */
  repoDigests?: string[];
  /** Set (never stored) on an image found in an additional read-only store: that store's root. */
  readOnlyStore?: string;
}

interface IndexFile { version: 1; images: ImageRecord[] }

export function readIndex(p: StorePaths): ImageRecord[] {
  return readJson<IndexFile>(p.imagesIndex)?.images ?? [];
}

function writeIndex(p: StorePaths, images: ImageRecord[]): void {
  // readOnlyStore describes where a record was found, never what this store holds.
  images = images.map(({ readOnlyStore: _, ...i }) => i);
  writeJsonAtomic(p.imagesIndex, { version: 1, images } satisfies IndexFile);
}

/** The store an image's blobs are in: ours, or the read-only store it was found in. */
function blobStore(p: StorePaths, img: ImageRecord): StorePaths {
  return img.readOnlyStore ? storePaths(img.readOnlyStore) : p;
}

export function imageConfig(p: StorePaths, img: ImageRecord): ImageConfig {
  return JSON.parse(readBlob(blobStore(p, img), img.id).toString('utf8')) as ImageConfig;
}

export function imageManifest(p: StorePaths, img: ImageRecord): ImageManifest {
  return JSON.parse(readBlob(blobStore(p, img), img.manifestDigest).toString('utf8')) as ImageManifest;
}

/** Images of the additional read-only stores (additionalStores.ts), each marked with its store; ours first wins. */
export function readOnlyImages(p: StorePaths): ImageRecord[] {
  const { additionalStores } = require('./additionalStores') as typeof import('./additionalStores');
  const out: ImageRecord[] = [];
  for (const s of additionalStores(p)) {
    let images: ImageRecord[];
    try { images = readIndex(s); } catch { continue; }  // unreadable or half-written: not ours to fix
    for (const i of images) out.push({ ...i, readOnlyStore: s.root });
  }
  return out;
}

/** Docker's rule, simplified for the local index: a name without a tag or digest means :latest. */
export function withDefaultTag(name: string): string {
  if (name.includes('@')) return name;
  const lastSlash = name.lastIndexOf('/');
  return name.slice(lastSlash + 1).includes(':') ? name : `${name}:latest`;
}

/** Fully qualified form of a local name: short names live under localhost/ (as podman does). */
export function qualifyLocalName(name: string): string {
  const n = withDefaultTag(name);
  const first = n.split('/')[0];
  const hasDomain = n.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  return hasDomain ? n : `localhost/${n}`;
}

/** Candidate full names a user's reference may mean, most specific first. */
export function nameCandidates(ref: string): string[] {
  const n = withDefaultTag(ref);
  const first = n.split('/')[0];
  const hasDomain = n.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  if (hasDomain) return [n];
  const out = [`localhost/${n}`];
  out.push(n.includes('/') ? `docker.io/${n}` : `docker.io/library/${n}`);
  return out;
}

/**
 * Finds an image by name, id, id prefix (≥ 3 hex digits) or name@digest: in this store, else in the
 * additional read-only stores (the result then carries readOnlyStore).
 */
export function findImage(p: StorePaths, ref: string): ImageRecord | undefined {
  const own = findIn(readIndex(p), ref);
  if (own) return own;
  return findIn(readOnlyImages(p), ref);
}

function findIn(images: ImageRecord[], ref: string): ImageRecord | undefined {
  const hex = ref.startsWith('sha256:') ? ref.slice(7) : ref;
  if (/^[0-9a-f]{3,64}$/.test(hex)) {
    const byId = images.filter((i) => i.id.slice(7).startsWith(hex));
    if (byId.length === 1) return byId[0];
  }
  const at = ref.indexOf('@');
  if (at > 0) {
    const digest = ref.slice(at + 1);
    const byDigest = images.find((i) => i.manifestDigest === digest || i.repoDigests?.some((r) => r.endsWith('@' + digest)));
    if (byDigest) return byDigest;
  }
  for (const cand of nameCandidates(ref)) {
    const hit = images.find((i) => i.names.includes(cand));
    if (hit) return hit;
  }
  // Short name matching the last path element: `lodger run busybox` finds quay.io/x/busybox:latest.
  const short = withDefaultTag(ref);
  const hits = images.filter((i) => i.names.some((n) => n.endsWith('/' + short)));
  return hits.length === 1 ? hits[0] : undefined;
}

/** Adds (or updates) an image; names move from any other image to this one, as `docker tag` does. */
export async function addImage(p: StorePaths, rec: ImageRecord): Promise<ImageRecord> {
  return withStoreLock(p, () => {
    const images = readIndex(p);
    for (const other of images) other.names = other.names.filter((n) => !rec.names.includes(n));
    const existing = images.find((i) => i.id === rec.id);
    let out: ImageRecord;
    if (existing) {
      existing.names = [...new Set([...existing.names, ...rec.names])];
      existing.repoDigests = [...new Set([...(existing.repoDigests ?? []), ...(rec.repoDigests ?? [])])];
      existing.manifestDigest = rec.manifestDigest;
      out = existing;
    } else {
      images.push(rec);
      out = rec;
    }
    writeIndex(p, images);
    return out;
  });
}

/** Applies FN to the index under the lock and writes the result. */
export async function updateIndex<T>(p: StorePaths, fn: (images: ImageRecord[]) => { images: ImageRecord[]; result: T }): Promise<T> {
  return withStoreLock(p, () => {
    const { images, result } = fn(readIndex(p));
    writeIndex(p, images);
    return result;
  });
}

/** The name to show for an image: its first name in familiar form (docker.io/library/ and localhost/ dropped). */
export function familiarName(full: string): string {
  return full.replace(/^docker\.io\/library\//, '').replace(/^docker\.io\//, '').replace(/^localhost\//, '');
}

/** An OCI manifest may only name OCI layer types; Docker's gzip layer is the same bytes under another name. */
export function ociLayer(d: Descriptor): Descriptor {
  const mediaType = d.mediaType === MEDIA.dockerLayerGzip ? MEDIA.ociLayerGzip : d.mediaType;
  return { mediaType, digest: d.digest, size: d.size };
}

/** What a new image is made of: its config, its layers' blobs and diff_ids (bottom first), their unpacked size, its names. */
export interface NewImage {
  config: ImageConfig;
  layers: Descriptor[];
  diffIds: string[];
  size: number;
  names: string[];
  created: string;
}

/**
 * Stores a new image as `pull` would leave it: the config and an OCI manifest over the layers as blobs,
 * then the image's record (addImage: locked, atomic; NAMES move from any other image). For import,
 * commit and build, whose layers are already stored.
 */
export async function recordNewImage(p: StorePaths, img: NewImage): Promise<ImageRecord> {
  const configBytes = Buffer.from(JSON.stringify(img.config));
  const configDigest = putBlob(p, configBytes);
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MEDIA.ociManifest,
    config: { mediaType: MEDIA.ociConfig, digest: configDigest, size: configBytes.length },
    layers: img.layers.map(ociLayer),
  };
  const manifestDigest = putBlob(p, Buffer.from(JSON.stringify(manifest)));
  return addImage(p, {
    id: configDigest, names: img.names.map(qualifyLocalName), manifestDigest, layers: img.diffIds, created: img.created, size: img.size,
  });
}
