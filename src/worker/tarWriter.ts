// Writes tar archives (POSIX pax over ustar, tar(5)) to a file descriptor, with byte-exact names and xattrs.
//
// tar-stream's packer takes names as JavaScript strings and writes pax values as UTF-8 text, so a
// file name that is not UTF-8, or a binary xattr such as security.capability, would change on the
// way: a committed layer must keep them byte for byte (layerUnpack.ts reads pax values as bytes).
// Hence this small writer: a pax header ("x") carries whatever ustar cannot (long or non-ASCII names,
// big ids and sizes, xattrs as SCHILY.xattr.NAME, as GNU tar and Go's archive/tar write them).
import * as fs from 'node:fs';

export type TarType = 'file' | 'link' | 'symlink' | 'character-device' | 'block-device' | 'directory' | 'fifo';

const TYPEFLAG: Record<TarType, string> = {
  file: '0', link: '1', symlink: '2', 'character-device': '3', 'block-device': '4', directory: '5', fifo: '6',
};

export interface TarEntry {
  /** Path inside the archive (no leading "/"; directories without the trailing one — it is added). */
  name: Buffer;
  type: TarType;
  mode: number;
  uid: number;
  gid: number;
  /** Seconds since the epoch. */
  mtime: number;
  size?: number;
  /** symlink target, or the archive path of the earlier entry a hard link names. */
  linkname?: Buffer;
  devmajor?: number;
  devminor?: number;
  xattrs?: Map<string, Buffer>;
}

const BLOCK = 512;
const MAX_OCTAL_7 = 0o7777777;
const MAX_OCTAL_11 = 0o77777777777;

function isPlainAscii(b: Buffer): boolean {
  for (const c of b) if (c < 0x20 || c > 0x7e) return false;
  return true;
}

/** One pax record "LEN KEY=VALUE\n", where LEN counts the whole record including its own digits. */
function paxRecord(key: string, value: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`), value, Buffer.from('\n')]);
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return Buffer.concat([Buffer.from(String(len)), body]);
}

function octal(buf: Buffer, off: number, width: number, value: number): void {
  // width bytes: width-1 octal digits and a NUL.
  buf.write(value.toString(8).padStart(width - 1, '0'), off, width - 1, 'latin1');
  buf[off + width - 1] = 0;
}

function header(name: Buffer, type: string, e: { mode: number; uid: number; gid: number; mtime: number; size: number; linkname?: Buffer; devmajor?: number; devminor?: number }): Buffer {
  const h = Buffer.alloc(BLOCK);
  name.copy(h, 0, 0, Math.min(name.length, 100));
  octal(h, 100, 8, e.mode & 0o7777);
  octal(h, 108, 8, Math.min(e.uid, MAX_OCTAL_7));
  octal(h, 116, 8, Math.min(e.gid, MAX_OCTAL_7));
  octal(h, 124, 12, Math.min(e.size, MAX_OCTAL_11));
  octal(h, 136, 12, Math.max(0, Math.min(Math.floor(e.mtime), MAX_OCTAL_11)));
  h.write(type, 156, 1, 'latin1');
  if (e.linkname) e.linkname.copy(h, 157, 0, Math.min(e.linkname.length, 100));
  h.write('ustar\u000000', 257, 8, 'latin1');
  octal(h, 329, 8, e.devmajor ?? 0);
  octal(h, 337, 8, e.devminor ?? 0);
  // The checksum is computed with its own field as spaces (tar(5)).
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const c of h) sum += c;
  h.write(sum.toString(8).padStart(6, '0') + '\u0000 ', 148, 8, 'latin1');
  return h;
}

/** Streams tar entries into FD through a 1 MiB buffer; the caller closes FD after finish(). */
export class TarWriter {
  private buf = Buffer.alloc(1 << 20);
  private used = 0;
  bytes = 0;
  /** What the caller should tell the user (files that changed while they were read). */
  readonly notes: string[] = [];

  constructor(private readonly fd: number) {}

  private write(b: Buffer): void {
    this.bytes += b.length;
    if (this.used + b.length > this.buf.length) this.flush();
    if (b.length >= this.buf.length) {
      let off = 0;
      while (off < b.length) off += fs.writeSync(this.fd, b, off, b.length - off);
      return;
    }
    b.copy(this.buf, this.used);
    this.used += b.length;
  }

  private flush(): void {
    let off = 0;
    while (off < this.used) off += fs.writeSync(this.fd, this.buf, off, this.used - off);
    this.used = 0;
  }

  private pad(n: number): void {
    const rem = n % BLOCK;
    if (rem) this.write(Buffer.alloc(BLOCK - rem));
  }

  /** Adds an entry; for a regular file, DATAFD is read from its start for exactly e.size bytes. */
  add(e: TarEntry, dataFd?: number): void {
    const name = e.type === 'directory' && e.name[e.name.length - 1] !== 0x2f ? Buffer.concat([e.name, Buffer.from('/')]) : e.name;
    const size = e.type === 'file' ? (e.size ?? 0) : 0;
    const records: Buffer[] = [];
    if (name.length > 100 || !isPlainAscii(name)) records.push(paxRecord('path', name));
    if (e.linkname && (e.linkname.length > 100 || !isPlainAscii(e.linkname))) records.push(paxRecord('linkpath', e.linkname));
    if (e.uid > MAX_OCTAL_7) records.push(paxRecord('uid', Buffer.from(String(e.uid))));
    if (e.gid > MAX_OCTAL_7) records.push(paxRecord('gid', Buffer.from(String(e.gid))));
    if (size > MAX_OCTAL_11) records.push(paxRecord('size', Buffer.from(String(size))));
    for (const [k, v] of [...(e.xattrs ?? new Map<string, Buffer>())].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
      records.push(paxRecord(`SCHILY.xattr.${k}`, v));
    }
    if (records.length) {
      const pax = Buffer.concat(records);
      const base = name.subarray(name.lastIndexOf(0x2f, name.length - 2) + 1);
      const paxName = Buffer.concat([Buffer.from('PaxHeaders/'), base]).subarray(0, 100);
      this.write(header(paxName, 'x', { mode: 0o644, uid: 0, gid: 0, mtime: e.mtime, size: pax.length }));
      this.write(pax);
      this.pad(pax.length);
    }
    this.write(header(name, TYPEFLAG[e.type], { ...e, size }));
    if (size > 0) {
      if (dataFd === undefined) throw new Error(`tar entry ${name.toString()} has data but no source`);
      this.copyData(dataFd, size, name);
      this.pad(size);
    }
  }

  private copyData(fd: number, size: number, name: Buffer): void {
    const chunk = Buffer.alloc(Math.min(size, 1 << 20));
    let done = 0;
    while (done < size) {
      const n = fs.readSync(fd, chunk, 0, Math.min(chunk.length, size - done), done);
      if (n === 0) {
        // The file shrank while we read it (a running container's): keep the archive well formed.
        this.write(Buffer.alloc(size - done));
        this.notes.push(`${name.toString()} shrank while it was archived; its end is zero-filled`);
        return;
      }
      this.write(n === chunk.length ? chunk : chunk.subarray(0, n));
      done += n;
    }
  }

  /** Writes the end-of-archive marker (two zero blocks) and flushes. */
  finish(): void {
    this.write(Buffer.alloc(BLOCK * 2));
    this.flush();
  }
}
