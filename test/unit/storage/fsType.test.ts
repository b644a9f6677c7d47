// Which statfs(2) f_type magics lodger counts as network (or FUSE) filesystems — where container state must not live
// (src/storage/fsType.ts) — classified by magic alone, since CI has no NFS, Lustre or GPFS to mount.
import { describe, expect, it } from 'vitest';
import { classifyMagic, NETWORK_FILESYSTEMS } from '../../../src/storage/fsType';

// Magics as the kernel's include/uapi/linux/magic.h defines them, and for filesystems outside the kernel tree
// (Lustre, GPFS, BeeGFS, PanFS) as coreutils' stat(1) knows them (S_MAGIC_* in src/stat.c; BeeGFS is FHGFS there).
const NETWORK: Array<[string, number, string]> = [
  ['NFS_SUPER_MAGIC', 0x6969, 'NFS'],
  ['CIFS_SUPER_MAGIC', 0xff534d42, 'CIFS'],
  ['SMB2_SUPER_MAGIC', 0xfe534d42, 'SMB2'],
  ['SMB_SUPER_MAGIC', 0x517b, 'SMB'],
  ['S_MAGIC_LUSTRE', 0x0bd00bd0, 'Lustre'],
  ['S_MAGIC_GPFS', 0x47504653, 'GPFS'],
  ['S_MAGIC_FHGFS', 0x19830326, 'BeeGFS'],
  ['CEPH_SUPER_MAGIC', 0x00c36400, 'CephFS'],
  ['AFS_SUPER_MAGIC', 0x5346414f, 'AFS'],
  ['AFS_FS_MAGIC', 0x6b414653, 'AFS'],
  ['V9FS_MAGIC', 0x01021997, '9P'],
  ['S_MAGIC_PANFS', 0xaad7aaea, 'PanFS'],
  ['FUSE_SUPER_MAGIC', 0x65735546, 'FUSE'],
];

const LOCAL: Array<[string, number, string]> = [
  ['EXT4_SUPER_MAGIC', 0xef53, 'ext4'],
  ['XFS_SUPER_MAGIC', 0x58465342, 'xfs'],
  ['TMPFS_MAGIC', 0x01021994, 'tmpfs'],
  ['BTRFS_SUPER_MAGIC', 0x9123683e, 'btrfs'],
  ['OVERLAYFS_SUPER_MAGIC', 0x794c7630, 'overlay'],
  ['F2FS_SUPER_MAGIC', 0xf2f52010, 'f2fs'],
  ['S_MAGIC_ZFS', 0x2fc12fc1, 'zfs'],
];

describe('classifyMagic', () => {
  it.each(NETWORK)('%s (%d) is a network filesystem named %s', (_def, magic, name) => {
    expect(classifyMagic(magic)).toEqual({ magic, name, network: true });
  });

  it.each(LOCAL)('%s (%d) is local, named %s', (_def, magic, name) => {
    expect(classifyMagic(magic)).toEqual({ magic, name, network: false });
  });

  it('every network entry of the table is one of the magics above (a new one needs its source here)', () => {
    expect([...NETWORK_FILESYSTEMS.keys()].sort()).toEqual(NETWORK.map(([, m]) => m).sort());
  });

  it('an unknown magic is local and named by its hex value (squashfs, procfs)', () => {
    expect(classifyMagic(0x73717368)).toEqual({ magic: 0x73717368, name: '0x73717368', network: false });
    expect(classifyMagic(0x9fa0)).toEqual({ magic: 0x9fa0, name: '0x9fa0', network: false });
  });

  it('a magic with the top bit set is recognised also as a signed 32-bit f_type (how a 32-bit statfs reports CIFS)', () => {
    expect(0xff534d42 | 0).toBeLessThan(0);
    expect(classifyMagic(0xff534d42 | 0)).toEqual({ magic: 0xff534d42, name: 'CIFS', network: true });
    expect(classifyMagic(0xaad7aaea | 0)).toEqual({ magic: 0xaad7aaea, name: 'PanFS', network: true });
  });
});
