// ADD of a local tar: the owners and modes its entries record, so the layer keeps them as Docker's ADD does (only --chown overrides).
//
// The archive is unpacked by the caller (context.ts) to be selected like context files, which loses
// owners (an unprivileged caller cannot chown) and may lose modes; this reads its headers once more,
// and the layer tar then carries the archive's numeric ids. The store's unpack worker maps them onto
// the caller's subordinate ids in the user namespace, as for a pulled layer.
import * as fs from 'node:fs';
import * as zlib from 'node:zlib';

export interface ArchiveOwner { uid: number; gid: number; mode: number }

/** Archive path → its owner and mode; names as walked from the unpacked root ("a/b", no "./", no trailing "/"). */
export async function archiveOwners(file: string, gzip: boolean): Promise<Map<string, ArchiveOwner>> {
  const tar = await import('tar-stream');
  const out = new Map<string, ArchiveOwner>();
  const extract = tar.extract();
  extract.on('entry', (h, stream, next) => {
    const name = h.name.split('/').filter((c) => c && c !== '.').join('/');
    if (name) out.set(name, { uid: h.uid ?? 0, gid: h.gid ?? 0, mode: (h.mode ?? 0o644) & 0o7777 });
    stream.on('end', next);
    stream.resume();
  });
  const input = fs.createReadStream(file);
  const source = gzip ? input.pipe(zlib.createGunzip()) : input;
  await new Promise<void>((resolve, reject) => {
    input.on('error', reject);
    source.on('error', reject);
    extract.on('error', reject);
    extract.on('finish', resolve);
    source.pipe(extract);
  });
  return out;
}
