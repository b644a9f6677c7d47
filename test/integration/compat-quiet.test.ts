// Issue 16 point 6: the helpers lodger runs (fuse-overlayfs here) say nothing on the user's terminal or in the
// container's output unless they fail; a note is said once per store, again only with --log-level info.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireTool, runLodger, type Store } from '../helpers/cli';
import { busyboxStore, dropStore, lifecyclePrereqs } from './lifecycle-common';

const ok = lifecyclePrereqs() && requireTool('fuse-overlayfs');
let store: Store;

describe.skipIf(!ok)('quiet helpers', () => {
  beforeAll(async () => { store = await busyboxStore('lodger-quiet-'); }, 60_000);
  afterAll(() => dropStore(store));

  it('run --userns=keep-id: only the container\'s output; the note once, again with --log-level info', async () => {
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
    const info = await runLodger(['--log-level', 'info', 'run', '--rm', '--userns=keep-id', 'busybox', 'true'], { store });
    expect(info.stderr).toMatch(/^lodger: note: --userns=keep-id containers use the fuse-overlayfs storage driver/);
    expect((await runLodger(['--log-level', 'loud', 'ps'], { store })).code).toBe(125);
  });
});
