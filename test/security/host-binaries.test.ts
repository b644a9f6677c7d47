// What of the host a container can reach through its own process: no inherited fds, no way to the lodger helper binary (CVE-2019-5736 class), and no image file ever executed by lodger outside the container (CVE-2019-14271 class).
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/cli';
import { toolPath } from '../helpers/prereqs';
import { mustRun } from '../helpers/exec';
import type { TarFileSpec } from '../helpers/fixtures';
import { busyboxStore, expectExit, loadHostileImage, removeBuiltTools, Sentinel, securityPrereqs, sysprobeDir, wrappedHelper, type SecurityStore } from './securityHarness';

const ready = securityPrereqs({ gcc: true });
let s: SecurityStore;
let sentinel: Sentinel;

beforeAll(async () => {
  if (!ready) return;
  s = await busyboxStore('lodger-sec-host-');
  sentinel = new Sentinel(s.dir);
});
afterAll(async () => {
  await s?.cleanup();
  removeBuiltTools();
});

/** `ls /proc/…/fd` output as a list of fd numbers (on a tty ls prints columns, and lines end with \r\n). */
const fdList = (stdout: string) => stdout.trim().split(/\s+/);

describe.skipIf(!ready)('file descriptors', () => {
  for (const extra of [[], ['--init'], ['-i'], ['-u', '1000']]) {
    it(`the command sees only 0, 1 and 2 (and ls's own directory fd)${extra.length ? ` with ${extra.join(' ')}` : ''}`, async () => {
      const r = await s.lodger(['run', '--rm', ...extra, 'busybox', 'ls', '/proc/self/fd'], { input: '' });
      expectExit(r, 0);
      expect(r.stdout.trim().split('\n')).toEqual(['0', '1', '2', '3']);
    });
  }

  it('the command sees only 0, 1 and 2 with -t, where they are the pty', async () => {
    const r = await s.lodger(['run', '--rm', '-t', 'busybox', 'sh', '-c', 'ls /proc/self/fd; readlink /proc/self/fd/0; readlink /proc/self/fd/2'], { input: '' });
    expectExit(r, 0);
    expect(fdList(r.stdout)).toEqual(['0', '1', '2', '3', '/dev/pts/0', '/dev/pts/0']);
  });

  it('a detached container\'s command (run -d, with and without -t) holds only 0, 1 and 2', async () => {
    for (const [name, extra] of [['fd-detached', []], ['fd-detached-tty', ['-t']]] as const) {
      expectExit(await s.lodger(['run', '-d', '--name', name, ...extra, 'busybox', 'sleep', '120']), 0);
      try {
        const r = await s.lodger(['exec', name, 'ls', '/proc/1/fd']);
        expectExit(r, 0);
        expect(`${name}: ${fdList(r.stdout).join(' ')}`).toBe(`${name}: 0 1 2`);
      } finally {
        await s.lodger(['rm', '-f', name]);
      }
    }
  });

  it('none of them is a directory or file of the host or of the store', async () => {
    const r = await s.lodger(['run', '--rm', 'busybox', 'sh', '-c', 'for f in /proc/self/fd/*; do readlink $f; done; true']);
    expectExit(r, 0);
    expect(r.stdout).not.toContain(s.root);
    expect(r.stdout).not.toMatch(/lodger-helper|\/containers\/|\/layers\//);
  });
});

describe.skipIf(!ready)('file descriptors on a kernel without close_range(2) (before 5.9; CLOSE_RANGE_CLOEXEC before 5.11)', () => {
  // helperwrap (helperwrap.c) gives the helper a host directory as fd 42 without close-on-exec and answers
  // its close_range(2) with ENOSYS, as an old kernel does: the helper must then mark the fd close-on-exec itself.
  const helper = path.join(repoRoot, 'build', 'Release', 'lodger-helper');
  // Started without the wrapper (its subuid mapping needs newuidmap); only the exec'd processes meet the old kernel.
  beforeAll(async () => { if (ready) expectExit(await s.lodger(['run', '-d', '--name', 'fd-old-kernel', 'busybox', 'sleep', '300']), 0); });
  afterAll(async () => { if (ready) await s.lodger(['rm', '-f', 'fd-old-kernel']); });

  it('the wrapper does what the tests below rely on: fd 42 is open and close_range answers ENOSYS', async () => {
    const wrap = await wrappedHelper(s.dir, '/bin/busybox', ['--leak', sentinel.dir, '--no-close-range']);
    const probe = await sysprobeDir();
    const r = await mustRun(wrap, ['sh', '-c', `readlink /proc/self/fd/42; ${probe}/sysprobe close_range getppid`]);
    expect(r).toBe(`${sentinel.dir}\nclose_range ENOSYS\ngetppid ok\n`);
  });

  it('a host fd the helper holds does not reach the command of run or exec', async () => {
    const wrap = await wrappedHelper(s.dir, helper, ['--leak', sentinel.dir, '--no-close-range']);
    // The wrapper's filter needs no_new_privs, under which setuid newuidmap cannot map a subuid range.
    const run = await s.lodger(['run', '--rm', '--userns=single', 'busybox', 'ls', '/proc/self/fd'], { env: { LODGER_HELPER: wrap } });
    expectExit(run, 0);
    expect(fdList(run.stdout)).toEqual(['0', '1', '2', '3']);
    const exec = await s.lodger(['exec', 'fd-old-kernel', 'ls', '/proc/self/fd'], { env: { LODGER_HELPER: wrap } });
    expectExit(exec, 0);
    expect(fdList(exec.stdout)).toEqual(['0', '1', '2', '3']);
    sentinel.assertUntouched();
  });

  it('when /proc/self/fd cannot be listed either, the command is not started: exit 125 and why', async () => {
    const wrap = await wrappedHelper(s.dir, helper, ['--leak', sentinel.dir, '--no-close-range', '--no-fd-listing']);
    const r = await s.lodger(['exec', 'fd-old-kernel', 'touch', '/exec-ran'], { env: { LODGER_HELPER: wrap } });
    expectExit(r, 125);
    expect(r.stderr).toContain("lodger: close lodger's file descriptors before starting the exec process: this kernel has no close_range(2), " +
      'and /proc/self/fd could not be listed: operation not permitted (EPERM)');
    const ran = await s.lodger(['exec', 'fd-old-kernel', 'ls', '/exec-ran']);
    expectExit(ran, 1);
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
  /**
   * Connections to a port on the host's loopback: every trap calls it. A trap run on the host leaves the marker
   * too, and one run chrooted into the image's files leaves /pwned-in-root there; but the files of a container
   * or image go with `rm`, `rmi` and `run --rm`, and the call is what is left of a trap those ran.
   */
  const calls: string[] = [];
  const open = new Set<net.Socket>();
  let server: net.Server | undefined;
  beforeAll(async () => {
    if (!ready) return;
    server = net.createServer((c) => {
      calls.push('connected');
      open.add(c);
      c.on('close', () => open.delete(c));
      c.on('error', () => {});
      c.on('data', (b) => { calls.push(b.toString().trim()); c.end(); });
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    for (const c of open) c.destroy();
    await new Promise((resolve) => server ? server.close(resolve) : resolve(undefined));
  });
  /** The calls so far, once the connections already accepted have been seen. */
  const callsSoFar = async () => { await new Promise((resolve) => setImmediate(resolve)); return calls; };

  /** Programs and libraries a runtime might be tempted to run from the image; each leaves its traces if run. */
  const trapped = (): TarFileSpec[] => {
    const port = (server!.address() as net.AddressInfo).port;
    const script = `#!/bin/busybox sh\necho pwned >> ${marker()}\necho pwned >> /pwned-in-root\n` +
      `echo "$0 $*" | /bin/busybox nc -w 5 127.0.0.1 ${port}\nexit 0\n`;
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

  /** Files named NAME anywhere under DIR (a trap run chrooted leaves one in a layer, a container's files, or a copy of them). */
  function findUnder(dir: string, name: string, found: string[] = []): string[] {
    let entries: fs.Dirent[];
    try { entries = fs.readdirSync(dir, { withFileTypes: true }); } catch { return found; }
    for (const e of entries) {
      const p = path.join(dir, e.name);
      if (e.name === name) found.push(p);
      if (e.isDirectory()) findUnder(p, name, found);
    }
    return found;
  }
  /** Every trace a trap leaves, as one value to compare with "none": the store, the runtime state, copies made, the host. */
  const traces = async () => ({ files: findUnder(s.dir, 'pwned-in-root'), onHost: fs.existsSync(marker()), calls: [...await callsSoFar()] });
  const NONE = { files: [], onHost: false, calls: [] };

  it('a trap that does run is seen, even after its container is gone', async () => {
    // What a runtime with this bug does: run the image's tar with the container's files as its root.
    await loadHostileImage(s, 'trap-check', trapped());
    expectExit(await s.lodger(['run', '--name', 'trap-check', '--storage-driver', 'vfs', 'localhost/trap-check', '/bin/busybox', 'true']), 0);
    const id = (await s.lodger(['inspect', '--format', '{{.Id}}', 'trap-check'])).stdout.trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    // chroot is in /usr/sbin, which a plain user's PATH lacks: by its absolute path.
    await mustRun('unshare', ['--map-root-user', toolPath('chroot') ?? '/usr/sbin/chroot', path.join(s.root, 'containers', id, 'rootfs'), '/bin/tar', 'xf', '-']);
    expect(await traces()).toEqual({ files: [path.join(s.root, 'containers', id, 'rootfs', 'pwned-in-root')], onHost: false, calls: ['connected', '/bin/tar xf -'] });
    expectExit(await s.lodger(['rm', 'trap-check']), 0);
    expectExit(await s.lodger(['rmi', 'localhost/trap-check']), 0);
    expect(await traces()).toEqual({ ...NONE, calls: ['connected', '/bin/tar xf -'] });
    calls.length = 0;
  });

  it('load, run (overlay and vfs, as root and as a named user), rm and rmi never execute a file of the image outside the container', async () => {
    await loadHostileImage(s, 'trapped', trapped());
    const runs = [[], ['--storage-driver', 'vfs'], ['-u', 'app'], ['--storage-driver', 'vfs', '-u', 'app:app']];
    const names = runs.map((_, i) => `trapped-${i}`);
    // Kept until the store has been searched: removing them would remove what a trap left in their files.
    for (const [i, extra] of runs.entries()) {
      expectExit(await s.lodger(['run', '--name', names[i], ...extra, 'localhost/trapped', '/bin/busybox', 'true']), 0);
    }
    expect(await traces()).toEqual(NONE);
    expectExit(await s.lodger(['rm', ...names]), 0);
    // The image's layers are still there, for a trap rm ran in them to show.
    expect(await traces()).toEqual(NONE);
    // run --rm removes the container by itself: only a call would be left.
    expectExit(await s.lodger(['run', '--rm', 'localhost/trapped', '/bin/busybox', 'true']), 0);
    expectExit(await s.lodger(['rmi', 'localhost/trapped']), 0);
    expect(await traces()).toEqual(NONE);
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
      // Searched while both containers and their files are still there.
      expect(fs.readFileSync(path.join(out, 'stopped-passwd'), 'utf8')).toMatch(/^root:x:0:0:/);
      expect(await traces()).toEqual(NONE);
    } finally {
      await s.lodger(['rm', '-f', 'stopped', 'live']);
    }
    expect(await traces()).toEqual(NONE);
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
