// Issue 16 point 6: the helpers lodger runs (fuse-overlayfs here) say nothing on the user's terminal or in the
// container's output unless they fail; a note is said once per store, never with --log-level error.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireTool, runLodger, type Store } from '../helpers/cli';
import { busyboxStore, dropStore, lifecyclePrereqs } from './lifecycle-common';

const ok = lifecyclePrereqs() && requireTool('fuse-overlayfs');
let store: Store;

describe.skipIf(!ok)('quiet helpers', () => {
  beforeAll(async () => { store = await busyboxStore('lodger-quiet-'); }, 60_000);
  afterAll(() => dropStore(store));

  it('run --userns=keep-id: only the container\'s output; the note once', async () => {
    const first = await runLodger(['run', '--rm', '--userns=keep-id', 'busybox', 'sh', '-c', 'echo out; echo err >&2'], { store });
    expect(first.code).toBe(0);
    expect(first.stdout).toBe('out\n');
    expect(first.stderr).not.toMatch(/unknown argument|lazytime/);
    expect(first.stderr.replace(/^lodger: note: .*\n/m, '')).toBe('err\n');
    for (let i = 0; i < 2; i++) {
      const again = await runLodger(['run', '--rm', '--userns=keep-id', 'busybox', 'sh', '-c', 'echo out; echo err >&2'], { store });
      expect(again.stdout).toBe('out\n');
      expect(again.stderr).toBe('err\n');
    }
    const detached = await runLodger(['run', '-d', '--name', 'quiet-d', '--userns=keep-id', 'busybox', 'sh', '-c', 'echo logged'], { store });
    expect(detached.stderr).toBe('');
    await runLodger(['wait', 'quiet-d'], { store });
    const logs = await runLodger(['logs', 'quiet-d'], { store });
    expect(logs.stdout + logs.stderr).toBe('logged\n');
    expect(first.stderr).toMatch(/^lodger: note: --userns=keep-id containers of an image use the fuse-overlayfs storage driver until a copy/);
    expect((await runLodger(['--log-level', 'loud', 'ps'], { store })).code).toBe(125);
  });

  it('--log-level error silences the note a first keep-id run of a store would give', async () => {
    // A store of its own: later keep-id runs of an image go to kernel overlay over a copy of its layers
    // made in the background, and say nothing; only a first run is sure to take fuse-overlayfs and note it.
    const fresh = await busyboxStore('lodger-quiet-level-');
    try {
      const silent = await runLodger(['--log-level', 'error', 'run', '--rm', '--userns=keep-id', 'busybox', 'sh', '-c', 'echo out'], { store: fresh });
      expect(silent.code).toBe(0);
      expect(silent.stdout).toBe('out\n');
      expect(silent.stderr).toBe('');
    } finally {
      await dropStore(fresh);
    }
  });

  it('a FUSE daemon that fails says why in lodger\'s error (its stderr), and only there', async () => {
    // fuse-overlayfs named: keep-id's default moves to kernel overlay once a copy of the layers is ready.
    await runLodger(['create', '--name', 'quiet-broken', '--userns=keep-id', '--storage-driver', 'fuse-overlayfs', 'busybox', 'true'], { store });
    // The layer's files disappear behind lodger's back: fuse-overlayfs cannot open its lower directory.
    const diff = fs.readdirSync(path.join(store.root, 'layers')).map((l) => path.join(store.root, 'layers', l, 'diff')).find((d) => fs.existsSync(d))!;
    fs.renameSync(diff, `${diff}.gone`);
    try {
      const r = await runLodger(['start', '-a', 'quiet-broken'], { store });
      expect(r.code).toBe(125);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/^lodger: mount the container's root filesystem with fuse-overlayfs .*: fuse-overlayfs exited with status 1 before mounting: .*cannot read lower dirs/m);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    } finally {
      fs.renameSync(`${diff}.gone`, diff);
    }
    await runLodger(['rm', '-f', 'quiet-broken'], { store });
  });
});
