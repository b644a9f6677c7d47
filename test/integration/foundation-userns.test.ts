// Issue 2, user namespace: root inside is the invoking user, ids 1…N are the user's /etc/subuid and /etc/subgid
// range; a user without a range still gets a working container with a single-id mapping and one clear warning.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeTree, runLodger, type Store } from '../helpers/cli';
import { subidRange } from '../helpers/prereqs';
import { bbsh, bbshOk, busyboxStore, gid, haveSubids, uid } from './foundation-common';

/** /proc/PID/{uid,gid}_map text as [inside, outside, count] rows. */
function parseMap(text: string): number[][] {
  return text
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => l.trim().split(/\s+/).map(Number));
}

/** Splits `a\n--\nb\n--\n…` output into its sections. */
function sections(out: string): string[] {
  return out.split(/^--$/m).map((s) => s.trim());
}

describe('user namespace with the subordinate ranges of /etc/subuid and /etc/subgid', () => {
  const ok = haveSubids();
  let store: Store;
  beforeAll(async () => {
    if (ok) store = await busyboxStore();
  });
  afterAll(async () => {
    await store?.cleanup();
  });

  it.skipIf(!ok)('root inside is the invoking user; uids and gids 1…N are the user\'s range', async () => {
    const sub = subidRange('/etc/subuid')!;
    const subg = subidRange('/etc/subgid')!;
    const out = await bbshOk(store, 'id -u; id -g; echo --; cat /proc/self/uid_map; echo --; cat /proc/self/gid_map');
    const [ids, uidMap, gidMap] = sections(out);
    expect(ids.split('\n')).toEqual(['0', '0']);
    expect(parseMap(uidMap)).toEqual([
      [0, uid(), 1],
      [1, sub.start, sub.count],
    ]);
    expect(parseMap(gidMap)).toEqual([
      [0, gid(), 1],
      [1, subg.start, subg.count],
    ]);
  });

  it.skipIf(!ok)('files root makes inside are the user\'s on the host; uid/gid N inside is range start + N − 1 on the host', async () => {
    const sub = subidRange('/etc/subuid')!;
    const subg = subidRange('/etc/subgid')!;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lodger-fnd-owner-'));
    try {
      await bbshOk(store, 'touch /mnt/by-root && touch /mnt/by-1000 && chown 1000:1000 /mnt/by-1000 && touch /mnt/by-top && chown 65535:65535 /mnt/by-top', [
        '-v',
        `${dir}:/mnt`,
      ]);
      const root = fs.statSync(path.join(dir, 'by-root'));
      expect([root.uid, root.gid]).toEqual([uid(), gid()]);
      const u1000 = fs.statSync(path.join(dir, 'by-1000'));
      expect([u1000.uid, u1000.gid]).toEqual([sub.start + 999, subg.start + 999]);
      const top = fs.statSync(path.join(dir, 'by-top'));
      expect([top.uid, top.gid]).toEqual([sub.start + 65534, subg.start + 65534]);
    } finally {
      await removeTree(dir);
    }
  });

  it.skipIf(!ok)('a uid outside the mapped range cannot be used: chown to it fails inside', async () => {
    const sub = subidRange('/etc/subuid')!;
    const r = await bbsh(store, `touch /tmp/x; chown ${sub.count + 1} /tmp/x && echo chown-ok || echo chown-failed`);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe('chown-failed');
  });

  it.skipIf(!ok)('--userns=single asks for the single-id mapping explicitly, without a warning', async () => {
    const r = await bbsh(store, 'cat /proc/self/uid_map', ['--userns=single']);
    expect(r.code, r.stderr).toBe(0);
    expect(parseMap(r.stdout)).toEqual([[0, uid(), 1]]);
    expect(r.stderr).not.toMatch(/warning/i);
  });
});

describe('a user without a subordinate range (LODGER_SUBUID_FILE/LODGER_SUBGID_FILE point at empty files)', () => {
  let store: Store;
  let dir: string;
  let env: Record<string, string>;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lodger-fnd-nosub-'));
    fs.writeFileSync(path.join(dir, 'subuid'), '');
    fs.writeFileSync(path.join(dir, 'subgid'), '');
    env = { LODGER_SUBUID_FILE: path.join(dir, 'subuid'), LODGER_SUBGID_FILE: path.join(dir, 'subgid') };
    // The store is made by the same "user without a range", so its layers are all the user's own files.
    store = await busyboxStore({ env });
  });
  afterAll(async () => {
    await store?.cleanup();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const script =
    'id -u; echo --; cat /proc/self/uid_map; echo --; cat /proc/self/gid_map; echo --; cat /proc/self/setgroups; echo --; ' +
    'touch /tmp/x; chown 1000 /tmp/x && echo chown-ok || echo chown-failed';

  function checkSingleMapping(stdout: string): void {
    const [id, uidMap, gidMap, setgroups, chown] = sections(stdout);
    expect(id).toBe('0');
    expect(parseMap(uidMap)).toEqual([[0, uid(), 1]]);
    expect(parseMap(gidMap)).toEqual([[0, gid(), 1]]);
    expect(setgroups).toBe('deny');
    expect(chown).toBe('chown-failed');
  }

  function checkOneWarning(stderr: string): void {
    const warnings = stderr.split('\n').filter((l) => /warning/i.test(l));
    expect(warnings, stderr).toHaveLength(1);
    const w = warnings[0];
    // What is missing, what will not work, and how to get a range.
    expect(w).toMatch(/\/etc\/subuid/);
    expect(w).toMatch(/single/i);
    expect(w).toMatch(/chown|ownership|owner/i);
    expect(w).toMatch(/usermod|--add-subuids|admin/i);
  }

  it('the container works with uid_map "0 <uid> 1", setgroups denied, chown to another id failing, and ONE warning', async () => {
    const r = await runLodger(['run', '--rm', 'busybox', 'sh', '-c', script], { store, env });
    expect(r.code, r.stderr).toBe(0);
    checkSingleMapping(r.stdout);
    checkOneWarning(r.stderr);
  });

  it('still one warning when the command also runs store work in the namespace (vfs copies the layers first)', async () => {
    const r = await runLodger(['run', '--rm', '--storage-driver', 'vfs', 'busybox', 'sh', '-c', script], { store, env });
    expect(r.code, r.stderr).toBe(0);
    checkSingleMapping(r.stdout);
    checkOneWarning(r.stderr);
  });

  it('a missing subuid entry alone is enough for the single mapping and the warning', async () => {
    const sub = subidRange('/etc/subgid');
    const r = await runLodger(['run', '--rm', 'busybox', 'sh', '-c', script], {
      store,
      env: { LODGER_SUBUID_FILE: env.LODGER_SUBUID_FILE, LODGER_SUBGID_FILE: sub ? '/etc/subgid' : env.LODGER_SUBGID_FILE },
    });
    expect(r.code, r.stderr).toBe(0);
    checkSingleMapping(r.stdout);
    checkOneWarning(r.stderr);
  });

  it('a detached container works too, and `run -d` warns once', async () => {
    const r = await runLodger(['run', '-d', 'busybox', 'sleep', '30'], { store, env });
    expect(r.code, r.stderr).toBe(0);
    checkOneWarning(r.stderr);
    const id = r.stdout.trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    const rm = await runLodger(['rm', '-f', id], { store, env });
    expect(rm.code, rm.stderr).toBe(0);
  });
});
