// Builds OCI image layouts for tests: layer blobs (gzip, zstd or plain tar) with correct digests, diff_ids and sizes, config, manifest and index.
import { spawn } from 'node:child_process';
import { createHash, type Hash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Duplex, PassThrough, Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as zlib from 'node:zlib';
import { packDirectory, packEntries, type OwnerOf, type TarFileSpec } from './tar';

export type Compression = 'gzip' | 'zstd' | 'none';

export type LayerSpec =
  /** A layer made of the listed entries. */
  | { files: TarFileSpec[]; compression?: Compression }
  /** An existing tar (plain, gzip or zstd, detected from its first bytes), recompressed as asked. */
  | { tarFile: string; compression?: Compression }
  /** A directory's contents, with owners from `owner` (default all root). */
  | { directory: string; owner?: OwnerOf; compression?: Compression };

/** The runtime part of an image config (OCI image-spec "config"), in its JSON spelling. */
export interface ImageConfigSpec {
  Entrypoint?: string[];
  Cmd?: string[];
  Env?: string[];
  WorkingDir?: string;
  User?: string;
  /** ["80/tcp"] or {"80/tcp": {}} */
  ExposedPorts?: string[] | Record<string, Record<string, never>>;
  Labels?: Record<string, string>;
  StopSignal?: string;
  Volumes?: string[] | Record<string, Record<string, never>>;
}

export interface OciLayoutOptions {
  layers: LayerSpec[];
  config?: ImageConfigSpec;
  /** Default for layers that do not say; default gzip. */
  compression?: Compression;
  /** The org.opencontainers.image.ref.name in index.json, as in skopeo's oci:DIR:TAG; default "latest". */
  tag?: string;
  architecture?: string;
  os?: string;
  created?: string;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
}

export interface BuiltLayer extends Descriptor {
  /** sha256 of the uncompressed tar: what the config's rootfs.diff_ids lists. */
  diffId: string;
}

export interface BuiltImage {
  dir: string;
  tag: string;
  manifestDigest: string;
  manifestSize: number;
  configDigest: string;
  layers: BuiltLayer[];
  manifest: Record<string, unknown>;
  config: Record<string, unknown>;
}

export const MEDIA_TYPES = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: {
    gzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
    zstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
    none: 'application/vnd.oci.image.layer.v1.tar',
  } satisfies Record<Compression, string>,
} as const;

const GOARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', ia32: '386', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };

export function sha256Hex(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** A pass-through stream that hashes and counts what flows through it. */
class HashTap extends Transform {
  private readonly hash: Hash = createHash('sha256');
  size = 0;
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.hash.update(chunk);
    this.size += chunk.length;
    this.push(chunk);
    cb();
  }
  digest(): string {
    return `sha256:${this.hash.digest('hex')}`;
  }
}

/** A stage that pipes through a command (zstd), plus a promise for the command's success. */
function commandStage(cmd: string, args: string[]): { stream: Duplex; done: Promise<void> } {
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const err: Buffer[] = [];
  child.stderr.on('data', (c: Buffer) => err.push(c));
  const done = new Promise<void>((resolve, reject) => {
    child.once('error', (e) => reject(new Error(`${cmd} could not start (install it: scripts/packages.txt): ${e.message}`)));
    child.once('close', (code, signal) =>
      code === 0 ? resolve() : reject(new Error(`\`${cmd} ${args.join(' ')}\` failed (${code ?? signal}): ${Buffer.concat(err).toString().trim()}`)),
    );
  });
  // Whoever awaits the pipeline sees a failure first; this keeps the second report from being "unhandled".
  done.catch(() => undefined);
  return { stream: Duplex.from({ writable: child.stdin, readable: child.stdout }), done };
}

type Stage = { stream: Duplex; done?: Promise<void> };

function compressStage(c: Compression): Stage | null {
  if (c === 'gzip') return { stream: zlib.createGzip() };
  // -T1 and level 3 (zstd's default): deterministic output for the same input.
  if (c === 'zstd') return commandStage('zstd', ['-q', '-c', '-3', '-T1']);
  return null;
}

function decompressStage(c: Compression): Stage | null {
  if (c === 'gzip') return { stream: zlib.createGunzip() };
  if (c === 'zstd') return commandStage('zstd', ['-q', '-d', '-c']);
  return null;
}

/** The compression of a tar file, from its magic bytes. */
export function detectCompression(file: string): Compression {
  const fd = fs.openSync(file, 'r');
  try {
    const b = Buffer.alloc(4);
    const n = fs.readSync(fd, b, 0, 4, 0);
    if (n >= 2 && b[0] === 0x1f && b[1] === 0x8b) return 'gzip';
    if (n === 4 && b.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
    return 'none';
  } finally {
    fs.closeSync(fd);
  }
}

/** Runs source → stages → sink and waits for every command stage to exit cleanly as well. */
async function run(source: Readable, stages: Array<Stage | null>, sink: Writable): Promise<void> {
  const present = stages.filter((s): s is Stage => s !== null);
  await pipeline([source, ...present.map((s) => s.stream), sink]);
  await Promise.all(present.map((s) => s.done));
}

function discard(): Writable {
  return new Writable({ write: (_c, _e, cb) => cb() });
}

/** Streams `source` (through `stages`) into blobs/sha256/<hex>, named by the digest of what was written. */
async function writeBlobStream(blobsDir: string, source: Readable, stages: Array<Stage | null>): Promise<{ digest: string; size: number }> {
  const tmp = path.join(blobsDir, `.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`);
  const tap = new HashTap();
  try {
    await run(source, [...stages, { stream: tap }], fs.createWriteStream(tmp));
    const digest = tap.digest();
    fs.renameSync(tmp, path.join(blobsDir, digest.slice('sha256:'.length)));
    return { digest, size: tap.size };
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

function writeJsonBlob(blobsDir: string, value: unknown): { digest: string; size: number; bytes: Buffer } {
  const bytes = Buffer.from(JSON.stringify(value));
  const hex = sha256Hex(bytes);
  fs.writeFileSync(path.join(blobsDir, hex), bytes);
  return { digest: `sha256:${hex}`, size: bytes.length, bytes };
}

/** Node's stream.pipeline wants Node streams; tar-stream's are streamx, so they are re-wrapped. */
function nodeReadable(src: AsyncIterable<unknown>): Readable {
  return Readable.from(src, { objectMode: false });
}

async function writeLayer(spec: LayerSpec, compression: Compression, blobsDir: string): Promise<BuiltLayer> {
  const mediaType = MEDIA_TYPES.layer[compression];
  if ('tarFile' in spec) {
    const inputCompression = detectCompression(spec.tarFile);
    if (inputCompression === compression) {
      // Already in the wanted form: the file is the blob; only the diff_id needs a decompressing pass.
      const diffTap = new HashTap();
      const [blob] = await Promise.all([
        writeBlobStream(blobsDir, fs.createReadStream(spec.tarFile), []),
        run(fs.createReadStream(spec.tarFile), [decompressStage(inputCompression), { stream: diffTap }], discard()),
      ]);
      return { mediaType, ...blob, diffId: diffTap.digest() };
    }
    const diffTap = new HashTap();
    const blob = await writeBlobStream(blobsDir, fs.createReadStream(spec.tarFile), [
      decompressStage(inputCompression),
      { stream: diffTap },
      compressStage(compression),
    ]);
    return { mediaType, ...blob, diffId: diffTap.digest() };
  }
  const source = 'files' in spec ? nodeReadable(packEntries(spec.files)) : nodeReadable(packDirectory(spec.directory, spec.owner));
  const diffTap = new HashTap();
  const blob = await writeBlobStream(blobsDir, source, [{ stream: diffTap }, compressStage(compression)]);
  return { mediaType, ...blob, diffId: diffTap.digest() };
}

function asSet(v: string[] | Record<string, Record<string, never>> | undefined): Record<string, Record<string, never>> | undefined {
  if (v === undefined || !Array.isArray(v)) return v;
  return Object.fromEntries(v.map((k) => [k, {}]));
}

function runtimeConfig(c: ImageConfigSpec): Record<string, unknown> {
  const out: Record<string, unknown> = { ...c, ExposedPorts: asSet(c.ExposedPorts), Volumes: asSet(c.Volumes) };
  for (const k of Object.keys(out)) if (out[k] === undefined) delete out[k];
  return out;
}

/**
 * Writes an image into the OCI image layout at `dir` (created if needed; an existing layout keeps its
 * other images, and an image with the same tag is replaced in index.json). Output is deterministic: the
 * same options give the same digests.
 */
export async function buildOciLayout(dir: string, opts: OciLayoutOptions): Promise<BuiltImage> {
  const tag = opts.tag ?? 'latest';
  const defaultCompression = opts.compression ?? 'gzip';
  const blobsDir = path.join(dir, 'blobs', 'sha256');
  fs.mkdirSync(blobsDir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));

  const layers: BuiltLayer[] = [];
  for (const spec of opts.layers) layers.push(await writeLayer(spec, spec.compression ?? defaultCompression, blobsDir));

  const created = opts.created ?? '2024-01-01T00:00:00Z';
  const architecture = opts.architecture ?? GOARCH[process.arch] ?? process.arch;
  const os = opts.os ?? 'linux';
  const config: Record<string, unknown> = {
    created,
    architecture,
    os,
    config: runtimeConfig(opts.config ?? {}),
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: layers.map((_, i) => ({ created, created_by: `lodger test fixture: layer ${i + 1}` })),
  };
  const configBlob = writeJsonBlob(blobsDir, config);
  const manifest: Record<string, unknown> = {
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.manifest,
    config: { mediaType: MEDIA_TYPES.config, digest: configBlob.digest, size: configBlob.size },
    layers: layers.map(({ mediaType, digest, size }) => ({ mediaType, digest, size })),
  };
  const manifestBlob = writeJsonBlob(blobsDir, manifest);

  const indexPath = path.join(dir, 'index.json');
  const index = fs.existsSync(indexPath)
    ? (JSON.parse(fs.readFileSync(indexPath, 'utf8')) as { manifests?: Array<{ annotations?: Record<string, string> }> })
    : {};
  const others = (index.manifests ?? []).filter((m) => m.annotations?.['org.opencontainers.image.ref.name'] !== tag);
  const newIndex = {
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.index,
    manifests: [
      ...others,
      {
        mediaType: MEDIA_TYPES.manifest,
        digest: manifestBlob.digest,
        size: manifestBlob.size,
        platform: { architecture, os },
        annotations: { 'org.opencontainers.image.ref.name': tag },
      },
    ],
  };
  fs.writeFileSync(indexPath, JSON.stringify(newIndex));

  return {
    dir,
    tag,
    manifestDigest: manifestBlob.digest,
    manifestSize: manifestBlob.size,
    configDigest: configBlob.digest,
    layers,
    manifest,
    config,
  };
}

/** A blob of a layout, by digest. */
export function blobPath(dir: string, digest: string): string {
  const [alg, hex] = digest.split(':');
  if (alg !== 'sha256' || !hex || !/^[0-9a-f]{64}$/.test(hex)) throw new Error(`not a sha256 digest: ${digest}`);
  return path.join(dir, 'blobs', 'sha256', hex);
}

/** A layer blob's uncompressed tar, read back (for tests that check what a layer holds). */
export async function readLayerTar(file: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const sink = new PassThrough();
  sink.on('data', (c: Buffer) => chunks.push(c));
  await run(fs.createReadStream(file), [decompressStage(detectCompression(file))], sink);
  return Buffer.concat(chunks);
}
