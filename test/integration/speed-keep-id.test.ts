// Issue 17.4, keep-id at kernel speed: after the first keep-id run of an image, later ones run on kernel overlayfs
// over a copy of its layers owned as keep-id needs (storage/shiftedLayers.ts), with the image's owners exact;
// the copy goes with the image, and a preparer killed mid-copy leaves the next runs working.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeTree, requirePrereq, requireTool, runLodgerOk, type Store } from '../helpers/cli';
import { buildOciLayout, debootstrapTarball, hasDebootstrapFixture, ociToDockerArchive, type TarFileSpec } from '../helpers/fixtures';
import { busyboxFixture, gid, haveSubids, ourProcesses, uid, waitUntil } from './foundation-common';
import { makeStore } from '../helpers/store';

const ok = haveSubids() && requireTool('fuse-overlayfs') && requireTool('skopeo');

/** The filesystem type of / as the container's /proc/self/mountinfo says (overlay, fuse.fuse-overlayfs). */
const ROOT_FS = 'grep " / / " /proc/self/mountinfo | sed "s/.* - //" | cut -d" " -f1';

/** `lodger run --rm ARGS IMAGE sh -c SCRIPT`, which must succeed; its stdout. */
async function sh(store: Store, image: string, script: string, args: string[] = []): Promise<string> {
  return (await runLodgerOk(['run', '--rm', ...args, image, 'sh', '-c', script], { store, timeoutMs: 120_000 })).stdout;
}

/** The copies' key directories (one per keep-id translation) under the store. */
function keyDirs(store: Store): string[] {
  const base = path.join(store.root, 'shifted');
  try { return fs.readdirSync(base).filter((n) => /^[0-9a-f]{16}$/.test(n)).map((n) => path.join(base, n)); } catch { return []; }
}

/** The layers (hex) that have a complete copy. */
function copiedLayers(store: Store): string[] {
  return keyDirs(store).flatMap((k) => fs.readdirSync(k).filter((n) => /^[0-9a-f]{64}$/.test(n) && fs.existsSync(path.join(k, n, 'shifted.json'))));
}

/** Runs keep-id containers until one is on kernel overlay (the copy made in the background is used). */
async function untilOnOverlay(store: Store, image: string, timeoutMs: number): Promise<void> {
  await waitUntil(`a keep-id run of ${image} on kernel overlay`, async () => (await sh(store, image, ROOT_FS, ['--userns=keep-id'])).trim() === 'overlay', timeoutMs);
}

describe.skipIf(!ok)('--userns=keep-id on the copies of an image\'s layers', () => {
  let store: Store;
  let work: string;
  const image = 'localhost/owners:1';
  // Owners, modes, a hardlink, a symlink, a set-group-ID directory; the top layer deletes a file (whiteout)
  // and replaces a directory's contents (opaque) — all of it must come through the copy as it was.
  const u = uid();
  const middle: TarFileSpec[] = [
    { path: 'srv', type: 'dir', mode: 0o755 },
    { path: 'srv/app', type: 'dir', mode: 0o750, uid: 1000, gid: 1000 },
    { path: 'srv/app/data', type: 'file', content: 'app data\n', mode: 0o640, uid: 1000, gid: 1000 },
    { path: 'srv/shared', type: 'dir', mode: 0o2775, uid: 0, gid: 42 },
    { path: 'srv/mine', type: 'file', content: 'owned by the user\'s uid in the image\n', uid: u, gid: gid() },
    { path: 'srv/hard1', type: 'file', content: 'linked\n', uid: 7, gid: 7 },
    { path: 'srv/hard2', type: 'link', target: 'srv/hard1', uid: 7, gid: 7 },
    { path: 'srv/link', type: 'symlink', target: 'app/data', uid: 1000, gid: 1000 },
    { path: 'srv/gone', type: 'file', content: 'deleted above\n' },
    { path: 'srv/opq', type: 'dir' },
    { path: 'srv/opq/old', type: 'file', content: 'hidden above\n' },
  ];
  const top: TarFileSpec[] = [
    { path: 'srv/gone', type: 'whiteout' },
    { path: 'srv/opq', type: 'opaque' },
    { path: 'srv/opq/new', type: 'file', content: 'new\n', uid: 65534, gid: 65534 },
    { path: 'srv/setuid', type: 'file', content: '#!/bin/sh\n', mode: 0o4755 },
  ];
  // As root inside (-u 0 under keep-id): the user may not read 1000's directory. Directories' link counts
  // are left out: fuse-overlayfs and kernel overlayfs count a merged directory's differently.
  const LIST = 'cd /srv && find . | sort | while read f; do stat -c "%u:%g %a %F %n" "$f"; done; stat -c %h hard1; [ "$(stat -c %i hard1)" = "$(stat -c %i hard2)" ] && echo hardlinked';

  beforeAll(async () => {
    store = makeStore('lodger-speed-');
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'lodger-speed-img-'));
    const oci = path.join(work, 'oci');
    await buildOciLayout(oci, { tag: '1', layers: [{ tarFile: busyboxFixture()!.tar }, { files: middle }, { files: top }], config: { Cmd: ['sh'] } });
    await runLodgerOk(['load', '-i', await ociToDockerArchive(oci, '1', path.join(work, 'owners.tar'), image)], { store });
  });
  afterAll(async () => {
    await store?.cleanup();
    if (work) await removeTree(work);
  });

  it('the first run is on fuse-overlayfs, later ones on kernel overlay, all with the image\'s owners and the user\'s uid', async () => {
    const plain = await sh(store, image, LIST);
    // What a normal run shows is what the image says (the default mapping is the store's own).
    expect(plain).toContain('1000:1000 750 directory ./app\n');
    expect(plain).toContain('1000:1000 640 regular file ./app/data\n');
    expect(plain).toContain('0:42 2775 directory ./shared\n');
    expect(plain).toContain('7:7 644 regular file ./hard1\n');
    expect(plain).toContain('65534:65534 644 regular file ./opq/new\n');
    expect(plain).toContain('0:0 4755 regular file ./setuid\n');
    expect(plain).not.toMatch(/gone|opq\/old/);
    expect(plain).toMatch(/\n2\nhardlinked\n$/);

    const first = await sh(store, image, `${ROOT_FS}; ${LIST}`, ['--userns=keep-id', '-u', '0']);
    expect(first).toBe(`fuse.fuse-overlayfs\n${plain}`);
    // The copy is made in the background after that run; a later run uses it.
    await untilOnOverlay(store, image, 60_000);
    expect(await sh(store, image, `${ROOT_FS}; ${LIST}`, ['--userns=keep-id', '-u', '0'])).toBe(`overlay\n${plain}`);
    expect(await sh(store, image, `${ROOT_FS}; id -u; id -g; cat /srv/mine`, ['--userns=keep-id'])).toBe(`overlay\n${u}\n${gid()}\nowned by the user's uid in the image\n`);
    expect(copiedLayers(store)).toHaveLength(3);
  });

  it('what a keep-id container writes on kernel overlay is the user\'s; commit keeps it so for a normal run', async () => {
    const name = `speed-keepid-${process.pid}`;
    const out = await runLodgerOk(['run', '--name', name, '--userns=keep-id', image, 'sh', '-c',
      `${ROOT_FS}; echo made > /tmp/made && stat -c "%u:%g" /tmp/made; touch /srv/app/x 2>/dev/null || echo denied`], { store });
    expect(out.stdout).toBe(`overlay\n${u}:${gid()}\ndenied\n`);
    await runLodgerOk(['commit', name, 'localhost/owners-commit:1'], { store });
    await runLodgerOk(['rm', name], { store });
    expect(await sh(store, 'localhost/owners-commit:1', 'stat -c "%u:%g" /tmp/made /srv/app')).toBe(`${u}:${gid()}\n1000:1000\n`);
  });

  it('--storage-driver overlay makes the copies at once for an image that has none', async () => {
    const other = 'localhost/owners-commit:1';  // its top layer (the commit) has no copy yet
    const r = await runLodgerOk(['run', '--rm', '--userns=keep-id', '--storage-driver', 'overlay', other, 'sh', '-c', `${ROOT_FS}; stat -c "%u:%g" /tmp/made`], { store });
    expect(r.stdout).toBe(`overlay\n${u}:${gid()}\n`);
    expect(copiedLayers(store)).toHaveLength(4);
  });

  it('rmi removes the copies of the layers it removes', async () => {
    await runLodgerOk(['rmi', 'localhost/owners-commit:1'], { store });
    expect(copiedLayers(store)).toHaveLength(3);
    await runLodgerOk(['rmi', image], { store });
    expect(copiedLayers(store)).toEqual([]);
    for (const k of keyDirs(store)) expect(fs.readdirSync(k).filter((n) => !n.endsWith('.lock'))).toEqual([]);
  });
});

describe.skipIf(!ok || !requirePrereq(hasDebootstrapFixture(), 'the debootstrap fixture (sudo bash scripts/build-debootstrap-fixture.sh)'))('a keep-id copy interrupted', () => {
  let store: Store;
  beforeAll(async () => {
    store = makeStore('lodger-speed-');
    await runLodgerOk(['import', await debootstrapTarball(), 'deb:speed'], { store, timeoutMs: 120_000 });
  });
  afterAll(async () => {
    await store?.cleanup();
  });

  it('SIGKILL of the background preparer mid-copy: the next runs work on fuse-overlayfs, a later preparer completes the copy', async () => {
    const owners = 'stat -c "%u:%g %n" /etc/shadow /var/mail /usr/bin/passwd; id -un';
    const plain = await sh(store, 'deb:speed', owners.replace('; id -un', ''));
    expect(await sh(store, 'deb:speed', `${ROOT_FS}; ${owners}`, ['--userns=keep-id'])).toBe(`fuse.fuse-overlayfs\n${plain}${os.userInfo().username}\n`);
    // The preparer that run started: caught while its staging directory fills, killed.
    const line = await waitUntil('the background preparer', async () => (await ourProcesses('__shift-layers', store.root))[0], 30_000);
    const pid = Number(line.split(' ')[0]);
    await waitUntil('its copy under way', () => keyDirs(store).some((k) => fs.readdirSync(k).some((n) => n.startsWith(`.tmp-${pid}-`) &&
      fs.existsSync(path.join(k, n, 'diff', 'usr')))), 30_000);
    process.kill(pid, 'SIGKILL');
    expect(copiedLayers(store)).toEqual([]);
    // Nothing half-made is used: the next run is on fuse-overlayfs with the right owners.
    expect(await sh(store, 'deb:speed', `${ROOT_FS}; ${owners}`, ['--userns=keep-id'])).toBe(`fuse.fuse-overlayfs\n${plain}${os.userInfo().username}\n`);
    // Once the killed preparer's lock is stale (10 s), a later run's preparer makes the copy.
    await untilOnOverlay(store, 'deb:speed', 120_000);
    expect(await sh(store, 'deb:speed', `${ROOT_FS}; ${owners}`, ['--userns=keep-id'])).toBe(`overlay\n${plain}${os.userInfo().username}\n`);
    expect(copiedLayers(store)).toHaveLength(1);
  }, 300_000);
});
