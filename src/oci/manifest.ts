// Image manifests and indexes (Docker schema2, OCI): media types, strict parsing, and the checks that keep a document from meaning two things.
//
// Specs: OCI image-spec manifest.md, image-index.md, descriptor.md; Docker "Image Manifest V2,
// Schema 2" (distribution docs/spec/manifest-v2-2.md). Ambiguity checks follow the fix for
// CVE-2021-41190 (GHSA-mc8v-mgrf-8f4m): a document must not carry both `manifests` and
// `layers`/`config`, and its `mediaType` field must agree with its shape and with the
// Content-Type it was served with.
import { LodgerError } from '../errors';
import { parseDigest } from './digest';

export const MediaType = {
  DockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  DockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  DockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
  DockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
  DockerConfig: 'application/vnd.docker.container.image.v1+json',
  DockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  DockerForeignLayerGzip: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  OciManifest: 'application/vnd.oci.image.manifest.v1+json',
  OciIndex: 'application/vnd.oci.image.index.v1+json',
  OciConfig: 'application/vnd.oci.image.config.v1+json',
  OciLayer: 'application/vnd.oci.image.layer.v1.tar',
  OciLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  OciLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
} as const;

/** What we send in Accept for manifests. Schema 1 is listed so that an old image is answered as such and refused with a clear message, rather than a 404. */
export const MANIFEST_ACCEPT = [
  MediaType.OciIndex, MediaType.DockerManifestList, MediaType.OciManifest, MediaType.DockerManifest,
  MediaType.DockerSchema1Signed, MediaType.DockerSchema1,
];

const IMAGE_TYPES = new Set<string>([MediaType.DockerManifest, MediaType.OciManifest]);
const INDEX_TYPES = new Set<string>([MediaType.DockerManifestList, MediaType.OciIndex]);
const SCHEMA1_TYPES = new Set<string>([MediaType.DockerSchema1, MediaType.DockerSchema1Signed]);

/** Content-Types that say nothing about the document (some registries and static servers send these). */
const GENERIC_CONTENT_TYPES = new Set(['', 'application/json', 'text/plain', 'application/octet-stream', 'binary/octet-stream']);

/** Largest manifest we read (containers/image uses the same 4 MiB bound): a registry cannot make us buffer more. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  platform?: { os: string; architecture: string; variant?: string; 'os.version'?: string; 'os.features'?: string[] };
  artifactType?: string;
}

export interface ImageManifest {
  kind: 'image';
  schemaVersion: 2;
  mediaType: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

export interface ImageIndex {
  kind: 'index';
  schemaVersion: 2;
  mediaType: string;
  manifests: Descriptor[];
  annotations?: Record<string, string>;
}

export type Manifest = ImageManifest | ImageIndex;

export function isImageManifestType(t: string): boolean { return IMAGE_TYPES.has(t); }
export function isIndexType(t: string): boolean { return INDEX_TYPES.has(t); }

/** True for config media types that describe a runnable container image (not an artifact). */
export function isImageConfigType(t: string): boolean {
  return t === MediaType.DockerConfig || t === MediaType.OciConfig;
}

function bad(context: string, why: string): LodgerError {
  return new LodgerError('MANIFEST_INVALID', `${context}: ${why}`);
}

/** `application/vnd.oci.image.manifest.v1+json; charset=utf-8` → the bare lower-case type. */
export function bareContentType(ct: string | undefined): string {
  return (ct ?? '').split(';')[0].trim().toLowerCase();
}

function parseDescriptor(v: unknown, context: string): Descriptor {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad(context, 'descriptor is not an object');
  const d = v as Record<string, unknown>;
  if (typeof d.mediaType !== 'string' || d.mediaType === '') throw bad(context, 'descriptor has no mediaType');
  parseDigest(d.digest, context);
  if (typeof d.size !== 'number' || !Number.isSafeInteger(d.size) || d.size < 0) throw bad(context, `descriptor size ${JSON.stringify(d.size)} is not a non-negative integer`);
  const out: Descriptor = { mediaType: d.mediaType, digest: d.digest as string, size: d.size };
  if (Array.isArray(d.urls)) out.urls = d.urls.filter((u): u is string => typeof u === 'string');
  if (isStringMap(d.annotations)) out.annotations = d.annotations;
  if (typeof d.artifactType === 'string') out.artifactType = d.artifactType;
  if (typeof d.platform === 'object' && d.platform !== null) {
    const p = d.platform as Record<string, unknown>;
    if (typeof p.os !== 'string' || typeof p.architecture !== 'string') throw bad(context, 'platform lacks os or architecture');
    out.platform = { os: p.os, architecture: p.architecture };
    if (typeof p.variant === 'string') out.platform.variant = p.variant;
    if (typeof p['os.version'] === 'string') out.platform['os.version'] = p['os.version'];
    if (Array.isArray(p['os.features'])) out.platform['os.features'] = p['os.features'].filter((x): x is string => typeof x === 'string');
  }
  return out;
}

function isStringMap(v: unknown): v is Record<string, string> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'string');
}

/**
 * Parses a manifest or index and checks it is what it says it is. `contentType` is the HTTP
 * Content-Type it came with (undefined when read from disk); `context` names the document for
 * messages, e.g. `fetch manifest 127.0.0.1:5000/x:latest`.
 */
export function parseManifest(raw: Buffer, contentType: string | undefined, context: string): Manifest {
  let doc: unknown;
  try {
    doc = JSON.parse(raw.toString('utf8'));
  } catch (e) {
    throw bad(context, `not valid JSON (${(e as Error).message}) — the registry did not return a manifest`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw bad(context, 'manifest is not a JSON object');
  const m = doc as Record<string, unknown>;
  const ct = bareContentType(contentType);
  const declared = typeof m.mediaType === 'string' ? m.mediaType : undefined;

  if (m.schemaVersion === 1 || SCHEMA1_TYPES.has(ct) || (declared !== undefined && SCHEMA1_TYPES.has(declared))) {
    throw new LodgerError('MANIFEST_SCHEMA1', `${context}: the image uses a Docker schema 1 manifest, which is deprecated and not supported — push it again with a current docker, podman or skopeo (they write schema 2)`);
  }
  if (m.schemaVersion !== 2) throw bad(context, `unsupported schemaVersion ${JSON.stringify(m.schemaVersion)} (expected 2)`);
  if (m.mediaType !== undefined && declared === undefined) throw bad(context, 'mediaType is not a string');

  const hasManifests = m.manifests !== undefined;
  const hasImageFields = m.layers !== undefined || m.config !== undefined;
  if (hasManifests && hasImageFields) {
    throw bad(context, 'document has both "manifests" and "layers"/"config", so it could be read as an index or as an image — refusing an ambiguous manifest');
  }
  if (!hasManifests && !hasImageFields) throw bad(context, 'document has neither "manifests" nor "layers"/"config"');
  const shape: 'index' | 'image' = hasManifests ? 'index' : 'image';
  const shapeTypes = shape === 'index' ? INDEX_TYPES : IMAGE_TYPES;

  if (declared !== undefined && !shapeTypes.has(declared)) {
    throw bad(context, `mediaType ${declared} does not match the document, which is shaped as an ${shape === 'index' ? 'index' : 'image manifest'} — refusing an ambiguous manifest`);
  }
  const ctKnown = !GENERIC_CONTENT_TYPES.has(ct);
  if (ctKnown && !shapeTypes.has(ct)) {
    throw bad(context, `served as Content-Type ${ct} but the document is ${declared ? `of mediaType ${declared}` : `shaped as an ${shape === 'index' ? 'index' : 'image manifest'}`} — refusing an ambiguous manifest`);
  }
  if (ctKnown && declared !== undefined && ct !== declared) {
    throw bad(context, `served as Content-Type ${ct} but its mediaType field says ${declared} — refusing an ambiguous manifest`);
  }
  // The OCI spec made mediaType optional for a while; fall back to what was served, then to OCI.
  const mediaType = declared ?? (ctKnown ? ct : shape === 'index' ? MediaType.OciIndex : MediaType.OciManifest);
  const annotations = isStringMap(m.annotations) ? { annotations: m.annotations } : {};

  if (shape === 'index') {
    if (!Array.isArray(m.manifests)) throw bad(context, '"manifests" is not an array');
    const manifests = m.manifests.map((d, i) => parseDescriptor(d, `${context}, manifests[${i}]`));
    return { kind: 'index', schemaVersion: 2, mediaType, manifests, ...annotations };
  }
  if (m.config === undefined) throw bad(context, 'image manifest has no config descriptor');
  const config = parseDescriptor(m.config, `${context}, config`);
  if (!Array.isArray(m.layers)) throw bad(context, '"layers" is not an array');
  const layers = m.layers.map((d, i) => parseDescriptor(d, `${context}, layers[${i}]`));
  if (isIndexType(config.mediaType) || isImageManifestType(config.mediaType)) {
    throw bad(context, `config descriptor has manifest media type ${config.mediaType}`);
  }
  return { kind: 'image', schemaVersion: 2, mediaType, config, layers, ...annotations };
}
