// Issue 2, the store: where it lives ($XDG_DATA_HOME/lodger, ~/.local/share/lodger, --root, LODGER_ROOT), the
// runtime directory's fallback, content-addressed shared layers, concurrent CLIs, and crashes mid-import.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { killLodgers, makeStore, removeTree, requireTool, runLodger, runLodgerOk, spawnLodger, waitForExit, type Store } from '../helpers/cli';
import { buildOciLayout, ociToDockerArchive, writeDirectoryTar } from '../helpers/fixtures';
import { busyboxFixture, entries, haveSubids, ourProcesses, psAllIds, uid } from './foundation-common';

const ok = haveSubids() && busyboxFixture() !== null;

let work: string;
beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'lodger-fnd-store-'));
});
afterAll(async () => {
  if (work) await removeTree(work);
});
afterEach(() => killLodgers());

const layerNames = (root: string) => entries(path.join(root, 'layers')).filter((n) => /^[0-9a-f]{64}$/.test(n));

type IndexEntry = { id: string; names: string[]; layers: string[] };

/** The image index as stored (JSON.parse throws on a torn or corrupt file): {version, images: […]}. */
function readImages(root: string): IndexEntry[] {
  const v = JSON.parse(fs.readFileSync(path.join(root, 'images.json'), 'utf8')) as { images: IndexEntry[] } | IndexEntry[];
  const images = Array.isArray(v) ? v : v.images;
  expect(Array.isArray(images)).toBe(true);
  return images;
}

describe.skipIf(!ok)('where the store is', () => {
  let dir: string;
  let store: Store; // for its runtime and config directories only
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(work, 'where-'));
    store = makeStore('lodger-fnd-where-');
  });
  afterEach(async () => {
    await removeTree(dir);
    await store.cleanup();
  });

  it('by default under $XDG_DATA_HOME/lodger (no LODGER_ROOT)', async () => {
    const data = path.join(dir, 'data');
    const env = { LODGER_ROOT: undefined, XDG_DATA_HOME: data, XDG_RUNTIME_DIR: store.runtimeDir, XDG_CONFIG_HOME: store.configDir };
    const b = busyboxFixture()!;
    await runLodgerOk(['import', b.tar, 'where:1'], { root: '/nonexistent-unused', env });
    const root = path.join(data, 'lodger');
    expect(readImages(root).flatMap((i) => i.names)).toEqual(['localhost/where:1']);
    expect(layerNames(root)).toHaveLength(1);
    const r = await runLodgerOk(['run', '--rm', 'where:1', 'echo', 'xdg'], { root: '/nonexistent-unused', env });
    expect(r.stdout).toBe('xdg\n');
    expect(fs.existsSync('/nonexistent-unused')).toBe(false);
    // Private to the user: the store holds its images and containers.
    expect(fs.statSync(root).mode & 0o077).toBe(0);
  });

  it('without XDG_DATA_HOME: ~/.local/share/lodger', async () => {
    const home = path.join(dir, 'home');
    fs.mkdirSync(home);
    const env = { LODGER_ROOT: undefined, XDG_DATA_HOME: undefined, HOME: home, XDG_RUNTIME_DIR: store.runtimeDir, XDG_CONFIG_HOME: store.configDir };
    await runLodgerOk(['import', busyboxFixture()!.tar, 'home:1'], { root: '/nonexistent-unused', env });
    expect(readImages(path.join(home, '.local', 'share', 'lodger')).flatMap((i) => i.names)).toEqual(['localhost/home:1']);
  });

  it('LODGER_ROOT overrides XDG_DATA_HOME; --root (before or after the command) overrides both', async () => {
    const data = path.join(dir, 'data');
    const envRoot = path.join(dir, 'env-root');
    const flagRoot = path.join(dir, 'flag-root');
    const env = { LODGER_ROOT: envRoot, XDG_DATA_HOME: data, XDG_RUNTIME_DIR: store.runtimeDir, XDG_CONFIG_HOME: store.configDir };
    const b = busyboxFixture()!;
    await runLodgerOk(['import', b.tar, 'in-env:1'], { root: envRoot, env });
    await runLodgerOk(['--root', flagRoot, 'import', b.tar, 'in-flag:1'], { root: envRoot, env });
    await runLodgerOk(['import', '--root', flagRoot, b.tar, 'in-flag:2'], { root: envRoot, env });
    await runLodgerOk([`--root=${flagRoot}`, 'import', b.tar, 'in-flag:3'], { root: envRoot, env });
    expect(fs.existsSync(path.join(data, 'lodger'))).toBe(false);
    expect(readImages(envRoot).flatMap((i) => i.names)).toEqual(['localhost/in-env:1']);
    expect(readImages(flagRoot).flatMap((i) => i.names).sort()).toEqual(['localhost/in-flag:1', 'localhost/in-flag:2', 'localhost/in-flag:3']);
    const listed = (await runLodgerOk(['--root', flagRoot, 'images', '--format', '{{.Repository}}:{{.Tag}}'], { root: envRoot, env })).stdout.trim().split('\n');
    expect(listed.sort()).toEqual(['localhost/in-flag:1', 'localhost/in-flag:2', 'localhost/in-flag:3']);
    const r = await runLodgerOk(['--root', flagRoot, 'run', '--rm', 'in-flag:1', 'echo', 'flag-root'], { root: envRoot, env });
    expect(r.stdout).toBe('flag-root\n');
    expect(entries(path.join(flagRoot, 'containers'))).toEqual([]);
  });
});

describe.skipIf(!ok)('the runtime directory', () => {
  let store: Store;
  let tmp: string;
  beforeEach(async () => {
    store = makeStore('lodger-fnd-rt-');
    // The fallback lives in the temp directory; a private TMPDIR keeps it apart from other runs of this user.
    tmp = fs.mkdtempSync(path.join(work, 'tmpdir-'));
    await runLodgerOk(['import', busyboxFixture()!.tar, 'busybox'], { store });
  });
  afterEach(async () => {
    await store.cleanup();
  });

  const info = async (env: Record<string, string | undefined>) =>
    JSON.parse((await runLodgerOk(['info', '--format', 'json'], { store, env })).stdout) as { store: { runtime: string } };

  it('with XDG_RUNTIME_DIR unset, containers still run and the fallback directory is private (0700, ours)', async () => {
    const env = { XDG_RUNTIME_DIR: undefined, TMPDIR: tmp };
    const r = await runLodger(['run', '--rm', 'busybox', 'echo', 'no-xdg-runtime'], { store, env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('no-xdg-runtime\n');
    const d = await runLodger(['run', '-d', 'busybox', 'sleep', '30'], { store, env });
    expect(d.code, d.stderr).toBe(0);
    await runLodgerOk(['rm', '-f', d.stdout.trim()], { store, env });

    const runtime = (await info(env)).store.runtime;
    expect(runtime).toBe(path.join(tmp, `lodger-run-${uid()}`));
    const st = fs.lstatSync(runtime);
    expect(st.isDirectory()).toBe(true);
    expect(st.uid).toBe(uid());
    expect(st.mode & 0o777).toBe(0o700);
  });

  it('with XDG_RUNTIME_DIR set, it is $XDG_RUNTIME_DIR/lodger', async () => {
    expect((await info({})).store.runtime).toBe(path.join(store.runtimeDir, 'lodger'));
  });

  it('a fallback directory that others can enter is refused with a clear message, not used', async () => {
    const unsafe = path.join(tmp, `lodger-run-${uid()}`);
    fs.mkdirSync(unsafe);
    fs.chmodSync(unsafe, 0o777);
    const r = await runLodger(['info'], { store, env: { XDG_RUNTIME_DIR: undefined, TMPDIR: tmp } });
    expect(r.code).toBe(125);
    expect(r.stderr).toContain(unsafe);
    expect(r.stderr).toMatch(/private|0700|not safe|unsafe/i);
    expect(r.stderr).not.toMatch(/internal error/);
  });
});

describe.skipIf(!ok || !requireTool('skopeo'))('layers are content-addressed and shared', () => {
  let store: Store;
  beforeEach(() => {
    store = makeStore('lodger-fnd-layers-');
  });
  afterEach(async () => {
    await store.cleanup();
  });

  it('two images on the same base layer: one directory for the base, named by its diff_id', async () => {
    const b = busyboxFixture()!;
    const ociA = path.join(work, `a-${Date.now()}`);
    const ociB = path.join(work, `b-${Date.now()}`);
    const imgA = await buildOciLayout(ociA, { tag: 'a', layers: [{ tarFile: b.tar }, { files: [{ path: 'etc/which', type: 'file', content: 'a\n' }] }] });
    // The same base, compressed differently (a different blob digest, the same diff_id).
    const imgB = await buildOciLayout(ociB, {
      tag: 'b',
      layers: [{ tarFile: b.tar, compression: 'none' }, { files: [{ path: 'etc/which', type: 'file', content: 'b\n' }] }],
    });
    expect(imgA.layers[0].diffId).toBe(imgB.layers[0].diffId);
    expect(imgA.layers[0].digest).not.toBe(imgB.layers[0].digest);
    await runLodgerOk(['load', '-i', await ociToDockerArchive(ociA, 'a', path.join(work, `a-${Date.now()}.tar`), 'localhost/share-a:1')], { store });
    await runLodgerOk(['load', '-i', await ociToDockerArchive(ociB, 'b', path.join(work, `b-${Date.now()}.tar`), 'localhost/share-b:1')], { store });
    await runLodgerOk(['import', b.tar, 'share-c:1'], { store });

    const expected = [imgA.layers[0], imgA.layers[1], imgB.layers[1]].map((l) => l.diffId.slice('sha256:'.length)).sort();
    expect(layerNames(store.root).sort()).toEqual(expected);
    for (const l of expected) {
      const meta = JSON.parse(fs.readFileSync(path.join(store.root, 'layers', l, 'layer.json'), 'utf8')) as { diffId: string };
      expect(meta.diffId).toBe(`sha256:${l}`);
    }
    expect((await runLodgerOk(['run', '--rm', 'share-a:1', 'cat', '/etc/which'], { store })).stdout).toBe('a\n');
    expect((await runLodgerOk(['run', '--rm', 'share-b:1', 'cat', '/etc/which'], { store })).stdout).toBe('b\n');
  });
});

describe.skipIf(!ok)('two CLIs at once never corrupt the store', () => {
  let store: Store;
  beforeEach(async () => {
    store = makeStore('lodger-fnd-conc-');
    await runLodgerOk(['import', busyboxFixture()!.tar, 'busybox'], { store });
  });
  afterEach(async () => {
    await store.cleanup();
  });

  it('8 parallel `run --rm` and 2 parallel imports all succeed; images.json stays valid and complete', async () => {
    const b = busyboxFixture()!;
    const extra = path.join(work, `extra-${Date.now()}.tar`);
    fs.mkdirSync(path.join(work, 'extra-tree'), { recursive: true });
    fs.writeFileSync(path.join(work, 'extra-tree', 'only-here'), crypto.randomBytes(4096));
    await writeDirectoryTar(path.join(work, 'extra-tree'), extra);
    const runs = Array.from({ length: 8 }, (_, i) => runLodger(['run', '--rm', 'busybox', 'sh', '-c', `echo run-${i}`], { store, timeoutMs: 120_000 }));
    const imports = [runLodger(['import', b.tar, 'par:1'], { store, timeoutMs: 120_000 }), runLodger(['import', extra, 'par:2'], { store, timeoutMs: 120_000 })];
    const results = await Promise.all([...runs, ...imports]);
    results.forEach((r, i) => expect(r.code, `#${i}: ${r.stderr}`).toBe(0));
    results.slice(0, 8).forEach((r, i) => expect(r.stdout).toBe(`run-${i}\n`));

    const images = readImages(store.root);
    expect(images.flatMap((i) => i.names).sort()).toEqual(['localhost/busybox:latest', 'localhost/par:1', 'localhost/par:2']);
    for (const l of images.flatMap((i) => i.layers)) expect(fs.existsSync(path.join(store.root, 'layers', l.slice(7), 'layer.json'))).toBe(true);
    expect(await psAllIds(store)).toEqual([]);
    expect(entries(path.join(store.root, 'containers'))).toEqual([]);
    expect((await runLodgerOk(['run', '--rm', 'par:1', 'echo', 'after'], { store })).stdout).toBe('after\n');
  });

  it('parallel imports of the same tarball under different names share one layer', async () => {
    const b = busyboxFixture()!;
    const results = await Promise.all(['same:1', 'same:2', 'same:3'].map((n) => runLodger(['import', b.tar, n], { store, timeoutMs: 120_000 })));
    results.forEach((r) => expect(r.code, r.stderr).toBe(0));
    expect(layerNames(store.root)).toHaveLength(1);
    expect(readImages(store.root).flatMap((i) => i.names).sort()).toEqual(['localhost/busybox:latest', 'localhost/same:1', 'localhost/same:2', 'localhost/same:3']);
  });

  it('parallel named runs: one name, one container (the others are refused, none half-made)', async () => {
    const results = await Promise.all(Array.from({ length: 4 }, () => runLodger(['run', '--name', 'only-one', 'busybox', 'true'], { store, timeoutMs: 120_000 })));
    expect(results.filter((r) => r.code === 0)).toHaveLength(1);
    for (const r of results.filter((x) => x.code !== 0)) {
      expect(r.code).toBe(125);
      expect(r.stderr).toMatch(/only-one/);
    }
    expect(await psAllIds(store)).toHaveLength(1);
    expect(entries(path.join(store.root, 'containers'))).toHaveLength(1);
  });
});

describe.skipIf(!ok)('a crash mid-import leaves the store usable', () => {
  let store: Store;
  let big: string;
  let fullMs = 0;
  beforeAll(async () => {
    // A tarball that takes a while to import: busybox plus a few thousand files and 64 MB of random data.
    const tree = path.join(work, 'big-tree');
    fs.cpSync(busyboxFixture()!.rootfs, tree, { recursive: true, verbatimSymlinks: true });
    fs.mkdirSync(path.join(tree, 'data'));
    for (let d = 0; d < 30; d++) {
      fs.mkdirSync(path.join(tree, 'data', `d${d}`));
      for (let f = 0; f < 100; f++) fs.writeFileSync(path.join(tree, 'data', `d${d}`, `f${f}`), `${d}/${f}\n`);
    }
    // Large enough that an import lasts a while on a quiet machine too (the kills land mid-way).
    for (let i = 0; i < 8; i++) fs.writeFileSync(path.join(tree, 'data', `blob${i}`), crypto.randomBytes(8 << 20));
    big = path.join(work, 'big.tar');
    await writeDirectoryTar(tree, big);
  });
  beforeEach(() => {
    store = makeStore('lodger-fnd-crash-');
  });
  afterEach(async () => {
    await store.cleanup();
  });

  it('a full import of the crash fixture completes and its image runs', async () => {
    const t0 = Date.now();
    await runLodgerOk(['import', big, 'big:full'], { store, timeoutMs: 120_000 });
    // The crash cases below kill at fractions of this duration.
    fullMs = Date.now() - t0;
    expect((await runLodgerOk(['run', '--rm', 'big:full', 'sh', '-c', 'ls /data | wc -l'], { store })).stdout.trim()).toBe('38');
  });

  const crashes: Array<[number, 'group' | 'cli']> = [
    [0.15, 'group'],
    [0.35, 'cli'],
    [0.6, 'group'],
    [0.85, 'cli'],
  ];
  for (const [fraction, who] of crashes) {
    const what = who === 'group' ? 'the CLI and its store worker' : 'the CLI alone';
    it(`SIGKILL of \`lodger import\` (${what}) at ${Math.round(fraction * 100)}% of its time: no half image; the next import and run work`, async () => {
      const delay = Math.max(50, Math.round((fullMs || 1500) * fraction));
      const cli = spawnLodger(['import', big, 'big:1'], { store });
      await new Promise((r) => setTimeout(r, delay));
      process.kill(who === 'group' ? -cli.pid! : cli.pid!, 'SIGKILL');
      await waitForExit(cli);
      if (who === 'cli') await new Promise((r) => setTimeout(r, 500)); // a worker left running may finish or die

      // What is listed is complete: every image's layers are there and marked complete.
      const listed = fs.existsSync(path.join(store.root, 'images.json')) ? readImages(store.root) : [];
      for (const img of listed) {
        expect(img.names).toEqual(['localhost/big:1']); // it finished before the kill
        for (const l of img.layers) expect(fs.existsSync(path.join(store.root, 'layers', l.slice(7), 'layer.json'))).toBe(true);
      }
      const images = await runLodgerOk(['images', '-q'], { store });
      expect(images.stdout.split('\n').filter(Boolean).length).toBe(listed.length);

      const again = await runLodger(['import', big, 'big:1'], { store, timeoutMs: 120_000 });
      expect(again.code, again.stderr).toBe(0);
      const r = await runLodger(['run', '--rm', 'big:1', 'sh', '-c', 'cat /data/d29/f99; ls /data/d7 | wc -l'], { store });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe('29/99\n100\n');
      expect(readImages(store.root).flatMap((i) => i.names)).toEqual(['localhost/big:1']);
      // Every layer directory left is a complete one.
      for (const l of layerNames(store.root)) expect(fs.existsSync(path.join(store.root, 'layers', l, 'layer.json'))).toBe(true);
    });
  }
});

describe.skipIf(!ok)('a layer is durable before the machine restarts, or not trusted after it', () => {
  let store: Store;
  beforeEach(() => {
    store = makeStore('lodger-fnd-durable-');
  });
  afterEach(async () => {
    await store.cleanup();
  });

  const bootId = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  const recordFile = (l: string) => path.join(store.root, 'layers', l, 'layer.json');
  const marks = () => layerNames(store.root).map((l) => (JSON.parse(fs.readFileSync(recordFile(l), 'utf8')) as { unsyncedBoot?: string }).unsyncedBoot);

  /** Waits for the detached syncer an import starts at its exit to clear every layer's mark. */
  async function waitDurable(): Promise<void> {
    for (let i = 0; i < 100 && marks().some((m) => m !== undefined); i++) await new Promise((r) => setTimeout(r, 100));
    expect(marks().filter((m) => m !== undefined), 'layers still marked unsynced 10 s after the import').toEqual([]);
  }

  it('an imported layer is trusted for this boot at once, and made durable by a syncer that then exits', async () => {
    await runLodgerOk(['import', busyboxFixture()!.tar, 'durable:1'], { store });
    // Usable at once: its mark (while the syncer has not cleared it yet) names this boot.
    for (const m of marks()) if (m !== undefined) expect(m).toBe(bootId);
    expect((await runLodgerOk(['run', '--rm', 'durable:1', 'echo', 'ok'], { store })).stdout).toBe('ok\n');
    await waitDurable();
    let left: string[] = [];
    for (let i = 0; i < 50; i++) {
      left = await ourProcesses('__sync-layers', store.root);
      if (left.length === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(left).toEqual([]);
  });

  it('a layer still marked with an earlier boot (power lost before its sync) is not used: run fails (125) saying what to do; import restores it', async () => {
    await runLodgerOk(['import', busyboxFixture()!.tar, 'durable:2'], { store });
    await waitDurable();
    // What a crash between a layer's record and its sync leaves behind, as the next boot sees it.
    for (const l of layerNames(store.root)) {
      const rec = JSON.parse(fs.readFileSync(recordFile(l), 'utf8')) as Record<string, unknown>;
      fs.writeFileSync(recordFile(l), JSON.stringify({ ...rec, unsyncedBoot: crypto.randomUUID() }));
    }
    const r = await runLodger(['run', '--rm', 'durable:2', 'true'], { store });
    expect(r.code, r.stderr).toBe(125);
    expect(r.stderr).toMatch(/image durable:2: layer sha256:[0-9a-f]{64} is missing from the store .*pull or load the image again/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    await runLodgerOk(['import', busyboxFixture()!.tar, 'durable:2'], { store });
    expect((await runLodgerOk(['run', '--rm', 'durable:2', 'echo', 'back'], { store })).stdout).toBe('back\n');
    await waitDurable();
  });
});
