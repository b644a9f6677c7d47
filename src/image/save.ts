// `save`: images from the store as a docker-archive (what `docker save` writes) or an OCI archive (a tar of an OCI image layout).
//
// docker-archive: manifest.json lists, per image, its config file, its RepoTags and its layers as
// uncompressed tars named by diff_id — the form `docker load`, `podman load` and skopeo's
// docker-archive: transport read, and the one loadArchive.ts expects. OCI archive (image-spec
// image-layout.md): oci-layout, index.json naming each manifest (org.opencontainers.image.ref.name)
// and blobs/sha256/ holding manifests, configs and layers byte for byte as the store keeps them.
import * as crypto from 'node:crypto';
import { once } from 'node:events';
import * as fs from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { LodgerError } from '../errors';
import { blobPath, hasBlob, readBlob } from '../storage/blobs';
import { familiarName, findImage, imageManifest, nameCandidates, type ImageRecord } from '../storage/images';
import { digestHex, getLayer } from '../storage/layers';
import type { StorePaths } from '../storage/paths';
import { MEDIA, type ImageManifest } from '../oci/config';

export type SaveFormat = 'docker-archive' | 'oci-archive';

interface Chosen { img: ImageRecord; manifest: ImageManifest; names: string[] }

/** The images REFS name, each with the names to record: the one asked for, none when asked by id (as docker save). */
function choose(p: StorePaths, refs: string[]): Chosen[] {
  const out: Chosen[] = [];
  for (const ref of refs) {
    const img = findImage(p, ref);
    if (!img) throw new LodgerError('IMAGE_NOT_FOUND', `save: no such image ${ref} — see "lodger images"`);
    const name = nameCandidates(ref).find((n) => img.names.includes(n)) ?? img.names.find((n) => n.endsWith('/' + ref) || n.endsWith('/' + ref + ':latest'));
    const have = out.find((c) => c.img.id === img.id);
    if (have) { if (name && !have.names.includes(name)) have.names.push(name); continue; }
    out.push({ img, manifest: imageManifest(p, img), names: name ? [name] : [] });
  }
  return out;
}

function blobStream(p: StorePaths, digest: string): Readable {
  if (!hasBlob(p, digest)) {
    throw new LodgerError('BLOB_MISSING', `save: blob ${digest} is missing from the store — remove the image and pull or load it again`);
  }
  return fs.createReadStream(blobPath(p, digest));
}

type Pack = import('tar-stream').Pack;

/** Adds a file entry of SIZE bytes whose content is SRC, failing if SRC does not deliver exactly that. */
async function addStream(pack: Pack, name: string, size: number, src: Readable, check?: (got: { digest: string; size: number }) => void): Promise<void> {
  const hash = crypto.createHash('sha256');
  let got = 0;
  let entry!: ReturnType<Pack['entry']>;
  // tar-stream reports a size that does not match what was written through this callback.
  const written = new Promise<void>((resolve, reject) => {
    entry = pack.entry({ name, size, mode: 0o644, mtime: new Date(0) }, (err) => (err ? reject(err) : resolve()));
  });
  written.catch(() => undefined);
  for await (const chunk of src) {
    const c = chunk as Buffer;
    hash.update(c);
    got += c.length;
    if (got > size) break;
    if (!entry.write(c)) await once(entry, 'drain');
  }
  check?.({ digest: 'sha256:' + hash.digest('hex'), size: got });
  entry.end(undefined);
  await written;
}

function addBytes(pack: Pack, name: string, bytes: Buffer): void {
  pack.entry({ name, mode: 0o644, mtime: new Date(0) }, bytes);
}

/** docker save's RepoTags: Docker Hub names in their familiar form, others in full. */
function repoTag(full: string): string {
  return full.startsWith('docker.io/') ? familiarName(full) : full;
}

async function writeDockerArchive(p: StorePaths, chosen: Chosen[], pack: Pack): Promise<void> {
  const { decompressStream } = await import('../oci/decompress');
  const written = new Set<string>();
  const manifest: Array<{ Config: string; RepoTags: string[] | null; Layers: string[] }> = [];
  for (const c of chosen) {
    const cfgFile = `${digestHex(c.img.id)}.json`;
    if (!written.has(cfgFile)) { addBytes(pack, cfgFile, readBlob(p, c.img.id)); written.add(cfgFile); }
    if (c.manifest.layers.length !== c.img.layers.length) {
      throw new LodgerError('SAVE_INCONSISTENT', `save: image ${c.img.id.slice(7, 19)} has ${c.img.layers.length} layers but its manifest lists ${c.manifest.layers.length} — remove it and pull or load it again`);
    }
    const layers: string[] = [];
    for (let i = 0; i < c.img.layers.length; i++) {
      const diffId = c.img.layers[i];
      const file = `${digestHex(diffId)}.tar`;
      layers.push(file);
      if (written.has(file)) continue;
      const rec = getLayer(p, diffId);
      if (!rec) throw new LodgerError('LAYER_MISSING', `save: layer ${diffId} is missing from the store — remove the image and pull or load it again`);
      // The tar header needs the size first: the layer's record has it, and the stream is checked against it and the diff_id.
      await addStream(pack, file, rec.size, decompressStream(blobStream(p, c.manifest.layers[i].digest)), (got) => {
        if (got.digest !== diffId || got.size !== rec.size) {
          throw new LodgerError('SAVE_CORRUPT', `save: the blob of layer ${diffId} decompresses to ${got.digest} (${got.size} bytes) — the store is corrupt; remove the image and pull or load it again`);
        }
      });
      written.add(file);
    }
    manifest.push({ Config: cfgFile, RepoTags: c.names.length ? c.names.map(repoTag) : null, Layers: layers });
  }
  addBytes(pack, 'manifest.json', Buffer.from(JSON.stringify(manifest)));
}

async function writeOciArchive(p: StorePaths, chosen: Chosen[], pack: Pack): Promise<void> {
  const written = new Set<string>();
  const blob = async (digest: string, size?: number) => {
    if (written.has(digest)) return;
    written.add(digest);
    const name = `blobs/sha256/${digestHex(digest)}`;
    if (size === undefined) { addBytes(pack, name, readBlob(p, digest)); return; }
    await addStream(pack, name, size, blobStream(p, digest), (got) => {
      if (got.digest !== digest) throw new LodgerError('SAVE_CORRUPT', `save: blob ${digest} in the store hashes to ${got.digest} — remove the image and pull or load it again`);
    });
  };
  addBytes(pack, 'oci-layout', Buffer.from(JSON.stringify({ imageLayoutVersion: '1.0.0' })));
  const index: { schemaVersion: 2; mediaType: string; manifests: unknown[] } = { schemaVersion: 2, mediaType: MEDIA.ociIndex, manifests: [] };
  for (const c of chosen) {
    for (const l of c.manifest.layers) await blob(l.digest, l.size);
    await blob(c.manifest.config.digest);
    await blob(c.img.manifestDigest);
    const desc = { mediaType: c.manifest.mediaType ?? MEDIA.ociManifest, digest: c.img.manifestDigest, size: readBlob(p, c.img.manifestDigest).length };
    if (c.names.length === 0) index.manifests.push(desc);
    for (const n of c.names) index.manifests.push({ ...desc, annotations: { 'org.opencontainers.image.ref.name': n, 'io.containerd.image.name': n } });
  }
  addBytes(pack, 'index.json', Buffer.from(JSON.stringify(index)));
}

/**
 * Writes the images REFS name to OUT as one archive of FORMAT. The archive is complete only when
 * this resolves; a corrupt store (a blob that does not match its digest) fails it instead.
 */
export async function saveImages(p: StorePaths, refs: string[], format: SaveFormat, out: Writable): Promise<void> {
  if (format !== 'docker-archive' && format !== 'oci-archive') {
    throw new LodgerError('SAVE_FORMAT', `save: unknown format "${format as string}" — use docker-archive or oci-archive`);
  }
  const chosen = choose(p, refs);
  const tar = require('tar-stream') as typeof import('tar-stream');
  const pack = tar.pack();
  const sink = pipeline(pack, out);
  try {
    if (format === 'docker-archive') await writeDockerArchive(p, chosen, pack);
    else await writeOciArchive(p, chosen, pack);
    pack.finalize();
  } catch (e) {
    pack.destroy(e as Error);
    await sink.catch(() => undefined);
    throw e;
  }
  await sink;
}
