// A container's json-file log read as it grows: each read gives the lines appended since the last one.
import * as fs from 'node:fs';

/**
 * A reader of the log open on FD from byte OFFSET: each call returns the complete lines appended since
 * the previous call (their JSON text), and keeps a partial last line for the next. The split is made on
 * bytes, before decoding, so a UTF-8 character cut by the monitor's write is never mangled.
 */
export function appendedLines(fd: number, offset = 0): () => string[] {
  let partial = Buffer.alloc(0);
  return () => {
    const size = fs.fstatSync(fd).size;
    if (size <= offset) return [];
    const buf = Buffer.alloc(size - offset);
    const n = fs.readSync(fd, buf, 0, buf.length, offset);
    offset += n;
    const chunk = partial.length ? Buffer.concat([partial, buf.subarray(0, n)]) : buf.subarray(0, n);
    const cut = chunk.lastIndexOf(0x0a);
    partial = Buffer.from(chunk.subarray(cut + 1));
    return cut < 0 ? [] : chunk.subarray(0, cut).toString('utf8').split('\n').filter(Boolean);
  };
}
