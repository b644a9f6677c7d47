// Integration tests of cp, commit, export, save, top, rename, container/image prune and system df, run as an unprivileged user against real containers.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  killLodgers, makeStore, removeTree, requireTool, runLodger, runLodgerOk,
  spawnLodger, waitForExit, waitForOutput, type LodgerResult, type Store,
} from '../helpers/cli';
import { runCommand } from '../helpers/exec';
import { subidRange, toolPath } from '../helpers/prereqs';
import { busyboxStore, dropStore, lifecyclePrereqs } from './lifecycle-common';

const ready = lifecyclePrereqs();
const myUid = process.getuid!();

function expectFailure(r: LodgerResult, re: RegExp): void {
  expect(r.code, `expected a failure, got ${r.code}\n${r.stdout}${r.stderr}`).not.toBe(0);
  expect(r.stderr).toMatch(re);
}

/** Host uid that container uid N (≥ 1) maps to: the subordinate range, container 1 at its start. */
function hostIdOf(n: number): number {
  return subidRange('/etc/subuid')!.start + n - 1;
}

/** tar -t of FILE, one name a line without a leading "./". */
async function tarNames(file: string): Promise<string[]> {
  const r = await runCommand('tar', ['-tf', file], { timeoutMs: 30_000 });
  expect(r.code, r.stderr).toBe(0);
  return r.stdout.split('\n').filter(Boolean).map((n) => n.replace(/^\.\//, ''));
}

describe.skipIf(!ready)('lodger cp, commit, export, save, top, rename', () => {
  let store: Store;
  let scratch: string;
  const lodger = (args: string[]) => runLodger(args, { store });
  const lodgerOk = (args: string[]) => runLodgerOk(args, { store });
  const host = (...p: string[]) => path.join(scratch, ...p);

  beforeAll(async () => {
    store = await busyboxStore('lodger-lx-');
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'lodger-lx-host-'));
  });

  afterAll(async () => {
    await dropStore(store);
    // Files copied out with -a belong to subordinate ids: removeTree deletes them in a user namespace.
    await removeTree(scratch);
  });

  describe('a running container', () => {
    let cli: ChildProcess;

    beforeAll(async () => {
      // It prepares files, says "ready", then waits for the test's signal file and reports what it sees.
      const script = [
        'printf hello > /tmp/f && chmod 640 /tmp/f',
        'mkdir -p /tmp/d/sub && echo deep > /tmp/d/sub/y && ln -s sub/y /tmp/d/link && chown -R 1000:1000 /tmp/d',
        'echo ready',
        'while [ ! -e /tmp/go ]; do sleep 0.1; done',
        'for f in /tmp/in.txt /tmp/indir/a /tmp/indir/b/c /tmp/owned-a /tmp/owned-plain; do stat -c "%n %a %u:%g" $f; done',
        'cat /tmp/in.txt /tmp/indir/b/c',
        // A child to wait for: sh stays, so top sees two processes whatever sh optimises.
        'sleep 600 & wait',
      ].join('; ');
      cli = spawnLodger(['run', '--name', 'live', 'busybox', 'sh', '-c', script], { store });
      await waitForOutput(cli, /^ready$/m, { stream: 'stdout' });
    });

    it('copies a file out with its content and mode, owned by the caller', async () => {
      await lodgerOk(['cp', 'live:/tmp/f', host('f')]);
      expect(fs.readFileSync(host('f'), 'utf8')).toBe('hello');
      const st = fs.statSync(host('f'));
      expect(st.mode & 0o7777).toBe(0o640);
      expect(st.uid).toBe(myUid);
    });

    it('copies a directory out recursively, symlinks as symlinks, into an existing directory by its name', async () => {
      fs.mkdirSync(host('existing'));
      await lodgerOk(['cp', 'live:/tmp/d', host('existing')]);
      expect(fs.readFileSync(host('existing', 'd', 'sub', 'y'), 'utf8')).toBe('deep\n');
      expect(fs.readlinkSync(host('existing', 'd', 'link'))).toBe('sub/y');
      expect(fs.statSync(host('existing', 'd', 'sub', 'y')).uid).toBe(myUid);
      // "/." copies the contents only; a missing destination becomes the copy.
      fs.mkdirSync(host('contents'));
      await lodgerOk(['cp', 'live:/tmp/d/.', host('contents')]);
      expect(fs.readdirSync(host('contents')).sort()).toEqual(['link', 'sub']);
      await lodgerOk(['cp', 'live:/tmp/d', host('newname')]);
      expect(fs.readFileSync(host('newname', 'sub', 'y'), 'utf8')).toBe('deep\n');
    });

    it('keeps owners with -a: container uid 1000 becomes the host id it maps to', async () => {
      await lodgerOk(['cp', '-a', 'live:/tmp/d', host('archived')]);
      const st = fs.lstatSync(host('archived', 'sub', 'y'));
      expect([st.uid, st.gid]).toEqual([hostIdOf(1000), subidRange('/etc/subgid')!.start + 999]);
    });

    it('follows a symlink named as the source only with -L', async () => {
      await lodgerOk(['cp', 'live:/tmp/d/link', host('link-plain')]);
      expect(fs.lstatSync(host('link-plain')).isSymbolicLink()).toBe(true);
      await lodgerOk(['cp', '-L', 'live:/tmp/d/link', host('link-followed')]);
      expect(fs.lstatSync(host('link-followed')).isFile()).toBe(true);
      expect(fs.readFileSync(host('link-followed'), 'utf8')).toBe('deep\n');
    });

    it('copies files in, where the container sees them, owned by its root unless -a', async () => {
      fs.writeFileSync(host('in.txt'), 'into the container\n', { mode: 0o604 });
      fs.chmodSync(host('in.txt'), 0o604);
      fs.mkdirSync(host('indir', 'b'), { recursive: true });
      fs.writeFileSync(host('indir', 'a'), 'a');
      fs.writeFileSync(host('indir', 'b', 'c'), 'nested\n');
      fs.chmodSync(host('indir', 'a'), 0o751);
      fs.chmodSync(host('indir', 'b', 'c'), 0o644);
      await lodgerOk(['cp', host('in.txt'), 'live:/tmp/in.txt']);
      await lodgerOk(['cp', host('indir'), 'live:/tmp/']);
      // archived/sub/y belongs to the host id of container uid 1000 (the -a test above made it so).
      await lodgerOk(['cp', '-a', host('archived', 'sub', 'y'), 'live:/tmp/owned-a']);
      await lodgerOk(['cp', host('archived', 'sub', 'y'), 'live:/tmp/owned-plain']);
      fs.writeFileSync(host('go'), '');
      await lodgerOk(['cp', host('go'), 'live:/tmp/go']);
      const out = await waitForOutput(cli, 'nested', { stream: 'stdout' });
      expect(out).toContain('/tmp/in.txt 604 0:0');
      expect(out).toContain('/tmp/indir/a 751 0:0');
      expect(out).toContain('/tmp/indir/b/c 644 0:0');
      expect(out).toContain('/tmp/owned-a 644 1000:1000');
      expect(out).toContain('/tmp/owned-plain 644 0:0');
      expect(out).toContain('into the container\nnested\n');
    });

    it('follows Docker\'s destination rules', async () => {
      expectFailure(await lodger(['cp', host('in.txt'), 'live:/nonexistent-dir/']), /destination directory .* does not exist/);
      expectFailure(await lodger(['cp', host('indir'), 'live:/tmp/in.txt']), /cannot copy a directory to a file/);
      expectFailure(await lodger(['cp', 'live:/no/such/file', host('x')]), /no such file or directory/);
      expectFailure(await lodger(['cp', host('in.txt'), host('elsewhere')]), /at least one container/);
      expectFailure(await lodger(['cp', 'nosuchcontainer:/etc/passwd', host('x')]), /no such container/);
    });

    it('top lists the container\'s processes as ps -ef does, and only them', async () => {
      const r = await lodgerOk(['top', 'live']);
      const lines = r.stdout.trim().split('\n');
      expect(lines[0].split(/\s+/)).toEqual(['UID', 'PID', 'PPID', 'C', 'STIME', 'TTY', 'TIME', 'CMD']);
      expect(r.stdout).toMatch(/^root\s+\d+\s+\d+\s+\d+\s+\S+\s+\?\s+\d\d:\d\d:\d\d\s+sh -c printf hello/m);
      expect(r.stdout).toMatch(/^root\s+\d+\s+\d+.*sleep 600$/m);
      // Host pids, as docker top shows; never one of the host's own processes (this test runner, for one).
      const pids = lines.slice(1).map((l) => Number(l.split(/\s+/)[1]));
      expect(pids).not.toContain(process.pid);
      expect(pids.length).toBe(2);
      const custom = await lodgerOk(['top', 'live', '-o', 'pid,user,comm']);
      expect(custom.stdout.split('\n')[0].split(/\s+/)).toEqual(['PID', 'USER', 'COMMAND']);
      expect(custom.stdout).toMatch(/^\d+\s+root\s+sleep$/m);
    });

    it('export writes the container\'s filesystem without its mounts, while it runs', async () => {
      await lodgerOk(['export', '-o', host('live.tar'), 'live']);
      const names = await tarNames(host('live.tar'));
      expect(names).toContain('bin/busybox');
      expect(names).toContain('etc/passwd');
      expect(names).toContain('tmp/in.txt');
      expect(names).toContain('tmp/d/sub/y');
      expect(names.some((n) => n.startsWith('proc/') && n !== 'proc/')).toBe(false);
    });

    afterAll(async () => {
      if (cli) { killLodgers(); await waitForExit(cli, 10_000); }
    });
  });

  describe('a stopped container', () => {
    beforeAll(async () => {
      await lodgerOk(['run', '--name', 'stopped', 'busybox', 'sh', '-c', 'echo data > /etc/data; chmod 600 /etc/data; rm /etc/group; mkdir /srv; chown 1000:1000 /srv']);
    });

    it('copies out of it', async () => {
      await lodgerOk(['cp', 'stopped:/etc/data', host('data')]);
      expect(fs.readFileSync(host('data'), 'utf8')).toBe('data\n');
      expect(fs.statSync(host('data')).mode & 0o777).toBe(0o600);
      // What the container deleted is gone from its view too.
      expectFailure(await lodger(['cp', 'stopped:/etc/group', host('group')]), /does not exist|no such file/);
    });

    it('copies into it, into its own layer, leaving its image alone', async () => {
      fs.writeFileSync(host('stopped-in'), 'written while stopped\n');
      await lodgerOk(['cp', host('stopped-in'), 'stopped:/srv/in']);
      await lodgerOk(['cp', 'stopped:/srv/in', host('stopped-back')]);
      expect(fs.readFileSync(host('stopped-back'), 'utf8')).toBe('written while stopped\n');
      const fresh = await lodgerOk(['run', '--rm', 'busybox', 'sh', '-c', 'test -e /srv/in && echo present || echo absent']);
      expect(fresh.stdout).toBe('absent\n');
    });

    it('commit makes an image that runs with the changes, the deletions and --change', async () => {
      const r = await lodgerOk(['commit', '-m', 'test commit', '-a', 'Test <t@example.com>', '-c', 'ENV COMMITTED=yes', 'stopped', 'committed:1']);
      expect(r.stdout.trim()).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect((await lodgerOk(['images'])).stdout).toMatch(/localhost\/committed\s+1\s+/);
      const run = await lodgerOk(['run', '--rm', 'committed:1', 'sh', '-c', 'cat /etc/data /srv/in; stat -c "%a %u:%g" /etc/data /srv; test -e /etc/group || echo group-gone; echo "env=$COMMITTED"']);
      expect(run.stdout).toBe('data\nwritten while stopped\n600 0:0\n755 1000:1000\ngroup-gone\nenv=yes\n');
      // The new image's command is the container's, as docker commit does.
      const cmd = await lodgerOk(['run', '--rm', 'committed:1']);
      expect(cmd.code).toBe(0);
    });

    it('export lists the files of the container, not those it deleted', async () => {
      await lodgerOk(['export', '-o', host('stopped.tar'), 'stopped']);
      const names = await tarNames(host('stopped.tar'));
      expect(names).toEqual(expect.arrayContaining(['bin/busybox', 'etc/data', 'srv/in', 'etc/passwd']));
      expect(names).not.toContain('etc/group');
      const tar = await runCommand('tar', ['-xOf', host('stopped.tar'), 'etc/data'], { timeoutMs: 10_000 });
      expect(tar.stdout).toBe('data\n');
    });

    it('commit refuses a container on the vfs driver with a message saying what to do', async () => {
      await lodgerOk(['run', '--name', 'onvfs', '--storage-driver', 'vfs', 'busybox', 'true']);
      expectFailure(await lodger(['commit', 'onvfs', 'fromvfs:1']), /vfs storage driver.*--storage-driver overlay/);
    });
  });

  describe('a container with a symlink to / in it', () => {
    const tag = `${process.pid}-${Date.now()}`;
    const hostVictim = () => path.join(os.tmpdir(), `lodger-cp-victim-${tag}`);
    const hostAbsent = () => path.join(os.tmpdir(), `lodger-cp-absent-${tag}`);

    beforeAll(async () => {
      fs.writeFileSync(hostVictim(), 'host file\n');
      await lodgerOk(['run', '--name', 'evil', 'busybox', 'sh', '-c', 'ln -s / /evil; ln -s ../../../../../../../etc/hostname /tmp/up; echo container > /etc/marker']);
    });
    afterAll(() => {
      fs.rmSync(hostVictim(), { force: true });
      fs.rmSync(hostAbsent(), { force: true });
      fs.rmSync(`${hostAbsent()}-live`, { force: true });
    });

    const imageHostname = () => fs.readFileSync(path.join(inject('lodger').busybox!.rootfs, 'etc', 'hostname'), 'utf8');

    it('reads through it inside the container, never the host\'s files', async () => {
      expect(imageHostname()).not.toBe(fs.readFileSync('/etc/hostname', 'utf8'));
      await lodgerOk(['cp', 'evil:/evil/etc/hostname', host('evil-hostname')]);
      expect(fs.readFileSync(host('evil-hostname'), 'utf8')).toBe(imageHostname());
      await lodgerOk(['cp', '-L', 'evil:/tmp/up', host('evil-up')]);
      expect(fs.readFileSync(host('evil-up'), 'utf8')).toBe(imageHostname());
      await lodgerOk(['cp', 'evil:/tmp/../../../../etc/marker', host('evil-marker')]);
      expect(fs.readFileSync(host('evil-marker'), 'utf8')).toBe('container\n');
      // The host file's path, through the symlink, is a path in the container, where it does not exist.
      expectFailure(await lodger(['cp', `evil:/evil${hostVictim()}`, host('stolen')]), /does not exist/);
      expect(fs.existsSync(host('stolen'))).toBe(false);
    });

    it('writes through it inside the container, leaving the host path unchanged', async () => {
      fs.writeFileSync(host('payload'), 'payload\n');
      await lodgerOk(['cp', host('payload'), `evil:/evil${hostAbsent()}`]);
      expect(fs.existsSync(hostAbsent())).toBe(false);
      await lodgerOk(['cp', host('payload'), `evil:/evil${hostVictim()}`]);
      expect(fs.readFileSync(hostVictim(), 'utf8')).toBe('host file\n');
      // Both landed in the container's own /tmp.
      await lodgerOk(['cp', `evil:${hostAbsent()}`, host('landed')]);
      expect(fs.readFileSync(host('landed'), 'utf8')).toBe('payload\n');
    });

    it('stays inside a running container too', async () => {
      const cli = spawnLodger(['run', '--name', 'evil-live', 'busybox', 'sh', '-c', 'ln -s / /evil; echo ready; sleep 600'], { store });
      try {
        await waitForOutput(cli, /^ready$/m, { stream: 'stdout' });
        await lodgerOk(['cp', 'evil-live:/evil/etc/hostname', host('live-hostname')]);
        expect(fs.readFileSync(host('live-hostname'), 'utf8')).not.toBe(fs.readFileSync('/etc/hostname', 'utf8'));
        await lodgerOk(['cp', host('payload'), `evil-live:/evil${hostVictim()}`]);
        expect(fs.readFileSync(hostVictim(), 'utf8')).toBe('host file\n');
        await lodgerOk(['cp', host('payload'), `evil-live:/evil${hostAbsent()}-live`]);
        expect(fs.existsSync(`${hostAbsent()}-live`)).toBe(false);
      } finally {
        killLodgers();
        await waitForExit(cli, 10_000);
      }
    });
  });

  describe('save and load', () => {
    beforeAll(async () => {
      await lodgerOk(['run', '--name', 'tosave', 'busybox', 'sh', '-c', 'echo saved > /saved; rm /bin/true']);
      await lodgerOk(['commit', 'tosave', 'saveme:v1']);
    });

    for (const format of ['docker-archive', 'oci-archive'] as const) {
      it(`round-trips an image through a ${format} into a fresh store`, async () => {
        const file = host(`save-${format}.tar`);
        await lodgerOk(['save', '--format', format, '-o', file, 'saveme:v1']);
        const names = await tarNames(file);
        expect(names).toContain(format === 'docker-archive' ? 'manifest.json' : 'index.json');
        const other = makeStore('lodger-lx-load-');
        try {
          const load = await runLodgerOk(['load', '-i', file], { store: other });
          expect(load.stdout).toContain('Loaded image: saveme:v1');
          const run = await runLodgerOk(['run', '--rm', 'saveme:v1', 'sh', '-c', 'cat /saved; ls /bin/true 2>/dev/null || echo true-gone'], { store: other });
          expect(run.stdout).toBe('saved\ntrue-gone\n');
          const ids = await Promise.all([other, store].map(async (s) => (await runLodgerOk(['images', '-q', '--no-trunc'], { store: s })).stdout));
          expect(ids[1]).toContain(ids[0].trim());
        } finally {
          await other.cleanup();
        }
      });
    }

    it('writes the archive to stdout; a missing image fails without leaving a file', async () => {
      const r = await lodger(['save', 'saveme:v1']);
      expect(r.code).toBe(0);
      expect(r.stdout.length).toBeGreaterThan(1_000_000);
      expectFailure(await lodger(['save', '-o', host('none.tar'), 'no-such-image']), /no such image/);
      expect(fs.existsSync(host('none.tar'))).toBe(false);
    });

    it.skipIf(!requireTool('podman'))('podman loads lodger\'s docker-archive', async () => {
      const file = host('for-podman.tar');
      await lodgerOk(['save', '-o', file, 'saveme:v1']);
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lodger-lx-podman-'));
      const runDir = path.join(dir, 'xdg');
      fs.mkdirSync(runDir, { mode: 0o700 });
      const podman = (args: string[]) => runCommand(toolPath('podman')!, ['--root', path.join(dir, 'root'), '--runroot', path.join(dir, 'runroot'), '--storage-driver', 'vfs', ...args], {
        env: { ...process.env, XDG_RUNTIME_DIR: runDir, XDG_CONFIG_HOME: path.join(dir, 'config') }, timeoutMs: 120_000,
      });
      try {
        const load = await podman(['load', '-i', file]);
        expect(load.code, load.stderr).toBe(0);
        expect(load.stdout).toContain('localhost/saveme:v1');
        const inspect = await podman(['image', 'inspect', '--format', '{{len .RootFS.Layers}}', 'localhost/saveme:v1']);
        expect(inspect.stdout.trim()).toBe('2');
      } finally {
        await removeTree(dir);
      }
    });
  });

  describe('rename', () => {
    it('renames a container; the old name is gone and a taken name is refused', async () => {
      await lodgerOk(['run', '--name', 'before', 'busybox', 'true']);
      await lodgerOk(['run', '--name', 'taken', 'busybox', 'true']);
      await lodgerOk(['rename', 'before', 'after']);
      const names = (await lodgerOk(['ps', '-a', '--format', '{{.Names}}'])).stdout.split('\n');
      expect(names).toContain('after');
      expect(names).not.toContain('before');
      expectFailure(await lodger(['rename', 'before', 'again']), /no such container/);
      expectFailure(await lodger(['rename', 'after', 'taken']), /already in use/);
      expectFailure(await lodger(['rename', 'after', 'bad/name']), /invalid container name/);
    });
  });
});

describe.skipIf(!ready)('lodger container prune, image prune, system df', () => {
  let store: Store;
  const lodger = (args: string[]) => runLodger(args, { store });
  const lodgerOk = (args: string[]) => runLodgerOk(args, { store });
  let cli: ChildProcess | undefined;

  beforeAll(async () => {
    store = await busyboxStore('lodger-lx-prune-');
  });
  afterAll(async () => {
    killLodgers();
    if (cli) await waitForExit(cli, 10_000);
    await store?.cleanup();
  });

  it('system df counts images, containers and layers', async () => {
    await lodgerOk(['run', '--name', 'sized', 'busybox', 'sh', '-c', 'head -c 100000 /dev/zero > /big']);
    const r = await lodgerOk(['system', 'df']);
    expect(r.stdout).toMatch(/^TYPE\s+TOTAL\s+ACTIVE\s+SIZE\s+RECLAIMABLE$/m);
    expect(r.stdout).toMatch(/^Images\s+1\s+1\s+\S+/m);
    expect(r.stdout).toMatch(/^Containers\s+1\s+0\s+100(\.0)?kB\s+100(\.0)?kB \(100%\)$/m);
    expect(r.stdout).toMatch(/^Layers\s+1\s+1\s+/m);
    const v = await lodgerOk(['system', 'df', '-v']);
    expect(v.stdout).toContain('localhost/busybox');
    expect(v.stdout).toMatch(/sized$/m);
    const json = (await lodgerOk(['system', 'df', '--format', 'json'])).stdout.trim().split('\n').map((l) => JSON.parse(l) as { Type: string; TotalCount: string });
    expect(json.find((x) => x.Type === 'Containers')?.TotalCount).toBe('1');
  });

  it('container prune removes the stopped containers and keeps the running one', async () => {
    await lodgerOk(['run', '--name', 'done1', 'busybox', 'true']);
    await lodgerOk(['run', '--name', 'done2', '--label', 'keep=yes', 'busybox', 'true']);
    cli = spawnLodger(['run', '--name', 'alive', 'busybox', 'sh', '-c', 'echo ready; sleep 600'], { store });
    await waitForOutput(cli, /^ready$/m, { stream: 'stdout' });
    const filtered = await lodgerOk(['container', 'prune', '-f', '--filter', 'label!=keep']);
    expect(filtered.stdout).toMatch(/^Deleted Containers:\n[0-9a-f]{64}\n[0-9a-f]{64}\n\nTotal reclaimed space: /);
    let names = (await lodgerOk(['ps', '-a', '--format', '{{.Names}}'])).stdout.split('\n').filter(Boolean).sort();
    expect(names).toEqual(['alive', 'done2']);
    // Without a terminal on stdin there is no one to ask: it goes ahead.
    const r = await lodgerOk(['container', 'prune']);
    expect(r.stdout).toContain('Deleted Containers:');
    names = (await lodgerOk(['ps', '-a', '--format', '{{.Names}}'])).stdout.split('\n').filter(Boolean);
    expect(names).toEqual(['alive']);
  });

  it('image prune removes dangling images; -a every image no container uses', async () => {
    await lodgerOk(['run', '--name', 'base', 'busybox', 'sh', '-c', 'echo 1 > /one']);
    const dangling = (await lodgerOk(['commit', 'base'])).stdout.trim();
    const named = (await lodgerOk(['commit', 'base', 'named:1'])).stdout.trim();
    expect(dangling).not.toBe(named);
    const r = await lodgerOk(['image', 'prune', '-f']);
    expect(r.stdout).toContain(`deleted: ${dangling}`);
    expect(r.stdout).toMatch(/Total reclaimed space: \S+B/);
    let ids = (await lodgerOk(['images', '-q', '--no-trunc'])).stdout;
    expect(ids).not.toContain(dangling);
    expect(ids).toContain(named);
    const all = await lodgerOk(['image', 'prune', '-a', '-f']);
    expect(all.stdout).toContain('untagged: named:1');
    ids = (await lodgerOk(['images', '-q', '--no-trunc'])).stdout;
    expect(ids).not.toContain(named);
    // busybox is used by the containers "alive" and "base": it stays, and runs.
    expect((await lodgerOk(['images'])).stdout).toContain('localhost/busybox');
    expect((await lodger(['run', '--rm', 'busybox', 'true'])).code).toBe(0);
  });
});
