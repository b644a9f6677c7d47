// Layer blob decompression (gzip, zstd or none, told by magic bytes) with backpressure, and the sha256 of a stream (diff_id).
import { createHash } from 'node:crypto';
import { pipeline, Readable, Transform, type TransformCallback } from 'node:stream';
import * as zlib from 'node:zlib';
import { Decompress as ZstdDecompress } from 'fzstd';
import { LodgerError } from '../errors';

export type LayerCompression = 'gzip' | 'zstd' | 'none';

/** Bytes needed to tell the formats apart (zstd's magic is the longest). */
const MAGIC_LENGTH = 4;

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

/**
 * Tracks zstd framing (RFC 8878 §3.1) just enough to cut the input at block boundaries, so fzstd is
 * never handed more than one block per push: a block regenerates at most Block_Maximum_Size = 128 KiB
 * (§3.1.1.2.3), so the output between two backpressure checks is bounded — one 4-byte RLE block
 * regenerates up to 128 KiB, so a 64 KiB input chunk of them would otherwise expand to gigabytes.
 */
class ZstdFramer {
  private state: 'magic' | 'fhd' | 'headerRest' | 'blockHeader' | 'content' | 'checksum' | 'skipSize' | 'skip' = 'magic';
  /** Bytes of a fixed-size header collected so far. */
  private hdr: number[] = [];
  /** Bytes left in a state that only passes bytes through. */
  private left = 0;
  private checksum = false;
  private last = false;

  /** How many bytes from CHUNK[OFF] to hand over next, and whether they complete a block. */
  take(chunk: Buffer, off: number): { n: number; blockEnd: boolean } {
    const avail = chunk.length - off;
    if (this.state === 'headerRest' || this.state === 'content' || this.state === 'checksum' || this.state === 'skip') {
      const n = Math.min(this.left, avail);
      this.left -= n;
      return { n, blockEnd: this.left === 0 ? this.advance() : false };
    }
    const want = this.state === 'fhd' ? 1 : this.state === 'blockHeader' ? 3 : 4;
    const n = Math.min(want - this.hdr.length, avail);
    for (let i = 0; i < n; i++) this.hdr.push(chunk[off + i]);
    return { n, blockEnd: this.hdr.length === want ? this.parseHeader() : false };
  }

  /** True when the input may end here: between frames. */
  atFrameBoundary(): boolean {
    return this.state === 'magic' && this.hdr.length === 0;
  }

  /** Enters a pass-through state of LEFT bytes; returns whether that completed a block. */
  private enter(state: 'headerRest' | 'content' | 'checksum' | 'skip', left: number): boolean {
    this.state = state;
    this.left = left;
    return left === 0 ? this.advance() : false;
  }

  /** A pass-through state is done; returns whether a block ended. */
  private advance(): boolean {
    switch (this.state) {
      case 'headerRest':
        this.state = 'blockHeader';
        return false;
      case 'content':
        if (!this.last) this.state = 'blockHeader';
        else if (this.checksum) this.enter('checksum', 4);
        else this.state = 'magic';
        return true;
      default:
        this.state = 'magic';
        return false;
    }
  }

  private parseHeader(): boolean {
    const h = this.hdr;
    this.hdr = [];
    const le32 = (h[0] | (h[1] << 8) | (h[2] << 16) | (h[3] << 24)) >>> 0;
    switch (this.state) {
      case 'magic':
        if (le32 === 0xfd2fb528) this.state = 'fhd';
        else if ((le32 & 0xfffffff0) === 0x184d2a50) this.state = 'skipSize';
        else throw new Error('not a zstd frame (bad magic number)');
        return false;
      case 'fhd': {
        // Frame_Header_Descriptor (§3.1.1.1.1) gives the sizes of the header fields after it.
        const fhd = h[0];
        const singleSegment = (fhd >> 5) & 1;
        if ((fhd >> 3) & 1) throw new Error('reserved bit set in a zstd frame header');
        this.checksum = ((fhd >> 2) & 1) === 1;
        const dictIdSize = [0, 1, 2, 4][fhd & 3];
        const fcsSize = [singleSegment ? 1 : 0, 2, 4, 8][fhd >> 6];
        return this.enter('headerRest', (singleSegment ? 0 : 1) + dictIdSize + fcsSize);
      }
      case 'blockHeader': {
        // Block_Header (§3.1.1.2): Last_Block (1 bit), Block_Type (2 bits), Block_Size (21 bits), little-endian.
        const v = h[0] | (h[1] << 8) | (h[2] << 16);
        const type = (v >> 1) & 3;
        const size = v >>> 3;
        if (type === 3) throw new Error('reserved zstd block type');
        if (size > 128 * 1024) throw new Error(`zstd block of ${size} bytes exceeds the 128 KiB maximum`);
        this.last = (v & 1) === 1;
        // An RLE block (type 1) stores one byte, to be repeated Block_Size times.
        return this.enter('content', type === 1 ? 1 : size);
      }
      default: // skipSize: a skippable frame's length (§3.1.2)
        return this.enter('skip', le32);
    }
  }
}

class LayerDecompressor extends Transform {
  private head: Buffer = Buffer.alloc(0);
  private decoder: Decoder | null = null;
  private format: LayerCompression = 'none';
  /** Continues feeding the decoder once the reader wants more (set while the readable side is full). */
  private resumeFeed: (() => void) | null = null;

  constructor(private readonly label: string, private readonly claimed: LayerCompression | undefined) {
    super();
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
    if (this.decoder === null) {
      this.head = this.head.length ? Buffer.concat([this.head, chunk]) : chunk;
      if (this.head.length < MAGIC_LENGTH) return cb();
      this.start();
      chunk = this.head;
      this.head = Buffer.alloc(0);
    }
    this.decoder!.write(chunk, (err) => cb(err ? this.fail(err) : null));
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
      // push() returning false is honoured by Transform itself: it holds our callback until read.
      write: (chunk, done) => { this.push(chunk); done(); },
      end: (done) => done(),
      destroy: () => undefined,
    };
  }

  private gzipDecoder(): Decoder {
    const gz = zlib.createGunzip();
    gz.on('data', (d: Buffer) => {
      if (!this.push(d)) {
        // Stop inflating until the reader catches up; gz's own buffers then fill and its write()
        // returns false, which holds our callback and so the blob's download.
        gz.pause();
        this.resumeFeed = () => gz.resume();
      }
    });
    gz.on('error', (e) => this.destroy(this.fail(e)));
    return {
      write: (chunk, done) => {
        if (gz.write(chunk)) done();
        else gz.once('drain', () => done());
      },
      end: (done) => {
        gz.once('end', () => done());
        gz.end();
      },
      destroy: () => gz.destroy(),
    };
  }

  private zstdDecoder(): Decoder {
    let full = false;
    const dec = new ZstdDecompress((data) => {
      if (data.length === 0) return;
      // fzstd hands out a fresh array per block (or a slice it no longer writes to): wrap, don't copy.
      if (!this.push(Buffer.from(data.buffer, data.byteOffset, data.length))) full = true;
    });
    const framer = new ZstdFramer();
    const feed = (chunk: Buffer, off: number, done: (err?: Error | null) => void): void => {
      try {
        while (off < chunk.length) {
          const { n, blockEnd } = framer.take(chunk, off);
          dec.push(chunk.subarray(off, off + n));
          off += n;
          if (blockEnd && full && off < chunk.length) {
            full = false;
            this.resumeFeed = () => feed(chunk, off, done);
            return;
          }
        }
      } catch (e) {
        return done(e as Error);
      }
      full = false;
      done();
    };
    return {
      write: (chunk, done) => feed(chunk, 0, done),
      end: (done) => {
        try {
          if (!framer.atFrameBoundary()) throw new Error('unexpected end of data inside a zstd frame');
          dec.push(new Uint8Array(0), true);
        } catch (e) {
          return done(e as Error);
        }
        done();
      },
      destroy: () => undefined,
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
