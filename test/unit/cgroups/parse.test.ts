// Unit tests for the cgroup text parsers and the pure parts of discovery, on real mountinfo and /proc/PID/cgroup samples.
import { describe, expect, it } from 'vitest';
import { parseControllerList, parseFlatKeyed, parseMaxOrNumber, parseMountinfo, parseNestedKeyed, parseProcCgroup } from '../../../src/cgroups/parse';
import { cgroupDirOf, classifyHost, resolveCgroupParent } from '../../../src/cgroups/discover';

// This project's CI host (hybrid, cgroup2 at /sys/fs/cgroup/unified, no optional fields), verbatim.
const HYBRID_CI = `31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`;
const HYBRID_CI_CGROUP = `9:name=systemd:/
8:pids:/
7:blkio:/
6:freezer:/
5:devices:/
4:memory:/process_api/e3f4148b1e683f36b57205e6cf6320b6
3:cpuset:/
2:cpuacct:/
1:cpu:/
0::/lodger.delegate/lodgertest/session
`;

// Ubuntu 20.04 (systemd hybrid mode): optional "shared:N" fields, combined cpu,cpuacct hierarchy.
const HYBRID_SYSTEMD = `22 27 0:20 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
30 22 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
31 30 0:27 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate
32 30 0:28 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,xattr,name=systemd
35 30 0:31 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,memory
36 30 0:32 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:16 - cgroup cgroup rw,cpu,cpuacct
37 30 0:33 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:17 - cgroup cgroup rw,pids
38 30 0:34 / /sys/fs/cgroup/blkio rw,nosuid,nodev,noexec,relatime shared:18 - cgroup cgroup rw,blkio
39 30 0:35 / /sys/fs/cgroup/cpuset rw,nosuid,nodev,noexec,relatime shared:19 - cgroup cgroup rw,cpuset
`;
const HYBRID_SYSTEMD_CGROUP = `12:pids:/user.slice/user-1000.slice/user@1000.service
11:memory:/user.slice/user-1000.slice/user@1000.service
5:cpu,cpuacct:/user.slice
1:name=systemd:/user.slice/user-1000.slice/user@1000.service/apps.slice/apps-org.gnome.Terminal.slice/vte-spawn-2f1.scope
0::/user.slice/user-1000.slice/user@1000.service/apps.slice/apps-org.gnome.Terminal.slice/vte-spawn-2f1.scope
`;

// Fedora 39 (cgroup v2 only).
const UNIFIED = `24 1 253:0 / / rw,relatime shared:1 - ext4 /dev/mapper/root rw,seclabel
35 24 0:30 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,seclabel,nsdelegate,memory_recursiveprot
`;
const UNIFIED_CGROUP = '0::/user.slice/user-1000.slice/user@1000.service/app.slice/app-org.gnome.Terminal.slice/vte-spawn-9e.scope\n';

// CentOS 7 (cgroup v1 only): controller order in super options is not the mount point's.
const LEGACY = `25 18 0:21 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:8 - tmpfs tmpfs ro,seclabel,mode=755
26 25 0:22 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:9 - cgroup cgroup rw,seclabel,xattr,release_agent=/usr/lib/systemd/systemd-cgroups-agent,name=systemd
29 25 0:25 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:12 - cgroup cgroup rw,seclabel,memory
30 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:13 - cgroup cgroup rw,seclabel,cpuacct,cpu
31 25 0:27 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,seclabel,pids
32 25 0:28 / /sys/fs/cgroup/blkio rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,seclabel,blkio
`;
const LEGACY_CGROUP = `11:pids:/user.slice
10:blkio:/user.slice
4:memory:/user.slice
3:cpuacct,cpu:/user.slice
1:name=systemd:/user.slice/user-1000.slice/session-1.scope
`;

describe('parseMountinfo', () => {
  it('finds the fstype after the separator however many optional fields precede it', () => {
    const m = parseMountinfo(HYBRID_SYSTEMD);
    const v2 = m.find((e) => e.fstype === 'cgroup2');
    expect(v2).toEqual({ root: '/', mountPoint: '/sys/fs/cgroup/unified', fstype: 'cgroup2', superOptions: ['rw', 'nsdelegate'] });
    expect(m.find((e) => e.mountPoint === '/sys/fs/cgroup/cpu,cpuacct')?.superOptions).toEqual(['rw', 'cpu', 'cpuacct']);
  });

  it('decodes octal escapes in mount points', () => {
    const [e] = parseMountinfo('50 24 0:40 / /mnt/my\\040cgroup rw,relatime - cgroup2 cgroup2 rw\n');
    expect(e.mountPoint).toBe('/mnt/my cgroup');
  });

  it('ignores lines that are not mountinfo', () => {
    expect(parseMountinfo('garbage\n\n')).toEqual([]);
  });
});

describe('classifyHost', () => {
  it('calls this CI host hybrid, with cgroup2 at /sys/fs/cgroup/unified and memory on v1', () => {
    const h = classifyHost(parseMountinfo(HYBRID_CI));
    expect(h.kind).toBe('hybrid');
    expect(h.mount).toBe('/sys/fs/cgroup/unified');
    expect(h.v1Controllers.memory).toBe('/sys/fs/cgroup/memory');
    expect(h.v1Controllers.pids).toBe('/sys/fs/cgroup/pids');
    expect(h.v1Controllers).not.toHaveProperty('name=systemd');
  });

  it('calls systemd hybrid mode hybrid and maps combined hierarchies to each controller', () => {
    const h = classifyHost(parseMountinfo(HYBRID_SYSTEMD));
    expect(h.kind).toBe('hybrid');
    expect(h.v1Controllers.cpu).toBe('/sys/fs/cgroup/cpu,cpuacct');
    expect(h.v1Controllers.cpuacct).toBe('/sys/fs/cgroup/cpu,cpuacct');
  });

  it('calls a cgroup2-only host unified', () => {
    const h = classifyHost(parseMountinfo(UNIFIED));
    expect(h).toEqual({ kind: 'unified', mount: '/sys/fs/cgroup', mountRoot: '/', v1Controllers: {} });
  });

  it('calls a v1-only host legacy with no cgroup2 mount', () => {
    const h = classifyHost(parseMountinfo(LEGACY));
    expect(h.kind).toBe('legacy');
    expect(h.mount).toBeNull();
    expect(h.v1Controllers.memory).toBe('/sys/fs/cgroup/memory');
  });

  it('calls cgroup2 beside only a named v1 hierarchy unified: no controller is taken away', () => {
    const h = classifyHost(parseMountinfo(`${UNIFIED}40 35 0:37 / /run/systemd-v1 rw - cgroup cgroup rw,name=systemd\n`));
    expect(h.kind).toBe('unified');
  });

  it('reports none when no cgroup filesystem is mounted', () => {
    expect(classifyHost(parseMountinfo('24 1 253:0 / / rw - ext4 /dev/vda rw\n')).kind).toBe('none');
  });

  it('prefers /sys/fs/cgroup over another view of the same hierarchy', () => {
    const h = classifyHost(parseMountinfo(`60 24 0:30 / /mnt/cg rw - cgroup2 cgroup2 rw\n${UNIFIED}`));
    expect(h.mount).toBe('/sys/fs/cgroup');
  });
});

describe('parseProcCgroup', () => {
  it('reads the 0:: line as the unified path next to v1 lines (hybrid)', () => {
    const p = parseProcCgroup(HYBRID_CI_CGROUP);
    expect(p.unified).toBe('/lodger.delegate/lodgertest/session');
    expect(p.v1.memory).toBe('/process_api/e3f4148b1e683f36b57205e6cf6320b6');
    expect(p.v1['name=systemd']).toBe('/');
  });

  it('splits combined v1 controller lists', () => {
    const p = parseProcCgroup(HYBRID_SYSTEMD_CGROUP);
    expect(p.v1.cpu).toBe('/user.slice');
    expect(p.v1.cpuacct).toBe('/user.slice');
    expect(p.unified).toMatch(/vte-spawn-2f1\.scope$/);
  });

  it('reads a unified host', () => {
    expect(parseProcCgroup(UNIFIED_CGROUP)).toEqual({ unified: UNIFIED_CGROUP.slice(3, -1), v1: {} });
  });

  it('has no unified path on a v1-only host', () => {
    const p = parseProcCgroup(LEGACY_CGROUP);
    expect(p.unified).toBeNull();
    expect(p.v1.pids).toBe('/user.slice');
  });

  it('keeps colons inside the path', () => {
    expect(parseProcCgroup('0::/a:b/c\n').unified).toBe('/a:b/c');
  });
});

describe('cgroupDirOf', () => {
  it('joins the path to a mount that shows the whole hierarchy', () => {
    expect(cgroupDirOf('/sys/fs/cgroup/unified', '/', '/lodger.delegate/lodgertest/session'))
      .toBe('/sys/fs/cgroup/unified/lodger.delegate/lodgertest/session');
    expect(cgroupDirOf('/sys/fs/cgroup', '/', '/')).toBe('/sys/fs/cgroup');
  });

  it('strips the mount root when the mount shows a subtree', () => {
    expect(cgroupDirOf('/sys/fs/cgroup', '/user.slice/job.scope', '/user.slice/job.scope/sub')).toBe('/sys/fs/cgroup/sub');
    expect(cgroupDirOf('/sys/fs/cgroup', '/user.slice/job.scope', '/user.slice/job.scope')).toBe('/sys/fs/cgroup');
  });

  it('gives null for a cgroup outside what the mount shows', () => {
    expect(cgroupDirOf('/sys/fs/cgroup', '/user.slice/job.scope', '/system.slice/other.service')).toBeNull();
    expect(cgroupDirOf('/sys/fs/cgroup', '/user.slice/job', '/user.slice/job.scope')).toBeNull();
  });
});

describe('explicit cgroup parent', () => {
  it('takes a path under the mount as is and other paths relative to the hierarchy root', () => {
    expect(resolveCgroupParent('/sys/fs/cgroup/unified', '/sys/fs/cgroup/unified/lodger.delegate/lodgertest')).toBe('/sys/fs/cgroup/unified/lodger.delegate/lodgertest');
    expect(resolveCgroupParent('/sys/fs/cgroup/unified', '/lodger.delegate/lodgertest')).toBe('/sys/fs/cgroup/unified/lodger.delegate/lodgertest');
    expect(resolveCgroupParent('/sys/fs/cgroup', 'lodger.delegate/')).toBe('/sys/fs/cgroup/lodger.delegate');
  });

  it('refuses a relative path that climbs out of the hierarchy', () => {
    expect(() => resolveCgroupParent('/sys/fs/cgroup', '../../etc')).toThrow('/sys/etc is outside the cgroup2 hierarchy at /sys/fs/cgroup: give a path inside it');
  });
});

describe('interface file parsers', () => {
  it('parses cgroup.events and cpu.stat (flat keyed)', () => {
    const ev = parseFlatKeyed('populated 1\nfrozen 0\n');
    expect(ev.get('populated')).toBe(1);
    expect(ev.get('frozen')).toBe(0);
    const cpu = parseFlatKeyed('usage_usec 305411\nuser_usec 300000\nsystem_usec 5411\nnr_periods 0\n');
    expect(cpu.get('usage_usec')).toBe(305411);
    expect(cpu.get('system_usec')).toBe(5411);
  });

  it('parses io.stat (nested keyed) per device', () => {
    const io = parseNestedKeyed('8:16 rbytes=1459200 wbytes=314773504 rios=192 wios=353 dbytes=0 dios=0\n8:0 rbytes=90430464 wbytes=299008000 rios=8950 wios=1252 dbytes=50331648 dios=3021\n');
    expect(io.get('8:16')?.get('wbytes')).toBe(314773504);
    expect(io.get('8:0')?.get('rbytes')).toBe(90430464);
  });

  it('reads "max" and numbers, and rejects anything else as unknown', () => {
    expect(parseMaxOrNumber('max\n')).toBe('max');
    expect(parseMaxOrNumber('536870912\n')).toBe(536870912);
    expect(parseMaxOrNumber('\n')).toBeNull();
    expect(parseMaxOrNumber('lots')).toBeNull();
  });

  it('splits controller lists', () => {
    expect(parseControllerList('cpuset cpu io memory hugetlb pids rdma misc\n')).toEqual(['cpuset', 'cpu', 'io', 'memory', 'hugetlb', 'pids', 'rdma', 'misc']);
    expect(parseControllerList('\n')).toEqual([]);
  });
});
