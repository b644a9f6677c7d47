// Unit tests for the CPU percent that `lodger stats` shows, computed from two cpu.stat samples.
import { describe, expect, it } from 'vitest';
import { cpuPercent } from '../../../src/cgroups/stats';

describe('cpuPercent', () => {
  it('is CPU time over wall time in percent of one CPU, as docker stats shows', () => {
    // 0.5 s of CPU in 1 s
    expect(cpuPercent({ cpuUsageUsec: 1_000_000 }, { cpuUsageUsec: 1_500_000 }, 1e9, 4)).toBeCloseTo(50);
    // two busy CPUs for 1 s
    expect(cpuPercent({ cpuUsageUsec: 0 }, { cpuUsageUsec: 2_000_000 }, 1e9, 4)).toBeCloseTo(200);
  });

  it('is capped at ncpu * 100', () => {
    expect(cpuPercent({ cpuUsageUsec: 0 }, { cpuUsageUsec: 3_000_000 }, 1e9, 2)).toBe(200);
  });

  it('is 0 for an empty interval or a counter that went back', () => {
    expect(cpuPercent({ cpuUsageUsec: 5 }, { cpuUsageUsec: 10 }, 0, 2)).toBe(0);
    expect(cpuPercent({ cpuUsageUsec: 500 }, { cpuUsageUsec: 10 }, 1e9, 2)).toBe(0);
  });
});
