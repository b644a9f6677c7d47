// -v, --mount and --tmpfs read as Docker reads them (docker-run(1)): what becomes a bind, a named or anonymous volume, a tmpfs, and what is refused.
import { describe, expect, it } from 'vitest';
import { parseMountFlag, parseTmpfsFlag, parseVolumeFlag } from '../../../src/containers/mountSpec';
import { collectMounts } from '../../../src/containers/mounts';

describe('-v', () => {
  it('a path source is a bind, a name a volume, a lone path an anonymous volume', () => {
    expect(parseVolumeFlag('/h:/c:ro')).toMatchObject({ type: 'bind', source: '/h', target: '/c', readOnly: true });
    expect(parseVolumeFlag('./rel:/c').source).toBe(`${process.cwd()}/rel`);
    expect(parseVolumeFlag('data:/c/:nocopy')).toMatchObject({ type: 'volume', source: 'data', target: '/c', noCopy: true, readOnly: false });
    expect(parseVolumeFlag('/c')).toMatchObject({ type: 'volume', source: '', target: '/c' });
    expect(parseVolumeFlag('/h:/c:z,rslave')).toMatchObject({ type: 'bind', propagation: 'rslave' });
  });
  it('refuses relative targets, "/", unknown options and shared propagation', () => {
    expect(() => parseVolumeFlag('data:c')).toThrow(/must be absolute/);
    expect(() => parseVolumeFlag('data:/')).toThrow(/cannot mount over/);
    expect(() => parseVolumeFlag('data:/c:bogus')).toThrow(/unknown option "bogus"/);
    expect(() => parseVolumeFlag('/h:/c:rshared')).toThrow(/share mounts back to the host/);
    expect(() => parseVolumeFlag('a:b:c:d')).toThrow(/expected/);
  });
});

describe('--mount', () => {
  it('Docker\'s keys and their aliases; volume is the default type', () => {
    expect(parseMountFlag('src=v,dst=/d')).toMatchObject({ type: 'volume', source: 'v', target: '/d' });
    expect(parseMountFlag('type=bind,source=/h,target=/d,readonly,bind-propagation=rprivate')).toMatchObject({ type: 'bind', source: '/h', target: '/d', readOnly: true, propagation: 'rprivate' });
    expect(parseMountFlag('type=bind,src=/h,destination=/d,ro=false').readOnly).toBe(false);
    expect(parseMountFlag('type=volume,src=v,dst=/d,volume-nocopy,volume-label=a=b').labels).toEqual({ a: 'b' });
    expect(parseMountFlag('type=tmpfs,dst=/t,tmpfs-size=64m,tmpfs-mode=1770')).toMatchObject({ tmpfsData: ['size=67108864', 'mode=1770'], tmpfsFlags: ['nosuid', 'nodev', 'noexec'] });
    expect(parseMountFlag('"type=bind","src=/a,b",dst=/d').source).toBe('/a,b');
  });
  it('refuses with the key named', () => {
    expect(() => parseMountFlag('type=bind,dst=/d')).toThrow(/needs src=/);
    expect(() => parseMountFlag('type=bind,src=rel,dst=/d')).toThrow(/must be an absolute path/);
    expect(() => parseMountFlag('type=volume,src=v')).toThrow(/a target/);
    expect(() => parseMountFlag('type=tmpfs,dst=/t,tmpfs-mode=999')).toThrow(/octal/);
    expect(() => parseMountFlag('type=volume,src=v,dst=/d,bind-propagation=rslave')).toThrow(/for type=bind/);
    expect(() => parseMountFlag('type=volume,src=v,dst=/d,volume-opt=type=nfs')).toThrow(/needs root/);
    expect(() => parseMountFlag('type=image,dst=/d')).toThrow(/not supported/);
  });
});

describe('--tmpfs', () => {
  it('noexec,nosuid,nodev unless exec/suid/dev; data options kept', () => {
    expect(parseTmpfsFlag('/t')).toMatchObject({ target: '/t', tmpfsFlags: ['nosuid', 'nodev', 'noexec'], tmpfsData: [] });
    const t = parseTmpfsFlag('/t:exec,size=1m,mode=700,ro');
    expect(t.tmpfsFlags).toEqual(['nosuid', 'nodev', 'ro']);
    expect(t.tmpfsData).toEqual(['size=1m', 'mode=700']);
    expect(t.readOnly).toBe(true);
    expect(() => parseTmpfsFlag('/t:colour=red')).toThrow(/unknown tmpfs option/);
  });
});

describe('collectMounts', () => {
  it('one mount per target; the image\'s VOLUMEs only where nothing else mounts', () => {
    const specs = collectMounts({ volumes: ['/h:/a'], mounts: ['type=tmpfs,dst=/b'], tmpfs: [], imageVolumes: ['/a', '/c/'] });
    expect(specs.map((s) => [s.type, s.target, s.source])).toEqual([['bind', '/a', '/h'], ['tmpfs', '/b', ''], ['volume', '/c', '']]);
    expect(() => collectMounts({ volumes: ['v:/a'], mounts: ['type=tmpfs,dst=/a'], tmpfs: [], imageVolumes: [] })).toThrow(/duplicate mount point \/a/);
  });
});
