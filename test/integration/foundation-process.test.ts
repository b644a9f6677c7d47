// Issue 2, the container's process: the image config (Entrypoint, Cmd, Env, WorkingDir, User, supplementary
// groups from the image's /etc/group) and the flags that override it (--entrypoint, -e, --env-file, -w, -u, -v,
// --rm, --name, -i, -t, --init, --read-only), and Docker's exit statuses (own, 125, 126, 127).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { killLodgers, removeTree, requireTool, runLodger, runLodgerOk, spawnLodger, waitForExit, waitForOutput, type Store } from '../helpers/cli';
import { buildOciLayout, ociToDockerArchive } from '../helpers/fixtures';
import { bbsh, bbshOk, busyboxFixture, busyboxStore, entries, expectLodgerFailure, haveSubids, psAllIds, runOnPty } from './foundation-common';

const ok = haveSubids() && requireTool('skopeo');
const IMG = 'localhost/cfgimg:latest';

let store: Store;
let work: string;

const passwd = [
  'root:x:0:0:root:/root:/bin/sh',
  'alice:x:1234:1234:Alice:/home/alice:/bin/sh',
  'bob:x:1500:1500:Bob:/home/bob:/bin/sh',
  'nobody:x:65534:65534:nobody:/nonexistent:/bin/false',
  '',
].join('\n');
const group = ['root:x:0:', 'alice:x:1234:', 'bob:x:1500:', 'devs:x:2000:alice', 'ops:x:2001:bob,alice', 'other:x:3000:bob', 'nogroup:x:65534:', ''].join(
  '\n',
);

beforeAll(async () => {
  if (!ok) return;
  store = await busyboxStore();
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'lodger-fnd-proc-'));
  const b = busyboxFixture()!;
  // busybox + a layer with users, groups, a home, and a tool on a PATH entry only the image's Env names.
  await buildOciLayout(path.join(work, 'oci'), {
    tag: 'cfg',
    layers: [
      { tarFile: b.tar },
      {
        files: [
          { path: 'etc/passwd', type: 'file', content: passwd },
          { path: 'etc/group', type: 'file', content: group },
          { path: 'home/alice', type: 'dir', mode: 0o750, uid: 1234, gid: 1234 },
          { path: 'home/bob', type: 'dir', mode: 0o750, uid: 1500, gid: 1500 },
          { path: 'opt/tools', type: 'dir' },
          { path: 'opt/tools/hello-tool', type: 'file', mode: 0o755, content: '#!/bin/sh\necho "hello-tool $*"\n' },
          { path: 'opt/tools/not-executable', type: 'file', mode: 0o644, content: '#!/bin/sh\necho never\n' },
        ],
      },
    ],
    config: {
      Entrypoint: ['/bin/sh', '-c'],
      Cmd: ['echo "cmd $GREETING"; pwd; id; echo "home $HOME"'],
      Env: ['PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin:/opt/tools', 'GREETING=hello from the image'],
      WorkingDir: '/srv/app',
      User: 'alice',
    },
  });
  const archive = await ociToDockerArchive(path.join(work, 'oci'), 'cfg', path.join(work, 'cfg.tar'), IMG);
  await runLodgerOk(['load', '-i', archive], { store });
});

afterAll(async () => {
  await store?.cleanup();
  if (work) await removeTree(work);
});

afterEach(() => killLodgers());

describe.skipIf(!ok)('the image config', () => {
  it('Entrypoint + Cmd run in WorkingDir (created), as User by name with its groups from /etc/group, with Env and HOME', async () => {
    const r = await runLodgerOk(['run', '--rm', IMG], { store });
    expect(r.stdout.split('\n')).toEqual([
      'cmd hello from the image',
      '/srv/app',
      'uid=1234(alice) gid=1234(alice) groups=1234(alice),2000(devs),2001(ops)',
      'home /home/alice',
      '',
    ]);
  });

  it('arguments replace Cmd and keep the Entrypoint', async () => {
    const r = await runLodgerOk(['run', '--rm', IMG, 'echo "args $GREETING"'], { store });
    expect(r.stdout).toBe('args hello from the image\n');
  });

  it('the image\'s PATH finds its commands', async () => {
    const r = await runLodgerOk(['run', '--rm', '--entrypoint', 'hello-tool', IMG, 'x'], { store });
    expect(r.stdout).toBe('hello-tool x\n');
  });

  it('--entrypoint replaces the Entrypoint and drops the image\'s Cmd', async () => {
    const withArgs = await runLodgerOk(['run', '--rm', '--entrypoint', '/bin/echo', IMG, 'a', 'b'], { store });
    expect(withArgs.stdout).toBe('a b\n');
    const noArgs = await runLodgerOk(['run', '--rm', '--entrypoint', '/bin/echo', IMG], { store });
    expect(noArgs.stdout).toBe('\n');
  });

  it('an image imported with `import -c` gets its CMD, ENTRYPOINT, ENV, WORKDIR and USER', async () => {
    const b = busyboxFixture()!;
    await runLodgerOk(
      ['import', '-c', 'ENTRYPOINT ["/bin/sh", "-c"]', '-c', 'CMD ["echo imported $V; pwd; id -u"]', '-c', 'ENV V=from-change', '-c', 'WORKDIR /data', '-c', 'USER 1000', b.tar, 'changed:1'],
      { store },
    );
    const r = await runLodgerOk(['run', '--rm', 'changed:1'], { store });
    expect(r.stdout).toBe('imported from-change\n/data\n1000\n');
    const plain = await runLodgerOk(['import', '-c', 'CMD echo shell form', b.tar, 'changed:2'], { store });
    expect(plain.stdout.trim()).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect((await runLodgerOk(['run', '--rm', 'changed:2'], { store })).stdout).toBe('shell form\n');
  });
});

describe.skipIf(!ok)('-u: users by name and by number', () => {
  const idOf = async (...args: string[]) => (await runLodgerOk(['run', '--rm', ...args, '--entrypoint', 'id', IMG], { store })).stdout.trim();

  it('by name: uid, primary gid from passwd, supplementary groups from /etc/group', async () => {
    expect(await idOf('-u', 'bob')).toBe('uid=1500(bob) gid=1500(bob) groups=1500(bob),2001(ops),3000(other)');
  });

  it('by number that passwd knows: the same as by name', async () => {
    expect(await idOf('-u', '1234')).toBe('uid=1234(alice) gid=1234(alice) groups=1234(alice),2000(devs),2001(ops)');
  });

  it('by a number passwd does not know: that uid with gid 0', async () => {
    expect(await idOf('-u', '4242')).toMatch(/^uid=4242 gid=0\(root\)/);
  });

  it('user:group by name and uid:gid by number', async () => {
    expect(await idOf('-u', 'bob:devs')).toMatch(/^uid=1500\(bob\) gid=2000\(devs\)/);
    expect(await idOf('-u', '1500:2001')).toMatch(/^uid=1500\(bob\) gid=2001\(ops\)/);
  });

  it('-u 0 is root with root\'s groups only', async () => {
    expect(await idOf('-u', '0')).toBe('uid=0(root) gid=0(root) groups=0(root)');
  });

  it('a user the image does not have is refused with exit 125 and a message naming it', async () => {
    const r = await runLodger(['run', '--rm', '-u', 'mallory', IMG], { store });
    expectLodgerFailure(r, /mallory/);
  });

  it('a non-root user cannot read root\'s files inside (the ids are really switched)', async () => {
    const r = await runLodger(['run', '--rm', '-u', 'alice', '--entrypoint', 'sh', IMG, '-c', 'ls /root; echo status=$?'], { store });
    expect(r.stdout + r.stderr).toMatch(/Permission denied/);
    expect(r.stdout).toMatch(/status=1/);
  });
});

describe.skipIf(!ok)('environment and working directory flags', () => {
  it('-e K=V overrides the image\'s Env and adds; -e K copies ours; -e K for an unset K is dropped', async () => {
    const r = await runLodgerOk(
      ['run', '--rm', '-e', 'GREETING=overridden', '-e', 'NEW=1', '-e', 'FROM_CALLER', '-e', 'UNSET_IN_CALLER', IMG, 'echo "$GREETING $NEW $FROM_CALLER ${UNSET_IN_CALLER-unset}"'],
      { store, env: { FROM_CALLER: 'copied', UNSET_IN_CALLER: undefined } },
    );
    expect(r.stdout).toBe('overridden 1 copied unset\n');
  });

  it('--env-file: K=V lines, comments and blank lines skipped; -e wins over the file', async () => {
    const f = path.join(work, 'env.list');
    fs.writeFileSync(f, '# a comment\nFILE_ONE=one\n\nFILE_TWO=two words\nGREETING=from-file\nBOTH=file\n');
    const r = await runLodgerOk(['run', '--rm', '--env-file', f, '-e', 'BOTH=flag', IMG, 'echo "$FILE_ONE|$FILE_TWO|$GREETING|$BOTH"'], { store });
    expect(r.stdout).toBe('one|two words|from-file|flag\n');
  });

  it('--env-file that does not exist: exit 125 naming the file', async () => {
    const r = await runLodger(['run', '--rm', '--env-file', path.join(work, 'no-such.env'), IMG], { store });
    expectLodgerFailure(r, /no-such\.env/);
  });

  it('-w sets the working directory, creating it when missing', async () => {
    expect((await runLodgerOk(['run', '--rm', '-w', '/tmp', IMG, 'pwd'], { store })).stdout).toBe('/tmp\n');
    expect((await runLodgerOk(['run', '--rm', '-w', '/made/by/lodger', IMG, 'pwd'], { store })).stdout).toBe('/made/by/lodger\n');
  });

  it('the default environment has PATH, HOSTNAME and HOME', async () => {
    const out = await bbshOk(store, 'echo "$PATH|$HOSTNAME|$HOME"; hostname', ['-u', '0']);
    const [vars, hostname] = out.trim().split('\n');
    const [p, h, home] = vars.split('|');
    expect(p.split(':')).toEqual(expect.arrayContaining(['/usr/bin', '/bin']));
    expect(h).toBe(hostname);
    expect(home).toBe('/root');
  });
});

describe.skipIf(!ok)('-v bind mounts', () => {
  it('-v SRC:DST: the container reads and writes the host directory', async () => {
    const dir = fs.mkdtempSync(path.join(work, 'vol-'));
    fs.writeFileSync(path.join(dir, 'from-host'), 'host data\n');
    const out = await bbshOk(store, 'cat /data/from-host; echo container data >/data/from-container', ['-v', `${dir}:/data`]);
    expect(out).toBe('host data\n');
    expect(fs.readFileSync(path.join(dir, 'from-container'), 'utf8')).toBe('container data\n');
  });

  it('-v SRC:DST:ro is really read-only: writes, deletes and chmod fail and the host files are unchanged', async () => {
    const dir = fs.mkdtempSync(path.join(work, 'ro-'));
    fs.writeFileSync(path.join(dir, 'keep'), 'original\n');
    const r = await bbsh(
      store,
      'cat /data/keep; echo x >/data/new 2>&1; echo x >>/data/keep; rm -f /data/keep; chmod 777 /data/keep; mount -o remount,rw /data 2>&1; echo done',
      ['-v', `${dir}:/data:ro`],
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.startsWith('original\n')).toBe(true);
    expect(r.stdout + r.stderr).toMatch(/Read-only file system/);
    expect(fs.readdirSync(dir)).toEqual(['keep']);
    expect(fs.readFileSync(path.join(dir, 'keep'), 'utf8')).toBe('original\n');
    expect(fs.statSync(path.join(dir, 'keep')).mode & 0o777).toBe(0o644);
  });

  it('-v of a single file', async () => {
    const f = path.join(work, 'single-file.txt');
    fs.writeFileSync(f, 'one file\n');
    const out = await bbshOk(store, 'cat /etc/single', ['-v', `${f}:/etc/single:ro`]);
    expect(out).toBe('one file\n');
  });

  it('a -v source that does not exist: exit 125 with a message naming the path; nothing is created', async () => {
    const missing = path.join(work, 'does-not-exist');
    const before = await psAllIds(store);
    const r = await bbsh(store, 'true', ['-v', `${missing}:/data`]);
    expectLodgerFailure(r, new RegExp(missing.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
    expect(fs.existsSync(missing)).toBe(false);
    expect(await psAllIds(store)).toEqual(before);
  });
});

describe.skipIf(!ok)('--rm and --name', () => {
  it('--rm removes the container after it exits; without it, ps -a lists it as exited with its status', async () => {
    const name = `keep-${process.pid}`;
    const gone = `gone-${process.pid}`;
    await runLodgerOk(['run', '--rm', '--name', gone, 'busybox', 'true'], { store });
    const r = await runLodger(['run', '--name', name, 'busybox', 'sh', '-c', 'exit 4'], { store });
    expect(r.code).toBe(4);
    const all = (await runLodgerOk(['ps', '-a', '--format', 'json'], { store })).stdout.trim().split('\n').map((l) => JSON.parse(l) as { Names: string; State: string; Status: string });
    const ps = all.filter((c) => c.Names === name || c.Names === gone);
    expect(ps.map((c) => c.Names)).toEqual([name]);
    expect(ps[0].State).toBe('exited');
    expect(ps[0].Status).toMatch(/^Exited \(4\)/);
    await runLodgerOk(['rm', name], { store });
  });

  it('--name names the container; a second container with the same name is refused', async () => {
    const name = `named-${process.pid}`;
    const before = await psAllIds(store);
    await runLodgerOk(['run', '--name', name, 'busybox', 'true'], { store });
    expect((await runLodgerOk(['inspect', '-f', '{{.Name}}', name], { store })).stdout.trim()).toMatch(new RegExp(`^/?${name}$`));
    const again = await runLodger(['run', '--name', name, 'busybox', 'true'], { store });
    expectLodgerFailure(again, new RegExp(name));
    expect((await psAllIds(store)).filter((id) => !before.includes(id))).toHaveLength(1);
    await runLodgerOk(['rm', name], { store });
  });
});

describe.skipIf(!ok)('-i and -t', () => {
  it('-i: stdin reaches the container (echo hi | lodger run -i … cat)', async () => {
    const r = await runLodger(['run', '--rm', '-i', 'busybox', 'cat'], { store, input: 'hi\nthere\n' });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('hi\nthere\n');
  });

  it('-i: a larger input arrives intact and EOF ends it', async () => {
    const input = Array.from({ length: 20000 }, (_, i) => `line ${i}`).join('\n') + '\n';
    const r = await runLodger(['run', '--rm', '-i', 'busybox', 'wc', '-l'], { store, input });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('20000');
  });

  it('without -i the container\'s stdin is not ours', async () => {
    const r = await runLodger(['run', '--rm', 'busybox', 'cat'], { store, input: 'should not arrive\n' });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('');
  });

  it.skipIf(!requireTool('script'))('-t: a real pty with the caller\'s window size', async () => {
    const r = await runOnPty(['run', '--rm', '-t', 'busybox', 'stty', 'size'], { store, rows: 33, cols: 111 });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toBe('33 111\r\n');
  });

  it.skipIf(!requireTool('script'))('-t: stdin, stdout and stderr are the container\'s own terminal (/dev/pts/0 of its devpts)', async () => {
    const r = await runOnPty(['run', '--rm', '-t', 'busybox', 'sh', '-c', 'tty; [ -t 0 ] && [ -t 1 ] && [ -t 2 ] && echo all-tty; echo "TERM=$TERM"'], {
      store,
      rows: 24,
      cols: 80,
    });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout.split('\r\n')).toEqual(['/dev/pts/0', 'all-tty', 'TERM=xterm', '']);
  });

  it.skipIf(!requireTool('script'))('-it: what is typed reaches the command and the exit status is the container\'s', async () => {
    const r = await runOnPty(['run', '--rm', '-it', 'busybox', 'sh', '-c', 'read line; echo "got <$line>"; exit 6'], { store, rows: 24, cols: 80, input: 'typed\r' });
    expect(r.code, r.stdout + r.stderr).toBe(6);
    expect(r.stdout).toMatch(/got <typed>/);
  });

  it('without -t there is no terminal', async () => {
    const r = await bbsh(store, 'tty; echo status=$?');
    expect(r.stdout).toMatch(/not a tty/);
    expect(r.stdout).toMatch(/status=1/);
  });
});

describe.skipIf(!ok)('--init', () => {
  it('PID 1 is lodger\'s init, not the command', async () => {
    const out = await bbshOk(store, 'echo $$; echo --; cat /proc/1/cmdline', ['--init']);
    const [pid, cmdline1] = out.split(/^--$/m).map((s) => s.trim());
    expect(pid).not.toBe('1');
    expect(cmdline1.split('\0')[0]).not.toBe('sh');
  });

  it('a zombie orphan gets reaped', async () => {
    // The subshell exits at once; its child sleep is re-parented to PID 1 and exits 0.2 s later.
    const out = await bbshOk(store, '(sleep 0.2 &); sleep 1.5; cat /proc/[0-9]*/stat', ['--init']);
    const states = out
      .split('\n')
      .filter(Boolean)
      .map((l) => ({ what: l.slice(0, l.lastIndexOf(')') + 1), state: l.slice(l.lastIndexOf(')') + 2)[0] }));
    expect(states.filter((s) => s.state === 'Z'), out).toEqual([]);
  });

  it('SIGTERM to the CLI reaches the command behind the init', async () => {
    const cli = spawnLodger(['run', '--rm', '--init', 'busybox', 'sh', '-c', 'trap "echo got-term; exit 7" TERM; echo ready; while :; do sleep 0.1; done'], {
      store,
    });
    await waitForOutput(cli, 'ready', { stream: 'stdout' });
    process.kill(cli.pid!, 'SIGTERM');
    const r = await waitForExit(cli, 15_000);
    expect(r.stdout).toMatch(/got-term/);
    expect(r.code).toBe(7);
  });

  it('the exit status is the command\'s', async () => {
    const r = await bbsh(store, 'exit 9', ['--init']);
    expect(r.code).toBe(9);
  });
});

describe.skipIf(!ok)('--read-only', () => {
  it('the root filesystem is read-only; /dev and -v mounts stay writable', async () => {
    const dir = fs.mkdtempSync(path.join(work, 'rw-under-ro-'));
    const r = await bbsh(
      store,
      'touch /new-file 2>&1; echo root=$?; echo x >>/etc/passwd 2>&1; echo etc=$?; echo shm >/dev/shm/x && echo shm-ok; echo v >/data/v && echo vol-ok',
      ['--read-only', '-v', `${dir}:/data`],
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Read-only file system/);
    expect(r.stdout).toMatch(/^root=1$/m);
    expect(r.stdout).toMatch(/^etc=1$/m);
    expect(r.stdout).toMatch(/^shm-ok$/m);
    expect(r.stdout).toMatch(/^vol-ok$/m);
    expect(fs.readFileSync(path.join(dir, 'v'), 'utf8')).toBe('v\n');
  });
});

describe.skipIf(!ok)('exit status', () => {
  it('is the container\'s own', async () => {
    expect((await bbsh(store, 'exit 3')).code).toBe(3);
    expect((await bbsh(store, 'exit 0')).code).toBe(0);
    expect((await bbsh(store, 'exit 255')).code).toBe(255);
  });

  it('128 + N when the command is killed by signal N', async () => {
    // (PID 1 cannot be killed from inside its own namespace: behind --init the command is not PID 1.)
    expect((await bbsh(store, 'kill -KILL $$', ['--init'])).code).toBe(137);
    const name = `killed-${process.pid}`;
    const cli = spawnLodger(['run', '--name', name, 'busybox', 'sh', '-c', 'echo ready; while :; do sleep 1; done'], { store });
    await waitForOutput(cli, 'ready', { stream: 'stdout' });
    await runLodgerOk(['kill', '-s', 'KILL', name], { store });
    expect((await waitForExit(cli, 15_000)).code).toBe(137);
    await runLodgerOk(['rm', name], { store });
  });

  it('125 when lodger itself fails: an unknown image', async () => {
    const r = await runLodger(['run', '--rm', '--pull', 'never', 'localhost/no-such-image:1', 'true'], { store });
    expectLodgerFailure(r, /no-such-image/);
  });

  it('125 when lodger itself fails: an unknown flag', async () => {
    const r = await runLodger(['run', '--rm', '--no-such-flag', 'busybox', 'true'], { store });
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/no-such-flag/);
  });

  it('126 when the command cannot be executed: a file without the x bit, a directory', async () => {
    const r = await runLodger(['run', '--rm', '--entrypoint', '/opt/tools/not-executable', IMG], { store });
    expect(r.code, r.stderr).toBe(126);
    expect(r.stderr).toMatch(/not-executable/);
    expect(r.stderr).toMatch(/permission denied/i);
    const dir = await runLodger(['run', '--rm', 'busybox', '/etc'], { store });
    expect(dir.code, dir.stderr).toBe(126);
  });

  it('127 when the command is not found (by name on PATH, and by absolute path)', async () => {
    const byName = await runLodger(['run', '--rm', 'busybox', 'no-such-command'], { store });
    expect(byName.code).toBe(127);
    expect(byName.stderr).toMatch(/no-such-command/);
    expect(byName.stderr).toMatch(/not found/);
    const byPath = await runLodger(['run', '--rm', 'busybox', '/no/such/binary'], { store });
    expect(byPath.code).toBe(127);
    expect(byPath.stderr).toMatch(/\/no\/such\/binary/);
  });

  it('a failure leaves no --rm container behind (whether it fails before or after the process starts)', async () => {
    const before = await psAllIds(store);
    expect((await runLodger(['run', '--rm', 'busybox', 'no-such-command'], { store })).code).toBe(127);
    expect((await runLodger(['run', '--rm', 'busybox', '/etc'], { store })).code).toBe(126);
    expect((await runLodger(['run', '--rm', '-u', 'mallory', 'busybox', 'true'], { store })).code).toBe(125);
    expect((await runLodger(['run', '--rm', '-d', '-u', 'mallory', 'busybox', 'true'], { store })).code).toBe(125);
    expect((await runLodger(['run', '--rm', '-w', '/proc/self/fd/0', 'busybox', 'true'], { store })).code).toBe(125);
    expect(await psAllIds(store)).toEqual(before);
    expect(entries(path.join(store.root, 'containers')).filter((id) => !before.some((b) => id === b))).toEqual([]);
  });
});

describe.skipIf(!ok)('ordinary commands work', () => {
  it('a shell pipeline and command substitution', async () => {
    const r = await bbsh(store, 'echo piped | tr a-z A-Z; echo "sub=$(echo inner)"');
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('PIPED\nsub=inner\n');
    expect(r.code).toBe(0);
  });

  it('stdout and stderr stay apart', async () => {
    const r = await bbsh(store, 'echo to-out; echo to-err >&2');
    expect(r.stdout).toBe('to-out\n');
    expect(r.stderr).toBe('to-err\n');
  });
});
