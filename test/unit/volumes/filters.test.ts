// `volume ls --filter` as Docker reads it: keys ANDed, values of one key ORed (labels ANDed), label!= excluding.
import { describe, expect, it } from 'vitest';
import { matchesFilters, parseVolumeFilters, type Volume } from '../../../src/volumes/volumes';

const vol = (Name: string, Labels: Record<string, string>): Volume => ({ Name, Labels, Driver: 'local', Scope: 'local', Mountpoint: `/x/${Name}/_data`, CreatedAt: '', Options: {} });
const match = (v: Volume, inUse: boolean, ...f: string[]) => matchesFilters(v, inUse, parseVolumeFilters(f));

describe('volume filters', () => {
  const a = vol('web-data', { env: 'prod', team: '' });
  it('name is a substring; several names match any', () => {
    expect(match(a, false, 'name=data')).toBe(true);
    expect(match(a, false, 'name=nope', 'name=web')).toBe(true);
    expect(match(a, false, 'name=nope')).toBe(false);
  });
  it('label=K and label=K=V must all match; label!= excludes', () => {
    expect(match(a, false, 'label=env=prod', 'label=team')).toBe(true);
    expect(match(a, false, 'label=env=prod', 'label=other')).toBe(false);
    expect(match(a, false, 'label!=env=dev')).toBe(true);
    expect(match(a, false, 'label!=team')).toBe(false);
  });
  it('dangling is about use; driver is local', () => {
    expect(match(a, false, 'dangling=true')).toBe(true);
    expect(match(a, true, 'dangling=true')).toBe(false);
    expect(match(a, true, 'dangling=0')).toBe(true);
    expect(match(a, true, 'driver=local', 'dangling=false')).toBe(true);
  });
  it('refuses unknown keys and values', () => {
    expect(() => parseVolumeFilters(['colour=red'])).toThrow(/invalid filter/);
    expect(() => parseVolumeFilters(['dangling=maybe'])).toThrow(/true or false/);
    expect(() => parseVolumeFilters(['name!=x'])).toThrow(/only label may be negated/);
  });
});

describe('error kinds of volume and run-flag refusals (what the API answers)', () => {
  it('in use is a conflict, a missing volume not-found, bad input invalid', async () => {
    const { kindOfCode } = await import('../../../src/errors');
    expect(kindOfCode('VOLUME_IN_USE')).toBe('conflict');
    expect(kindOfCode('VOLUME_NOT_FOUND')).toBe('not-found');
    for (const c of ['BAD_VOLUME_NAME', 'BAD_MOUNT', 'VOLUME_OPTIONS', 'ULIMIT_ABOVE_HARD', 'SYSCTL_NOT_NAMESPACED', 'NS_MODE', 'BAD_LOG_OPT']) expect(kindOfCode(c), c).toBe('invalid');
  });
});
