// --ulimit, --sysctl, --pid/--ipc/--uts, --stop-timeout and health durations read as Docker reads them, and refused with the reason.
import { describe, expect, it } from 'vitest';
import { checkNamespaceMode, hardLimits, parseSysctls, parseUlimits } from '../../../src/containers/processFlags';
import { healthConfig, parseDuration } from '../../../src/containers/healthConfig';

const LIMITS = `Limit                     Soft Limit           Hard Limit           Units
Max core file size        0                    unlimited            bytes
Max open files            1024                 4096                 files
Max processes             63000                63000                processes
`;

describe('--ulimit', () => {
  const hard = hardLimits(LIMITS);
  it('reads our hard limits from /proc/self/limits', () => {
    expect(hard.get('nofile')).toBe(4096);
    expect(hard.get('core')).toBe(-1);
  });
  it('NAME=SOFT[:HARD]; a repeated name takes the last; unlimited is -1', () => {
    expect(parseUlimits(['nofile=100:200', 'core=unlimited', 'nofile=300'], hard)).toEqual([{ Name: 'nofile', Soft: 300, Hard: 300 }, { Name: 'core', Soft: -1, Hard: -1 }]);
  });
  it('refuses above our hard limit with both figures, and nonsense', () => {
    expect(() => parseUlimits(['nofile=5000'], hard)).toThrow(/5000 is above your hard limit for nofile \(4096\)/);
    expect(() => parseUlimits(['nofile=unlimited'], hard)).toThrow(/unlimited is above your hard limit/);
    expect(() => parseUlimits(['nofile=10:5'], hard)).toThrow(/soft limit is above the hard one/);
    expect(() => parseUlimits(['files=1'], hard)).toThrow(/unknown limit "files"/);
    expect(() => parseUlimits(['nofile'], hard)).toThrow(/expected NAME=SOFT/);
  });
});

describe('--sysctl', () => {
  const own = { network: 'default', ipc: '' };
  it('namespaced keys pass (slashes as dots)', () => {
    expect(parseSysctls(['net/ipv4/ip_forward=1', 'kernel.shmmax=1', 'kernel.sem=1 2 3 4', 'fs.mqueue.msg_max=5'], own))
      .toEqual({ 'net.ipv4.ip_forward': '1', 'kernel.shmmax': '1', 'kernel.sem': '1 2 3 4', 'fs.mqueue.msg_max': '5' });
  });
  it('host-wide keys and shared namespaces are refused', () => {
    expect(() => parseSysctls(['vm.swappiness=1'], own)).toThrow(/not namespaced/);
    expect(() => parseSysctls(['kernel.hostname=x'], own)).toThrow(/not namespaced/);
    expect(() => parseSysctls(['net.a=1'], { network: 'host', ipc: '' })).toThrow(/--network host/);
    expect(() => parseSysctls(['net.a=1'], { network: 'container:x', ipc: '' })).toThrow(/--network container:x/);
    expect(() => parseSysctls(['kernel.msgmax=1'], { network: 'default', ipc: 'host' })).toThrow(/--ipc host/);
    expect(() => parseSysctls(['kernel.msgmax=1'], { network: 'default', ipc: 'container:db' })).toThrow(/--ipc container:db the IPC namespace is not the container's own/);
  });
});

describe('namespace modes', () => {
  it('host, private and --pid/--ipc container:X pass; --uts container:X, an empty container: and others are refused', () => {
    expect(checkNamespaceMode('--pid', 'host')).toBe('host');
    expect(checkNamespaceMode('--ipc', 'shareable')).toBe('shareable');
    expect(checkNamespaceMode('--uts', undefined)).toBe('');
    expect(checkNamespaceMode('--pid', 'container:db')).toBe('container:db');
    expect(checkNamespaceMode('--ipc', 'container:db')).toBe('container:db');
    expect(() => checkNamespaceMode('--ipc', 'container:')).toThrow(/expected host/);
    expect(() => checkNamespaceMode('--uts', 'container:db')).toThrow(/expected host/);
  });
});

describe('health durations and merging', () => {
  it('Go durations', () => {
    expect(parseDuration('x', '1m30s')).toBe(90e9);
    expect(parseDuration('x', '250ms')).toBe(250e6);
    expect(parseDuration('x', '200000000ns')).toBe(200e6);
    expect(() => parseDuration('--health-interval', '5')).toThrow(/expected a duration/);
  });
  it('flags over the image\'s HEALTHCHECK; --no-healthcheck alone', () => {
    const image = { Test: ['CMD', 'true'], Interval: 5e9, Retries: 7 };
    expect(healthConfig({}, image)).toBe(image);
    expect(healthConfig({ interval: '1s' }, image)).toEqual({ Test: ['CMD', 'true'], Interval: 1e9, Retries: 7 });
    expect(healthConfig({ cmd: 'curl -f x' }, undefined)).toEqual({ Test: ['CMD-SHELL', 'curl -f x'] });
    expect(healthConfig({ none: true }, image)).toEqual({ Test: ['NONE'] });
    expect(() => healthConfig({ interval: '1s' }, undefined)).toThrow(/need a command/);
    expect(() => healthConfig({ none: true, cmd: 'x' }, undefined)).toThrow(/conflicts/);
  });
});
