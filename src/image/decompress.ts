// Layer blob decompression (gzip, zstd or none, told by magic bytes) with backpressure, and the sha256 of a stream (diff_id).
import { createHash } from 'node:crypto';
import { pipeline, Readable, Transform, type TransformCallback } from 'node:stream';
import * as zlib from 'node:zlib';
import { LodgerError } from '../errors';
import { native } from '../native';

export type LayerCompression = 'gzip' | 'zstd' | 'none';

/** Bytes needed to tell the formats apart (zstd's magic is the longest). */
const MAGIC_LENGTH = 4;

/**
 * Output piece of the decompressors and the stream's high-water mark. Node's zlib default (16 KiB)
 * costs a thread-pool round trip per 16 KiB and splits files into many writes; at 256 KiB inflating
 * a layer takes about half the time, and most files of a layer arrive in one piece.
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

/** One decoder behind the common stream: write() calls DONE when it may be given more input. */
interface Decoder {
  write(chunk: Buffer, done: (err?: Error | null) => void): void;
  end(done: (err?: Error | null) => void): void;
  destroy(): void;
}

/** One step of libzstd's streaming decoder (addon/native/zstd.cc) on libuv's thread pool. */
interface NativeZstdDecoder {
  step(input: Buffer, inOffset: number, inLength: number, output: Buffer, outOffset: number, outLength: number,
    cb: (err: Error | null, consumed: number, produced: number, hint: number) => void): void;
  close(): void;
}

function newZstdDecoder(): NativeZstdDecoder {
  const { ZstdDecoder } = native() as unknown as { ZstdDecoder: new () => NativeZstdDecoder };
  return new ZstdDecoder();
}

class LayerDecompressor extends Transform {
  private head: Buffer = Buffer.alloc(0);
  private decoder: Decoder | null = null;
  private format: LayerCompression = 'none';
  /** Continues feeding the decoder once the reader wants more (set while the readable side is full). */
  private resumeFeed: (() => void) | null = null;

  constructor(private readonly label: string, private readonly claimed: LayerCompression | undefined) {
    super({ readableHighWaterMark: OUTPUT_CHUNK, writableHighWaterMark: INPUT_BATCH });
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
    this.decoder = this.format === 'gzip' ? this.gzipDecoder() : this.format === 'zstd' ? this.zstdDecoder() : this.plainDecoder();
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
    this.decoder!.write(chunk, (err) => cb(err ? this.fail(err) : null));
  }

  /**
   * The input that arrived while the decoder was busy, as one piece: zlib inflates each write as a job
   * of its own on libuv's thread pool, and waking a pool thread per 64 KiB pipe read costs more than
   * the copy (and keeps the thread waiting on this one between jobs).
   */
  override _writev(chunks: Array<{ chunk: Buffer }>, cb: (error?: Error | null) => void): void {
    if (this.decoder !== null && this.format === 'none') {
      // Nothing to decode: pass the pieces on as they are, without copying them together.
      let room = true;
      for (const c of chunks) room = this.push(c.chunk);
      if (room) cb();
      else this.resumeFeed = () => cb();
      return;
    }
    this.feed(chunks.length === 1 ? chunks[0].chunk : Buffer.concat(chunks.map((c) => c.chunk)), cb);
  }

  override _flush(cb: TransformCallback): void {
    const end = () => this.decoder!.end((err) => cb(err ? this.fail(err) : null));
    if (this.decoder !== null) return end();
    // Fewer bytes than a magic number in all: decide on what there is.
    this.start();
    const head = this.head;
    this.head = Buffer.alloc(0);
    if (head.length === 0) return end();
    this.decoder!.write(head, (err) => (err ? cb(this.fail(err)) : end()));
  }

  override _read(size: number): void {
    const resume = this.resumeFeed;
    this.resumeFeed = null;
    if (resume) resume();
    super._read(size);
  }

  override _destroy(err: Error | null, cb: (error: Error | null) => void): void {
    this.decoder?.destroy();
    cb(err);
  }

  private plainDecoder(): Decoder {
    return {
      // Held until the reader wants more (_read), so a slow reader holds back the input.
      write: (chunk, done) => {
        if (this.push(chunk)) done();
        else this.resumeFeed = () => done();
      },
      end: (done) => done(),
      destroy: () => undefined,
    };
  }

  private gzipDecoder(): Decoder {
    const gz = zlib.createGunzip({ chunkSize: OUTPUT_CHUNK });
    gz.on('data', (d: Buffer) => {
      if (!this.push(d)) {
        // Stop inflating until the reader catches up: gz then holds the callback of the chunk it
        // is on, and so our write's, and so the blob's download.
        gz.pause();
        this.resumeFeed = () => gz.resume();
      }
    });
    gz.on('error', (e) => this.destroy(this.fail(e)));
    return {
      // Done when zlib has taken the whole chunk in: meanwhile the next input gathers (see _writev).
      write: (chunk, done) => { gz.write(chunk, (err) => done(err ?? null)); },
      end: (done) => {
        gz.once('end', () => done());
        gz.end();
      },
      destroy: () => gz.destroy(),
    };
  }

  /**
   * libzstd (RFC 8878) through the addon, stepped like zlib: each step fills at most the rest of a
   * 256 KiB output buffer, and the next is taken only once the reader has room — a bomb is inflated
   * no faster than it is read. Steps run on the thread pool, so the reader's work overlaps them.
   */
  private zstdDecoder(): Decoder {
    const dec = newZstdDecoder();
    let out = Buffer.allocUnsafe(OUTPUT_CHUNK);
    let outOff = 0;
    /**
     * Between frames, where the input may end: libzstd returns 0 from the step that ends a frame. A
     * later step that moves nothing (flushing a full buffer) answers with the next frame's header size.
     */
    let boundary = true;
    let busy = false;
    let dead = false;
    const run = (chunk: Buffer, off: number, done: (err?: Error | null) => void): void => {
      busy = true;
      dec.step(chunk, off, chunk.length - off, out, outOff, out.length - outOff, (err, consumed, produced, h) => {
        busy = false;
        if (dead) return dec.close();
        if (err) return done(new Error(`zstd: ${err.message}`));
        if (h === 0) boundary = true;
        else if (consumed > 0 || produced > 0) boundary = false;
        off += consumed;
        // A full output buffer may leave decoded bytes inside libzstd: step again, even with no input.
        const full = outOff + produced === out.length;
        let room = true;
        if (produced > 0) {
          room = this.push(out.subarray(outOff, outOff + produced));
          outOff += produced;
        }
        // What was pushed is a view of OUT: later steps write after it, or into a fresh buffer.
        if (outOff === out.length) { out = Buffer.allocUnsafe(OUTPUT_CHUNK); outOff = 0; }
        if (off < chunk.length || full) {
          if (room) run(chunk, off, done);
          else this.resumeFeed = () => run(chunk, off, done);
          return;
        }
        done();
      });
    };
    return {
      write: (chunk, done) => run(chunk, 0, done),
      end: (done) => {
        if (!busy) { dead = true; dec.close(); }
        done(boundary ? null : new Error('zstd: unexpected end of data inside a frame'));
      },
      destroy: () => {
        if (dead) return;
        dead = true;
        if (!busy) dec.close();
      },
    };
  }
}

/**
 * The uncompressed bytes of a layer blob. The format comes from the blob's first bytes; MEDIATYPEHINT
 * (the manifest's mediaType) is advisory — registries mislabel, and Docker itself sniffs — and only
 * appears in error messages. LABEL names the layer in errors (e.g. its digest). Errors of INPUT are
 * passed on as they are; decoding errors become LodgerError `LAYER_CORRUPT`. Destroying the result
 * destroys INPUT, so an abandoned unpack stops the download.
 */
export function decompressStream(input: Readable, mediaTypeHint?: string, label = 'blob'): Readable {
  const out = new LayerDecompressor(label, claimedCompression(mediaTypeHint));
  pipeline(input, out, () => {
    // pipeline has already destroyed the streams with the error; the reader sees it on OUT.
  });
  return out;
}

export interface StreamDigest {
  /** `sha256:<hex>` of every byte that passed. */
  digest: string;
  size: number;
}

/**
 * A pass-through that hashes what flows through it: put it after decompressStream to get the diff_id
 * (the sha256 of the uncompressed tar, OCI image-spec config.md "layer DiffID"). DIGEST resolves when
 * the stream has passed its last byte and rejects if it is destroyed before.
 */
export function digestStream(): { stream: Transform; digest: Promise<StreamDigest> } {
  const hash = createHash('sha256');
  let size = 0;
  let settled = false;
  let resolve!: (d: StreamDigest) => void;
  let reject!: (e: Error) => void;
  const digest = new Promise<StreamDigest>((res, rej) => { resolve = res; reject = rej; });
  // Whoever awaits DIGEST sees a rejection; one nobody awaits must not crash the process.
  digest.catch(() => undefined);
  const stream = new Transform({
    readableHighWaterMark: OUTPUT_CHUNK,
    writableHighWaterMark: OUTPUT_CHUNK,
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      size += chunk.length;
      cb(null, chunk);
    },
    flush(cb) {
      settled = true;
      resolve({ digest: 'sha256:' + hash.digest('hex'), size });
      cb();
    },
  });
  stream.once('close', () => {
    if (settled) return;
    settled = true;
    reject(stream.errored ?? new LodgerError('DIGEST_INCOMPLETE', `compute the digest of a layer: the stream was closed after ${size} bytes, before its end — retry the pull`));
  });
  return { stream, digest };
}
