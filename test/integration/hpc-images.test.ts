// Issue 8 point 5, single-file images: `save --format squashfs` writes one squashfs file holding the image's
// flattened root filesystem (owners as the container sees them) and its config; `run FILE.sqfs` mounts it with
// squashfuse_ll under the usual overlay without unpacking it, and squashfuse lives exactly as long as the container.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { killLodgers, makeStore, removeTree, requirePrereq, requireTool, runLodger, runLodgerOk, spawnLodger, type Store } from '../helpers/cli';
import { mustRun } from '../helpers/exec';
import { buildOciLayout, debootstrapTarball, hasDebootstrapFixture } from '../helpers/fixtures';
import { alive, busyboxFixture, expectLodgerFailure, haveSubids, hostMountsMentioning, ourProcesses, waitUntil } from './foundation-common';

const ok = haveSubids() && busyboxFixture() !== null && requireTool('mksquashfs') && requireTool('unsquashfs') && requireTool('squashfuse_ll')
  && requirePrereq(fs.existsSync('/dev/fuse'), '/dev/fuse (mode 0666)');

let work: string;
let store: Store;
let sqfs: string;
let imageId: string;

const CONFIG = {
  Cmd: ['sh', '-c', 'echo "from the image config: $MARK in $(pwd)"'],
  Env: ['PATH=/usr/sbin:/usr/bin:/sbin:/bin', 'MARK=squashed'],
  WorkingDir: '/opt',
};

/** squashfuse_ll processes of ours serving a file of this test (found by the store path in their arguments). */
async function squashfuses(): Promise<string[]> {
  return (await ourProcesses(store.root)).filter((l) => /^\d+ (\S*\/)?squashfuse_ll /.test(l));
}

/** Waits until a squashfuse_ll of ours whose line contains NEEDLE runs; returns the lines. */
async function waitForSquashfuse(what: string, needle = ''): Promise<string[]> {
  const found = await waitUntil(what, async () => {
    const lines = (await squashfuses()).filter((l) => l.includes(needle));
    return lines.length ? lines : null;
  });
  return found!;
}

const sha256 = (f: string) => createHash('sha256').update(fs.readFileSync(f)).digest('hex');

beforeAll(async () => {
  if (!ok) return;
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'lodger-hpc-img-'));
  store = makeStore('lodger-hpc-img-store-');
  // busybox, then a layer that deletes a file, makes a directory opaque and adds a file of another owner.
  const oci = path.join(work, 'oci');
  await buildOciLayout(oci, {
    tag: 'v1',
    layers: [
      { tarFile: busyboxFixture()!.tar },
      { files: [
        { path: 'etc/to-delete', type: 'file', content: 'x\n' },
        { path: 'opt/app', type: 'dir' },
        { path: 'opt/app/old', type: 'file', content: 'old\n' },
      ] },
      { files: [
        { path: 'etc/to-delete', type: 'whiteout' },
        { path: 'opt/app', type: 'opaque' },
        { path: 'opt/app/new', type: 'file', content: 'new\n' },
        { path: 'etc/owned', type: 'file', content: 'secret\n', uid: 1234, gid: 2345, mode: 0o640 },
      ] },
    ],
    config: CONFIG,
  });
  // An OCI archive is a tar of the layout (image-spec image-layout.md).
  const archive = path.join(work, 'layered.tar');
  await mustRun('tar', ['-C', oci, '-cf', archive, '.']);
  await runLodgerOk(['load', '-i', archive], { store });
  imageId = (await runLodgerOk(['images', '-q', '--no-trunc'], { store })).stdout.trim().split('\n')[0];
  await runLodgerOk(['tag', imageId, 'layered:1'], { store });
  sqfs = path.join(work, 'layered.sqfs');
  await runLodgerOk(['save', '--format', 'squashfs', '-o', sqfs, 'layered:1'], { store, timeoutMs: 120_000 });
}, 300_000);

afterEach(() => killLodgers());

afterAll(async () => {
  if (store) {
    await runLodger(['rm', '-f', '-a'], { store }).catch(() => undefined);
    await store.cleanup();
  }
  if (work) await removeTree(work);
});

describe.skipIf(!ok)('save --format squashfs', () => {
  it('writes one squashfs file: the flattened tree with whiteouts applied, container owners and modes, the config inside', async () => {
    const head = Buffer.alloc(4);
    const fd = fs.openSync(sqfs, 'r');
    fs.readSync(fd, head, 0, 4, 0);
    fs.closeSync(fd);
    expect(head.toString()).toBe('hsqs');
    // unsquashfs -lln: numeric owners as stored in the file.
    const list = await mustRun('unsquashfs', ['-lln', sqfs]);
    const line = (p: string) => list.split('\n').find((l) => l.endsWith(`squashfs-root/${p}`)) ?? `(no ${p})`;
    expect(line('etc/owned')).toMatch(/^-rw-r----- 1234\/2345 /);
    expect(line('home/app')).toMatch(/^d\S+ 1000\/1000 /);
    expect(line('bin/busybox')).toMatch(/^-\S+ 0\/0 /);
    expect(list).not.toMatch(/etc\/to-delete|opt\/app\/old/);
    expect(list).toMatch(/squashfs-root\/opt\/app\/new\n/);
    // The config is the store's config blob byte for byte: its digest is the image id.
    const cfg = await mustRun('unsquashfs', ['-cat', sqfs, '.lodger/config.json']);
    expect('sha256:' + createHash('sha256').update(cfg).digest('hex')).toBe(imageId);
    expect(JSON.parse(cfg).config).toMatchObject(CONFIG);
    // The flattened tree was staged in the store and is gone; nothing half-written is left beside the file.
    expect(fs.readdirSync(path.join(store.root, 'tmp'))).toEqual([]);
    expect(fs.readdirSync(work).filter((n) => n.includes('.tmp'))).toEqual([]);
  });

  it('refuses what it cannot do with 125: no -o, several images, an unknown image', async () => {
    expectLodgerFailure(await runLodger(['save', '--format', 'squashfs', 'layered:1'], { store }), /give -o FILE/);
    expectLodgerFailure(await runLodger(['save', '--format', 'squashfs', '-o', path.join(work, 'two.sqfs'), 'layered:1', 'layered:1'], { store }), /one image/);
    expectLodgerFailure(await runLodger(['save', '--format', 'squashfs', '-o', path.join(work, 'none.sqfs'), 'nosuch:1'], { store }), /no such image nosuch:1/);
    expect(fs.existsSync(path.join(work, 'none.sqfs'))).toBe(false);
  });
});

describe.skipIf(!ok)('run FILE.sqfs', () => {
  it('runs the image config\'s command, sees the flattened tree, and writes only to the container', async () => {
    const before = sha256(sqfs);
    const r = await runLodgerOk(['run', '--rm', sqfs], { store });
    expect(r.stdout).toBe('from the image config: squashed in /opt\n');
    const script = 'stat -c "%u:%g %a" /etc/owned /home/app; ls /opt/app; ls /etc/to-delete 2>&1; echo written > /etc/owned; cat /etc/owned';
    const out = await runLodgerOk(['run', '--rm', sqfs, 'sh', '-c', script], { store });
    expect(out.stdout).toBe('1234:2345 640\n1000:1000 755\nnew\nls: /etc/to-delete: No such file or directory\nwritten\n');
    expect(sha256(sqfs)).toBe(before);
    // A relative path works the same, and the next container sees the image as it was.
    const again = await runLodgerOk(['run', '--rm', `./${path.basename(sqfs)}`, 'cat', '/etc/owned'], { store, cwd: work });
    expect(again.stdout).toBe('secret\n');
  });

  it('enforces the image\'s modes for other users: uid 1000 reads its home but not a 0640 file of 1234', async () => {
    const r = await runLodger(['run', '--rm', '-u', '1000:1000', sqfs, 'sh', '-c', 'touch /home/app/mine && echo home-ok; cat /etc/owned'], { store });
    expect(r.stdout).toBe('home-ok\n');
    expect(r.stderr).toMatch(/cat: can't open '\/etc\/owned': Permission denied/);
    expect(r.code).toBe(1);
  });

  it.each(['overlay', 'fuse-overlayfs'])('works with the %s storage driver, new files included; vfs is refused with 125', async (driver) => {
    const r = await runLodgerOk(['run', '--rm', '--storage-driver', driver, sqfs, 'cat', '/opt/app/new'], { store });
    expect(r.stdout).toBe('new\n');
    // New files in directories of the image not yet copied up, as root and as another user (over
    // squashfuse, fuse-overlayfs must not ask it for POSIX ACLs it does not have: imageLayers.ts).
    const w = await runLodgerOk(['run', '--rm', '--storage-driver', driver, sqfs, 'sh', '-c', 'echo a > /opt/app/added && cat /opt/app/added'], { store });
    expect(w.stdout).toBe('a\n');
    const u = await runLodgerOk(['run', '--rm', '--storage-driver', driver, '-u', '1000:1000', sqfs, 'sh', '-c', 'echo b > /home/app/added && cat /home/app/added'], { store });
    expect(u.stdout).toBe('b\n');
    const vfs = await runLodger(['run', '--rm', '--storage-driver', 'vfs', sqfs, 'true'], { store });
    expectLodgerFailure(vfs, /squashfs image .*vfs storage driver .* use --storage-driver overlay or fuse-overlayfs/);
  });

  it('squashfuse_ll lives exactly as long as the container: a detached one keeps it, rm -f ends it, nothing is mounted on the host', async () => {
    expect(await squashfuses()).toEqual([]);
    const id = (await runLodgerOk(['run', '-d', sqfs, 'sleep', '300'], { store })).stdout.trim();
    const procs = await waitForSquashfuse('squashfuse_ll of the detached container', id);
    expect(procs).toHaveLength(1);
    // The mount lives in the container's private mount namespace only.
    expect(hostMountsMentioning(store.root)).toEqual([]);
    expect((await runLodgerOk(['exec', id, 'cat', '/opt/app/new'], { store })).stdout).toBe('new\n');
    await runLodgerOk(['rm', '-f', id], { store });
    await waitUntil('squashfuse_ll to exit after rm -f', async () => (await squashfuses()).length === 0);
    expect(fs.existsSync(path.join(store.root, 'containers', id))).toBe(false);
  });

  it('a killed helper takes squashfuse_ll with it (PR_SET_PDEATHSIG)', async () => {
    const child = spawnLodger(['run', '--rm', sqfs, 'sleep', '300'], { store });
    const [line] = await waitForSquashfuse('squashfuse_ll of the foreground container');
    const pid = Number(line.split(' ')[0]);
    const helper = Number(fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')[1]);
    expect(fs.readFileSync(`/proc/${helper}/cmdline`, 'utf8')).toMatch(/lodger-helper/);
    process.kill(helper, 'SIGKILL');
    await waitUntil('squashfuse_ll to die with its helper', () => !alive(pid));
    child.kill('SIGKILL');
  });

  it('a file saved again at the same path runs with its new config (nothing read from the old one is reused)', async () => {
    const file = path.join(work, 'resaved.sqfs');
    const b = busyboxFixture()!;
    await runLodgerOk(['import', '-c', 'CMD ["echo", "first"]', b.tar, 'resave:1'], { store });
    await runLodgerOk(['save', '--format', 'squashfs', '-o', file, 'resave:1'], { store });
    expect((await runLodgerOk(['run', '--rm', file], { store })).stdout).toBe('first\n');
    await runLodgerOk(['import', '-c', 'CMD ["echo", "second"]', b.tar, 'resave:2'], { store });
    await runLodgerOk(['save', '--format', 'squashfs', '-o', file, 'resave:2'], { store });
    expect((await runLodgerOk(['run', '--rm', file], { store })).stdout).toBe('second\n');
  });

  it('a file that is not squashfs, or is missing, fails with 125 saying so', async () => {
    const junk = path.join(work, 'junk.sqfs');
    fs.writeFileSync(junk, 'not a squashfs image\n'.repeat(10));
    expectLodgerFailure(await runLodger(['run', '--rm', junk, 'true'], { store }), /junk\.sqfs is not a squashfs file/);
    expectLodgerFailure(await runLodger(['run', '--rm', path.join(work, 'missing.sqfs'), 'true'], { store }), /missing\.sqfs: no such file/);
    expect(await squashfuses()).toEqual([]);
  });
});

describe.skipIf(!ok || !requirePrereq(hasDebootstrapFixture(), 'the debootstrap fixture (sudo bash scripts/build-debootstrap-fixture.sh)'))('a real distribution as one squashfs file', () => {
  it('debootstrap bookworm: system owners and set-group-ID bits survive (/etc/shadow, chage, /var/mail) and apt runs', async () => {
    const tarball = await debootstrapTarball();
    await runLodgerOk(['import', tarball, 'deb:sq'], { store, timeoutMs: 300_000 });
    const file = path.join(work, 'debian.sqfs');
    await runLodgerOk(['save', '--format', 'squashfs', '-o', file, 'deb:sq'], { store, timeoutMs: 300_000 });
    const r = await runLodgerOk(['run', '--rm', file, 'sh', '-c', 'stat -c "%U:%G %a" /etc/shadow /usr/bin/chage /var/mail; cat /etc/debian_version; apt-get --version | head -1'], { store });
    const [shadow, chage, mail, version, apt] = r.stdout.trim().split('\n');
    expect(shadow).toBe('root:shadow 640');
    expect(chage).toBe('root:shadow 2755');
    expect(mail).toBe('root:mail 2775');
    expect(version).toMatch(/^12\./);
    expect(apt).toMatch(/^apt \d/);
    await runLodgerOk(['rmi', 'deb:sq'], { store });
  }, 600_000);
});
