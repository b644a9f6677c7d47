// Capabilities, no_new_privs and setgroups as a container's process sees them: Docker's defaults for root and other users, --cap-add/--cap-drop/--privileged, bad values refused.
import * as fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busyboxStore, expectExit, loadHostileImage, probeResults, removeBuiltTools, Sentinel, securityPrereqs, statusFields, sysprobeDir, type SecurityStore } from './securityHarness';

const ready = securityPrereqs({ gcc: true });
let s: SecurityStore;
let sentinel: Sentinel;

/** Docker's default set (CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID SETPCAP NET_BIND_SERVICE NET_RAW SYS_CHROOT MKNOD AUDIT_WRITE SETFCAP). */
const DOCKER_DEFAULT = '00000000a80425fb';
const NONE = '0000000000000000';
/** Every capability this kernel has, as /proc/PID/status prints the mask. */
const lastCap = Number(fs.readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8'));
const ALL = ((1n << BigInt(lastCap + 1)) - 1n).toString(16).padStart(16, '0');
const hex = (m: bigint) => m.toString(16).padStart(16, '0');

beforeAll(async () => {
  if (!ready) return;
  s = await busyboxStore('lodger-sec-caps-');
  sentinel = new Sentinel(s.dir);
});
afterAll(async () => {
  await s?.cleanup();
  removeBuiltTools();
});

/** The container's own view of its capabilities and no_new_privs (/proc/self/status), run with ARGS. */
async function status(args: string[], user?: string): Promise<Record<string, string>> {
  const r = await s.lodger(['run', '--rm', ...(user ? ['-u', user] : []), ...args, 'busybox', 'grep', '-E', '^(Cap|NoNewPrivs|Seccomp:)', '/proc/self/status']);
  expectExit(r, 0);
  return statusFields(r.stdout);
}

describe.skipIf(!ready)('capabilities of the container process', () => {
  it("root in the container has Docker's default set as bounding, permitted and effective; inheritable and ambient are empty", async () => {
    const st = await status([]);
    expect(st).toMatchObject({ CapBnd: DOCKER_DEFAULT, CapPrm: DOCKER_DEFAULT, CapEff: DOCKER_DEFAULT, CapInh: NONE, CapAmb: NONE, NoNewPrivs: '0' });
  });

  it('a non-root user keeps the bounding set but has no permitted or effective capabilities, even with --cap-add ALL', async () => {
    expect(await status([], '1000')).toMatchObject({ CapBnd: DOCKER_DEFAULT, CapPrm: NONE, CapEff: NONE, CapInh: NONE, CapAmb: NONE });
    expect(await status([], 'app')).toMatchObject({ CapBnd: DOCKER_DEFAULT, CapPrm: NONE, CapEff: NONE });
    expect(await status(['--cap-add', 'ALL'], '1000:1000')).toMatchObject({ CapBnd: ALL, CapPrm: NONE, CapEff: NONE, CapAmb: NONE });
    // What that means for the user: root's privileges over files are gone.
    const r = await s.lodger(['run', '--rm', '-u', '1000', 'busybox', 'sh', '-c', 'cat /root/.profile 2>&1; ls /root 2>&1; echo done']);
    expectExit(r, 0);
    expect(r.stdout).toMatch(/Permission denied/);
  });

  it('--cap-drop removes a default: chown fails inside with EPERM', async () => {
    const st = await status(['--cap-drop', 'chown']);
    expect(st.CapBnd).toBe(hex(0xa80425fbn & ~1n));
    expect(st.CapEff).toBe(hex(0xa80425fbn & ~1n));
    const r = await s.lodger(['run', '--rm', '--cap-drop', 'CAP_CHOWN', 'busybox', 'sh', '-c', 'touch /tmp/f && chown 1000 /tmp/f; echo "status $?"']);
    expectExit(r, 0);
    expect(r.stderr).toMatch(/Operation not permitted/);
    expect(r.stdout).toContain('status 1');
  });

  it('--cap-add takes names with or without CAP_, in any case', async () => {
    const st = await status(['--cap-add', 'net_admin', '--cap-add', 'CAP_SYS_PTRACE', '--cap-add', 'Sys_Nice']);
    const want = 0xa80425fbn | (1n << 12n) | (1n << 19n) | (1n << 23n);
    expect(st).toMatchObject({ CapBnd: hex(want), CapPrm: hex(want), CapEff: hex(want) });
  });

  it('--cap-drop ALL --cap-add X leaves exactly X; --cap-add ALL --cap-drop X leaves all but X', async () => {
    expect(await status(['--cap-drop', 'ALL', '--cap-add', 'chown'])).toMatchObject({ CapBnd: hex(1n), CapEff: hex(1n) });
    expect(await status(['--cap-drop', 'all'])).toMatchObject({ CapBnd: NONE, CapEff: NONE, CapPrm: NONE });
    const allButRaw = hex(BigInt(`0x${ALL}`) & ~(1n << 13n));
    expect(await status(['--cap-add', 'ALL', '--cap-drop', 'NET_RAW'])).toMatchObject({ CapBnd: allButRaw, CapEff: allButRaw });
    // With no capabilities at all, root inside cannot read another user's private file.
    const r = await s.lodger(['run', '--rm', '--cap-drop', 'ALL', 'busybox', 'sh', '-c', 'touch /tmp/p && chmod 0 /tmp/p && chown 1000 /tmp/p; cat /tmp/p; echo "status $?"']);
    expectExit(r, 0);
    expect(r.stdout).toContain('status 1');
  });

  it('--privileged gives every capability of the user namespace and no seccomp filter', async () => {
    expect(await status(['--privileged'])).toMatchObject({ CapBnd: ALL, CapPrm: ALL, CapEff: ALL, CapInh: NONE, 'Seccomp': '0' });
  });

  it('unknown capability names are refused before anything starts, with exit 125 and the name', async () => {
    for (const [flag, value] of [['--cap-add', 'SYS_FOO'], ['--cap-drop', 'cap_nonsense'], ['--cap-add', '']]) {
      const r = await s.lodger(['run', '--rm', flag, value, 'busybox', 'true']);
      expectExit(r, 125);
      expect(r.stderr).toContain(`lodger: ${flag} ${value}: unknown capability`);
      expect(r.stderr).toContain('capabilities(7)');
    }
    const ps = await s.lodger(['ps', '-a', '-q']);
    expect(ps.stdout.trim()).toBe('');
  });

  it('every capability of the user namespace (--privileged) still reaches no host-wide state: hostname, clock, sysctls', async () => {
    const read = (f: string) => { try { return fs.readFileSync(f, 'utf8'); } catch { return 'absent'; } };
    const host = { hostname: read('/proc/sys/kernel/hostname'), sysrq: read('/proc/sys/kernel/sysrq'),
      corePattern: read('/proc/sys/kernel/core_pattern'), time: Date.now() };
    const r = await s.lodger(['run', '--rm', '--privileged', 'busybox', 'sh', '-c',
      'hostname pwned-by-container; date -s "2001-01-01 00:00:00" >/dev/null; echo 0 > /proc/sys/kernel/sysrq; ' +
      'echo "|/tmp/pwn" > /proc/sys/kernel/core_pattern; mkdir -p /mnt; mount -t tmpfs none /mnt && echo mounted; hostname']);
    expectExit(r, 0);
    // Inside its own namespaces the container may do all of this…
    expect(r.stdout).toContain('mounted');
    expect(r.stdout).toContain('pwned-by-container');
    // …and none of it is the host's.
    expect(read('/proc/sys/kernel/hostname')).toBe(host.hostname);
    expect(read('/proc/sys/kernel/sysrq')).toBe(host.sysrq);
    expect(read('/proc/sys/kernel/core_pattern')).toBe(host.corePattern);
    expect(Math.abs(Date.now() - host.time)).toBeLessThan(60_000);
    expect(fs.readFileSync('/proc/self/mountinfo', 'utf8')).not.toMatch(/ \/mnt /);
  });

  it('a read-only bind mount stays read-only with the default capabilities: no write, no remount, no unmount', async () => {
    const r = await s.lodger(['run', '--rm', '-v', `${sentinel.dir}:/outside:ro`, 'busybox', 'sh', '-c',
      'echo x > /outside/passwd; touch /outside/new; mount -o remount,bind,rw /outside; umount /outside; ' +
      'echo y > /outside/passwd; chown 1000 /outside/hosts; rm -f /outside/null; echo done']);
    expectExit(r, 0);
    expect(r.stdout).toContain('done');
    expect(r.stderr).toMatch(/Read-only file system/);
    sentinel.assertUntouched();
  });
});

describe.skipIf(!ready)('--security-opt no-new-privileges', () => {
  it('sets no_new_privs for the process (and nothing else changes)', async () => {
    expect(await status(['--security-opt', 'no-new-privileges'])).toMatchObject({ NoNewPrivs: '1', CapEff: DOCKER_DEFAULT, Seccomp: '2' });
    expect(await status(['--security-opt', 'no-new-privileges:true'], '1000')).toMatchObject({ NoNewPrivs: '1', CapEff: NONE });
    expect(await status(['--security-opt', 'no-new-privileges=false'])).toMatchObject({ NoNewPrivs: '0' });
  });

  it('a setuid-root program of the image makes a non-root user euid 0 without it, and nothing with it', async () => {
    // sysprobe owned by the container's root, mode 4755, printing its effective uid.
    const probe = fs.readFileSync(`${await sysprobeDir()}/sysprobe`);
    await loadHostileImage(s, 'setuid', [{ path: 'suid-probe', type: 'file', mode: 0o4755, uid: 0, gid: 0, content: probe }]);
    const euid = async (args: string[]) => {
      const r = await s.lodger(['run', '--rm', '-u', '1000', ...args, 'localhost/setuid', '/suid-probe', 'euid']);
      expectExit(r, 0);
      return probeResults(r.stdout).euid;
    };
    // The bit works in the container (what no-new-privileges is for)…
    expect(await euid([])).toBe('0');
    // …and with no_new_privs execve(2) ignores it (prctl(2) PR_SET_NO_NEW_PRIVS).
    expect(await euid(['--security-opt', 'no-new-privileges'])).toBe('1000');
  });

  it('bad --security-opt values are refused with exit 125 and say what is accepted', async () => {
    const cases: Array<[string, RegExp]> = [
      ['no-new-privileges=maybe', /expected true or false/],
      ['seccomp', /give seccomp=unconfined or seccomp=\/path/],
      ['apparmor=docker-default', /does not apply AppArmor profiles/],
      ['bogus=1', /unknown option \(lodger knows no-new-privileges/],
    ];
    for (const [opt, msg] of cases) {
      const r = await s.lodger(['run', '--rm', '--security-opt', opt, 'busybox', 'true']);
      expectExit(r, 125);
      expect(r.stderr).toContain(`lodger: --security-opt ${opt}: `);
      expect(r.stderr).toMatch(msg);
    }
  });
});

describe.skipIf(!ready)('setgroups', () => {
  it('is "deny" when the user maps only itself (--userns=single), so supplementary groups cannot be dropped to bypass a deny-by-group file', async () => {
    const r = await s.lodger(['run', '--rm', '--userns=single', 'busybox', 'sh', '-c', 'cat /proc/self/setgroups; cat /proc/self/uid_map']);
    expectExit(r, 0);
    const [setgroups, ...map] = r.stdout.trim().split('\n');
    expect(setgroups).toBe('deny');
    expect(map).toHaveLength(1);
    expect(map[0].trim().split(/\s+/)).toEqual(['0', String(process.getuid!()), '1']);
  });

  it('is "deny" for a user without a subordinate range too (the same single mapping, chosen for them)', async () => {
    const empty = `${s.dir}/empty-subuid`;
    fs.writeFileSync(empty, '');
    const r = await s.lodger(['run', '--rm', 'busybox', 'sh', '-c', 'cat /proc/self/setgroups; wc -l < /proc/self/uid_map'],
      { env: { LODGER_SUBUID_FILE: empty, LODGER_SUBGID_FILE: empty } });
    expectExit(r, 0);
    expect(r.stdout.split('\n').map((l) => l.trim()).slice(0, 2)).toEqual(['deny', '1']);
    expect(r.stderr).toMatch(/single id mapping/);
  });

  it('and the capability defaults hold there too', async () => {
    expect(await status(['--userns=single'])).toMatchObject({ CapBnd: DOCKER_DEFAULT, CapEff: DOCKER_DEFAULT, Seccomp: '2' });
  });
});
