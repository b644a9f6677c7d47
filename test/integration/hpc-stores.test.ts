// Issue 8.3, additional read-only image stores (LODGER_ADDITIONAL_STORES, storage.conf additionalimagestores): their images
// run with every driver and are listed as read-only; rmi refuses them; lodger never writes, locks or collects them.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeStore, removeTree, runLodger, runLodgerOk, type Store } from '../helpers/cli';
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
    const json = JSON.parse((await runLodgerOk(['images', '--format', 'json'], { store, env })).stdout) as Array<{ Names: string[]; ReadOnly: boolean }>;
    expect(json.map((i) => [i.Names, i.ReadOnly])).toEqual([[['localhost/sharedbb:1'], true]]);
    const table = (await runLodgerOk(['images'], { store, env })).stdout.split('\n');
    expect(table[0]).toMatch(/R\/O\s*$/);
    expect(table[1]).toMatch(/^localhost\/sharedbb\s+1\s.*\btrue\s*$/);
  });

  it.each(['overlay', 'fuse-overlayfs', 'vfs'])('run uses them with the %s driver, changes going to the container only', async (driver) => {
    const r = await runLodger(['run', '--rm', '--storage-driver', driver, 'sharedbb:1', 'sh', '-c',
      'stat -c %u:%g /home/app; echo new > /etc/new && cat /etc/new; rm /bin/true && test ! -e /bin/true && echo removed'], { store, env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('1000:1000\nnew\nremoved\n');
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
    expect(JSON.parse(r.stdout)).toHaveLength(1);
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
