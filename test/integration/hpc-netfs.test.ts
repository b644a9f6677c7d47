// Issue 8.2, a store on a network filesystem: detected by statfs magic; containers (records and writable layers) go to
// local storage, the user is told once; run works with every driver. Real FUSE (bindfs) always; real NFS when root set one up.
//
// The kernel here has no NFS client or server (no nfs in /proc/filesystems, no modules), so NFS cannot be exported on
// loopback in CI. A bindfs mount made by the test user is a FUSE filesystem (magic 0x65735546), which lodger treats as
// "not local" exactly like NFS — and it refuses chown(2) to other ids, as a root-squashing NFS server does.
// On a machine with NFS, root prepares one and names it for the tests (see hpcNfsDir below):
//   apt-get install -y nfs-kernel-server nfs-common && mkdir -p /srv/lodger-nfs /mnt/lodger-nfs
//   chown lodgertest: /srv/lodger-nfs && echo '/srv/lodger-nfs 127.0.0.1(rw,sync,no_subtree_check,root_squash)' >>/etc/exports
//   exportfs -ra && mount -t nfs -o vers=4.2 127.0.0.1:/srv/lodger-nfs /mnt/lodger-nfs
//   LODGER_TEST_NFS_DIR=/mnt/lodger-nfs npm test
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeStore, removeTree, requirePrereq, requireTool, runLodger, runLodgerOk, type Store } from '../helpers/cli';
import { mustRun } from '../helpers/exec';
import { busyboxFixture, entries, uid } from './foundation-common';

interface NetFs {
  name: string;
  /** statfs f_type the store must report, as `stat -f -c %t` prints it. */
  magic: string;
  /** Makes a directory on the network filesystem for one test's store, inside DIR (the test's temp dir) where possible. */
  make(dir: string): Promise<string>;
}

const bindfs: NetFs = {
  name: 'FUSE',
  magic: '65735546',
  async make(dir) {
    const src = path.join(dir, 'fuse-src');
    const mnt = path.join(dir, 'fuse-mnt');
    fs.mkdirSync(src);
    fs.mkdirSync(mnt);
    // No allow_other: an unprivileged user may not grant it (fuse(8)) — like NFS, only our uid gets in.
    await mustRun('bindfs', ['--no-allow-other', src, mnt], { timeoutMs: 30_000 });
    return mnt;  // unmounted by store.cleanup() (removeTree unmounts FUSE mounts under the store first)
  },
};

/** A directory on a real NFS mount that root prepared (header comment), or undefined. */
const hpcNfsDir = process.env.LODGER_TEST_NFS_DIR;
const nfs: NetFs = {
  name: 'NFS',
  magic: '6969',
  async make() {
    return fs.mkdtempSync(path.join(hpcNfsDir!, 'lodger-netfs-'));
  },
};

const providers: NetFs[] = [];
if (requireTool('bindfs') && busyboxFixture()) providers.push(bindfs);
if (hpcNfsDir) providers.push(nfs);
// Where CI can have NFS (a kernel with nfsd), set LODGER_TEST_REQUIRE_NFS=1 and a missing setup fails the run.
else if (process.env.LODGER_TEST_REQUIRE_NFS) requirePrereq(false, 'LODGER_TEST_NFS_DIR: a directory on a loopback NFS mount (root setup in the header of hpc-netfs.test.ts)');
else console.warn('skipping the NFS variant of hpc-netfs: LODGER_TEST_NFS_DIR is not set (this kernel has no NFS; see the header for the root setup)');

/** statfs f_type of P in hex, as coreutils prints it. */
function magicOf(p: string): string {
  return spawnSync('stat', ['-f', '-c', '%t', p], { encoding: 'utf8' }).stdout.trim();
}

const NOTE = /is on (FUSE|NFS), a network or FUSE filesystem.*kept on local storage in (\S+) instead/s;

describe.each(providers)('a store on $name', (netfs) => {
  let store: Store;
  let root: string;
  let tmp: string;
  const extraDirs: string[] = [];
  beforeEach(async () => {
    store = makeStore('lodger-hpc-netfs-');
    root = path.join(await netfs.make(store.dir), 'store');
    tmp = path.join(store.dir, 'tmpdir');
    fs.mkdirSync(tmp, { mode: 0o700 });
  });
  afterEach(async () => {
    for (const d of extraDirs.splice(0)) await removeTree(d);
    if (netfs === nfs) await removeTree(path.dirname(root));
    await store.cleanup();
  });

  it('is detected: containers live on local storage, and the user is told once what and why', async () => {
    const imp = await runLodgerOk(['import', busyboxFixture()!.tar, 'busybox'], { store, root });
    // The setup is what it claims: lodger's store really is on the network filesystem.
    expect(magicOf(root)).toBe(netfs.magic);
    const m = NOTE.exec(imp.stderr);
    expect(m, imp.stderr).not.toBeNull();
    const local = m![2];
    expect(local.startsWith(path.join(store.runtimeDir, 'lodger', 'containers') + '/')).toBe(true);
    expect(magicOf(local)).not.toBe(netfs.magic);
    // Said once: the marker in the store remembers it.
    expect(fs.existsSync(path.join(root, 'container-dir.json'))).toBe(true);
    // Its layers are synced before they are recorded: other hosts may share the store, and this host's
    // boot would mean nothing to them (storage/layers.ts storeLayer).
    for (const l of entries(path.join(root, 'layers')).filter((n) => /^[0-9a-f]{64}$/.test(n))) {
      expect(JSON.parse(fs.readFileSync(path.join(root, 'layers', l, 'layer.json'), 'utf8'))).not.toHaveProperty('unsyncedBoot');
    }
    const c = await runLodgerOk(['create', '--name', 'netfs-c', 'busybox', 'true'], { store, root });
    expect(c.stderr).not.toMatch(NOTE);
    const id = c.stdout.trim();
    expect(fs.existsSync(path.join(local, id, 'container.json'))).toBe(true);
    expect(entries(path.join(root, 'containers'))).toEqual([]);
    expect((await runLodgerOk(['ps', '-a', '--format', '{{.Names}}'], { store, root })).stdout.trim()).toBe('netfs-c');
    await runLodgerOk(['rm', 'netfs-c'], { store, root });
    expect(entries(local)).toEqual([]);
  });

  it('a store we may not write: the note is still said once, remembered beside the local containers directory', async () => {
    await runLodgerOk(['import', busyboxFixture()!.tar, 'busybox'], { store, root });
    // As a store shared read-only would be: no marker in it, and none can be written there.
    fs.rmSync(path.join(root, 'container-dir.json'));
    fs.chmodSync(root, 0o555);
    try {
      const first = await runLodgerOk(['ps', '-a'], { store, root });
      const local = NOTE.exec(first.stderr)?.[2];
      expect(local, first.stderr).toBeDefined();
      expect(first.stderr).toContain(`remembered in ${local}.noted.json`);
      const second = await runLodgerOk(['ps', '-a'], { store, root });
      expect(second.stderr).not.toMatch(NOTE);
      expect(fs.existsSync(path.join(root, 'container-dir.json'))).toBe(false);
    } finally {
      fs.chmodSync(root, 0o700);
    }
  });

  it.each(['overlay', 'fuse-overlayfs', 'vfs'])('runs containers with the %s driver: writes and deletions of image files work', async (driver) => {
    await runLodgerOk(['import', busyboxFixture()!.tar, 'busybox'], { store, root });
    const r = await runLodger(['run', '--rm', '--storage-driver', driver, 'busybox', 'sh', '-c',
      'rm /bin/true && test ! -e /bin/true && echo gone; echo data > /etc/new && cat /etc/new; mkdir -p /srv/x && ls -d /srv/x'], { store, root });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('gone\ndata\n/srv/x\n');
    // The image itself is untouched by the container's changes.
    const again = await runLodgerOk(['run', '--rm', '--storage-driver', driver, 'busybox', 'sh', '-c', 'test -e /bin/true && echo still-there'], { store, root });
    expect(again.stdout).toBe('still-there\n');
  });

  it('without XDG_RUNTIME_DIR (a batch job) containers go to a private /var/tmp/lodger-<uid>; LODGER_CONTAINER_DIR wins over both', async () => {
    const env = { XDG_RUNTIME_DIR: undefined, TMPDIR: tmp };
    const imp = await runLodgerOk(['import', busyboxFixture()!.tar, 'busybox'], { store, root, env });
    const local = NOTE.exec(imp.stderr)?.[2];
    expect(local, imp.stderr).toBeDefined();
    expect(path.dirname(path.dirname(local!))).toBe(`/var/tmp/lodger-${uid()}`);
    extraDirs.push(local!);
    const st = fs.statSync(`/var/tmp/lodger-${uid()}`);
    expect([st.uid, st.mode & 0o777]).toEqual([uid(), 0o700]);
    const run = await runLodgerOk(['run', '--rm', 'busybox', 'echo', 'batch'], { store, root, env });
    expect(run.stdout).toBe('batch\n');

    const chosen = path.join(store.dir, 'my-containers');
    const c = await runLodgerOk(['create', 'busybox', 'true'], { store, root, env: { ...env, LODGER_CONTAINER_DIR: chosen } });
    expect(fs.existsSync(path.join(chosen, c.stdout.trim(), 'container.json'))).toBe(true);
    expect(entries(local!)).toEqual([]);
  });

  it.skipIf(netfs !== bindfs)('an image with several owners loses them there, and the note says why (the server refuses chown)', async () => {
    const imp = await runLodgerOk(['import', busyboxFixture()!.tar, 'busybox'], { store, root });
    expect(imp.stderr).toMatch(/ownership not kept for \/home\/app/);
    expect(imp.stderr).toMatch(/on FUSE, a network or FUSE filesystem: its server refuses to give files to ids other than yours/);
    const r = await runLodgerOk(['run', '--rm', 'busybox', 'stat', '-c', '%u', '/home/app'], { store, root });
    expect(r.stdout).toBe('0\n');
  });

  it.skipIf(!(requireTool('mksquashfs') && requireTool('squashfuse_ll')))('runs a squashfs image (the files read from it at create move to the local container directory)', async () => {
    await runLodgerOk(['import', busyboxFixture()!.tar, 'busybox'], { store, root });
    const sqfs = path.join(store.dir, 'busybox.sqfs');
    await runLodgerOk(['save', '--format', 'squashfs', '-o', sqfs, 'busybox'], { store, root });
    // -u app: resolved in the image's /etc/passwd, one of the files read from the squashfs at create.
    const r = await runLodger(['run', '--rm', '-u', 'app', sqfs, 'sh', '-c', 'id -un; echo hi > /tmp/f && cat /tmp/f'], { store, root });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('app\nhi\n');
  });

  it('--userns=keep-id is refused there, saying why and what to do', async () => {
    await runLodgerOk(['import', busyboxFixture()!.tar, 'busybox'], { store, root });
    const r = await runLodger(['run', '--rm', '--userns=keep-id', 'busybox', 'true'], { store, root });
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/keep-id: the store .* is on (FUSE|NFS)/);
    expect(r.stderr).toMatch(/local disk/);
  });
});

describe('a store on a local disk', () => {
  it('keeps its containers in the store and says nothing about network filesystems', async () => {
    const b = busyboxFixture();
    if (!b) return;
    const store = makeStore('lodger-hpc-local-');
    try {
      const imp = await runLodgerOk(['import', b.tar, 'busybox'], { store });
      expect(imp.stderr).not.toMatch(NOTE);
      const id = (await runLodgerOk(['create', 'busybox', 'true'], { store })).stdout.trim();
      expect(fs.existsSync(path.join(store.root, 'containers', id, 'container.json'))).toBe(true);
    } finally {
      await store.cleanup();
    }
  });
});
