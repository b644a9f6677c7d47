// Issue 8.1: the keep-id maps and the fuse-overlayfs id translation, for the shapes a real machine can have
// (uid inside the range, beyond it, several subuid ranges) — the integration tests cover the one this host has.
import { describe, expect, it } from 'vitest';
import { buildKeepIdMap, buildMap, fuseIdMapOptions, hostIdFor, translateIds, type IdMapping } from '../../../src/helper/idmap';

const range = [{ start: 100000, count: 65536 }];

/** Every container id the lines map, with its host id, for a brute-force comparison. */
function table(lines: ReturnType<typeof buildMap>, upTo: number): Map<number, number> {
  const m = new Map<number, number>();
  for (let id = 0; id <= upTo; id++) {
    const h = hostIdFor(lines, id);
    if (h !== undefined) m.set(id, h);
  }
  return m;
}

describe('buildKeepIdMap', () => {
  it('maps the user\'s uid to itself and the range around it (podman keep-id\'s shape)', () => {
    expect(buildKeepIdMap(1500, range, 1500)).toEqual([
      { inside: 0, outside: 100000, count: 1500 },
      { inside: 1500, outside: 1500, count: 1 },
      { inside: 1501, outside: 101500, count: 64036 },
    ]);
  });

  it('a uid beyond the range (common on HPC sites) leaves the ids between unmapped', () => {
    expect(buildKeepIdMap(123456, [{ start: 200000, count: 1000 }], 123456)).toEqual([
      { inside: 0, outside: 200000, count: 1000 },
      { inside: 123456, outside: 123456, count: 1 },
    ]);
  });

  it('several ranges fill the ids in order, skipping the user\'s', () => {
    const lines = buildKeepIdMap(1000, [{ start: 100000, count: 600 }, { start: 300000, count: 600 }], 1000);
    const t = table(lines, 1300);
    expect(t.get(0)).toBe(100000);
    expect(t.get(599)).toBe(100599);
    expect(t.get(600)).toBe(300000);
    expect(t.get(999)).toBe(300399);
    expect(t.get(1000)).toBe(1000);
    expect(t.get(1001)).toBe(300400);
    expect(t.get(1200)).toBe(300599);
    expect(t.has(1201)).toBe(false);
    // Each host id is used once.
    expect(new Set(t.values()).size).toBe(t.size);
  });
});

describe('translateIds (keep-id namespace id → id the layer was stored with)', () => {
  it('is the composition of both maps, for every id', () => {
    for (const [uid, sub] of [[1500, range], [1000, [{ start: 100000, count: 600 }, { start: 300000, count: 600 }]], [70000, range]] as const) {
      const storage = buildMap(uid, [...sub]);
      const runtime = buildKeepIdMap(uid, [...sub], uid);
      const lines = translateIds(storage, runtime);
      const st = table(storage, 200000);
      const rt = table(runtime, 200000);
      const hostToStorage = new Map([...st].map(([c, h]) => [h, c]));
      for (const [k, h] of rt) expect(hostIdFor(lines, k), `uid ${uid}, runtime id ${k}`).toBe(hostToStorage.get(h));
    }
  });

  it('gives the fuse-overlayfs options verified on this machine for uid 1500', () => {
    const m: IdMapping = {
      mode: 'helper', setgroupsDeny: false, user: 'u', uid: buildKeepIdMap(1500, range, 1500), gid: buildKeepIdMap(1500, range, 1500),
      keepId: { uid: 1500, gid: 1500, name: 'u', group: 'u', home: '/home/u', storage: { uid: buildMap(1500, range), gid: buildMap(1500, range) } },
    };
    expect(fuseIdMapOptions(m)).toBe('uidmapping=0:1:1500:1500:0:1:1501:1501:64036,gidmapping=0:1:1500:1500:0:1:1501:1501:64036');
    expect(fuseIdMapOptions({ ...m, keepId: undefined })).toBe('');
  });
});
