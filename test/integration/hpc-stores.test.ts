// Issue 8.3, additional read-only image stores (LODGER_ADDITIONAL_STORES, storage.conf additionalimagestores): their images
// run with every driver and are listed as read-only; rmi refuses them; lodger never writes, locks or collects them.
// A store populated by another user (the admin's case, .ci/run makes one as lodgernosub): its files show as root's
// and can be changed, through fuse-overlayfs' squash_to_root, with a note said once.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeStore, removeTree, requirePrereq, runLodger, runLodgerOk, type Store } from '../helpers/cli';
import { mustRun } from '../helpers/exec';
import { busyboxFixture, haveSubids } from './foundation-common';

/** Every entry under DIR with its type, mode, owner, size and mtime: any write shows as a difference. */
function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const n of fs.readdirSync(d).sort()) {
      const p = path.join(d, n);
      const st = fs.lstatSync(p);
      out.push(`${path.relative(dir, p)} ${st.mode.toString(8)} ${st.uid}:${st.gid} ${st.size} ${st.mtimeMs}`);
      if (st.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out;
}

const ok = haveSubids() && busyboxFixture() !== null;

describe.skipIf(!ok)('an additional read-only image store', () => {
  let shared: Store;  // populated by us, then made read-only: what an admin's shared store is to its users
  let store: Store;   // the user's own store
  let before: string[];
  let env: Record<string, string>;
  beforeAll(async () => {
    shared = makeStore('lodger-hpc-shared-');
    await runLodgerOk(['import', busyboxFixture()!.tar, 'sharedbb:1'], { store: shared });
    // Layer files belong to our subordinate ids too: chmod them as root of our user namespace.
    await mustRun('unshare', ['--map-root-user', '--map-auto', 'chmod', '-R', 'a-w', shared.root], { timeoutMs: 60_000 });
    before = snapshot(shared.root);
    store = makeStore('lodger-hpc-own-');
    env = { LODGER_ADDITIONAL_STORES: shared.root };
  });
  afterAll(async () => {
    await store?.cleanup();
    await shared?.cleanup();
  });

  it('its images are listed, marked read-only', async () => {
    const rows = (await runLodgerOk(['images', '--format', 'json'], { store, env })).stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, string>);
    expect(rows.map((i) => [i.Repository, i.Tag, i.ReadOnly])).toEqual([['localhost/sharedbb', '1', 'true']]);
    const table = (await runLodgerOk(['images'], { store, env })).stdout.split('\n');
    expect(table[0]).toMatch(/R\/O\s*$/);
    expect(table[1]).toMatch(/^localhost\/sharedbb\s+1\s.*\btrue\s*$/);
  });

  it.each(['overlay', 'fuse-overlayfs', 'vfs'])('run uses them with the %s driver, changes going to the container only', async (driver) => {
    const r = await runLodger(['run', '--rm', '--storage-driver', driver, 'sharedbb:1', 'sh', '-c',
      'stat -c %u:%g /home/app; echo new > /etc/new && cat /etc/new; rm /bin/true && test ! -e /bin/true && echo removed'], { store, env });
    expect(r.code, r.stderr).toBe(0);
    // Our own ids: mapped, so owners are kept (no squash to root, no note about it).
    expect(r.stdout).toBe('1000:1000\nnew\nremoved\n');
    expect(r.stderr).not.toMatch(/squash_to_root/);
    // Nothing was pulled or copied into the user's store.
    expect(fs.existsSync(path.join(store.root, 'images.json')) ? JSON.parse(fs.readFileSync(path.join(store.root, 'images.json'), 'utf8')).images : []).toEqual([]);
  });

  it('storage.conf\'s [storage.options] additionalimagestores works as well', async () => {
    const conf = path.join(store.configDir, 'containers', 'storage.conf');
    fs.mkdirSync(path.dirname(conf), { recursive: true });
    fs.writeFileSync(conf, `[storage]\ndriver = "overlay"\n\n[storage.options]\nadditionalimagestores = [\n  "${shared.root}",\n]\n`);
    try {
      const r = await runLodgerOk(['run', '--rm', 'sharedbb:1', 'echo', 'from-storage-conf'], { store });
      expect(r.stdout).toBe('from-storage-conf\n');
    } finally {
      fs.rmSync(conf);
    }
  });

  it('rmi refuses its images, saying they live in a read-only store', async () => {
    const r = await runLodger(['rmi', 'sharedbb:1'], { store, env });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`read-only image store ${shared.root}`);
    expect(r.stderr).not.toMatch(/internal error/);
    expect((await runLodgerOk(['images', '-q'], { store, env })).stdout.trim()).not.toBe('');
    // Pruning the user's store leaves it alone too.
    await runLodgerOk(['image', 'prune', '-a', '-f'], { store, env });
    expect((await runLodgerOk(['run', '--rm', 'sharedbb:1', 'true'], { store, env })).code).toBe(0);
  });

  it('a store that is not a lodger store is skipped with a warning that says why', async () => {
    const podmanLike = path.join(store.dir, 'podman-store');
    fs.mkdirSync(path.join(podmanLike, 'overlay-images'), { recursive: true });
    const r = await runLodgerOk(['images', '--format', 'json'], { store, env: { LODGER_ADDITIONAL_STORES: `${podmanLike}:${shared.root}` } });
    expect(r.stderr).toMatch(/containers\/storage \(podman\) store.*skipped/);
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
  });

  it('lodger never wrote to it or locked it (run last: every test above used it)', () => {
    expect(snapshot(shared.root)).toEqual(before);
    expect(fs.existsSync(path.join(shared.root, 'store.lock'))).toBe(false);
  });
});

describe('a missing additional store', () => {
  it('is warned about and does not stop lodger', async () => {
    const b = busyboxFixture();
    if (!b) return;
    const store = makeStore('lodger-hpc-own-');
    try {
      await runLodgerOk(['import', b.tar, 'busybox'], { store });
      const r = await runLodger(['run', '--rm', '--pull=never', 'nosuch:1', 'true'], { store, env: { LODGER_ADDITIONAL_STORES: path.join(store.dir, 'absent') } });
      expect(r.code).toBe(125);
      expect(r.stderr).toMatch(/absent has no images\.json/);
      expect((await runLodgerOk(['run', '--rm', 'busybox', 'echo', 'fine'], { store, env: { LODGER_ADDITIONAL_STORES: path.join(store.dir, 'absent') } })).stdout).toBe('fine\n');
    } finally {
      await removeTree(store.dir);
    }
  });
});

/**
 * The shared store .ci/run prepares as root (scripts/lib/host.sh host_shared_store): busybox as sharedbb:1, imported
 * by lodgernosub, chmod a+rX,go-w. Its files belong to uid 1501, which our user namespace does not map.
 */
const SHARED_STORE = '/var/tmp/lodger-shared-store';

function sharedStoreReady(): boolean {
  try {
    const st = fs.statSync(path.join(SHARED_STORE, 'images.json'));
    return st.uid !== process.getuid!() && fs.readFileSync(path.join(SHARED_STORE, 'images.json'), 'utf8').includes('localhost/sharedbb:1');
  } catch {
    return false;
  }
}

const sharedOk = ok && requirePrereq(sharedStoreReady(),
  `${SHARED_STORE}: a store with sharedbb:1 populated by another user (lodgernosub) — sudo bash .ci/run --host-only makes it`);

describe.skipIf(!sharedOk)('a read-only store populated by another user', () => {
  let store: Store;
  let before: string[];
  const env = { LODGER_ADDITIONAL_STORES: SHARED_STORE };
  beforeAll(() => {
    before = snapshot(SHARED_STORE);
    store = makeStore('lodger-hpc-foreign-');
  });
  afterAll(async () => {
    await store?.cleanup();
  });

  it('its files show as root\'s; creating and changing image files works and lands in the container\'s own layer; the note comes once', async () => {
    const r = await runLodger(['run', '--name', 'sq', 'sharedbb:1', 'sh', '-c', [
      'stat -c "%n %u:%g" / /etc /etc/passwd /bin/busybox /home/app',
      'echo new > /etc/new && cat /etc/new',
      'echo "extra:x:5000:5000::/:/bin/sh" >> /etc/passwd && tail -n 1 /etc/passwd',
      'echo mine > /home/app/f && cat /home/app/f',
    ].join('; ')], { store, env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('/ 0:0\n/etc 0:0\n/etc/passwd 0:0\n/bin/busybox 0:0\n/home/app 0:0\nnew\nextra:x:5000:5000::/:/bin/sh\nmine\n');
    // The note names the store and what was done, once.
    expect(r.stderr.match(/squash_to_root/g)).toHaveLength(1);
    const owner = fs.statSync(SHARED_STORE);
    expect(r.stderr).toContain(`the read-only store ${SHARED_STORE} have layers owned by uid ${owner.uid}, gid ${owner.gid} on the host`);

    const [c] = JSON.parse((await runLodgerOk(['inspect', 'sq'], { store })).stdout) as Array<{ Id: string; Driver: string }>;
    expect(c.Driver).toBe('fuse-overlayfs');
    // The changes are the container's own: its upper layer in our store holds them.
    const upper = path.join(store.root, 'containers', c.Id, 'upper');
    expect(fs.readFileSync(path.join(upper, 'etc', 'new'), 'utf8')).toBe('new\n');
    expect(fs.readFileSync(path.join(upper, 'etc', 'passwd'), 'utf8')).toMatch(/^root:.*\nextra:x:5000:5000::\/:\/bin\/sh\n$/s);
    expect(fs.readFileSync(path.join(upper, 'home', 'app', 'f'), 'utf8')).toBe('mine\n');

    // cp from and into the stopped container mounts its layers for a worker, squashed the same way: an image
    // file's tar header (ustar: uid and gid as octal at offsets 108 and 116) says root, not nobody.
    const tar = (await runLodgerOk(['cp', 'sq:/bin/busybox', '-'], { store, env })).stdout;
    expect(tar.slice(0, 8)).toBe('busybox\0');
    expect([parseInt(tar.slice(108, 115), 8), parseInt(tar.slice(116, 123), 8)]).toEqual([0, 0]);
    // /usr/bin is not in the upper layer yet: this is a copy-up of an image directory.
    const src = path.join(store.dir, 'copied.txt');
    fs.writeFileSync(src, 'copied\n');
    await runLodgerOk(['cp', src, 'sq:/usr/bin/copied.txt'], { store, env });
    expect(fs.readFileSync(path.join(upper, 'usr', 'bin', 'copied.txt'), 'utf8')).toBe('copied\n');
    await runLodgerOk(['rm', 'sq'], { store, env });

    // A new container starts from the unchanged image, and the note is not repeated.
    const again = await runLodger(['run', '--rm', 'sharedbb:1', 'sh', '-c', 'test ! -e /etc/new && grep -c extra /etc/passwd'], { store, env });
    expect(again.stdout).toBe('0\n');
    expect(again.stderr).not.toMatch(/squash_to_root/);
  });

  it('with --storage-driver overlay the files stay unmapped and cannot be changed, and the note says why', async () => {
    const r = await runLodger(['run', '--rm', '--storage-driver', 'overlay', 'sharedbb:1', 'sh', '-c',
      'stat -c %u:%g /etc; echo new > /etc/new || echo refused'], { store, env });
    expect(r.stdout).toBe('65534:65534\nrefused\n');
    expect(r.stderr).toMatch(/kernel overlayfs refuses to copy up a file whose owner the namespace cannot map/);
    expect(r.stderr).toMatch(/Permission denied/);
  });

  it('named as one\'s own store (--root), it is refused with 125 saying how to use it instead; listing still works', async () => {
    const r = await runLodger(['--root', SHARED_STORE, 'run', '--rm', 'sharedbb:1', 'true'], { store });
    expect(r.code).toBe(125);
    expect(r.stderr).toContain(`the store ${SHARED_STORE}: permission denied — it is not writable for you; use a store of your own`);
    expect(r.stderr).toContain('LODGER_ADDITIONAL_STORES');
    expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
    const list = await runLodgerOk(['--root', SHARED_STORE, 'images'], { store });
    expect(list.stdout).toContain('localhost/sharedbb');
  });

  it('the shared store is unchanged and unlocked (run last)', () => {
    expect(snapshot(SHARED_STORE)).toEqual(before);
    expect(fs.existsSync(path.join(SHARED_STORE, 'store.lock'))).toBe(false);
  });
});
