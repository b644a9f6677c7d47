// `lodger load`: images from a docker-archive (docker/podman save) or an OCI archive (oci-layout + index.json).
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { LodgerError, fsError } from '../errors';
import type { Reporter } from '../events';
import { putBlob, putBlobStream } from '../storage/blobs';
import { addImage, qualifyLocalName, type ImageRecord } from '../storage/images';
import { digestHex, storeLayer } from '../storage/layers';
import { ensureStore, type StorePaths } from '../storage/paths';
import { MEDIA, hostArchitecture, layerMediaTypeFor, type ImageConfig, type ImageManifest } from '../oci/config';

/** Extracts the archive's regular files into DIR; names are confined to DIR (no "..", no absolute paths). */
async function extractOuter(file: string, dir: string): Promise<void> {
  const tar = require('tar-stream') as typeof import('tar-stream');
  const { decompressStream } = require('../oci/decompress') as typeof import('../oci/decompress');
  const ex = tar.extract();
  ex.on('entry', (header, stream, next) => {
    const name = path.posix.normalize('/' + header.name).slice(1);
    if (header.type !== 'file' || !name || name.split('/').includes('..')) { stream.resume(); stream.on('end', next); return; }
    const out = path.join(dir, name);
    fs.mkdirSync(path.dirname(out), { recursive: true });
    pipeline(stream, fs.createWriteStream(out, { flags: 'wx' })).then(() => next(), next);
  });
  let input;
  try { input = fs.createReadStream(file); } catch (e) { throw fsError('load: open', file, e); }
  await pipeline(decompressStream(input), ex).catch((e) => {
    throw new LodgerError('BAD_ARCHIVE', `load ${file}: not a readable tar archive (${(e as Error).message}) — give a file written by "docker save", "podman save" or an OCI archive`);
  });
}

function readJsonFile<T>(f: string, what: string): T {
  try { return JSON.parse(fs.readFileSync(f, 'utf8')) as T; } catch (e) { throw new LodgerError('BAD_ARCHIVE', `load: cannot read ${what}: ${(e as Error).message}`); }
}

function sha256File(f: string): string {
  const h = crypto.createHash('sha256');
  const fd = fs.openSync(f, 'r');
  const buf = Buffer.alloc(1 << 20);
  try { let n; while ((n = fs.readSync(fd, buf, 0, buf.length, null)) > 0) h.update(buf.subarray(0, n)); } finally { fs.closeSync(fd); }
  return 'sha256:' + h.digest('hex');
}

function head4(f: string): Buffer {
  const fd = fs.openSync(f, 'r');
  const b = Buffer.alloc(4);
  try { fs.readSync(fd, b, 0, 4, 0); } finally { fs.closeSync(fd); }
  return b;
}

/** Stores config, layers (blob kept, content unpacked, diff_ids checked) and the manifest of one image. */
async function importImage(p: StorePaths, configBytes: Buffer, layerFiles: string[], names: string[], manifest: Buffer | undefined, report: Reporter | undefined): Promise<ImageRecord> {
  const cfg = JSON.parse(configBytes.toString('utf8')) as ImageConfig;
  const diffIds = cfg.rootfs?.diff_ids ?? [];
  if (diffIds.length !== layerFiles.length) throw new LodgerError('BAD_ARCHIVE', `load: the image config lists ${diffIds.length} layers but the archive has ${layerFiles.length}`);
  const configDigest = putBlob(p, configBytes);
  const descs = [];
  let size = 0;
  for (let i = 0; i < layerFiles.length; i++) {
    const f = layerFiles[i];
    const [blob, layer] = await Promise.all([putBlobStream(p, fs.createReadStream(f)), storeLayer(p, fs.createReadStream(f), diffIds[i], undefined, report)]);
    report?.({ kind: 'layer', op: 'load', id: layer.diffId, phase: 'stored', current: layer.size, total: layer.size });
    descs.push({ mediaType: layerMediaTypeFor(head4(f)), digest: blob.digest, size: blob.size });
    size += layer.size;
  }
  const m: ImageManifest = manifest ? JSON.parse(manifest.toString('utf8')) : {
    schemaVersion: 2, mediaType: MEDIA.ociManifest,
    config: { mediaType: MEDIA.ociConfig, digest: configDigest, size: configBytes.length }, layers: descs,
  };
  const manifestDigest = putBlob(p, manifest ?? Buffer.from(JSON.stringify(m)));
  return addImage(p, { id: configDigest, names: names.map(qualifyDockerName), manifestDigest, layers: diffIds, created: cfg.created ?? new Date().toISOString(), size });
}

/** docker save writes "busybox:latest" meaning docker.io/library/busybox; podman writes localhost/… in full. */
function qualifyDockerName(n: string): string {
  const first = n.split('/')[0];
  if (n.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost')) return qualifyLocalName(n);
  return n.includes('/') ? `docker.io/${qualifyLocalName(n).slice('localhost/'.length)}` : `docker.io/library/${qualifyLocalName(n).slice('localhost/'.length)}`;
}

/** Loads every image of the archive FILE; REPORT (default: the store's) gets a 'layer' event per layer stored and the unpack's notes. */
export async function loadArchive(p: StorePaths, file: string, report: Reporter | undefined = p.report): Promise<ImageRecord[]> {
  // A fresh store has no blobs/ or layers/ yet: putBlob writes straight into blobs/.
  ensureStore(p);
  const dir = fs.mkdtempSync(path.join(p.tmp, 'load-'));
  try {
    await extractOuter(file, dir);
    const out: ImageRecord[] = [];
    if (fs.existsSync(path.join(dir, 'manifest.json'))) {
      const entries = readJsonFile<Array<{ Config: string; RepoTags?: string[] | null; Layers: string[] }>>(path.join(dir, 'manifest.json'), 'manifest.json');
      for (const e of entries) {
        const cfgPath = path.join(dir, path.posix.normalize('/' + e.Config).slice(1));
        const cfg = fs.readFileSync(cfgPath);
        out.push(await importImage(p, cfg, e.Layers.map((l) => path.join(dir, path.posix.normalize('/' + l).slice(1))), e.RepoTags ?? [], undefined, report));
      }
      return out;
    }
    if (fs.existsSync(path.join(dir, 'index.json'))) {
      const blob = (d: string) => path.join(dir, 'blobs', 'sha256', digestHex(d));
      const visit = async (desc: { mediaType: string; digest: string; annotations?: Record<string, string> }, name?: string): Promise<void> => {
        const bytes = fs.readFileSync(blob(desc.digest));
        if (sha256Buf(bytes) !== desc.digest) throw new LodgerError('BAD_ARCHIVE', `load: blob ${desc.digest} does not match its digest`);
        const doc = JSON.parse(bytes.toString('utf8'));
        if (Array.isArray(doc.manifests)) {
          // A nested index: take the entry for this machine.
          const pick = doc.manifests.find((m: { platform?: { architecture: string } }) => !m.platform || m.platform.architecture === hostArchitecture()) ?? doc.manifests[0];
          return visit(pick, name);
        }
        const m = doc as ImageManifest;
        const cfg = fs.readFileSync(blob(m.config.digest));
        const layers = m.layers.map((l) => blob(l.digest));
        for (const l of m.layers) if (sha256File(blob(l.digest)) !== l.digest) throw new LodgerError('BAD_ARCHIVE', `load: layer blob ${l.digest} does not match its digest`);
        out.push(await importImage(p, cfg, layers, name ? [name] : [], bytes, report));
      };
      const index = readJsonFile<{ manifests: Array<{ mediaType: string; digest: string; annotations?: Record<string, string> }> }>(path.join(dir, 'index.json'), 'index.json');
      for (const d of index.manifests) {
        const ref = d.annotations?.['io.containerd.image.name'] ?? d.annotations?.['org.opencontainers.image.ref.name'];
        // A bare tag ("latest") names no repository: such an image loads untagged.
        await visit(d, ref && (ref.includes('/') || ref.includes(':')) ? ref : undefined);
      }
      return out;
    }
    throw new LodgerError('BAD_ARCHIVE', `load ${file}: neither manifest.json (docker-archive) nor index.json (OCI archive) found in it`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Loads the archive read from INPUT (a pipe, an HTTP request body): it is spooled into the store's tmp/
 * first, since an archive's manifest may come after its layers; the copy is removed afterwards.
 */
export async function loadArchiveStream(p: StorePaths, input: NodeJS.ReadableStream, report: Reporter | undefined = p.report): Promise<ImageRecord[]> {
  fs.mkdirSync(p.tmp, { recursive: true });
  const file = path.join(p.tmp, `stdin-${process.pid}-${crypto.randomBytes(6).toString('hex')}.tar`);
  try {
    await pipeline(input, fs.createWriteStream(file));
    return await loadArchive(p, file, report);
  } finally {
    fs.rmSync(file, { force: true });
  }
}

function sha256Buf(b: Buffer): string {
  return 'sha256:' + crypto.createHash('sha256').update(b).digest('hex');
}
