// Docker's multiplexed stream framing (attach and logs without a TTY): an 8-byte header — stream
// (0 stdin, 1 stdout, 2 stderr), three zero bytes, big-endian uint32 length — then the payload.
import { Writable } from 'node:stream';

export const STDIN = 0;
export const STDOUT = 1;
export const STDERR = 2;

/** One frame of PAYLOAD on STREAM. */
export function frame(stream: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

/** Splits a multiplexed byte stream back into frames (for tests and for clients of our own). */
export class Demuxer {
  private pending = Buffer.alloc(0);
  push(chunk: Buffer): Array<{ stream: number; payload: Buffer }> {
    this.pending = Buffer.concat([this.pending, chunk]);
    const out: Array<{ stream: number; payload: Buffer }> = [];
    while (this.pending.length >= 8) {
      const len = this.pending.readUInt32BE(4);
      if (this.pending.length < 8 + len) break;
      out.push({ stream: this.pending[0], payload: this.pending.subarray(8, 8 + len) });
      this.pending = this.pending.subarray(8 + len);
    }
    return out;
  }
}

/**
 * A writable for one stream that writes into SINK either framed (no TTY) or raw (a TTY has one
 * stream, and Docker sends it as is).
 */
export function streamWriter(sink: NodeJS.WritableStream, stream: number, framed: boolean): Writable {
  return new Writable({
    write(chunk: Buffer | string, _enc, cb) {
      const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
      if (b.length === 0) return cb();
      const ok = sink.write(framed ? frame(stream, b) : b);
      if (ok) cb(); else sink.once('drain', () => cb());
    },
  });
}
