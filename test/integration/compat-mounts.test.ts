// Issue 16, mounts: --mount type=bind|tmpfs with Docker's keys, --tmpfs with mount options, --shm-size — the
// modes, sizes and flags a process inside sees, and the refusals Docker's users expect.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeTree, runLodger, runLodgerOk, type Store } from '../helpers/cli';
import { busyboxStore, haveSubids } from './foundation-common';

const ok = haveSubids();
let store: Store;
let work: string;

beforeAll(async () => {
  if (!ok) return;
  store = await busyboxStore();
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'lodger-compat-mnt-'));
  fs.chmodSync(work, 0o755);
  fs.writeFileSync(path.join(work, 'hello'), 'hello from the host\n');
});
afterAll(async () => {
  await store?.cleanup();
  if (work) await removeTree(work);
});

const sh = (args: string[], script: string) => runLodger(['run', '--rm', ...args, 'busybox', 'sh', '-c', script], { store });
const shOk = async (args: string[], script: string) => (await runLodgerOk(['run', '--rm', ...args, 'busybox', 'sh', '-c', script], { store })).stdout;
/** The options of the mount at TARGET as /proc/self/mounts lists them. */
const mountOpts = (target: string) => `awk '$2 == "${target}" { print $4 }' /proc/self/mounts`;

describe.skipIf(!ok)('--tmpfs and --mount type=tmpfs', () => {
  it('--tmpfs /path: nosuid,nodev,noexec by default; size= and mode= as given; full at the size', async () => {
    const out = await shOk(['--tmpfs', '/t:size=1m,mode=1770'], `stat -c %a /t; ${mountOpts('/t')}; dd if=/dev/zero of=/t/f bs=1000 count=2000 2>&1 | grep -o "No space left on device"; echo rc=$?; ls -l /t/f | awk '{print $5}'`);
    const [mode, opts, err, rc, size] = out.split('\n');
    expect(mode).toBe('1770');
    expect(opts.split(',')).toEqual(expect.arrayContaining(['rw', 'nosuid', 'nodev', 'noexec', 'size=1024k', 'mode=1770']));
    expect(err).toMatch(/No space left on device/);
    expect(rc).toBe('rc=0');  // grep found the message
    expect(size).toBe('1048576');
  });

  it('--tmpfs options exec and ro are honoured', async () => {
    const opts = (await shOk(['--tmpfs', '/t:exec,ro'], mountOpts('/t'))).trim().split(',');
    expect(opts).toContain('ro');
    expect(opts).not.toContain('noexec');
  });

  it('--mount type=tmpfs,tmpfs-size=…,tmpfs-mode=…', async () => {
    const out = await shOk(['--mount', 'type=tmpfs,destination=/cache,tmpfs-size=2m,tmpfs-mode=700'], `stat -c %a /cache; ${mountOpts('/cache')}`);
    const [mode, opts] = out.split('\n');
    expect(mode).toBe('700');
    expect(opts.split(',')).toEqual(expect.arrayContaining(['size=2048k', 'mode=700', 'noexec']));
  });

  it('--shm-size sets /dev/shm\'s size (default 64m)', async () => {
    expect((await shOk(['--shm-size', '1m'], mountOpts('/dev/shm'))).split(',')).toContain('size=1024k');
    expect((await shOk([], mountOpts('/dev/shm'))).split(',')).toContain('size=65536k');
  });
});

describe.skipIf(!ok)('--mount type=bind', () => {
  it('src/dst and source/target; readonly makes it read-only', async () => {
    expect(await shOk(['--mount', `type=bind,src=${work},dst=/b`], 'cat /b/hello')).toBe('hello from the host\n');
    const out = await shOk(['--mount', `type=bind,source=${work},target=/b,readonly`], 'cat /b/hello; touch /b/x 2>&1; true');
    expect(out).toMatch(/^hello from the host\n.*Read-only file system/);
    const ro = await shOk(['--mount', `type=bind,source=${work},target=/b,ro=true,bind-propagation=rprivate`], 'touch /b/x 2>&1; true');
    expect(ro).toMatch(/Read-only file system/);
  });

  it('refusals: a missing source, no target, shared propagation, duplicate targets, unknown keys', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['--mount', `type=bind,src=${work}/nope,dst=/b`], /bind mount source .*nope does not exist/],
      [['--mount', `type=bind,src=${work}`], /a target \(dst=, target= or destination=\) is required/],
      [['--mount', `type=bind,src=${work},dst=/b,bind-propagation=rshared`], /would share mounts back to the host/],
      [['--mount', `type=bind,src=${work},dst=/b`, '-v', `${work}:/b`], /duplicate mount point \/b/],
      [['--mount', `type=bind,src=${work},dst=/b,colour=red`], /unknown key "colour"/],
      [['--mount', 'type=tmpfs,src=x,dst=/t'], /a tmpfs has no source/],
      [['--mount', 'type=npipe,dst=/t'], /type "npipe" is not supported/],
      [['--tmpfs', 'relative'], /must be absolute/],
    ];
    for (const [args, msg] of cases) {
      const r = await sh(args, 'true');
      expect(r.code, args.join(' ')).toBe(125);
      expect(r.stderr, args.join(' ')).toMatch(msg);
    }
  });
});
