// lodger against rootless podman (issue 3): the root filesystem both assemble from the same pulled image, file by file (whiteout image and debootstrap), and images moving between them through a registry and through save/load archives.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requirePrereq, requireSubids, runLodgerOk, type Store } from '../helpers/cli';
import { buildOciLayout, cachedBusybox, debootstrapTarball, hasDebootstrapFixture, pushOci, type BuiltImage } from '../helpers/fixtures';
import { skopeoInspect } from '../helpers/skopeo';
import { registryPrereqs, startRegistry, type TestRegistry } from '../helpers/registry';
import {
  LINK_HEADER_LAYER, VIEW_SCRIPT, WHITEOUT_VIEW, buildWhiteoutImage, diffListings, imagesJson, makePodman, normaliseView, podmanPrereqs, tarListing, type FsEntry, type Podman, pullPushScratch,
} from './pull-push-common';

const ready = registryPrereqs() && requireSubids() && podmanPrereqs();
const { scratch, newStore } = pullPushScratch('pp-podman');

let reg: TestRegistry;
let podman: Podman;
let wo: BuiltImage;
let woRef: string;
/** The same tree with gzip layers only: what a docker-archive can hold. */
let woGzRef: string;

beforeAll(async () => {
  if (!ready) return;
  const { tar } = await cachedBusybox();
  reg = await startRegistry();
  podman = makePodman();
  wo = await buildWhiteoutImage(path.join(scratch, 'wo'), tar);
  woRef = `${reg.host}/interop/whiteouts:v1`;
  await pushOci(wo.dir, 'v1', woRef);
  const gz = await buildWhiteoutImage(path.join(scratch, 'wo-gz'), tar, 'v1', ['gzip', 'gzip', 'gzip']);
  woGzRef = `${reg.host}/interop/whiteouts-gzip:v1`;
  await pushOci(gz.dir, 'v1', woGzRef);
  const odd = await buildOciLayout(path.join(scratch, 'odd'), { tag: 'v1', layers: [{ tarFile: tar }, { files: LINK_HEADER_LAYER }], config: { Cmd: ['sh'] } });
  await pushOci(odd.dir, 'v1', `${reg.host}/interop/link-header:v1`);
});


afterAll(async () => {
  await podman?.cleanup();
  await reg?.stop();
});

/** The root filesystem podman assembles for REF (pulled from the test registry), as a tar listing. */
async function podmanRootfs(ref: string, name: string): Promise<Map<string, FsEntry>> {
  await podman.ok(['pull', '--quiet', '--tls-verify=false', ref]);
  await podman.ok(['create', '--name', name, '--network', 'none', ref, 'true']);
  const out = path.join(scratch, `${name}.podman.tar`);
  await podman.ok(['export', '-o', out, name]);
  await podman.ok(['rm', name]);
  try { return await tarListing(out); } finally { fs.rmSync(out, { force: true }); }
}

/** The root filesystem lodger assembles for REF in STORE, through `lodger export`. */
async function lodgerRootfs(store: Store, ref: string, name: string): Promise<Map<string, FsEntry>> {
  await runLodgerOk(['create', '--name', name, ref, 'true'], { store });
  const out = path.join(scratch, `${name}.lodger.tar`);
  await runLodgerOk(['export', '-o', out, name], { store, timeoutMs: 120_000 });
  await runLodgerOk(['rm', name], { store });
  try { return await tarListing(out); } finally { fs.rmSync(out, { force: true }); }
}

/** podman run --rm IMAGE sh -c VIEW_SCRIPT, normalised. */
async function podmanView(image: string): Promise<string[]> {
  return normaliseView(await podman.ok(['run', '--rm', '--network', 'none', image, 'sh', '-c', VIEW_SCRIPT]));
}

describe.runIf(ready)('the same rootfs as podman', () => {
  it('the whiteout image: lodger and podman assemble identical trees (paths, types, modes, owners, links, contents)', async () => {
    const store = newStore();
    await runLodgerOk(['pull', woRef], { store });
    const [mine, theirs] = [await lodgerRootfs(store, woRef, 'wo-l'), await podmanRootfs(woRef, 'wo-p')];
    expect(diffListings(mine, theirs, ['lodger', 'podman'])).toEqual([]);
    // And the tree is the one the layers describe, not merely the same mistake twice.
    expect(mine.has('opq/new') && !mine.has('opq/a') && !mine.has('gone') && !mine.has('data/gone.txt') && !mine.has('bin/vi')).toBe(true);
    expect(mine.get('hard/a')?.links).toBe('hard/a hard/b');
    expect(mine.get('home/u1000/file')).toMatchObject({ uid: 1000, gid: 1000, mode: 0o640 });
    expect(mine.get('usr/local/bin/suid')).toMatchObject({ mode: 0o4755 });
    expect(mine.get('links/odd')).toMatchObject({ type: 'symlink', target: '..//data/./keep.txt' });
    expect(mine.size).toBeGreaterThan(300);
  });

  it('a hard link whose header differs from its target: the link header applies, as with podman', async () => {
    const store = newStore();
    const ref = `${reg.host}/interop/link-header:v1`;
    await runLodgerOk(['pull', ref], { store });
    const [mine, theirs] = [await lodgerRootfs(store, ref, 'lh-l'), await podmanRootfs(ref, 'lh-p')];
    expect(theirs.get('odd/file')).toMatchObject({ mode: 0o755, uid: 1000, gid: 1000, links: 'odd/file odd/link' });
    expect(diffListings(mine, theirs, ['lodger', 'podman'])).toEqual([]);
  });

  it.runIf(requirePrereq(hasDebootstrapFixture(), 'the debootstrap fixture (sudo bash scripts/build-debootstrap-fixture.sh)'))(
    'debootstrap: imported and pushed by lodger, pulled by both, the trees are identical and match the tarball', async () => {
      const tarball = await debootstrapTarball();
      const ref = `${reg.host}/interop/debian:bookworm`;
      const src = newStore();
      await runLodgerOk(['import', tarball, 'deb:1'], { store: src, timeoutMs: 240_000 });
      const pushed = await runLodgerOk(['push', 'deb:1', ref], { store: src, timeoutMs: 240_000 });
      expect(pushed.stdout).toMatch(new RegExp(`^${ref}@sha256:[0-9a-f]{64}\\n$`));
      await src.cleanup();

      const store = newStore();
      await runLodgerOk(['pull', ref], { store, timeoutMs: 240_000 });
      const mine = await lodgerRootfs(store, ref, 'deb-l');
      const theirs = await podmanRootfs(ref, 'deb-p');
      expect(diffListings(mine, theirs, ['lodger', 'podman'])).toEqual([]);
      // Both equal the tarball itself, except for what a rootless runtime cannot or does not keep:
      // device nodes (/dev is the runtime's), and the mountpoint directories it owns.
      const original = await tarListing(tarball);
      expect(diffListings(mine, original, ['lodger', 'tarball'])).toEqual([]);
      expect(mine.size).toBeGreaterThan(3000);
      expect([...mine.values()].filter((e) => e.links).length).toBeGreaterThan(0);
      // podman runs what lodger pushed.
      expect(await podman.ok(['run', '--rm', '--network', 'none', ref, 'cat', '/etc/debian_version'])).toMatch(/^12\./);
      await podman.ok(['rmi', ref]);
    }, 600_000);
});

describe.runIf(ready)('images moving between lodger and podman', () => {
  it('what lodger pushes, podman pulls and runs with the same view; digests are kept', async () => {
    const store = newStore();
    await runLodgerOk(['pull', woRef], { store });
    const dest = `${reg.host}/interop/from-lodger:v1`;
    const pushed = await runLodgerOk(['push', woRef, dest], { store });
    expect(pushed.stdout.trim()).toBe(`${dest}@${wo.manifestDigest}`);
    await podman.ok(['pull', '--quiet', '--tls-verify=false', dest]);
    expect(await podmanView(dest)).toEqual(WHITEOUT_VIEW);
    const digest = (await podman.ok(['image', 'inspect', '--format', '{{.Digest}}', dest])).trim();
    expect(digest).toBe(wo.manifestDigest);
    await podman.ok(['rmi', dest]);
  });

  it.each(['gzip', 'zstd'])('what podman pushes (%s), lodger pulls and runs with the same view', async (compression) => {
    const store = newStore();
    await podman.ok(['pull', '--quiet', '--tls-verify=false', woRef]);
    const dest = `${reg.host}/interop/from-podman-${compression}:v1`;
    await podman.ok(['push', '--quiet', '--tls-verify=false', '--compression-format', compression, woRef, dest]);
    const pushedTypes = JSON.stringify(await skopeoInspect(`docker://${dest}`, { raw: true }));
    expect(pushedTypes).toContain(compression === 'zstd' ? 'tar+zstd' : 'gzip');
    const r = await runLodgerOk(['pull', dest], { store });
    expect(r.stdout.trim()).toMatch(/^sha256:[0-9a-f]{64}$/);
    const out = await runLodgerOk(['run', '--rm', dest, 'sh', '-c', VIEW_SCRIPT], { store });
    expect(normaliseView(out.stdout)).toEqual(WHITEOUT_VIEW);
    await podman.ok(['rmi', '--force', woRef, dest]).catch(() => undefined);
  });

  it.each(['docker-archive', 'oci-archive'])('lodger save --format %s loads in podman and runs with the same view', async (format) => {
    const store = newStore();
    await runLodgerOk(['pull', woRef], { store });
    const archive = path.join(scratch, `lodger-save.${format}.tar`);
    await runLodgerOk(['save', '--format', format, '-o', archive, woRef], { store });
    const loaded = await podman.ok(['load', '-i', archive]);
    expect(loaded).toContain(woRef);
    expect(await podmanView(woRef)).toEqual(WHITEOUT_VIEW);
    expect((await podman.ok(['image', 'inspect', '--format', '{{.Id}}', woRef])).trim()).toBe(wo.configDigest.slice(7));
    await podman.ok(['rmi', woRef]);
    fs.rmSync(archive, { force: true });
  });

  // podman cannot write zstd layers into a docker-archive: that one saves the gzip-only variant.
  it.each(['docker-archive', 'oci-archive'])('podman save --format %s loads in lodger and runs with the same view', async (format) => {
    const store = newStore();
    const ref = format === 'docker-archive' ? woGzRef : woRef;
    await podman.ok(['pull', '--quiet', '--tls-verify=false', ref]);
    const archive = path.join(scratch, `podman-save.${format}.tar`);
    await podman.ok(['save', '--format', format, '-o', archive, ref]);
    const loaded = await runLodgerOk(['load', '-i', archive], { store });
    expect(loaded.stdout).toContain(`Loaded image: ${ref}`);
    const [img] = await imagesJson(store);
    expect(img.RepoTags).toEqual([ref]);
    expect(img.Layers).toEqual(wo.layers.map((l) => l.diffId));
    if (ref === woRef) expect(img.Id).toBe(wo.configDigest);
    const out = await runLodgerOk(['run', '--rm', ref, 'sh', '-c', VIEW_SCRIPT], { store });
    expect(normaliseView(out.stdout)).toEqual(WHITEOUT_VIEW);
    // What lodger loaded it can push, and podman can pull that again.
    const dest = `${reg.host}/interop/reloaded-${format}:v1`;
    await runLodgerOk(['push', ref, dest], { store });
    await podman.ok(['rmi', ref]);
    await podman.ok(['pull', '--quiet', '--tls-verify=false', dest]);
    expect(await podmanView(dest)).toEqual(WHITEOUT_VIEW);
    await podman.ok(['rmi', dest]);
    fs.rmSync(archive, { force: true });
  });
});

