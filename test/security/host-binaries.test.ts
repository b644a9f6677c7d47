// What of the host a container can reach through its own process: no inherited fds, no way to the lodger helper binary (CVE-2019-5736 class), and no image file ever executed by lodger outside the container (CVE-2019-14271 class).
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/cli';
import type { TarFileSpec } from '../helpers/fixtures';
import { busyboxStore, expectExit, loadHostileImage, Sentinel, securityPrereqs, type SecurityStore } from './securityHarness';

const ready = securityPrereqs();
let s: SecurityStore;
let sentinel: Sentinel;

beforeAll(async () => {
  if (!ready) return;
  s = await busyboxStore('lodger-sec-host-');
  sentinel = new Sentinel(s.dir);
});
afterAll(async () => { await s?.cleanup(); });

describe.skipIf(!ready)('file descriptors', () => {
  for (const extra of [[], ['--init'], ['-i'], ['-u', '1000']]) {
    it(`the command sees only 0, 1 and 2 (and ls's own directory fd)${extra.length ? ` with ${extra.join(' ')}` : ''}`, async () => {
      const r = await s.lodger(['run', '--rm', ...extra, 'busybox', 'ls', '/proc/self/fd'], { input: '' });
      expectExit(r, 0);
      expect(r.stdout.trim().split('\n')).toEqual(['0', '1', '2', '3']);
    });
  }

  it('none of them is a directory or file of the host or of the store', async () => {
    const r = await s.lodger(['run', '--rm', 'busybox', 'sh', '-c', 'for f in /proc/self/fd/*; do readlink $f; done; true']);
    expectExit(r, 0);
    expect(r.stdout).not.toContain(s.root);
    expect(r.stdout).not.toMatch(/lodger-helper|\/containers\/|\/layers\//);
  });
});

function fileState(p: string): string {
  const st = fs.statSync(p);
  return `${createHash('sha256').update(fs.readFileSync(p)).digest('hex')} ${st.size} ${st.mtimeMs} ${st.mode}`;
}

describe.skipIf(!ready)('the lodger helper binary (CVE-2019-5736 class)', () => {
  let helperDir = '';
  let helper = '';
  beforeAll(() => {
    if (!ready) return;
    // A copy the test user owns and may write: the uid that container root maps to could overwrite it,
    // if the container could ever reach it.
    helperDir = fs.mkdtempSync(path.join(s.dir, 'helper-'));
    helper = path.join(helperDir, 'lodger-helper');
    fs.copyFileSync(path.join(repoRoot, 'build', 'Release', 'lodger-helper'), helper);
    fs.chmodSync(helper, 0o755);
  });

  /** Tries, from inside, every way to the executables of the processes the container can see. */
  const attack = 'for p in /proc/[0-9]*; do echo "$p $(readlink $p/exe 2>&1)"; echo pwned >> $p/exe; ' +
    'cat /proc/$$/fd/9 >/dev/null 2>&1; ls $p/map_files/ >/dev/null 2>&1 && for m in $p/map_files/*; do echo pwned >> $m; done; ' +
    'cp /bin/busybox $p/exe; done 2>/dev/null; echo done';

  it("after exec, PID 1 is the container's own binary, and the helper is not among the container's processes", async () => {
    const r = await s.lodger(['run', '--rm', 'busybox', 'sh', '-c', 'readlink /proc/1/exe; cat /proc/[0-9]*/comm | sort -u'], { env: { LODGER_HELPER: helper } });
    expectExit(r, 0);
    const [exe, ...comms] = r.stdout.trim().split('\n');
    expect(exe).toBe('/bin/busybox');
    expect(comms).not.toContain('lodger-helper');
    expect(comms).not.toContain('node');
  });

  for (const extra of [[], ['--init'], ['--init', '--privileged'], ['--init', '--cap-add', 'SYS_PTRACE', '--security-opt', 'seccomp=unconfined']]) {
    it(`no process of the container can open the helper for writing${extra.length ? ` (${extra.join(' ')})` : ''}`, async () => {
      const before = fileState(helper);
      const r = await s.lodger(['run', '--rm', ...extra, 'busybox', 'sh', '-c', attack], { env: { LODGER_HELPER: helper } });
      expectExit(r, 0);
      expect(r.stdout).toContain('done');
      expect(r.stdout).not.toContain(helper);
      expect(fileState(helper)).toBe(before);
    });
  }

  it('--init\'s PID 1 is confined like the command: same capabilities, same seccomp filter', async () => {
    const r = await s.lodger(['run', '--rm', '--init', 'busybox', 'sh', '-c', 'grep -E "^(CapEff|CapBnd|Seccomp):" /proc/1/status /proc/self/status']);
    expectExit(r, 0);
    for (const who of ['/proc/1/status', '/proc/self/status']) {
      expect(r.stdout).toContain(`${who}:CapEff:\t00000000a80425fb`);
      expect(r.stdout).toContain(`${who}:CapBnd:\t00000000a80425fb`);
      expect(r.stdout).toContain(`${who}:Seccomp:\t2`);
    }
  });

  it('--init\'s PID 1 runs helper code but is not dumpable: its exe, fds, environment and memory are closed to the container', async () => {
    const r = await s.lodger(['run', '--rm', '--init', '--privileged', 'busybox', 'sh', '-c',
      'cat /proc/1/comm; readlink /proc/1/exe; echo "exe $?"; ls /proc/1/fd; echo "fd $?"; cat /proc/1/environ; echo "environ $?"; ' +
      'head -c1 /proc/1/mem; echo "mem $?"; readlink /proc/1/root; echo "root $?"'], { env: { LODGER_HELPER: helper } });
    expectExit(r, 0);
    expect(r.stdout).toMatch(/^lodger-helper\n/);
    for (const what of ['exe', 'fd', 'environ', 'mem', 'root']) expect(r.stdout).toMatch(new RegExp(`^${what} 1$`, 'm'));
    expect(r.stderr).toMatch(/Permission denied/);
    expect(r.stdout).not.toContain(helper);
  });
});

describe.skipIf(!ready)("the image's own programs (CVE-2019-14271 class)", () => {
  const marker = () => path.join(sentinel.dir, 'pwned-on-host');
  /** Programs and libraries a runtime might be tempted to run from the image; each leaves a marker if run. */
  const trapped = (): TarFileSpec[] => {
    const script = `#!/bin/busybox sh\necho pwned >> ${marker()}\necho pwned >> /pwned-in-root\nexit 0\n`;
    const programs = ['bin/tar', 'usr/bin/tar', 'bin/cp', 'usr/bin/cp', 'bin/rm', 'bin/mount', 'bin/umount', 'sbin/ldconfig',
      'usr/bin/newuidmap', 'usr/bin/newgidmap', 'usr/bin/fuse-overlayfs', 'usr/bin/unshare', 'bin/gzip', 'usr/bin/zstd',
      'usr/bin/getfattr', 'usr/bin/setfattr', 'bin/sh', 'usr/bin/env', 'usr/bin/id', 'usr/bin/getent'];
    return [
      { path: 'usr', type: 'dir' }, { path: 'usr/bin', type: 'dir' }, { path: 'sbin', type: 'dir' },
      ...programs.map((p): TarFileSpec => ({ path: p, type: 'file', mode: 0o755, content: script })),
      { path: 'lib', type: 'dir' }, { path: 'lib/x86_64-linux-gnu', type: 'dir' },
      { path: 'lib/x86_64-linux-gnu/libnss_files.so.2', type: 'file', content: 'not a library: a host process that loads it fails loudly' },
      { path: 'etc/nsswitch.conf', type: 'file', content: 'passwd: files\ngroup: files\n' },
      { path: 'etc/ld.so.preload', type: 'file', content: '/lib/x86_64-linux-gnu/libnss_files.so.2\n' },
    ];
  };

  /** Files named pwned-in-root anywhere in the store (a trap run chrooted leaves one in a layer or container). */
  function findInStore(dir: string, name: string, found: string[] = []): string[] {
    let entries: fs.Dirent[];
    try { entries = fs.readdirSync(dir, { withFileTypes: true }); } catch { return found; }
    for (const e of entries) {
      const p = path.join(dir, e.name);
      if (e.name === name) found.push(p);
      if (e.isDirectory()) findInStore(p, name, found);
    }
    return found;
  }

  it('load, run (overlay and vfs, as root and as a named user), rm and rmi never execute a file of the image outside the container', async () => {
    await loadHostileImage(s, 'trapped', trapped());
    for (const extra of [[], ['--storage-driver', 'vfs'], ['-u', 'app'], ['--storage-driver', 'vfs', '-u', 'app:app']]) {
      const r = await s.lodger(['run', '--rm', ...extra, 'localhost/trapped', '/bin/busybox', 'true']);
      expectExit(r, 0);
    }
    const kept = await s.lodger(['run', '--name', 'kept', '--storage-driver', 'vfs', 'localhost/trapped', '/bin/busybox', 'true']);
    expectExit(kept, 0);
    expect(findInStore(s.root, 'pwned-in-root')).toEqual([]);
    expectExit(await s.lodger(['rm', 'kept']), 0);
    expectExit(await s.lodger(['rmi', 'localhost/trapped']), 0);
    expect(fs.existsSync(marker())).toBe(false);
    expect(findInStore(s.root, 'pwned-in-root')).toEqual([]);
    sentinel.assertUntouched();
  });

  it('cp (in and out, stopped and running), export, commit and save never execute a file of the image either', async () => {
    await loadHostileImage(s, 'trapped3', trapped());
    const out = fs.mkdtempSync(path.join(s.dir, 'cp-'));
    fs.writeFileSync(path.join(out, 'in.txt'), 'into the container\n');
    expectExit(await s.lodger(['run', '--name', 'stopped', 'localhost/trapped3', '/bin/busybox', 'true']), 0);
    expectExit(await s.lodger(['run', '-d', '--name', 'live', 'localhost/trapped3', '/bin/busybox', 'sleep', '120']), 0);
    try {
      for (const c of ['stopped', 'live']) {
        expectExit(await s.lodger(['cp', `${c}:/etc/passwd`, path.join(out, `${c}-passwd`)]), 0);
        expectExit(await s.lodger(['cp', '-a', `${c}:/etc`, path.join(out, `${c}-etc`)]), 0);
        expectExit(await s.lodger(['cp', path.join(out, 'in.txt'), `${c}:/tmp/`]), 0);
      }
      expectExit(await s.lodger(['export', 'stopped', '-o', path.join(out, 'fs.tar')]), 0);
      expectExit(await s.lodger(['commit', 'stopped', 'localhost/trapped-commit']), 0);
      expectExit(await s.lodger(['save', 'localhost/trapped-commit', '-o', path.join(out, 'img.tar')]), 0);
    } finally {
      await s.lodger(['rm', '-f', 'stopped', 'live']);
    }
    expect(fs.readFileSync(path.join(out, 'stopped-passwd'), 'utf8')).toMatch(/^root:x:0:0:/);
    expect(fs.existsSync(marker())).toBe(false);
    expect(findInStore(s.root, 'pwned-in-root')).toEqual([]);
    sentinel.assertUntouched();
  });

  it('cp through a symlink the image aims at the host reads and writes inside the container only', async () => {
    await loadHostileImage(s, 'cp-links', [
      { path: 'escape', type: 'symlink', target: sentinel.dir },
      { path: 'escape-rel', type: 'symlink', target: '../'.repeat(24) + sentinel.dir.slice(1) },
      { path: 'tmp/passwd-link', type: 'symlink', target: `${sentinel.dir}/passwd` },
    ]);
    const out = fs.mkdtempSync(path.join(s.dir, 'cp-links-'));
    fs.writeFileSync(path.join(out, 'null'), 'overwrite attempt\n');
    expectExit(await s.lodger(['run', '--name', 'links-stopped', 'localhost/cp-links', '/bin/busybox', 'true']), 0);
    expectExit(await s.lodger(['run', '-d', '--name', 'links-live', 'localhost/cp-links', '/bin/busybox', 'sleep', '120']), 0);
    try {
      for (const c of ['links-stopped', 'links-live']) {
        for (const src of ['/escape/passwd', '/escape-rel/passwd', '/escape/.', '/tmp/passwd-link']) {
          const dst = path.join(out, `${c}-${src.replace(/\W+/g, '_')}`);
          const r = await s.lodger(['cp', '-L', `${c}:${src}`, dst]);
          // Refused (the link's target does not exist in the container) or copied from inside: never the host's file.
          if (r.code === 0) expect(fs.readFileSync(dst, 'utf8')).not.toContain(sentinel.token);
          else expect(r.stderr).toMatch(/^lodger: /m);
        }
        for (const dst of ['/escape/', '/escape-rel/', '/escape/null', '/tmp/passwd-link']) {
          await s.lodger(['cp', path.join(out, 'null'), `${c}:${dst}`]);
        }
      }
    } finally {
      await s.lodger(['rm', '-f', 'links-stopped', 'links-live']);
    }
    sentinel.assertUntouched();
  });

  it('inside the container the image\'s programs are what runs, confined to it', async () => {
    await loadHostileImage(s, 'trapped2', trapped());
    const r = await s.lodger(['run', '--rm', 'localhost/trapped2', '/bin/sh', '-c', 'ignored']);
    expectExit(r, 0);
    // The trap ran as the container's /bin/sh: its host path does not exist in the container, so nothing lands outside.
    expect(fs.existsSync(marker())).toBe(false);
    sentinel.assertUntouched();
  });
});
