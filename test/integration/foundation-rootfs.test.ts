// Issue 2, root filesystem, for each storage driver (overlay, fuse-overlayfs, vfs): writes land in the container's
// own layer; a fresh /proc; /dev as a tmpfs with the usual devices, devpts, shm, mqueue and fd links; /sys
// read-only; generated /etc/hostname, /etc/hosts, /etc/resolv.conf; nothing mounted leaks into the host's mount
// table and no fuse-overlayfs process outlives its container (also after rm -f, and after the CLI is killed).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { killLodgers, requirePrereq, requireTool, runLodger, runLodgerOk, spawnLodger, waitForExit, waitForOutput, type Store } from '../helpers/cli';
import {
  DRIVERS, bbsh, bbshOk, busyboxStore, entries, fuseOverlayProcesses, haveSubids, hostMountsMentioning, leakedMounts, hostMountinfo,
  containerShells, marker, psAllIds, waitUntil, type Driver,
} from './foundation-common';

const ok = haveSubids();

function driverAvailable(d: Driver): boolean {
  if (d !== 'fuse-overlayfs') return true;
  let dev = false;
  try {
    fs.accessSync('/dev/fuse', fs.constants.R_OK | fs.constants.W_OK);
    dev = true;
  } catch {
    /* below */
  }
  return requireTool('fuse-overlayfs') && requirePrereq(dev, '/dev/fuse must be readable and writable (chmod 666 /dev/fuse)');
}

/** Files named NAME anywhere below DIR (relative paths), without following symlinks. */
function findFiles(dir: string, name: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    let names: string[];
    try {
      names = fs.readdirSync(path.join(dir, rel));
    } catch {
      return;
    }
    for (const n of names) {
      const r = rel ? `${rel}/${n}` : n;
      const st = fs.lstatSync(path.join(dir, r));
      if (n === name) out.push(r);
      if (st.isDirectory()) walk(r);
    }
  };
  walk('');
  return out;
}

/** The mounts a container's /proc/mounts lists, as {source, target, type, options}. */
function parseMounts(text: string): Array<{ source: string; target: string; type: string; options: string[] }> {
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [source, target, type, options] = l.split(' ');
      return { source, target, type, options: options.split(',') };
    });
}

describe.each(DRIVERS)('root filesystem with --storage-driver %s', (driver) => {
  const usable = ok && driverAvailable(driver);
  const drv = ['--storage-driver', driver];
  let store: Store;
  beforeAll(async () => {
    if (usable) store = await busyboxStore();
  });
  afterEach(() => killLodgers());
  afterAll(async () => {
    await store?.cleanup();
  });

  it.skipIf(!usable)('the container records and uses this driver', async () => {
    const name = `drv-${driver}-${process.pid}`;
    await runLodgerOk(['run', ...drv, '--name', name, 'busybox', 'true'], { store });
    const r = await runLodgerOk(['inspect', '-f', '{{.Driver}}', name], { store });
    expect(r.stdout.trim()).toBe(driver);
    await runLodgerOk(['rm', name], { store });
  });

  it.skipIf(!usable)('writes go to the container\'s own layer: the image is unchanged and a second container does not see them', async () => {
    const name = `writer-${driver}-${process.pid}`;
    await runLodgerOk(['run', ...drv, '--name', name, 'busybox', 'sh', '-c', 'echo written >/etc/marker-file && rm /etc/group && echo extra >>/etc/passwd'], { store });
    const id = (await runLodgerOk(['inspect', '-f', '{{.Id}}', name], { store })).stdout.trim();

    const second = await bbsh(store, 'ls /etc/marker-file 2>&1; cat /etc/group; cat /etc/passwd', drv);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toMatch(/No such file or directory/);
    expect(second.stdout).toMatch(/^root:x:0:$/m);
    expect(second.stdout).not.toMatch(/^extra$/m);

    // In the store: the image's layers are as imported, the container's directory holds the write.
    const layerDirs = entries(path.join(store.root, 'layers')).filter((n) => /^[0-9a-f]{64}$/.test(n));
    expect(layerDirs.length).toBeGreaterThan(0);
    for (const l of layerDirs) {
      const etc = path.join(store.root, 'layers', l, 'diff', 'etc');
      expect(fs.existsSync(path.join(etc, 'marker-file'))).toBe(false);
      expect(fs.readFileSync(path.join(etc, 'group'), 'utf8')).toMatch(/^root:x:0:$/m);
      expect(fs.readFileSync(path.join(etc, 'passwd'), 'utf8')).not.toMatch(/^extra$/m);
    }
    const found = findFiles(path.join(store.root, 'containers', id), 'marker-file');
    expect(found).toHaveLength(1);
    expect(fs.readFileSync(path.join(store.root, 'containers', id, found[0]), 'utf8')).toBe('written\n');

    await runLodgerOk(['rm', name], { store });
    expect(entries(path.join(store.root, 'containers'))).toEqual([]);
  });

  it.skipIf(!usable)('/proc is a fresh procfs of the container\'s pid namespace', async () => {
    const out = await bbshOk(store, 'echo $$; echo --; cat /proc/mounts; echo --; ls -d /proc/[0-9]*', drv);
    const [pid, mounts, procs] = out.split(/^--$/m).map((s) => s.trim());
    expect(pid).toBe('1');
    const proc = parseMounts(mounts).find((m) => m.target === '/proc');
    expect(proc?.type).toBe('proc');
    expect(procs.split('\n')).toEqual(['/proc/1']);
  });

  it.skipIf(!usable)('/dev is a tmpfs with null, zero, full, random, urandom, tty, a private devpts, shm, mqueue and the fd links', async () => {
    const script = [
      'cat /proc/mounts',
      'echo --',
      'for d in null zero full random urandom tty; do [ -c /dev/$d ] && echo $d; done',
      'echo --',
      'for l in fd stdin stdout stderr ptmx; do readlink /dev/$l; done',
      'echo --',
      'ls -A /dev/pts',
      'echo --',
      'echo gone >/dev/null && echo null-ok',
      'dd if=/dev/zero of=/tmp/z bs=4 count=1 2>/dev/null && od -An -tx1 /tmp/z',
      'dd if=/dev/urandom of=/tmp/r bs=16 count=1 2>/dev/null && wc -c </tmp/r',
      'echo x >/dev/full 2>/dev/null || echo full-refused',
      'echo in-shm >/dev/shm/f && cat /dev/shm/f',
      '[ -d /dev/mqueue ] && echo mqueue-dir',
    ].join('\n');
    const out = await bbshOk(store, script, drv);
    const [mountsText, devices, links, pts, checks] = out.split(/^--$/m).map((s) => s.trim());
    const mounts = parseMounts(mountsText);
    const at = (t: string) => mounts.filter((m) => m.target === t).at(-1);
    expect(at('/dev')?.type).toBe('tmpfs');
    expect(at('/dev/pts')?.type).toBe('devpts');
    // A new devpts instance of the container's own: ptmxmode is only settable on one, and no host pty is there.
    expect(at('/dev/pts')?.options).toContain('ptmxmode=666');
    expect(pts.split('\n')).toEqual(['ptmx']);
    expect(at('/dev/shm')?.type).toBe('tmpfs');
    expect(at('/dev/mqueue')?.type).toBe('mqueue');
    expect(devices.split('\n')).toEqual(['null', 'zero', 'full', 'random', 'urandom', 'tty']);
    // fd, stdin, stdout, stderr, ptmx
    expect(links.split('\n')).toEqual(['/proc/self/fd', '/proc/self/fd/0', '/proc/self/fd/1', '/proc/self/fd/2', 'pts/ptmx']);
    expect(checks.split('\n').map((s) => s.trim())).toEqual(['null-ok', '00 00 00 00', '16', 'full-refused', 'in-shm', 'mqueue-dir']);
  });

  it.skipIf(!usable)('/sys is read-only', async () => {
    const r = await bbsh(store, 'grep -E "^[^ ]+ /sys " /proc/mounts; touch /sys/lodger-test 2>&1; echo status=$?', drv);
    expect(r.code, r.stderr).toBe(0);
    const line = r.stdout.split('\n')[0];
    expect(line.split(' ')[3].split(',')).toContain('ro');
    expect(r.stdout).toMatch(/Read-only file system/);
    expect(r.stdout).toMatch(/status=1/);
  });

  it.skipIf(!usable)('/etc/hostname, /etc/hosts (with the container name) and /etc/resolv.conf are generated; the image\'s are untouched', async () => {
    const name = `etc-${driver}-${process.pid}`;
    const r = await runLodgerOk(
      ['run', ...drv, '--rm', '--name', name, 'busybox', 'sh', '-c', 'hostname; echo --; cat /etc/hostname; echo --; cat /etc/hosts; echo --; cat /etc/resolv.conf'],
      { store },
    );
    const [hostname, etcHostname, hosts, resolv] = r.stdout.split(/^--$/m).map((s) => s.trim());
    expect(etcHostname).toBe(hostname);
    expect(hosts).toMatch(/^127\.0\.0\.1\s+localhost\b/m);
    const own = hosts.split('\n').find((l) => l.split(/\s+/).includes(name));
    expect(own, hosts).toBeDefined();
    expect(own!.split(/\s+/)).toContain(hostname);
    // The host's resolvers that the container can reach (not loopback ones: it has its own lo).
    const hostResolv = fs.readFileSync('/etc/resolv.conf', 'utf8');
    const reachable = hostResolv
      .split('\n')
      .filter((l) => /^\s*nameserver\s/.test(l))
      .map((l) => l.trim().split(/\s+/)[1])
      .filter((s) => !/^(127\.|::1$)/.test(s));
    for (const s of reachable) expect(resolv).toMatch(new RegExp(`^nameserver\\s+${s.replace(/\./g, '\\.')}$`, 'm'));
    expect(resolv).not.toMatch(/^nameserver\s+127\./m);
    // The image's own files stay as they were (busybox ships "busybox" and empty hosts/resolv.conf).
    for (const l of entries(path.join(store.root, 'layers')).filter((n) => /^[0-9a-f]{64}$/.test(n))) {
      const etc = path.join(store.root, 'layers', l, 'diff', 'etc');
      expect(fs.readFileSync(path.join(etc, 'hostname'), 'utf8')).toBe('busybox\n');
      expect(fs.readFileSync(path.join(etc, 'hosts'), 'utf8')).toBe('');
    }
  });

  it.skipIf(!usable)('nothing the container mounts shows up in the host\'s mount table: before, while running, after', async () => {
    const before = hostMountinfo();
    const fg = await bbsh(store, 'grep -c . /proc/mounts', drv);
    expect(fg.code, fg.stderr).toBe(0);
    expect(Number(fg.stdout.trim())).toBeGreaterThan(5); // the container does have its mounts

    const id = (await runLodgerOk(['run', '-d', ...drv, 'busybox', 'sleep', '60'], { store })).stdout.trim();
    try {
      const running = await runLodgerOk(['inspect', '-f', '{{.State.Running}}', id], { store });
      expect(running.stdout.trim()).toBe('true');
      expect(leakedMounts(before, store.dir)).toEqual([]);
      expect(hostMountsMentioning(store.dir)).toEqual([]);
    } finally {
      await runLodger(['rm', '-f', id], { store });
    }
    expect(leakedMounts(before, store.dir)).toEqual([]);
    expect(hostMountsMentioning(store.dir)).toEqual([]);
  });

  it.skipIf(!usable)('no fuse-overlayfs process outlives a foreground container', async () => {
    const r = await bbsh(store, 'echo hello', drv);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('hello\n');
    expect(await fuseOverlayProcesses(store.root)).toEqual([]);
  });

  it.skipIf(!usable)('a detached container: fuse-overlayfs serves it while it runs and is gone after `rm -f`', async () => {
    const id = (await runLodgerOk(['run', '-d', ...drv, 'busybox', 'sleep', '60'], { store })).stdout.trim();
    if (driver === 'fuse-overlayfs') {
      // The check below can only mean something if it finds the process while there is one.
      expect((await fuseOverlayProcesses(store.root)).length).toBeGreaterThan(0);
    } else {
      expect(await fuseOverlayProcesses(store.root)).toEqual([]);
    }
    const rm = await runLodger(['rm', '-f', id], { store });
    expect(rm.code, rm.stderr).toBe(0);
    expect(await waitUntil('fuse-overlayfs to exit', async () => (await fuseOverlayProcesses(store.root)).length === 0, 3000)).toBe(true);
    expect(hostMountsMentioning(store.dir)).toEqual([]);
    expect(await psAllIds(store)).not.toContain(id);
    expect(entries(path.join(store.root, 'containers'))).toEqual([]);
  });

  it.skipIf(!usable)('a detached container that exits by itself leaves no fuse-overlayfs process', async () => {
    const id = (await runLodgerOk(['run', '-d', ...drv, 'busybox', 'sleep', '0.5'], { store })).stdout.trim();
    const code = await runLodgerOk(['wait', id], { store });
    expect(code.stdout.trim()).toBe('0');
    expect(await waitUntil('fuse-overlayfs to exit', async () => (await fuseOverlayProcesses(store.root)).length === 0, 3000)).toBe(true);
    await runLodgerOk(['rm', id], { store });
  });

  it.skipIf(!usable)('killing the CLI (SIGKILL) of a foreground --rm container: no container process, fuse-overlayfs, mount or record is left', async () => {
    const before = hostMountinfo();
    const tag = marker('cli-kill');
    const cli = spawnLodger(['run', '--rm', ...drv, 'busybox', 'sh', '-c', 'echo ready; while :; do sleep 1; done', tag], { store });
    await waitForOutput(cli, 'ready', { stream: 'stdout' });
    expect((await containerShells(tag)).length).toBe(1); // the container's sh, found by its $0
    if (driver === 'fuse-overlayfs') expect((await fuseOverlayProcesses(store.root)).length).toBeGreaterThan(0);
    process.kill(cli.pid!, 'SIGKILL'); // the CLI only, not its process group
    await waitForExit(cli);
    expect(await waitUntil('fuse-overlayfs to exit', async () => (await fuseOverlayProcesses(store.root)).length === 0, 5000)).toBe(true);
    await waitUntil('the container process to die', async () => (await containerShells(tag)).length === 0, 5000);
    await waitUntil('the container directory to go', () => entries(path.join(store.root, 'containers')).length === 0, 5000);
    expect(await psAllIds(store)).toEqual([]);
    expect(leakedMounts(before, store.dir)).toEqual([]);
  });
});
