// Platform names: the host in OCI terms, --platform parsing, and picking the right entry (and ARM variant) from an index.
import { describe, expect, it } from 'vitest';
import { choosePlatformIndex, describePlatforms, formatPlatform, hostPlatform, parsePlatform } from '../../../src/image/platform';

describe('platforms', () => {
  it('names the host in OCI terms', () => {
    const p = hostPlatform();
    expect(p.os).toBe('linux');
    const want: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };
    expect(p.architecture).toBe(want[process.arch]);
  });

  it('parses --platform, normalising aliases and arm64/v8', () => {
    expect(parsePlatform('linux/amd64')).toEqual({ os: 'linux', architecture: 'amd64' });
    expect(parsePlatform('linux/x86_64')).toEqual({ os: 'linux', architecture: 'amd64' });
    expect(parsePlatform('linux/aarch64')).toEqual({ os: 'linux', architecture: 'arm64' });
    expect(parsePlatform('linux/arm64/v8')).toEqual({ os: 'linux', architecture: 'arm64' });
    expect(parsePlatform('linux/arm/7')).toEqual({ os: 'linux', architecture: 'arm', variant: 'v7' });
    expect(parsePlatform('linux/armhf')).toEqual({ os: 'linux', architecture: 'arm', variant: 'v7' });
    expect(formatPlatform(parsePlatform('Linux/ARM/V6'))).toBe('linux/arm/v6');
    for (const bad of ['linux', 'linux/', 'a/b/c/d', 'linux/amd 64', '']) expect(() => parsePlatform(bad)).toThrow(/expected os\/arch/);
  });

  const index = [
    { platform: { os: 'linux', architecture: 'amd64' } },
    { platform: { os: 'linux', architecture: 'arm', variant: 'v6' } },
    { platform: { os: 'linux', architecture: 'arm', variant: 'v7' } },
    { platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
    { platform: { os: 'windows', architecture: 'amd64' } },
    { platform: { os: 'unknown', architecture: 'unknown' } },
    {},
  ];

  it('chooses the exact platform, treating arm64 and arm64/v8 alike', () => {
    expect(choosePlatformIndex(index, parsePlatform('linux/amd64'))).toBe(0);
    expect(choosePlatformIndex(index, parsePlatform('linux/arm64'))).toBe(3);
    expect(choosePlatformIndex(index, parsePlatform('linux/arm/v7'))).toBe(2);
    expect(choosePlatformIndex(index, parsePlatform('windows/amd64'))).toBe(4);
  });

  it('runs older ARM variants, and any variant when none is asked for', () => {
    expect(choosePlatformIndex([index[1]], parsePlatform('linux/arm/v7'))).toBe(0);
    expect(choosePlatformIndex([index[2]], parsePlatform('linux/arm/v6'))).toBe(-1);
    expect(choosePlatformIndex([index[2]], { os: 'linux', architecture: 'arm' })).toBe(0);
    expect(choosePlatformIndex([{ platform: { os: 'linux', architecture: 'arm' } }], parsePlatform('linux/arm/v7'))).toBe(0);
  });

  it('matches nothing for a missing platform and lists what exists', () => {
    expect(choosePlatformIndex(index, parsePlatform('linux/s390x'))).toBe(-1);
    expect(describePlatforms(index)).toBe('linux/amd64, linux/arm/v6, linux/arm/v7, linux/arm64, windows/amd64');
  });
});
