// Layer blob decompression (gzip, zstd or none, told by magic bytes) with backpressure, and the sha256 of what it yields (diff_id).
import { pipeline, type Readable, Transform, type TransformCallback } from 'node:stream';
import { LodgerError } from '../errors';
import { native, type NativeLayerDecoder } from '../helper/native';

export type LayerCompression = 'gzip' | 'zstd' | 'none';

/** Bytes needed to tell the formats apart (zstd's magic is the longest). */
const MAGIC_LENGTH = 4;

/**
 * Output piece of one decoder step. Each step is a thread-pool round trip: at 16 KiB (Node's zlib
 * default) they cost about as much as the inflating, and files would arrive in many pieces; at
 * 256 KiB most files of a layer arrive in one.
 */
const OUTPUT_CHUNK = 256 * 1024;
/** Compressed input held while the decoder is busy, handed to it as one piece (see _writev). */
const INPUT_BATCH = 1024 * 1024;

/**
 * What HEAD (the first bytes of a blob) is: gzip members start 1f 8b (RFC 1952 §2.3.1), zstd frames
 * 28 b5 2f fd and skippable frames 5? 2a 4d 18 (RFC 8878 §3.1.1, §3.1.2). Anything else is taken as an
 * uncompressed tar. A HEAD shorter than the magic counts if it is a prefix of one (a truncated blob).
 */
export function detectCompression(head: Uint8Array): LayerCompression {
  const starts = (magic: number[]) => magic.slice(0, Math.min(head.length, magic.length)).every((b, i) => head[i] === b);
  if (head.length === 0) return 'none';
  if (starts([0x1f, 0x8b])) return 'gzip';
  if (starts([0x28, 0xb5, 0x2f, 0xfd])) return 'zstd';
  if ((head[0] & 0xf0) === 0x50 && starts([head[0], 0x2a, 0x4d, 0x18])) return 'zstd';
  return 'none';
}

/** The compression a manifest's media type claims (e.g. `…tar+gzip`, `…tar.gzip`), or undefined. */
function claimedCompression(mediaType: string | undefined): LayerCompression | undefined {
  if (!mediaType) return undefined;
  if (/[+.](gzip|gz)$/.test(mediaType)) return 'gzip';
  if (/[+.]zstd$/.test(mediaType)) return 'zstd';
  if (/tar$/.test(mediaType)) return 'none';
  return undefined;
}

export interface StreamDigest {
  /** `sha256:<hex>` of every byte that passed. */
  digest: string;
  size: number;
}

/** A layer's uncompressed bytes, and their digest once they have all been read. */
export type DecodedLayer = Readable & { readonly digest: Promise<StreamDigest> };

/**
 * The decoded bytes a reader may have buffered ahead of it: the decoder keeps stepping (on another
 * core) until this much waits, so a reader busy writing files still finds the next piece ready.
 */
const READ_AHEAD = 4 * OUTPUT_CHUNK;

class LayerDecompressor extends Transform {
  private head: Buffer = Buffer.alloc(0);
  private decoder: NativeLayerDecoder | null = null;
  private format: LayerCompression = 'none';
  /** Continues feeding the decoder once the reader wants more (set while the readable side is full). */
  private resumeFeed: (() => void) | null = null;
  private out = Buffer.allocUnsafe(OUTPUT_CHUNK);
  private outOff = 0;
  /**
   * At a point where the input may end: after a whole gzip member or zstd frame (the decoder's step
   * answers 0 there). A later step that moves nothing (flushing a full buffer) answers nonzero.
   */
  private boundary = true;
  private busy = false;
  private released = false;
  private settleDigest!: (d: StreamDigest | Error) => void;
  /** sha256 and length of the decoded stream (the layer's diff_id): settles when the stream ends or fails. */
  readonly digest: Promise<StreamDigest>;

  constructor(private readonly label: string, private readonly claimed: LayerCompression | undefined) {
    super({ readableHighWaterMark: READ_AHEAD, writableHighWaterMark: INPUT_BATCH });
    this.digest = new Promise<StreamDigest>((resolve, reject) => {
      this.settleDigest = (d) => (d instanceof Error ? reject(d) : resolve(d));
    });
    // Whoever awaits DIGEST sees a rejection; one nobody awaits must not crash the process.
    this.digest.catch(() => undefined);
  }

  /** A decompression failure as the user should see it: which layer, what format, what to do. */
  fail(err: unknown): LodgerError {
    if (err instanceof LodgerError) return err;
    const detail = err instanceof Error ? err.message : String(err);
    const claim = this.claimed && this.claimed !== this.format ? `; its media type says ${this.claimed}` : '';
    return new LodgerError(
      'LAYER_CORRUPT',
      `decompress layer ${this.label} (${this.format}${claim}): ${detail} — the blob is corrupt or truncated; remove the image and pull it again`,
    );
  }

  private start(): void {
    this.format = detectCompression(this.head);
    this.decoder = new (native().LayerDecoder)(this.format);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.feed(chunk, cb);
  }

  private feed(chunk: Buffer, cb: TransformCallback): void {
    if (this.decoder === null) {
      this.head = this.head.length ? Buffer.concat([this.head, chunk]) : chunk;
      if (this.head.length < MAGIC_LENGTH) return cb();
      this.start();
      chunk = this.head;
      this.head = Buffer.alloc(0);
    }
    this.run(chunk, 0, (err) => cb(err ? this.fail(err) : null));
  }

  /**
   * Steps the decoder over CHUNK from OFF, pushing what it produces; DONE when all of CHUNK is taken
   * in. The next step is taken only while the reader has room, so the input waits (and with it the
   * download) whenever the reader is behind.
   */
  private run(chunk: Buffer, off: number, done: (err?: Error | null) => void): void {
    const dec = this.decoder!;
    this.busy = true;
    dec.step(chunk, off, chunk.length - off, this.out, this.outOff, this.out.length - this.outOff, (err, consumed, produced, hint) => {
      this.busy = false;
      if (this.released) return this.release();
      if (err) return done(new Error(`${this.format}: ${err.message}`));
      if (hint === 0) this.boundary = true;
      else if (consumed > 0 || produced > 0) this.boundary = false;
      off += consumed;
      // A full output buffer may leave decoded bytes inside the decoder: step again, even with no input.
      const full = this.outOff + produced === this.out.length;
      let room = true;
      if (produced > 0) {
        room = this.push(this.out.subarray(this.outOff, this.outOff + produced));
        this.outOff += produced;
      }
      // What was pushed is a view of OUT: later steps write after it, or into a fresh buffer.
      if (this.outOff === this.out.length) {
        this.out = Buffer.allocUnsafe(OUTPUT_CHUNK);
        this.outOff = 0;
      }
      if (off < chunk.length || full) {
        if (room) this.run(chunk, off, done);
        else this.resumeFeed = () => this.run(chunk, off, done);
        return;
      }
      done();
    });
  }

  /**
   * The input that arrived while the decoder was busy, as one piece: each step is a job on libuv's
   * thread pool, and waking a pool thread per 64 KiB pipe read costs more than the copy.
   */
  override _writev(chunks: Array<{ chunk: Buffer }>, cb: (error?: Error | null) => void): void {
    this.feed(chunks.length === 1 ? chunks[0].chunk : Buffer.concat(chunks.map((c) => c.chunk)), cb);
  }

  override _flush(cb: TransformCallback): void {
    const end = () => {
      if (!this.boundary) return cb(this.fail(new Error(`unexpected end of data inside a ${this.format === 'zstd' ? 'frame' : 'member'}`)));
      this.settleDigest(this.decoder!.digest());
      this.release();
      cb();
    };
    if (this.decoder !== null) return end();
    // Fewer bytes than a magic number in all: decide on what there is.
    this.start();
    const head = this.head;
    this.head = Buffer.alloc(0);
    if (head.length === 0) return end();
    this.run(head, 0, (err) => (err ? cb(this.fail(err)) : end()));
  }

  override _read(size: number): void {
    const resume = this.resumeFeed;
    this.resumeFeed = null;
    if (resume) resume();
    super._read(size);
  }

  override _destroy(err: Error | null, cb: (error: Error | null) => void): void {
    this.released = true;
    if (!this.busy) this.release();
    this.settleDigest(err ?? new LodgerError('DIGEST_INCOMPLETE', `decompress layer ${this.label}: the stream was closed before its end — retry the pull`));
    cb(err);
  }

  /** Frees the decoder (not while a step runs: its callback comes back here). */
  private release(): void {
    const dec = this.decoder;
    if (dec === null || this.busy) return;
    this.released = true;
    this.decoder = null;
    dec.close();
  }
}

/**
 * The uncompressed bytes of a layer blob. The format comes from the blob's first bytes; MEDIATYPEHINT
 * (the manifest's mediaType) is advisory — registries mislabel, and Docker itself sniffs — and only
 * appears in error messages. LABEL names the layer in errors (e.g. its digest). Errors of INPUT are
 * passed on as they are; decoding errors become LodgerError `LAYER_CORRUPT`. Destroying the result
 * destroys INPUT, so an abandoned unpack stops the download. Its `digest` is the layer's diff_id (the
 * sha256 of the uncompressed tar, OCI image-spec config.md "layer DiffID"), hashed as it is decoded.
 */
export function decompressStream(input: Readable, mediaTypeHint?: string, label = 'blob'): DecodedLayer {
  const out = new LayerDecompressor(label, claimedCompression(mediaTypeHint));
  pipeline(input, out, () => {
    // pipeline has already destroyed the streams with the error; the reader sees it on OUT.
  });
  return out;
}

