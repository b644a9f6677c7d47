// Unit tests for planLimits: every Docker flag's cgroup v2 file and value, every validation error and every refusal.
import { describe, expect, it } from 'vitest';
import { blkioWeightToIoWeight, cpuSharesToWeight, LimitContext, LimitFlags, parseBytes, planLimits } from '../../../src/cgroups/limits';
import { lodgerErrorOf } from '../../helpers/errors';

const ALL = new Set(['cpu', 'cpuset', 'io', 'memory', 'pids']);
const UNIFIED: LimitContext = { kind: 'unified', base: '/sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/lodger', v1Controllers: {} };
const HYBRID: LimitContext = {
  kind: 'hybrid', base: '/sys/fs/cgroup/unified/lodger.delegate/lodgertest',
  v1Controllers: { cpu: '/sys/fs/cgroup/cpu', cpuset: '/sys/fs/cgroup/cpuset', memory: '/sys/fs/cgroup/memory', pids: '/sys/fs/cgroup/pids', blkio: '/sys/fs/cgroup/blkio' },
};

/** The files a flag set becomes, as "file=value" strings. */
function files(flags: LimitFlags, ctx: LimitContext = UNIFIED): string[] {
  return planLimits(flags, ALL, ctx).files.map((f) => `${f.file}=${f.value}${f.optional ? ' (optional)' : ''}${f.orElse ? ` | ${f.orElse.file}=${f.orElse.value}` : ''}`);
}

describe('sizes', () => {
  it.each([
    ['512m', 512 * 1024 ** 2], ['1g', 1024 ** 3], ['1G', 1024 ** 3], ['1.5g', 1.5 * 1024 ** 3], ['64MiB', 64 * 1024 ** 2],
    ['100kb', 102400], ['1048576', 1048576], ['2 m', 2 * 1024 ** 2], [7340032, 7340032],
  ])('reads %s as %d bytes, as Docker does', (input, bytes) => {
    expect(parseBytes(input, '--memory')).toBe(bytes);
  });

  it.each(['', 'lots', '-5m', '1x', '1.2.3m', 'm'])('rejects %j', (input) => {
    const e = lodgerErrorOf(() => parseBytes(input, '--memory'));
    expect(e.code).toBe('CGROUP_BAD_VALUE');
    expect(e.message).toContain('--memory');
    expect(e.message).toContain('512m, 1g');
  });
});

describe('--memory family', () => {
  it('--memory 512m → memory.max in bytes, plus as much swap as memory (Docker default) when the kernel accounts swap', () => {
    expect(files({ memory: '512m' })).toEqual(['memory.max=536870912', 'memory.swap.max=536870912 (optional)']);
    expect(planLimits({ memory: '512m' }, ALL, UNIFIED).controllers).toEqual(['memory']);
  });

  it('--memory-swap is memory plus swap, so memory.swap.max gets the difference', () => {
    expect(files({ memory: '512m', memorySwap: '1g' })).toEqual(['memory.max=536870912', 'memory.swap.max=536870912']);
    expect(files({ memory: '1g', memorySwap: '1g' })).toEqual(['memory.max=1073741824', 'memory.swap.max=0']);
  });

  it('--memory-swap -1 is unlimited swap', () => {
    expect(files({ memory: '1g', memorySwap: '-1' })).toEqual(['memory.max=1073741824', 'memory.swap.max=max']);
    expect(files({ memory: '1g', memorySwap: -1 })).toEqual(['memory.max=1073741824', 'memory.swap.max=max']);
    expect(files({ memorySwap: '-1' })).toEqual([]);
  });

  it('--memory 0 means no limit', () => {
    expect(files({ memory: '0' })).toEqual([]);
  });

  it('--memory-reservation → memory.low', () => {
    expect(files({ memoryReservation: '256m' })).toEqual(['memory.low=268435456']);
    expect(files({ memory: '1g', memoryReservation: '256m' })).toContain('memory.low=268435456');
  });

  it('refuses --memory below 6m like Docker', () => {
    const e = lodgerErrorOf(() => planLimits({ memory: '4m' }, ALL, UNIFIED));
    expect(e.code).toBe('CGROUP_BAD_VALUE');
    expect(e.exitCode).toBe(125);
    expect(e.message).toBe('--memory 4m is below the minimum of 6m (6291456 bytes) that Docker also enforces: give at least 6m');
  });

  it('refuses --memory-swap without --memory', () => {
    const e = lodgerErrorOf(() => planLimits({ memorySwap: '1g' }, ALL, UNIFIED));
    expect(e.code).toBe('CGROUP_BAD_VALUE');
    expect(e.message).toMatch(/^--memory-swap needs --memory/);
  });

  it('refuses --memory-swap smaller than --memory', () => {
    const e = lodgerErrorOf(() => planLimits({ memory: '1g', memorySwap: '512m' }, ALL, UNIFIED));
    expect(e.code).toBe('CGROUP_BAD_VALUE');
    expect(e.message).toContain('give at least 1g');
  });

  it('refuses --memory-reservation above --memory', () => {
    const e = lodgerErrorOf(() => planLimits({ memory: '256m', memoryReservation: '1g' }, ALL, UNIFIED));
    expect(e.code).toBe('CGROUP_BAD_VALUE');
    expect(e.message).toContain('must fit inside the limit');
  });
});

describe('--cpus', () => {
  it.each([['1', '100000 100000'], ['1.5', '150000 100000'], ['0.5', '50000 100000'], ['.25', '25000 100000'], ['0.01', '1000 100000'], [2, '200000 100000']])(
    '--cpus %s → cpu.max "%s"', (cpus, value) => {
      expect(files({ cpus })).toEqual([`cpu.max=${value}`]);
      expect(planLimits({ cpus }, ALL, UNIFIED).controllers).toEqual(['cpu']);
    });

  it('--cpus 0 means no limit', () => {
    expect(files({ cpus: '0' })).toEqual([]);
  });

  it.each(['-1', 'two', '1,5', ''])('refuses --cpus %j', (cpus) => {
    expect(lodgerErrorOf(() => planLimits({ cpus }, ALL, UNIFIED)).code).toBe('CGROUP_BAD_VALUE');
  });

  it('refuses --cpus below 0.01: the kernel wants at least 1 ms per period', () => {
    const e = lodgerErrorOf(() => planLimits({ cpus: '0.005' }, ALL, UNIFIED));
    expect(e.message).toContain('the smallest limit is 0.01');
  });

  it('refuses more CPUs than the host has when it knows', () => {
    const e = lodgerErrorOf(() => planLimits({ cpus: '4' }, ALL, { ...UNIFIED, hostCpus: 2 }));
    expect(e.code).toBe('CGROUP_BAD_VALUE');
    expect(e.message).toContain('this host has 2 CPUs, so give a value from 0.01 to 2');
    expect(files({ cpus: '2' }, { ...UNIFIED, hostCpus: 2 })).toEqual(['cpu.max=200000 100000']);
  });
});

describe('--cpu-shares', () => {
  it.each([[2, 1], [1024, 39], [512, 20], [262144, 10000], [1, 1], [1_000_000, 10000]])(
    'shares %d → cpu.weight %d (1 + ((shares-2)*9999)/262142, clamped to 2..262144 as v1 did)', (shares, weight) => {
      expect(cpuSharesToWeight(shares)).toBe(weight);
    });

  it('writes cpu.weight', () => {
    expect(files({ cpuShares: '1024' })).toEqual(['cpu.weight=39']);
    expect(files({ cpuShares: '0' })).toEqual([]);
  });

  it.each(['-5', '1.5', 'lots'])('refuses %j', (cpuShares) => {
    expect(lodgerErrorOf(() => planLimits({ cpuShares }, ALL, UNIFIED)).code).toBe('CGROUP_BAD_VALUE');
  });
});

describe('--cpuset-cpus', () => {
  it('goes to cpuset.cpus unchanged', () => {
    expect(files({ cpusetCpus: '0-1,3' })).toEqual(['cpuset.cpus=0-1,3']);
    expect(planLimits({ cpusetCpus: '0' }, ALL, UNIFIED).controllers).toEqual(['cpuset']);
  });

  it.each(['a', '0-', '3-1', '0,,1', '-1'])('refuses %j', (cpusetCpus) => {
    expect(lodgerErrorOf(() => planLimits({ cpusetCpus }, ALL, UNIFIED)).code).toBe('CGROUP_BAD_VALUE');
  });

  it('refuses CPUs the host does not have when it knows', () => {
    const e = lodgerErrorOf(() => planLimits({ cpusetCpus: '0-3' }, ALL, { ...UNIFIED, hostCpus: 2 }));
    expect(e.message).toContain('CPU 3 does not exist');
  });
});

describe('--pids-limit', () => {
  it('→ pids.max', () => {
    expect(files({ pidsLimit: '100' })).toEqual(['pids.max=100']);
    expect(planLimits({ pidsLimit: 5 }, ALL, UNIFIED).controllers).toEqual(['pids']);
  });

  it('-1 and 0 are unlimited: nothing to write, no controller needed', () => {
    expect(planLimits({ pidsLimit: '-1' }, new Set(), HYBRID)).toEqual({ files: [], controllers: [] });
    expect(planLimits({ pidsLimit: '0' }, new Set(), HYBRID)).toEqual({ files: [], controllers: [] });
  });

  it.each(['-2', '1.5', 'many'])('refuses %j', (pidsLimit) => {
    expect(lodgerErrorOf(() => planLimits({ pidsLimit }, ALL, UNIFIED)).code).toBe('CGROUP_BAD_VALUE');
  });
});

describe('--blkio-weight', () => {
  it.each([[10, 1], [500, 4950], [750, 7475], [1000, 10000]])('weight %d → io.weight %d (crun: 1 + (w-10)*9999/990)', (w, io) => {
    expect(blkioWeightToIoWeight(w)).toBe(io);
  });

  it('tries io.bfq.weight with the value as given, else io.weight converted', () => {
    expect(files({ blkioWeight: '500' })).toEqual(['io.bfq.weight=500 | io.weight=4950']);
    expect(planLimits({ blkioWeight: 500 }, ALL, UNIFIED).controllers).toEqual(['io']);
    expect(files({ blkioWeight: '0' })).toEqual([]);
  });

  it.each(['5', '1001', 'x'])('refuses %j (10..1000)', (blkioWeight) => {
    const e = lodgerErrorOf(() => planLimits({ blkioWeight }, ALL, UNIFIED));
    expect(e.code).toBe('CGROUP_BAD_VALUE');
    expect(e.message).toContain('from 10 to 1000');
  });
});

describe('refusals when a controller is missing', () => {
  it('names the flag, the controller, the base and how an admin delegates it', () => {
    const e = lodgerErrorOf(() => planLimits({ memory: '512m' }, new Set(['cpu']), UNIFIED));
    expect(e.code).toBe('CGROUP_CONTROLLER_UNAVAILABLE');
    expect(e.exitCode).toBe(125);
    expect(e.message).toBe(`--memory needs the "memory" cgroup controller, which is not delegated to you in ${UNIFIED.base}: ask an admin to enable it (systemd: Delegate=memory in user@.service) or run without --memory`);
  });

  it('names every missing controller and every flag that needs one in one sentence when the reason is the same', () => {
    const e = lodgerErrorOf(() => planLimits({ memory: '1g', memorySwap: '2g', cpus: '1', pidsLimit: 10 }, new Set(['pids']), UNIFIED));
    expect(e.message).toBe(`--memory, --memory-swap and --cpus need the "cpu" and "memory" cgroup controllers, which are not delegated to you in ${UNIFIED.base}: ask an admin to enable them (systemd: Delegate=cpu memory in user@.service) or run without --memory, --memory-swap and --cpus`);
  });

  it('on a hybrid host lists every v1 hierarchy holding a requested controller', () => {
    const e = lodgerErrorOf(() => planLimits({ memory: '1g', cpus: '1', pidsLimit: 10 }, new Set(), HYBRID));
    expect(e.message).toBe('--memory, --cpus and --pids-limit need the "cpu", "memory" and "pids" cgroup controllers, but this host runs hybrid cgroups and they are bound to cgroup v1 hierarchies (/sys/fs/cgroup/cpu, /sys/fs/cgroup/memory and /sys/fs/cgroup/pids), which lodger cannot use (a controller serves one hierarchy at a time; cgroup-v2.rst "Support for Multiple Hierarchies"): ask an admin to boot with systemd.unified_cgroup_hierarchy=1 (cgroup v2 only) and delegate them to you, or run without --memory, --cpus and --pids-limit');
  });

  it('gives one sentence per reason when controllers are missing for different reasons', () => {
    const ctx: LimitContext = { ...HYBRID, v1Controllers: { memory: '/sys/fs/cgroup/memory' } };
    const e = lodgerErrorOf(() => planLimits({ memory: '1g', pidsLimit: 10 }, new Set(), ctx));
    expect(e.message).toBe(`--memory needs the "memory" cgroup controller, but this host runs hybrid cgroups and "memory" is bound to the cgroup v1 hierarchy at /sys/fs/cgroup/memory, which lodger cannot use (a controller serves one hierarchy at a time; cgroup-v2.rst "Support for Multiple Hierarchies"): ask an admin to boot with systemd.unified_cgroup_hierarchy=1 (cgroup v2 only) and delegate "memory" to you, or run without --memory; also, --pids-limit needs the "pids" cgroup controller, which is not delegated to you in ${HYBRID.base}: ask an admin to enable it (systemd: Delegate=pids in user@.service) or run without --pids-limit`);
  });

  it('on a hybrid host says the controller is bound to its v1 hierarchy and how to get cgroup v2', () => {
    const e = lodgerErrorOf(() => planLimits({ memory: '512m' }, new Set(), HYBRID));
    expect(e.code).toBe('CGROUP_CONTROLLER_UNAVAILABLE');
    expect(e.message).toBe('--memory needs the "memory" cgroup controller, but this host runs hybrid cgroups and "memory" is bound to the cgroup v1 hierarchy at /sys/fs/cgroup/memory, which lodger cannot use (a controller serves one hierarchy at a time; cgroup-v2.rst "Support for Multiple Hierarchies"): ask an admin to boot with systemd.unified_cgroup_hierarchy=1 (cgroup v2 only) and delegate "memory" to you, or run without --memory');
  });

  it('on a hybrid host names blkio as the v1 home of --blkio-weight', () => {
    const e = lodgerErrorOf(() => planLimits({ blkioWeight: 300 }, new Set(), HYBRID));
    expect(e.message).toContain('"blkio" is bound to the cgroup v1 hierarchy at /sys/fs/cgroup/blkio');
  });

  it('on a hybrid host whose controller is on neither hierarchy falls back to the delegation message', () => {
    const e = lodgerErrorOf(() => planLimits({ pidsLimit: 5 }, new Set(), { ...HYBRID, v1Controllers: {} }));
    expect(e.message).toContain(`which is not delegated to you in ${HYBRID.base}`);
  });

  it('on a v1-only host says lodger needs cgroup v2', () => {
    const e = lodgerErrorOf(() => planLimits({ cpus: '1' }, new Set(), { kind: 'legacy', base: null, v1Controllers: { cpu: '/sys/fs/cgroup/cpu,cpuacct' } }));
    expect(e.message).toBe('--cpus needs the "cpu" cgroup controller, but this host has only cgroup v1 hierarchies ("cpu" is at /sys/fs/cgroup/cpu,cpuacct) and lodger drives only cgroup v2: ask an admin to boot with systemd.unified_cgroup_hierarchy=1 and delegate "cpu" to you, or run without --cpus');
  });

  it('without any cgroup filesystem says so', () => {
    const e = lodgerErrorOf(() => planLimits({ pidsLimit: 3 }, new Set(), { kind: 'none', base: null }));
    expect(e.message).toContain('no cgroup filesystem is mounted here');
  });

  it('without a delegated base passes on discovery\'s reason', () => {
    const reason = 'your cgroup /sys/fs/cgroup/user.slice is not delegated to you (its cgroup.procs is not writable by you), and XDG_RUNTIME_DIR is not set: ask an admin to delegate a cgroup subtree to you';
    const e = lodgerErrorOf(() => planLimits({ memory: '1g' }, new Set(), { kind: 'unified', base: null, reason }));
    expect(e.message).toBe(`--memory needs the "memory" cgroup controller, but lodger has no delegated cgroup to put it in: ${reason}; or run without --memory`);
  });

  it('when the base has the controller but could not enable it, says why', () => {
    const why = '/x has processes of its own, and a cgroup may hand controllers to its children only when it has none (cgroup-v2.rst "No Internal Process Constraint"): move your shell into a leaf below it';
    const e = lodgerErrorOf(() => planLimits({ pidsLimit: 5 }, new Set(), { ...UNIFIED, notEnabled: { pids: why } }));
    expect(e.message).toBe(`--pids-limit needs the "pids" cgroup controller, which lodger could not enable for containers in ${UNIFIED.base}: ${why}; or run without --pids-limit`);
  });

  it('checks values before controllers: a bad value is reported even where the controller is missing', () => {
    expect(lodgerErrorOf(() => planLimits({ memory: 'lots' }, new Set(), HYBRID)).code).toBe('CGROUP_BAD_VALUE');
  });

  it('asks for nothing when no limit is requested, even with no controllers', () => {
    expect(planLimits({}, new Set(), HYBRID)).toEqual({ files: [], controllers: [] });
  });
});
