// Writes tar streams for fixtures: from a literal list of entries (with OCI whiteouts) or from a directory with chosen owners.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { once } from 'node:events';
import * as tar from 'tar-stream';

/** One entry of a fixture layer. Each spec becomes exactly one tar entry, in the order given. */
export interface TarFileSpec {
  /** Path inside the archive, without a leading slash ("etc/passwd"). */
  path: string;
  /**
   * whiteout: deletes `path` from lower layers (written as `<dir>/.wh.<name>`);
   * opaque: hides everything lower layers put under the directory `path` (written as `<path>/.wh..wh..opq`).
   */
  type: 'file' | 'dir' | 'symlink' | 'link' | 'whiteout' | 'opaque';
  content?: string | Buffer;
  mode?: number;
  uid?: number;
  gid?: number;
  /** symlink: what it points to; link (hard link): the archive path of the earlier entry. */
  target?: string;
  mtime?: Date;
}

/** A fixed mtime keeps fixture layers, and so their digests, identical from run to run. */
export const FIXTURE_MTIME = new Date('2024-01-01T00:00:00Z');

/** What tar-stream's pack.entry() takes. */
export type TarHeader = Partial<tar.Header> & { name: string };

export const WHITEOUT_PREFIX = '.wh.';
export const OPAQUE_MARKER = '.wh..wh..opq';

function clean(p: string): string {
  const s = p.replace(/^\/+/, '').replace(/\/+$/, '');
  if (s === '' || s.split('/').includes('..')) throw new Error(`bad archive path: ${JSON.stringify(p)}`);
  return s;
}

/** The tar header (and content) one spec stands for. */
export function specToHeader(spec: TarFileSpec): { header: TarHeader; content?: Buffer } {
  const name = clean(spec.path);
  const base = { uid: spec.uid ?? 0, gid: spec.gid ?? 0, mtime: spec.mtime ?? FIXTURE_MTIME };
  switch (spec.type) {
    case 'file': {
      const content = Buffer.from(spec.content ?? '');
      return { header: { ...base, name, type: 'file', mode: spec.mode ?? 0o644, size: content.length }, content };
    }
    case 'dir':
      return { header: { ...base, name, type: 'directory', mode: spec.mode ?? 0o755 } };
    case 'symlink':
      if (spec.target === undefined) throw new Error(`symlink ${name} needs a target`);
      return { header: { ...base, name, type: 'symlink', mode: spec.mode ?? 0o777, linkname: spec.target } };
    case 'link':
      if (spec.target === undefined) throw new Error(`hard link ${name} needs a target`);
      return { header: { ...base, name, type: 'link', mode: spec.mode ?? 0o644, linkname: clean(spec.target) } };
    case 'whiteout': {
      const dir = path.posix.dirname(name);
      const wh = `${dir === '.' ? '' : dir + '/'}${WHITEOUT_PREFIX}${path.posix.basename(name)}`;
      return { header: { ...base, name: wh, type: 'file', mode: spec.mode ?? 0o644, size: 0 }, content: Buffer.alloc(0) };
    }
    case 'opaque':
      return {
        header: { ...base, name: `${name}/${OPAQUE_MARKER}`, type: 'file', mode: spec.mode ?? 0o644, size: 0 },
        content: Buffer.alloc(0),
      };
  }
}

/** A tar stream of the given entries. */
export function packEntries(files: readonly TarFileSpec[]): tar.Pack {
  const pack = tar.pack();
  for (const spec of files) {
    const { header, content } = specToHeader(spec);
    if (content !== undefined) pack.entry(header, content);
    else pack.entry(header);
  }
  pack.finalize();
  return pack;
}

export type OwnerOf = (relPath: string) => { uid: number; gid: number };

/** Everything owned by root: what `tar --owner=0 --group=0` gives. */
export const rootOwned: OwnerOf = () => ({ uid: 0, gid: 0 });

function addEntry(pack: tar.Pack, header: TarHeader, content?: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const cb = (err?: Error | null) => (err ? reject(err) : resolve());
    if (content !== undefined) pack.entry(header, content, cb);
    else pack.entry(header, cb);
  });
}

async function addFileStreaming(pack: tar.Pack, header: TarHeader, file: string): Promise<void> {
  let entry!: ReturnType<tar.Pack['entry']>;
  const done = new Promise<void>((resolve, reject) => {
    entry = pack.entry(header, (err) => (err ? reject(err) : resolve()));
  });
  for await (const chunk of fs.createReadStream(file)) {
    if (!entry.write(chunk as Buffer)) await once(entry, 'drain');
  }
  // streamx's end() takes an optional last chunk; there is none.
  entry.end(undefined);
  await done;
}

/**
 * A tar stream of a directory's contents (not the directory itself), walked in sorted order so the bytes
 * are the same every time. Owners come from `owner`, not from disk: the test user cannot create root-owned
 * files, but the archive can say they are. Hard links within the tree are kept as hard links.
 */
export function packDirectory(dir: string, owner: OwnerOf = rootOwned): tar.Pack {
  const pack = tar.pack();
  const seen = new Map<string, string>();
  const walk = async (rel: string): Promise<void> => {
    const names = fs.readdirSync(path.join(dir, rel)).sort();
    for (const n of names) {
      const relPath = rel ? `${rel}/${n}` : n;
      const full = path.join(dir, relPath);
      const st = fs.lstatSync(full);
      const header: TarHeader = { name: relPath, mode: st.mode & 0o7777, mtime: FIXTURE_MTIME, ...owner(relPath) };
      if (st.isDirectory()) {
        await addEntry(pack, { ...header, type: 'directory' });
        await walk(relPath);
      } else if (st.isSymbolicLink()) {
        await addEntry(pack, { ...header, type: 'symlink', linkname: fs.readlinkSync(full) });
      } else if (st.isFile()) {
        const key = `${st.dev}:${st.ino}`;
        const first = st.nlink > 1 ? seen.get(key) : undefined;
        if (first !== undefined) {
          await addEntry(pack, { ...header, type: 'link', linkname: first, size: 0 });
          continue;
        }
        if (st.nlink > 1) seen.set(key, relPath);
        if (st.size <= 1 << 20) await addEntry(pack, { ...header, type: 'file', size: st.size }, fs.readFileSync(full));
        else await addFileStreaming(pack, { ...header, type: 'file', size: st.size }, full);
      } else if (st.isCharacterDevice() || st.isBlockDevice()) {
        await addEntry(pack, {
          ...header,
          type: st.isCharacterDevice() ? 'character-device' : 'block-device',
          // Linux's dev_t layout (glibc major()/minor()), for the 32-bit values device numbers have in practice.
          devmajor: (st.rdev >>> 8) & 0xfff,
          devminor: (st.rdev & 0xff) | ((st.rdev >>> 12) & 0xfff00),
        });
      } else if (st.isFIFO()) {
        await addEntry(pack, { ...header, type: 'fifo' });
      }
      // Sockets cannot be archived; nothing a fixture needs.
    }
  };
  walk('').then(
    () => pack.finalize(),
    (err: Error) => pack.destroy(err),
  );
  return pack;
}
