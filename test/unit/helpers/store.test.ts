// Self-test of per-test stores: a store is private and fresh, and removeTree deletes files owned by subordinate ids.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { mustRun } from '../../helpers/exec';
import { currentUid } from '../../helpers/paths';
import { requirePrereq, requireSubids, requireTool, subidRange } from '../../helpers/prereqs';
import { makeStore, removeTree } from '../../helpers/store';

describe('makeStore', () => {
  it('gives a fresh root, a private runtime dir and the environment pointing at them', async () => {
    const a = makeStore();
    const b = makeStore();
    try {
      expect(a.root).not.toBe(b.root);
      expect(fs.existsSync(a.root)).toBe(false); // lodger creates its own layout
      expect(fs.statSync(a.runtimeDir).mode & 0o777).toBe(0o700);
      expect(a.env).toEqual({ LODGER_ROOT: a.root, XDG_RUNTIME_DIR: a.runtimeDir, XDG_CONFIG_HOME: a.configDir });
    } finally {
      await a.cleanup();
      await b.cleanup();
    }
    expect(fs.existsSync(a.dir)).toBe(false);
  });
});

describe('removeTree', () => {
  it('removes files owned by subuids in directories the user cannot write', async () => {
    if (!requirePrereq(currentUid() !== 0, 'run as an unprivileged user') || !requireSubids() || !requireTool('unshare')) return;
    const store = makeStore();
    const layer = path.join(store.root, 'layers', 'x', 'diff');
    fs.mkdirSync(layer, { recursive: true });
    // As root of a user namespace that maps the subuid range: a tree owned by container uid 5, read-only.
    await mustRun('unshare', ['--map-root-user', '--map-auto', 'sh', '-c',
      `mkdir -p "${layer}/etc/deep" && echo x > "${layer}/etc/deep/f" && chown -R 5:5 "${layer}/etc" && chmod 0500 "${layer}/etc/deep" "${layer}/etc"`]);
    const st = fs.statSync(path.join(layer, 'etc'));
    expect(st.uid).toBe(subidRange()!.start + 4);
    // The user alone cannot delete it…
    await expect(fs.promises.rm(path.join(layer, 'etc'), { recursive: true })).rejects.toThrow();
    // …removeTree can.
    await removeTree(store.dir);
    expect(fs.existsSync(store.dir)).toBe(false);
  });

  it('removes trees of a user without subuids, including unwritable directories', async () => {
    const store = makeStore();
    const d = path.join(store.root, 'ro');
    fs.mkdirSync(path.join(d, 'inner'), { recursive: true });
    fs.writeFileSync(path.join(d, 'inner', 'f'), 'x');
    fs.chmodSync(path.join(d, 'inner'), 0o500);
    await removeTree(store.dir);
    expect(fs.existsSync(store.dir)).toBe(false);
  });

  it('is a no-op for a missing path and refuses dangerous ones', async () => {
    await removeTree('/tmp/lodger-does-not-exist-' + process.pid);
    await expect(removeTree('/')).rejects.toThrow(/refuses/);
    await expect(removeTree('/tmp')).rejects.toThrow(/refuses/);
  });
});
