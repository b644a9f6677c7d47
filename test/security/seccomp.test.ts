// The seccomp filter as a container's process meets it: the default profile's refusals (proved against seccomp=unconfined), capability-gated groups, user profiles in Docker's format, and bad profiles.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultSeccompProfile } from '../../src/security/seccompProfile';
import { busyboxStore, expectExit, probeResults, Sentinel, securityPrereqs, statusFields, sysprobeDir, type SecurityStore } from './securityHarness';

const ready = securityPrereqs({ gcc: true });
let s: SecurityStore;
let probe = '';
let sentinel: Sentinel;

beforeAll(async () => {
  if (!ready) return;
  [s, probe] = await Promise.all([busyboxStore('lodger-sec-seccomp-'), sysprobeDir()]);
  sentinel = new Sentinel(s.dir);
});
afterAll(async () => {
  await s?.cleanup();
  if (probe) fs.rmSync(probe, { recursive: true, force: true });
});

/** Runs sysprobe CASES in a busybox container started with ARGS; returns case → result ("ok", "EPERM", …). */
async function probeWith(args: string[], cases: string[]): Promise<Record<string, string>> {
  const r = await s.lodger(['run', '--rm', '-v', `${probe}:/probe:ro`, ...args, 'busybox', '/probe/sysprobe', ...cases]);
  expectExit(r, 0);
  const out = probeResults(r.stdout);
  expect(Object.keys(out)).toEqual(cases);
  return out;
}

/**
 * Calls the kernel checks only after validating arguments that sysprobe makes invalid (or that succeed):
 * unfiltered they fail with something other than EPERM, so an EPERM proves the filter refused them.
 */
const FILTERED = ['keyctl', 'add_key', 'request_key', 'mount', 'umount2', 'unshare-user', 'clone-newuser', 'setns',
  'perf_event_open', 'clock_settime', 'quotactl', 'personality-bad', 'mount_setattr'];
/** Refused by the filter too, but the kernel may refuse them with EPERM as well (before 6.9 open_by_handle_at checks
 * its capability first): the user sees EPERM either way. */
const REFUSED = ['unshare-mnt', 'open_by_handle_at', 'bpf', 'kexec_load', 'init_module', 'finit_module', 'delete_module', 'swapon', 'swapoff', 'reboot', 'settimeofday',
  'acct', 'userfaultfd', 'io_uring_setup', 'socket-vsock'];
const ALLOWED = ['clone-plain', 'personality-query', 'socket-inet', 'ptrace-traceme', 'chroot', 'getppid'];

describe.skipIf(!ready)('the default seccomp profile', () => {
  it('is loaded for every container (Seccomp: 2 in /proc/self/status)', async () => {
    const r = await s.lodger(['run', '--rm', 'busybox', 'grep', '^Seccomp', '/proc/self/status']);
    expectExit(r, 0);
    expect(statusFields(r.stdout)).toMatchObject({ Seccomp: '2', Seccomp_filters: '1' });
  });

  it('refuses keyrings, mounts, namespaces, bpf, perf, modules, kexec, swap, reboot, clock setting, acct, quotas, handles, userfaultfd, io_uring, vsock and odd personalities with EPERM', async () => {
    const confined = await probeWith([], [...FILTERED, ...REFUSED, ...ALLOWED]);
    for (const c of [...FILTERED, ...REFUSED]) expect(`${c} ${confined[c]}`).toBe(`${c} EPERM`);
    for (const c of ALLOWED) expect(`${c} ${confined[c]}`).toBe(`${c} ok`);
    // The same calls without the filter: each gets past it, so the EPERMs above were the filter's.
    const unconfined = await probeWith(['--security-opt', 'seccomp=unconfined'], FILTERED);
    for (const c of FILTERED) expect(`${c} ${unconfined[c]}`).not.toBe(`${c} EPERM`);
    sentinel.assertUntouched();
  });

  it('answers clone3 with ENOSYS, so libc falls back to clone(2), whose namespace flags the filter can see', async () => {
    const r = await probeWith([], ['clone3', 'clone-plain', 'clone-newuser', 'threads']);
    expect(r).toEqual({ clone3: 'ENOSYS', 'clone-plain': 'ok', 'clone-newuser': 'EPERM', threads: 'ok' });
    // Pipes, subshells and background jobs of an ordinary shell script work under the filter.
    const sh = await s.lodger(['run', '--rm', 'busybox', 'sh', '-c', 'echo a | cat | tr a b; (sleep 0; echo sub) & wait']);
    expectExit(sh, 0);
    expect(sh.stdout).toBe('b\nsub\n');
  });

  it('opens the CAP_SYS_ADMIN group when that capability is added (the kernel then decides)', async () => {
    const r = await probeWith(['--cap-add', 'SYS_ADMIN'], ['mount', 'umount2', 'unshare-user', 'clone-newuser', 'setns', 'mount_setattr', 'clone3', 'keyctl']);
    expect(r.mount).toBe('EFAULT');
    expect(r.umount2).toBe('EINVAL');
    expect(r['unshare-user']).toBe('ok');
    expect(r['clone-newuser']).toBe('ok');
    expect(r.setns).toBe('EBADF');
    expect(r.clone3).toBe('EINVAL');
    // Keyrings stay closed whatever the capabilities: they are not namespaced.
    expect(r.keyctl).toBe('EPERM');
  });

  it('opens the CAP_SYS_PTRACE and CAP_SYS_TIME groups each with its own capability only', async () => {
    // kcmp(2) on itself needs no capability and clock_settime(2) with a bad pointer fails with EFAULT before the
    // kernel checks one: past the filter neither says EPERM.
    const cases = ['kcmp', 'clock_settime'];
    expect(await probeWith([], cases)).toEqual({ kcmp: 'EPERM', clock_settime: 'EPERM' });
    expect(await probeWith(['--cap-add', 'SYS_PTRACE'], cases)).toEqual({ kcmp: 'ok', clock_settime: 'EPERM' });
    expect(await probeWith(['--cap-add', 'SYS_TIME'], cases)).toEqual({ kcmp: 'EPERM', clock_settime: 'EFAULT' });
    expect(await probeWith(['--security-opt', 'seccomp=unconfined'], cases)).toEqual({ kcmp: 'ok', clock_settime: 'EFAULT' });
  });

  it('is not loaded with seccomp=unconfined or --privileged', async () => {
    for (const args of [['--security-opt', 'seccomp=unconfined'], ['--privileged']]) {
      const r = await s.lodger(['run', '--rm', ...args, 'busybox', 'grep', '^Seccomp:', '/proc/self/status']);
      expectExit(r, 0);
      expect(statusFields(r.stdout).Seccomp).toBe('0');
    }
  });

  it('applies to a non-root user and with no-new-privileges alike', async () => {
    const r = await probeWith(['-u', '1000', '--security-opt', 'no-new-privileges'], ['keyctl', 'mount', 'getppid']);
    expect(r).toEqual({ keyctl: 'EPERM', mount: 'EPERM', getppid: 'ok' });
  });
});

describe.skipIf(!ready)('--security-opt seccomp=FILE (Docker profile format)', () => {
  const write = (name: string, profile: unknown) => {
    const f = path.join(s.dir, name);
    fs.writeFileSync(f, typeof profile === 'string' ? profile : JSON.stringify(profile));
    return f;
  };

  it('applies the actions, errnoRet and argument conditions it gives', async () => {
    const f = write('custom.json', {
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [
        { names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 },
        { names: ['personality'], action: 'SCMP_ACT_ERRNO', errnoRet: 22, args: [{ index: 0, value: 8, op: 'SCMP_CMP_EQ' }] },
        { names: ['getppid'], action: 'SCMP_ACT_KILL_PROCESS' },
        { names: ['no_such_syscall_anywhere'], action: 'SCMP_ACT_ERRNO' },
      ],
    });
    const r = await probeWith(['--security-opt', `seccomp=${f}`], ['mkdir', 'personality-8', 'personality-0', 'keyctl', 'getppid']);
    expect(r).toEqual({ mkdir: 'EACCES', 'personality-8': 'EINVAL', 'personality-0': 'ok', keyctl: 'ok', getppid: 'signal 31' });
    const sh = await s.lodger(['run', '--rm', '--security-opt', `seccomp=${f}`, 'busybox', 'mkdir', '/x']);
    expect(sh.code).toBe(1);
    expect(sh.stderr).toMatch(/Permission denied/);
  });

  it('takes several conditions on one argument as alternatives, and the old one-name-per-entry format', async () => {
    const f = write('old.json', {
      defaultAction: 'SCMP_ACT_ERRNO',
      architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_AARCH64'],
      syscalls: [
        ...[...defaultSeccompProfile().syscalls![0].names!, 'clone'].map((n) => ({ name: n, action: 'SCMP_ACT_ALLOW', args: [] })),
        { name: 'personality', action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 0, op: 'SCMP_CMP_EQ' }, { index: 0, value: 8, op: 'SCMP_CMP_EQ' }] },
      ],
    });
    const r = await probeWith(['--security-opt', `seccomp=${f}`], ['personality-0', 'personality-8', 'personality-query', 'getppid', 'keyctl']);
    expect(r).toEqual({ 'personality-0': 'ok', 'personality-8': 'ok', 'personality-query': 'EPERM', getppid: 'ok', keyctl: 'EPERM' });
  });

  it('is applied with --privileged when named explicitly', async () => {
    const f = write('deny-keyctl.json', { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['keyctl'], action: 'SCMP_ACT_ERRNO' }] });
    const r = await probeWith(['--privileged', '--security-opt', `seccomp=${f}`], ['keyctl', 'mount']);
    expect(r).toEqual({ keyctl: 'EPERM', mount: 'EFAULT' });
  });

  it('refuses a missing file, bad JSON, unknown actions and SCMP_ACT_NOTIFY with exit 125 and where the mistake is', async () => {
    const cases: Array<[string, RegExp]> = [
      [path.join(s.dir, 'absent.json'), /read the seccomp profile .*absent\.json: no such file or directory/],
      [write('bad.json', '{"defaultAction": '), /read the seccomp profile .*bad\.json: not JSON/],
      [write('action.json', { defaultAction: 'SCMP_ACT_DENY' }), /defaultAction: unknown action "SCMP_ACT_DENY"/],
      [write('notify.json', { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_NOTIFY' }] }), /syscalls\[0\]\.action: SCMP_ACT_NOTIFY needs a seccomp agent/],
      [write('op.json', { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 1, op: 'SCMP_CMP_ALMOST' }] }] }), /syscalls\[0\]\.args\[0\]\.op: unknown comparison/],
      [write('names.json', { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ action: 'SCMP_ACT_ERRNO' }] }), /syscalls\[0\]: "names" must be a non-empty list/],
    ];
    for (const [file, msg] of cases) {
      const r = await s.lodger(['run', '--rm', '--security-opt', `seccomp=${file}`, 'busybox', 'true']);
      expectExit(r, 125);
      expect(r.stderr).toMatch(msg);
      expect(r.stderr).toMatch(/^lodger: /);
    }
  });

  it('a profile that refuses execve stops the container with a message naming the command, not a hang', async () => {
    const f = write('no-exec.json', { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['execve', 'execveat'], action: 'SCMP_ACT_ERRNO' }] });
    const r = await s.lodger(['run', '--rm', '--security-opt', `seccomp=${f}`, 'busybox', 'true']);
    expect(r.timedOut).toBe(false);
    expect(r.code).toBe(126);
    expect(r.stderr).toMatch(/exec "true" in the container: operation not permitted/);
  });
});
