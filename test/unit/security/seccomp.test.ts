// Unit tests for the default seccomp profile, reading Docker-format profiles, compiling them for the helper, and --security-opt.
import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { LodgerError } from '../../../src/errors';
import { DEFAULT_CAPABILITIES, kernelCapabilities } from '../../../src/security/capabilities';
import { checkSecurityOptions, securityRecords, securitySettings } from '../../../src/security/security';
import { compileSeccomp, defaultSeccompProfile, parseSeccompProfile, seccompRecords, type CompiledSeccomp } from '../../../src/security/seccompProfile';
import { requirePrereq } from '../../helpers/prereqs';

const x64 = (capabilities: readonly string[] = DEFAULT_CAPABILITIES, kernel = '6.8.0') =>
  compileSeccomp(defaultSeccompProfile(), { capabilities, arch: 'x64', kernel });

/** The action the compiled filter gives NAME when called with no argument conditions, or the conditional rules. */
function actionFor(c: CompiledSeccomp, name: string): string {
  const rules = c.rules.filter((r) => r.names.includes(name));
  if (rules.length === 0) return c.defaultAction;
  return rules.map((r) => (r.args.length ? `${r.action} if ${r.args.join(' & ')}` : r.action)).join(' | ');
}

function thrown(fn: () => unknown): LodgerError {
  try { fn(); } catch (e) { expect(e).toBeInstanceOf(LodgerError); return e as LodgerError; }
  throw new Error('expected a LodgerError');
}

describe('the default profile', () => {
  it('is an allow-list that refuses with EPERM, on x86_64 with its 32-bit and x32 sub-architectures', () => {
    const c = x64();
    expect(c.defaultAction).toBe('errno:1');
    expect(c.arches).toEqual(['x86_64', 'x86', 'x32']);
    expect(compileSeccomp(defaultSeccompProfile(), { capabilities: [], arch: 'arm64', kernel: '6.1' }).arches).toEqual(['aarch64', 'arm']);
    for (const n of ['read', 'write', 'openat', 'pipe2', 'execve', 'capset', 'close_range', 'rt_sigaction', 'wait4', 'chroot', 'ptrace']) {
      expect(`${n}: ${actionFor(c, n)}`).toBe(`${n}: allow`);
    }
  });

  it('refuses keyrings, io_uring, mounts, namespaces, modules, kexec, swap, reboot, clock setting and more without the capabilities', () => {
    const c = x64();
    for (const n of ['keyctl', 'add_key', 'request_key', 'io_uring_setup', 'io_uring_enter', 'mount', 'umount2', 'unshare', 'setns',
      'bpf', 'perf_event_open', 'kexec_load', 'init_module', 'finit_module', 'delete_module', 'swapon', 'swapoff', 'reboot',
      'settimeofday', 'clock_settime', 'acct', 'quotactl', 'lookup_dcookie', 'open_by_handle_at', 'userfaultfd', 'pivot_root',
      'fsopen', 'open_tree', 'move_mount', 'iopl', 'ioperm', 'vhangup', 'syslog', 'nfsservctl', 'uselib', '_sysctl']) {
      expect(`${n}: ${actionFor(c, n)}`).toBe(`${n}: errno:1`);
    }
  });

  it('lets clone through only without namespace flags, answers clone3 with ENOSYS, and allows only harmless personalities and non-vsock sockets', () => {
    const c = x64();
    expect(actionFor(c, 'clone')).toBe('allow if 0:masked_eq:2114060288:0');
    expect(actionFor(c, 'clone3')).toBe('errno:38');
    expect(actionFor(c, 'personality').split(' | ').sort()).toEqual(
      ['0:eq:0:0', '0:eq:131072:0', '0:eq:131080:0', '0:eq:4294967295:0', '0:eq:8:0'].map((a) => `allow if ${a}`));
    expect(actionFor(c, 'socket')).toBe('allow if 0:ne:40:0');
  });

  it('opens each capability group when the bounding set has the capability', () => {
    const admin = x64([...DEFAULT_CAPABILITIES, 'CAP_SYS_ADMIN']);
    for (const n of ['mount', 'umount2', 'unshare', 'setns', 'clone', 'clone3', 'bpf', 'perf_event_open', 'pivot_root']) expect(`${n}: ${actionFor(admin, n)}`).toBe(`${n}: allow`);
    expect(actionFor(admin, 'keyctl')).toBe('errno:1');
    expect(actionFor(x64(['CAP_SYS_BOOT']), 'reboot')).toBe('allow');
    expect(actionFor(x64(['CAP_SYS_PTRACE']), 'userfaultfd')).toBe('allow');
    expect(actionFor(x64(['CAP_DAC_READ_SEARCH']), 'open_by_handle_at')).toBe('allow');
    expect(actionFor(x64([]), 'chroot')).toBe('errno:1');
  });

  it('allows ptrace only from kernel 4.8 on (earlier, a tracer could skip the filter), unless CAP_SYS_PTRACE', () => {
    expect(actionFor(x64(DEFAULT_CAPABILITIES, '4.4.0-210-generic'), 'ptrace')).toBe('errno:1');
    expect(actionFor(x64(DEFAULT_CAPABILITIES, '4.8.0'), 'ptrace')).toBe('allow');
    expect(actionFor(x64(['CAP_SYS_PTRACE'], '4.4.0'), 'ptrace')).toBe('allow');
  });

  it("names every syscall of this machine's x86_64 table: allowed, capability-gated, or one of the deliberately refused", () => {
    const table = '/usr/include/x86_64-linux-gnu/asm/unistd_64.h';
    if (process.arch !== 'x64') return;  // the table checked is x86_64's
    if (!requirePrereq(fs.existsSync(table), `${table} is missing (Debian package linux-libc-dev)`)) return;
    const all = [...fs.readFileSync(table, 'utf8').matchAll(/^#define __NR_(\w+)\s/gm)].map((m) => m[1]);
    const named = new Set(defaultSeccompProfile().syscalls!.flatMap((s) => s.names!));
    const refused = ['_sysctl', 'add_key', 'afs_syscall', 'create_module', 'epoll_ctl_old', 'epoll_wait_old', 'get_kernel_syms', 'getpmsg',
      'io_uring_enter', 'io_uring_register', 'io_uring_setup', 'keyctl', 'nfsservctl', 'putpmsg', 'query_module', 'request_key',
      'security', 'swapoff', 'swapon', 'sysfs', 'tuxcall', 'uselib', 'ustat', 'vserver'];
    expect(all.filter((n) => !named.has(n) && !refused.includes(n))).toEqual([]);
  });
});

describe('reading a profile', () => {
  it('takes Docker\'s format, including the old single "name" form', () => {
    const p = parseSeccompProfile(JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ name: 'mkdir', action: 'SCMP_ACT_ERRNO', args: [] }] }), 'p.json');
    const c = compileSeccomp(p, { capabilities: [], arch: 'x64', kernel: '6.1' });
    expect(c).toEqual({ defaultAction: 'allow', arches: [], rules: [{ action: 'errno:1', args: [], names: ['mkdir'] }] });
  });

  it('says what is wrong and where', () => {
    const msg = (v: unknown) => thrown(() => parseSeccompProfile(typeof v === 'string' ? v : JSON.stringify(v), 'x.json')).message;
    expect(msg('{')).toMatch(/^read the seccomp profile x\.json: not JSON/);
    expect(msg([])).toMatch(/not a JSON object/);
    expect(msg({ defaultAction: 'SCMP_ACT_NOPE' })).toMatch(/defaultAction: unknown action "SCMP_ACT_NOPE"/);
    expect(msg({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['x'], action: 'SCMP_ACT_NOTIFY' }] })).toMatch(/syscalls\[0\]\.action: SCMP_ACT_NOTIFY needs a seccomp agent/);
    expect(msg({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: [], action: 'SCMP_ACT_ERRNO' }] })).toMatch(/syscalls\[0\]: "names" must be a non-empty list/);
    expect(msg({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['a b'], action: 'SCMP_ACT_ERRNO' }] })).toMatch(/"names" must be/);
    expect(msg({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['x'], action: 'SCMP_ACT_ERRNO', args: [{ index: 6, value: 0, op: 'SCMP_CMP_EQ' }] }] })).toMatch(/args\[0\]\.index must be 0…5/);
    expect(msg({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['x'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: -1, op: 'SCMP_CMP_EQ' }] }] })).toMatch(/non-negative integers/);
    expect(thrown(() => parseSeccompProfile('{', 'x')).exitCode).toBe(125);
  });
});

describe('compiling for the helper', () => {
  const profile = (syscalls: unknown[], extra: Record<string, unknown> = {}) =>
    parseSeccompProfile(JSON.stringify({ defaultAction: 'SCMP_ACT_ERRNO', syscalls, ...extra }), 'p');

  it('reads several conditions on one argument as alternatives, AND-ed with the others', () => {
    const c = compileSeccomp(profile([{ names: ['f'], action: 'SCMP_ACT_ALLOW', args: [
      { index: 0, value: 1, op: 'SCMP_CMP_EQ' }, { index: 0, value: 2, op: 'SCMP_CMP_EQ' }, { index: 1, value: 7, valueTwo: 3, op: 'SCMP_CMP_MASKED_EQ' }] }]),
    { capabilities: [], arch: 'x64' });
    expect(c.rules).toEqual([
      { action: 'allow', args: ['0:eq:1:0', '1:masked_eq:7:3'], names: ['f'] },
      { action: 'allow', args: ['0:eq:2:0', '1:masked_eq:7:3'], names: ['f'] },
    ]);
  });

  it('merges entries with the same action and conditions, maps every action, and honours errnoRet and defaultErrnoRet', () => {
    const c = compileSeccomp(profile([
      { names: ['a'], action: 'SCMP_ACT_ALLOW' }, { names: ['b', 'a'], action: 'SCMP_ACT_ALLOW' },
      { names: ['c'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 }, { names: ['d'], action: 'SCMP_ACT_KILL' },
      { names: ['e'], action: 'SCMP_ACT_KILL_PROCESS' }, { names: ['f'], action: 'SCMP_ACT_TRAP' }, { names: ['g'], action: 'SCMP_ACT_LOG' },
      { names: ['h'], action: 'SCMP_ACT_TRACE', errnoRet: 5 }, { names: ['i'], action: 'SCMP_ACT_ERRNO' },
    ], { defaultErrnoRet: 13 }), { capabilities: [], arch: 'x64' });
    expect(c.defaultAction).toBe('errno:13');
    expect(c.rules.map((r) => `${r.action}=${r.names.join(',')}`)).toEqual(
      ['allow=a,b', 'errno:38=c', 'kill_thread=d', 'kill_process=e', 'trap=f', 'log=g', 'trace:5=h', 'errno:13=i']);
  });

  it('honours includes/excludes for arches and minKernel, and architectures/archMap', () => {
    const p = profile([
      { names: ['x86only'], action: 'SCMP_ACT_ALLOW', includes: { arches: ['amd64'] } },
      { names: ['armonly'], action: 'SCMP_ACT_ALLOW', includes: { arches: ['arm64'] } },
      { names: ['notx86'], action: 'SCMP_ACT_ALLOW', excludes: { arches: ['amd64'] } },
      { names: ['new'], action: 'SCMP_ACT_ALLOW', includes: { minKernel: '5.10' } },
      { names: ['both'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_A', 'CAP_B'] } },
      { names: ['unless_b'], action: 'SCMP_ACT_ALLOW', excludes: { caps: ['CAP_B'] } },
    ], { architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86'] });
    const names = (arch: string, kernel: string, caps: string[]) => compileSeccomp(p, { capabilities: caps, arch, kernel }).rules.flatMap((r) => r.names);
    expect(names('x64', '5.4.0', ['CAP_A'])).toEqual(['x86only', 'unless_b']);
    expect(names('arm64', '5.10.1', ['CAP_A', 'CAP_B'])).toEqual(['armonly', 'notx86', 'new', 'both']);
    expect(compileSeccomp(p, { capabilities: [], arch: 'x64' }).arches).toEqual(['x86_64', 'x86']);
  });

  it('encodes one record per rule, conditions first, however many names it has', () => {
    const many = Array.from({ length: 900 }, (_, i) => `s${i}`);
    const recs = seccompRecords({ defaultAction: 'errno:1', arches: ['x86_64'], rules: [{ action: 'allow', args: ['0:eq:1:0'], names: many }, { action: 'log', args: [], names: [] }] });
    expect(recs[0]).toEqual(['seccomp', 'errno:1', 'x86_64']);
    expect(recs.slice(1).map((r) => r.length)).toEqual([904]);
    expect(recs[1].slice(0, 5)).toEqual(['seccomp-rule', 'allow', 1, '0:eq:1:0', 's0']);
  });
});

describe('--security-opt and the records of a container', () => {
  const hc = (o: Partial<{ CapAdd: string[]; CapDrop: string[]; Privileged: boolean; SecurityOpt: string[] }> = {}) =>
    ({ CapAdd: [], CapDrop: [], Privileged: false, SecurityOpt: [], ...o });

  it('records seccomp=FILE as the profile itself, so the container keeps what it was created with', () => {
    const stored = checkSecurityOptions({ capAdd: [], capDrop: [], securityOpt: ['seccomp=/p.json', 'no-new-privileges'] },
      () => '{"defaultAction":"SCMP_ACT_ALLOW"}');
    expect(stored).toEqual(['seccomp={"defaultAction":"SCMP_ACT_ALLOW"}', 'no-new-privileges=true']);
    expect(securitySettings(stored)).toEqual({ noNewPrivileges: true, seccomp: { defaultAction: 'SCMP_ACT_ALLOW' }, unmaskSystemPaths: false });
  });

  it('default: caps for the user, the default filter; no no_new_privs', () => {
    const root = securityRecords(hc(), 0);
    expect(root[0]).toEqual(['caps', '0,1,3,4,5,6,7,8,10,13,18,27,29,31', '0,1,3,4,5,6,7,8,10,13,18,27,29,31', '0,1,3,4,5,6,7,8,10,13,18,27,29,31', '', '']);
    expect(root[1][0]).toBe('seccomp');
    expect(root.some((r) => r[0] === 'no-new-privileges')).toBe(false);
    expect(securityRecords(hc(), 1000)[0]).toEqual(['caps', '0,1,3,4,5,6,7,8,10,13,18,27,29,31', '', '', '', '']);
  });

  it('--privileged: no filter unless one is named; seccomp=unconfined: none', () => {
    expect(securityRecords(hc({ Privileged: true }), 0).map((r) => r[0])).toEqual(['caps']);
    expect(securityRecords(hc({ SecurityOpt: ['seccomp=unconfined', 'no-new-privileges=true'] }), 0).map((r) => r[0])).toEqual(['caps', 'no-new-privileges']);
    const named = securityRecords(hc({ Privileged: true, SecurityOpt: ['seccomp={"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["keyctl"],"action":"SCMP_ACT_ERRNO"}]}'] }), 0);
    expect(named.slice(1)).toEqual([['seccomp', 'allow'], ['seccomp-rule', 'errno:1', 0, 'keyctl']]);
  });

  it('exec --privileged: every capability, but the filter stays the one made for the container', () => {
    const recs = securityRecords(hc(), 0, { execPrivileged: true });
    const caps = recs[0];
    if (caps[0] !== 'caps') throw new Error(`first record is ${caps[0]}, not caps`);
    expect(caps[1].split(',')).toHaveLength(kernelCapabilities().length);
    const rules = recs.filter((r) => r[0] === 'seccomp-rule');
    expect(rules.some((r) => r.includes('mount'))).toBe(false);
    expect(rules.some((r) => r[1] === 'errno:38' && r.includes('clone3'))).toBe(true);
  });

  it('refuses what it does not know, with exit 125', () => {
    for (const [opt, msg] of [['seccomp=', /give seccomp=unconfined/], ['no-new-privileges:yes', /expected true or false/],
      ['label=type:foo', /does not apply SELinux labels/], ['systempaths=open', /only systempaths=unconfined/], ['Foo', /expected KEY or KEY=VALUE/]] as const) {
      const e = thrown(() => checkSecurityOptions({ capAdd: [], capDrop: [], securityOpt: [opt] }, () => ''));
      expect(e.exitCode).toBe(125);
      expect(e.message).toMatch(new RegExp(`^--security-opt ${opt.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `));
      expect(e.message).toMatch(msg);
    }
    expect(checkSecurityOptions({ capAdd: [], capDrop: [], securityOpt: ['apparmor=unconfined', 'label=disable'] })).toEqual(['apparmor=unconfined', 'label=disable']);
  });
});
