// Hostile images at run time: symlinked /dev, /proc, /sys and /etc files, a WorkingDir through /proc/self/fd, a /dev/null aimed at /proc/sys — each refused or contained, nothing outside changed.
import * as fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LodgerResult } from '../helpers/cli';
import { busyboxStore, climb, expectExit, loadHostileImage, Sentinel, securityPrereqs, type SecurityStore } from './securityHarness';

const ready = securityPrereqs();
let s: SecurityStore;
let sentinel: Sentinel;

beforeAll(async () => {
  if (!ready) return;
  s = await busyboxStore('lodger-sec-hostile-');
  sentinel = new Sentinel(s.dir);
});
afterAll(async () => { await s?.cleanup(); });

/** Runs IMAGE's command; a refusal by lodger (125) must come with a message. */
async function runContained(image: string, cmd: string[]): Promise<LodgerResult> {
  const r = await s.lodger(['run', '--rm', image, ...cmd]);
  expect(r.timedOut).toBe(false);
  if (r.code === 125) expect(r.stderr).toMatch(/^lodger: .+/m);
  return r;
}

describe.skipIf(!ready)('an image whose /dev, /proc or /sys is a symlink out of it', () => {
  for (const dir of ['dev', 'proc', 'sys']) {
    for (const form of ['absolute', 'relative'] as const) {
      it(`/${dir} → the host's ${form === 'absolute' ? 'absolute path' : '../../… path'}: resolved inside the image, refused (125), the host directory untouched`, async () => {
        const target = form === 'absolute' ? sentinel.dir : climb(sentinel.dir);
        const name = `hostile-${dir}-${form}`;
        await loadHostileImage(s, name, [{ path: dir, type: 'symlink', target }]);
        const r = await runContained(`localhost/${name}`, ['/bin/busybox', 'sh', '-c', `ls -A /${dir}/ 2>&1; cat /${dir}/null 2>&1; echo done`]);
        // The link is followed inside the rootfs (openat2 RESOLVE_IN_ROOT), where its target does not exist.
        expectExit(r, 125);
        expect(r.stderr).toContain(`set up /${dir} in the container's root filesystem`);
        expect(r.stderr).toContain('symbolic links are followed only inside the image');
        expect(r.stdout).toBe('');
        sentinel.assertUntouched();
      });
    }
  }

  it('/dev → a directory the image has: the mounts land there, inside the rootfs, and the container works', async () => {
    await loadHostileImage(s, 'hostile-dev-inside', [{ path: 'dev', type: 'symlink', target: `/tmp` }]);
    const r = await runContained('localhost/hostile-dev-inside', ['/bin/busybox', 'sh', '-c', 'echo x > /dev/null && stat -c "%F %t:%T" /tmp/null && ls /tmp/pts >/dev/null && echo done']);
    expectExit(r, 0);
    expect(r.stdout).toContain('character special file 1:3');
    expect(r.stdout).toContain('done');
    sentinel.assertUntouched();
  });

  it('/etc/hosts, /etc/resolv.conf and /etc/hostname linked to the host: refused, nothing created or written outside', async () => {
    await loadHostileImage(s, 'hostile-etc-links', [
      { path: 'etc/hosts', type: 'symlink', target: `${sentinel.dir}/hosts` },
      { path: 'etc/resolv.conf', type: 'symlink', target: climb(`${sentinel.dir}/resolv.conf`) },
      { path: 'etc/hostname', type: 'symlink', target: `${sentinel.dir}/hostname` },
    ]);
    const r = await runContained('localhost/hostile-etc-links', ['/bin/busybox', 'sh', '-c', 'cat /etc/hosts /etc/resolv.conf /etc/hostname; echo done']);
    expectExit(r, 125);
    expect(r.stderr).toMatch(/set up \/etc\/(hostname|hosts|resolv\.conf) in the container's root filesystem/);
    sentinel.assertUntouched();
    expect(fs.existsSync(`${sentinel.dir}/resolv.conf`)).toBe(false);
    expect(fs.existsSync(`${sentinel.dir}/hostname`)).toBe(false);
  });
});

describe.skipIf(!ready)("an image whose /etc/passwd is a symlink to a host file", () => {
  for (const [label, target] of [
    ['readable host passwd-like file', () => `${sentinel.dir}/passwd`],
    ['host /etc/shadow', () => '/etc/shadow'],
    ['relative climb to the host file', () => climb(`${sentinel.dir}/passwd`)],
  ] as const) {
    it(`${label}: -u someuser is refused as not in the image's /etc/passwd, nothing is read from the host`, async () => {
      const name = `hostile-passwd-${label.replace(/\W+/g, '-')}`;
      await loadHostileImage(s, name, [{ path: 'etc/passwd', type: 'symlink', target: target() }]);
      const r = await s.lodger(['run', '--rm', '-u', 'someuser', `localhost/${name}`, '/bin/busybox', 'id']);
      expectExit(r, 125);
      expect(r.stderr).toContain(`user "someuser" is not in the image's /etc/passwd`);
      // Inside, the link resolves in the container's root, where the host file does not exist.
      const inside = await s.lodger(['run', '--rm', `localhost/${name}`, '/bin/busybox', 'sh', '-c', 'cat /etc/passwd 2>&1; echo done']);
      expectExit(inside, 0);
      expect(inside.stdout).not.toContain(sentinel.token);
      expect(inside.stdout).not.toContain('someuser');
      sentinel.assertUntouched();
    });
  }
});

describe.skipIf(!ready)('a working directory through /proc/self/fd', () => {
  it("an image's WorkingDir /proc/self/fd/N is refused with exit 125 and a message about the working directory", async () => {
    for (const n of [3, 4, 5, 6, 7, 8]) {
      const name = `hostile-workdir-${n}`;
      await loadHostileImage(s, name, [], { WorkingDir: `/proc/self/fd/${n}` });
      const r = await s.lodger(['run', '--rm', `localhost/${name}`, '/bin/busybox', 'sh', '-c', 'pwd; ls -a']);
      expectExit(r, 125);
      // fds the setup process holds resolve to magic links (refused, ELOOP); others do not exist (ENOENT).
      expect(r.stderr).toMatch(new RegExp(`(set up|create the directory) /proc/self/fd/${n} .*\\(as a mount point or the working directory\\)`));
      expect(r.stderr).toMatch(/leads outside the container and is refused|cannot hold the working directory/);
      expect(r.stdout).toBe('');
    }
    sentinel.assertUntouched();
  });

  it('-w /proc/self/fd/N and -w /proc/1/cwd are refused the same way', async () => {
    for (const w of ['/proc/self/fd/3', '/proc/self/fd/5', '/proc/self/cwd', '/proc/1/cwd', '/proc/1/root']) {
      const r = await s.lodger(['run', '--rm', '-w', w, 'busybox', 'sh', '-c', 'pwd; ls -a']);
      expectExit(r, 125);
      expect(r.stderr).toContain(`set up ${w} in the container's root filesystem (as a mount point or the working directory)`);
      expect(r.stdout).toBe('');
    }
  });
});

describe.skipIf(!ready)('an image whose /dev/null points into /proc/sys', () => {
  it('lodger mounts its own /dev: /dev/null is the null device and writes to it reach nothing', async () => {
    const before = fs.readFileSync('/proc/sys/kernel/core_pattern', 'utf8');
    await loadHostileImage(s, 'hostile-devnull', [
      { path: 'dev', type: 'dir' },
      { path: 'dev/null', type: 'symlink', target: '/proc/sys/kernel/core_pattern' },
      { path: 'dev/zero', type: 'symlink', target: `${sentinel.dir}/null` },
    ]);
    const r = await s.lodger(['run', '--rm', 'localhost/hostile-devnull', '/bin/busybox', 'sh', '-c',
      'echo "|/tmp/pwn %p" > /dev/null; echo x > /dev/zero; stat -c "%F %t:%T" /dev/null /dev/zero; readlink /dev/null; echo done']);
    expectExit(r, 0);
    expect(r.stdout).toContain('character special file 1:3');
    expect(r.stdout).toContain('character special file 1:5');
    expect(r.stdout).toContain('done');
    expect(r.stdout).not.toContain('core_pattern');
    expect(fs.readFileSync('/proc/sys/kernel/core_pattern', 'utf8')).toBe(before);
    sentinel.assertUntouched();
  });
});
