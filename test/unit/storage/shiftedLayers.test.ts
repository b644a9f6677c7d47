// Issue 17.4: keep-id's layer copies — which owner each copy gets, where ids hide in xattrs (ACLs, file capabilities), and the key naming a translation.
import { describe, expect, it } from 'vitest';
import { buildKeepIdMap, buildMap, hostIdFor, type IdMapping } from '../../../src/helper/idmap';
import { shiftIds, shiftKey } from '../../../src/storage/shiftedLayers';
import { shiftAcl, shiftCapability } from '../../../src/worker/layerShift';

const range = [{ start: 100000, count: 65536 }];

function keepId(uid: number, ranges = range): IdMapping {
  const storage = { uid: buildMap(uid, ranges), gid: buildMap(uid, ranges) };
  return {
    mode: 'helper', uid: buildKeepIdMap(uid, ranges, uid), gid: buildKeepIdMap(uid, ranges, uid), setgroupsDeny: false, user: 'u',
    keepId: { uid, gid: uid, name: 'u', group: 'u', home: '/', storage },
  };
}

/** The id keep-id's namespace shows for a layer file of container id N (stored as the default mapping's host id). */
function seenUnderKeepId(m: IdMapping, n: number): number {
  const host = hostIdFor(m.keepId!.storage.uid, n)!;
  const line = m.uid.find((l) => host >= l.outside && host < l.outside + l.count)!;
  return line.inside + (host - line.outside);
}

function mapped(lines: Array<{ inside: number; outside: number; count: number }>, id: number): number {
  const l = lines.find((x) => id >= x.inside && id < x.inside + x.count);
  return l ? l.outside + (id - l.inside) : id;
}

describe('shiftIds', () => {
  it('gives a copy of a layer file owned by container id N the owner N again, as keep-id sees it', () => {
    const m = keepId(1500);
    const ids = shiftIds(m)!;
    for (const n of [0, 1, 42, 999, 1499, 1500, 1501, 65534, 65536]) expect(mapped(ids.uid, seenUnderKeepId(m, n)), `id ${n}`).toBe(n);
  });

  it('is undefined for mappings that are not keep-id', () => {
    expect(shiftIds({ ...keepId(1500), keepId: undefined })).toBeUndefined();
  });
});

describe('shiftKey', () => {
  it('names the mapping\'s copies: the same for the same user and ranges, another for another uid or range', () => {
    const k = shiftKey(keepId(1500));
    expect(k).toMatch(/^[0-9a-f]{16}$/);
    expect(shiftKey(keepId(1500))).toBe(k);
    expect(shiftKey(keepId(1501))).not.toBe(k);
    expect(shiftKey(keepId(1500, [{ start: 200000, count: 65536 }]))).not.toBe(k);
  });
});

describe('ids inside xattrs', () => {
  const ids = { uid: [{ inside: 1500, outside: 0, count: 1 }, { inside: 0, outside: 1, count: 1500 }], gid: [{ inside: 1500, outside: 0, count: 1 }, { inside: 42, outside: 43, count: 1 }] };

  it('maps the named user and group entries of a POSIX ACL (acl(5) xattr form), not the others', () => {
    // version 2; USER_OBJ rwx; USER 1500 r; GROUP_OBJ r; GROUP 42 rw; MASK rw; OTHER none
    const entries: Array<[number, number, number]> = [[0x01, 7, 0xffffffff], [0x02, 4, 1500], [0x04, 4, 0xffffffff], [0x08, 6, 42], [0x10, 6, 0xffffffff], [0x20, 0, 0xffffffff]];
    const acl = Buffer.alloc(4 + entries.length * 8);
    acl.writeUInt32LE(2, 0);
    entries.forEach(([tag, perm, id], i) => { acl.writeUInt16LE(tag, 4 + i * 8); acl.writeUInt16LE(perm, 6 + i * 8); acl.writeUInt32LE(id, 8 + i * 8); });
    const out = shiftAcl(acl, ids);
    const got = entries.map((_, i) => out.readUInt32LE(8 + i * 8));
    expect(got).toEqual([0xffffffff, 0, 0xffffffff, 43, 0xffffffff, 0xffffffff]);
    expect(acl.readUInt32LE(16)).toBe(1500);  // the input is left as it was
  });

  it('maps the root id of a v3 file capability and leaves a v2 one (which has none) alone', () => {
    const v3 = Buffer.alloc(24);
    v3.writeUInt32LE(0x03000001, 0);
    v3.writeUInt32LE(1 << 13, 4);  // CAP_NET_RAW permitted
    v3.writeUInt32LE(1500, 20);
    expect(shiftCapability(v3, ids).readUInt32LE(20)).toBe(0);
    const v2 = Buffer.alloc(20);
    v2.writeUInt32LE(0x02000001, 0);
    expect(shiftCapability(v2, ids)).toEqual(v2);
  });
});
