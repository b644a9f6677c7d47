// Issue 8.1, --userns=keep-id: inside, the user is their own uid/gid/name; files they write in a bind-mounted home are
// theirs on the host; the image keeps its owners without a chown-copy (fuse-overlayfs maps ids at mount time, vfs as it copies).
// A squashfs image (.sqfs) needs no translation: its owners are container ids already.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireTool, runLodger, runLodgerOk, type Store } from '../helpers/cli';
import { debootstrapTarball, hasDebootstrapFixture } from '../helpers/fixtures';
import { requirePrereq, subidRange } from '../helpers/prereqs';
import { bbsh, bbshOk, busyboxStore, gid, haveSubids, uid } from './foundation-common';

const me = os.userInfo();
const ok = haveSubids() && requireTool('fuse-overlayfs');

/** Owner lines (`uid:gid path`) of every entry under DIR, to show a tree was left untouched. */
function owners(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const n of fs.readdirSync(d).sort()) {
      const p = path.join(d, n);
      const st = fs.lstatSync(p);
      out.push(`${st.uid}:${st.gid} ${path.relative(dir, p)}`);
      if (st.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out;
}

/** Our primary group's name, as the host's /etc/group has it (the fallback is the user's name). */
function myGroupName(): string {
  const line = fs.readFileSync('/etc/group', 'utf8').split('\n').find((l) => l.split(':')[2] === String(gid()));
  return line ? line.split(':')[0] : me.username;
}

describe.skipIf(!ok)('--userns=keep-id', () => {
  let store: Store;
  let home: string;
  beforeAll(async () => {
    store = await busyboxStore();
    home = path.join(store.dir, 'home');
    fs.mkdirSync(home);
  });
  afterAll(async () => {
    await store?.cleanup();
  });

  it('runs as the user: own uid, gid and names; the maps are podman keep-id\'s shape', async () => {
    const sub = subidRange('/etc/subuid')!;
    const r = await bbsh(store, 'id -u; id -g; id -un; id -gn; echo "$HOME"; cat /proc/self/uid_map', ['--userns=keep-id']);
    expect(r.code, r.stderr).toBe(0);
    const [u, g, name, group, homeVar, ...map] = r.stdout.trim().split('\n');
    expect([u, g, name, group]).toEqual([String(uid()), String(gid()), me.username, myGroupName()]);
    expect(homeVar).toBe(me.homedir);
    const rows = map.map((l) => l.trim().split(/\s+/).map(Number));
    const U = uid();
    expect(rows).toEqual([
      [0, sub.start, Math.min(U, sub.count)],
      [U, U, 1],
      ...(U < sub.count ? [[U + 1, sub.start + U, sub.count - U]] : []),
    ]);
    // The first keep-id run says once why it uses fuse-overlayfs rather than kernel overlay.
    expect(r.stderr).toMatch(/keep-id.*fuse-overlayfs.*idmapped mount/s);
    const again = await bbsh(store, 'true', ['--userns=keep-id']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).not.toMatch(/idmapped mount/);
  });

  it('files the user writes in a bind-mounted home are theirs on the host; root\'s are the first subordinate id', async () => {
    const sub = subidRange('/etc/subuid')!;
    const subg = subidRange('/etc/subgid')!;
    await bbshOk(store, `cd ${home} && echo mine > file && mkdir dir && ls -ln file`, ['--userns=keep-id', '-v', `${home}:${home}`]);
    for (const f of ['file', 'dir']) {
      const st = fs.statSync(path.join(home, f));
      expect([st.uid, st.gid], f).toEqual([uid(), gid()]);
    }
    expect(fs.readFileSync(path.join(home, 'file'), 'utf8')).toBe('mine\n');
    // -u 0 under keep-id: root inside is not the user any more but the first id of the range.
    await bbshOk(store, `touch ${home}/by-root`, ['--userns=keep-id', '-u', '0', '-v', `${home}:${home}`]);
    const st = fs.statSync(path.join(home, 'by-root'));
    expect([st.uid, st.gid]).toEqual([sub.start, subg.start]);
  });

  it.each(['fuse-overlayfs', 'vfs'])('the image keeps its owners (%s), and its layers are not chowned or copied', async (driver) => {
    const layers = path.join(store.root, 'layers');
    const before = owners(layers);
    const out = await bbshOk(store, 'stat -c "%u:%g %n" / /bin/busybox /home/app; ls -l /home | grep app', ['--userns=keep-id', '--storage-driver', driver]);
    expect(out.split('\n').slice(0, 3)).toEqual(['0:0 /', '0:0 /bin/busybox', '1000:1000 /home/app']);
    // uid 1000 is the image's "app" unless the user is 1000 too: then the name is the user's.
    expect(out).toMatch(uid() === 1000 ? new RegExp(` ${me.username} `) : / app /);
    expect(owners(layers)).toEqual(before);
  });

  it('what the user changes in the container is stored with the image\'s ownership: commit and a normal run see it as theirs', async () => {
    const name = `keepid-${process.pid}`;
    await runLodgerOk(['run', '--name', name, '--userns=keep-id', 'busybox', 'sh', '-c', 'echo made > /tmp/made-by-user'], { store });
    await runLodgerOk(['commit', name, 'keepid-commit:1'], { store });
    await runLodgerOk(['rm', name], { store });
    const out = await runLodgerOk(['run', '--rm', 'keepid-commit:1', 'stat', '-c', '%u:%g', '/tmp/made-by-user'], { store });
    expect(out.stdout.trim()).toBe(`${uid()}:${gid()}`);
  });

  it('exec into a detached keep-id container runs as the user too; -u root is root', async () => {
    const d = await runLodgerOk(['run', '-d', '--userns=keep-id', 'busybox', 'sleep', '60'], { store });
    const id = d.stdout.trim();
    try {
      expect((await runLodgerOk(['exec', id, 'id', '-un'], { store })).stdout.trim()).toBe(me.username);
      expect((await runLodgerOk(['exec', '-u', 'root', id, 'id', '-u'], { store })).stdout.trim()).toBe('0');
    } finally {
      await runLodger(['rm', '-f', id], { store });
    }
  });

  it('kernel overlay asked for with keep-id runs on a copy of the layers owned as keep-id needs (made at once)', async () => {
    const out = await bbshOk(store, 'grep " / / " /proc/self/mountinfo | sed "s/.* - //" | cut -d" " -f1; stat -c "%u:%g %n" /bin/busybox /home/app; id -u',
      ['--userns=keep-id', '--storage-driver', 'overlay']);
    expect(out).toBe(`overlay\n0:0 /bin/busybox\n1000:1000 /home/app\n${uid()}\n`);
  });

  it('without a subordinate range keep-id is refused, naming the missing range', async () => {
    const empty = path.join(store.dir, 'empty');
    fs.writeFileSync(empty, '');
    const r = await bbsh(store, 'true', ['--userns=keep-id'], { env: { LODGER_SUBUID_FILE: empty, LODGER_SUBGID_FILE: empty } });
    expect(r.code).toBe(125);
    expect(r.stderr).toContain('/etc/subuid');
    expect(r.stderr).toMatch(/keep-id/);
    expect(r.stderr).not.toMatch(/internal error/);
  });
});

describe.skipIf(!ok || !requirePrereq(hasDebootstrapFixture(), 'the debootstrap fixture (sudo bash scripts/build-debootstrap-fixture.sh)'))('--userns=keep-id on a real distribution image', () => {
  let store: Store;
  beforeAll(async () => {
    store = await busyboxStore();
    await runLodgerOk(['import', await debootstrapTarball(), 'deb:keepid'], { store, timeoutMs: 120_000 });
  });
  afterAll(async () => {
    await store?.cleanup();
  });

  it('Debian\'s group-owned files keep their groups and the user can use the image\'s tools', async () => {
    const r = await runLodger(['run', '--rm', '--userns=keep-id', 'deb:keepid', 'sh', '-c',
      'stat -c "%u:%g %n" /etc/shadow /usr/bin/passwd; id -un; cat /etc/debian_version >/dev/null && echo readable; touch /etc/x 2>/dev/null || echo not-root'], { store });
    expect(r.code, r.stderr).toBe(0);
    // shadow is root:shadow (gid 42) in Debian; passwd is root:root and set-uid.
    expect(r.stdout.split('\n')).toEqual(['0:42 /etc/shadow', '0:0 /usr/bin/passwd', me.username, 'readable', 'not-root', '']);
  });
});

describe.skipIf(!ok || !requireTool('mksquashfs') || !requireTool('squashfuse_ll'))('--userns=keep-id with a squashfs image', () => {
  let store: Store;
  let sqfs: string;
  let home: string;
  beforeAll(async () => {
    store = await busyboxStore();
    sqfs = path.join(store.dir, 'busybox.sqfs');
    await runLodgerOk(['save', '--format', 'squashfs', '-o', sqfs, 'busybox'], { store });
    home = path.join(store.dir, 'home');
    fs.mkdirSync(home);
  });
  afterAll(async () => {
    await store?.cleanup();
  });

  it('runs as the user with the image\'s owners as stored (root\'s, app\'s), and the user\'s files are theirs', async () => {
    const r = await runLodger(['run', '--rm', '--userns=keep-id', '-v', `${home}:${home}`, '-w', home, sqfs, 'sh', '-c',
      'id -un; id -u; id -g; stat -c "%u:%g %n" /bin/busybox /etc/hostname /home/app; echo mine > file; echo tmp > /tmp/t && stat -c "%u:%g %n" /tmp/t; ls -l /home | grep -c " app "'], { store });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.split('\n')).toEqual([
      me.username, String(uid()), String(gid()),
      '0:0 /bin/busybox', `${uid()}:${gid()} /etc/hostname`, '1000:1000 /home/app',
      `${uid()}:${gid()} /tmp/t`, uid() === 1000 ? '0' : '1', '',
    ]);
    const st = fs.statSync(path.join(home, 'file'));
    expect([st.uid, st.gid]).toEqual([uid(), gid()]);
    // No translation is involved, so nothing about keep-id's fuse-overlayfs is said.
    expect(r.stderr).not.toMatch(/idmapped mount/);
  });

  it('-u 0 is root inside, who may change the image\'s files (in the container\'s own layer); kernel overlay is not refused', async () => {
    const r = await runLodger(['run', '--rm', '--userns=keep-id', '--storage-driver', 'overlay', '-u', '0', sqfs, 'sh', '-c',
      'id -u; echo x >> /etc/passwd && tail -n 1 /etc/passwd; touch /home/app/by-root && stat -c %u /home/app/by-root'], { store });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('0\nx\n0\n');
  });
});
