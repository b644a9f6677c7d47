// Which kind of filesystem a path lives on (statfs(2) f_type magic), and whether overlay upper layers can live there.
import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * Filesystems that are not local disks, by statfs(2) f_type (linux/magic.h and each filesystem's
 * sources). Overlay upper and work directories cannot live on them: kernel overlayfs refuses NFS
 * (and most remote filesystems) as an upper layer (Documentation/filesystems/overlayfs.rst, "Upper and
 * Lower": the upper must support trusted.* or user.* xattrs, d_type and RENAME_WHITEOUT), and where
 * the mount is allowed, whiteouts and xattrs silently misbehave. Root-squashing servers also refuse
 * chown(2) to the subordinate ids a container's files belong to. FUSE counts as "not local" too:
 * sshfs, s3fs and site-specific FUSE clients behave like remote filesystems, and whatever is under a
 * FUSE mount we cannot tell.
 */
export const NETWORK_FILESYSTEMS: ReadonlyMap<number, string> = new Map([
  [0x6969, 'NFS'],
  [0xff534d42, 'CIFS'],
  [0xfe534d42, 'SMB2'],
  [0x517b, 'SMB'],
  [0x0bd00bd0, 'Lustre'],
  [0x47504653, 'GPFS'],
  [0x19830326, 'BeeGFS'],
  [0x00c36400, 'CephFS'],
  [0x5346414f, 'AFS'],
  [0x6b414653, 'AFS'],
  [0x01021997, '9P'],
  [0xaad7aaea, 'PanFS'],
  [0x65735546, 'FUSE'],
]);

/** Common local filesystems, only to name them (e.g. in `lodger info`). */
const LOCAL_FILESYSTEMS: ReadonlyMap<number, string> = new Map([
  [0xef53, 'ext4'], [0x58465342, 'xfs'], [0x9123683e, 'btrfs'], [0x01021994, 'tmpfs'], [0x2fc12fc1, 'zfs'],
  [0x794c7630, 'overlay'], [0xf2f52010, 'f2fs'],
]);

export interface FsKind {
  /** f_type as an unsigned 32-bit number. */
  magic: number;
  /** A name for NETWORK_FILESYSTEMS members, else the magic in hex. */
  name: string;
  /** The path statfs was asked about: PATH itself, or its nearest existing ancestor. */
  checked: string;
  network: boolean;
}

/** The nearest existing ancestor of P (P itself when it exists): a store that is not made yet lives where its parent does. */
function existingAncestor(p: string): string {
  let cur = path.resolve(p);
  for (;;) {
    if (fs.existsSync(cur)) return cur;
    const up = path.dirname(cur);
    if (up === cur) return cur;
    cur = up;
  }
}

/**
 * What statfs(2) f_type MAGIC says: the filesystem's name (or the magic in hex) and whether it counts
 * as network. f_type is a long in the kernel ABI and a negative number when a 32-bit magic has its top
 * bit set (CIFS 0xff534d42 as a signed int); the magics are 32-bit, so only the low 32 bits, unsigned, count.
 */
export function classifyMagic(magic: number): { magic: number; name: string; network: boolean } {
  const m = magic >>> 0;
  const name = NETWORK_FILESYSTEMS.get(m);
  return { magic: m, name: name ?? LOCAL_FILESYSTEMS.get(m) ?? `0x${m.toString(16)}`, network: name !== undefined };
}

/** The filesystem kind of P (or of its nearest existing ancestor). */
export function fsKind(p: string): FsKind {
  const checked = existingAncestor(p);
  const { native } = require('../helper/native') as typeof import('../helper/native');
  return { ...classifyMagic(native().statfsType(checked)), checked };
}
