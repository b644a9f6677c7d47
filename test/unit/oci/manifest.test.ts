// Manifest parsing: Docker schema2 and OCI documents are read; schema 1, malformed descriptors and documents that could be read two ways are refused.
import { describe, expect, it } from 'vitest';
import { LodgerError } from '../../../src/errors';
import { MediaType, parseManifest } from '../../../src/oci/manifest';

const d = (n: string): string => `sha256:${n.repeat(64)}`;
const config = { mediaType: MediaType.DockerConfig, digest: d('1'), size: 100 };
const layer = { mediaType: MediaType.DockerLayerGzip, digest: d('2'), size: 200 };
const dockerManifest = { schemaVersion: 2, mediaType: MediaType.DockerManifest, config, layers: [layer] };
const dockerList = {
  schemaVersion: 2, mediaType: MediaType.DockerManifestList,
  manifests: [{ mediaType: MediaType.DockerManifest, digest: d('3'), size: 300, platform: { os: 'linux', architecture: 'amd64' } }],
};
const buf = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));

function refused(body: unknown, ct: string | undefined, code: string, why: RegExp): void {
  let err: unknown;
  try { parseManifest(Buffer.isBuffer(body) ? body : buf(body), ct, 'pull x.io/a:b'); } catch (e) { err = e; }
  expect(err).toBeInstanceOf(LodgerError);
  expect((err as LodgerError).code).toBe(code);
  expect((err as LodgerError).message).toMatch(/^pull x\.io\/a:b/);
  expect((err as LodgerError).message).toMatch(why);
}

describe('parseManifest', () => {
  it('reads a Docker schema2 manifest and manifest list', () => {
    const m = parseManifest(buf(dockerManifest), MediaType.DockerManifest, 'x');
    expect(m).toMatchObject({ kind: 'image', mediaType: MediaType.DockerManifest, config, layers: [layer] });
    const l = parseManifest(buf(dockerList), `${MediaType.DockerManifestList}; charset=utf-8`, 'x');
    expect(l.kind).toBe('index');
    if (l.kind === 'index') expect(l.manifests[0].platform).toEqual({ os: 'linux', architecture: 'amd64' });
  });

  it('infers OCI types when the document has no mediaType, from Content-Type or shape', () => {
    const { mediaType: _m, ...noType } = dockerManifest;
    expect(parseManifest(buf(noType), MediaType.OciManifest, 'x').mediaType).toBe(MediaType.OciManifest);
    expect(parseManifest(buf(noType), 'application/json', 'x').mediaType).toBe(MediaType.OciManifest);
    expect(parseManifest(buf({ schemaVersion: 2, manifests: [] }), undefined, 'x').mediaType).toBe(MediaType.OciIndex);
  });

  it('refuses schema 1 with advice', () => {
    refused({ schemaVersion: 1, fsLayers: [] }, 'application/json', 'MANIFEST_SCHEMA1', /schema 1.*push it again/);
    refused(dockerManifest, MediaType.DockerSchema1Signed, 'MANIFEST_SCHEMA1', /schema 1/);
  });

  it('refuses ambiguous documents (CVE-2021-41190 class)', () => {
    refused({ ...dockerManifest, manifests: [] }, undefined, 'MANIFEST_INVALID', /both "manifests" and "layers"/);
    refused({ ...dockerManifest, mediaType: MediaType.OciIndex }, undefined, 'MANIFEST_INVALID', /does not match the document/);
    refused({ ...dockerList, mediaType: MediaType.OciManifest }, undefined, 'MANIFEST_INVALID', /does not match the document/);
    refused(dockerManifest, MediaType.OciManifest, 'MANIFEST_INVALID', /Content-Type .* mediaType field says/);
    refused(dockerManifest, MediaType.OciIndex, 'MANIFEST_INVALID', /served as Content-Type/);
    refused({ schemaVersion: 2, manifests: [] }, MediaType.OciManifest, 'MANIFEST_INVALID', /served as Content-Type/);
  });

  it('refuses malformed documents and descriptors', () => {
    refused(Buffer.from('<html>'), 'text/html', 'MANIFEST_INVALID', /not valid JSON/);
    refused([], undefined, 'MANIFEST_INVALID', /not a JSON object/);
    refused({ schemaVersion: 3, layers: [] }, undefined, 'MANIFEST_INVALID', /schemaVersion/);
    refused({ schemaVersion: 2 }, undefined, 'MANIFEST_INVALID', /neither/);
    refused({ ...dockerManifest, config: undefined }, undefined, 'MANIFEST_INVALID', /no config/);
    refused({ ...dockerManifest, layers: [{ ...layer, digest: 'sha256:../../x' }] }, undefined, 'DIGEST_INVALID', /layers\[0\]: invalid digest/);
    refused({ ...dockerManifest, layers: [{ ...layer, size: -1 }] }, undefined, 'MANIFEST_INVALID', /size/);
    refused({ ...dockerManifest, layers: [{ ...layer, size: 1.5 }] }, undefined, 'MANIFEST_INVALID', /size/);
    refused({ ...dockerManifest, layers: [{ digest: layer.digest, size: 1 }] }, undefined, 'MANIFEST_INVALID', /no mediaType/);
    refused({ ...dockerManifest, config: { ...config, mediaType: MediaType.OciIndex } }, undefined, 'MANIFEST_INVALID', /config descriptor has manifest media type/);
    refused({ ...dockerList, manifests: [{ ...dockerList.manifests[0], platform: { os: 'linux' } }] }, undefined, 'MANIFEST_INVALID', /platform lacks/);
  });
});
