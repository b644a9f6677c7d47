// `lodger pull`/`push` against a real registry through the CLI (issue 3): the merged view of a layered image with whiteouts, per storage driver; layer reuse; run --pull; digest references; images/inspect/tag/rmi/prune/system df on pulled images.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireSubids, runLodger, runLodgerOk } from '../helpers/cli';
import { cachedBusybox, pushOci, skopeoInspect, type BuiltImage } from '../helpers/fixtures';
import { subidRange } from '../helpers/prereqs';
import { registryPrereqs, startRegistry, type TestRegistry } from '../helpers/registry';
import {
  U1000_FILE, VIEW_SCRIPT, WHITEOUT_VIEW, buildTaggedBusybox, buildWhiteoutImage, expectFailure, imagesJson, inspectImage, layerDirs, normaliseView, pullPushScratch,
} from './pull-push-common';

const ready = registryPrereqs() && requireSubids();
const { scratch, newStore } = pullPushScratch('pullpush');

let reg: TestRegistry;
let wo: BuiltImage;
let bbA: BuiltImage;
let bbB: BuiltImage;
let woRef: string;

beforeAll(async () => {
  if (!ready) return;
  const { tar } = await cachedBusybox();
  reg = await startRegistry();
  wo = await buildWhiteoutImage(path.join(scratch, 'wo'), tar);
  bbA = await buildTaggedBusybox(path.join(scratch, 'bb'), tar, 'a', 'first');
  bbB = await buildTaggedBusybox(path.join(scratch, 'bb'), tar, 'b', 'second');
  woRef = `${reg.host}/layers/whiteouts:v1`;
  await pushOci(wo.dir, 'v1', woRef);
  await pushOci(bbA.dir, 'a', `${reg.host}/base/busybox:a`);
  await pushOci(bbB.dir, 'b', `${reg.host}/base/busybox:b`);
});


afterAll(async () => {
  await reg?.stop();
});

const blobGets = (digest: string) => reg.countRequests(new RegExp(`"GET /v2/[^ ]*/blobs/${digest}`));
const manifestGets = (repo: string) => reg.countRequests(new RegExp(`"(GET|HEAD) /v2/${repo}/manifests/`));

describe.runIf(ready)('pull: the merged view of a layered image', () => {
  it('pulls gzip, zstd and uncompressed layers and every storage driver shows exactly the merged view', async () => {
    const store = newStore();
    const pulled = await runLodgerOk(['pull', woRef], { store });
    expect(pulled.stdout.trim()).toBe(wo.configDigest);
    // Every layer is complete in the store; nothing half-made.
    const dirs = layerDirs(store);
    expect(dirs.complete.sort()).toEqual(wo.layers.map((l) => l.diffId).sort());
    expect(dirs.incomplete).toEqual([]);
    for (const driver of ['overlay', 'fuse-overlayfs', 'vfs']) {
      const r = await runLodger(['run', '--rm', '--storage-driver', driver, woRef, 'sh', '-c', VIEW_SCRIPT], { store });
      expect(r.code, `${driver}: ${r.stderr}`).toBe(0);
      expect(normaliseView(r.stdout), driver).toEqual(WHITEOUT_VIEW);
    }
  });

  it('keeps the setuid bit and ids inside, and stores uid 1000 as the subordinate id it maps to', async () => {
    const store = newStore();
    await runLodgerOk(['pull', '-q', woRef], { store });
    const out = await runLodgerOk(['run', '--rm', woRef, 'stat', '-c', '%a %u %g', '/usr/local/bin/suid', `/${U1000_FILE}`], { store });
    expect(out.stdout).toBe('4755 0 0\n640 1000 1000\n');
    // The kernel agrees: uid 1000 may read its 0640 file, another unprivileged user may not.
    expect((await runLodgerOk(['run', '--rm', '-u', '1000', woRef, 'cat', `/${U1000_FILE}`], { store })).stdout).toBe('mine\n');
    const other = await runLodger(['run', '--rm', '-u', '65534', woRef, 'cat', `/${U1000_FILE}`], { store });
    expect(other.code).toBe(1);
    expect(other.stderr).toMatch(/Permission denied/);
    const uidRange = subidRange('/etc/subuid')!;
    const gidRange = subidRange('/etc/subgid')!;
    // On the host the layer file belongs to subuid + 999 (container uid 1 is the range's first id).
    const onDisk = fs.lstatSync(path.join(store.root, 'layers', wo.layers[1].diffId.slice(7), 'diff', U1000_FILE));
    expect([onDisk.uid, onDisk.gid]).toEqual([uidRange.start + 999, gidRange.start + 999]);
    expect(onDisk.mode & 0o7777).toBe(0o640);
    // Root's files are the caller's own.
    const suid = fs.lstatSync(path.join(store.root, 'layers', wo.layers[1].diffId.slice(7), 'diff', 'usr/local/bin/suid'));
    expect([suid.uid, suid.mode & 0o7777]).toEqual([process.getuid!(), 0o4755]);
  });
});

describe.runIf(ready)('push', () => {
  it('pushes a pulled image byte for byte: same digests, blobs mounted or found, and it pulls back with the same view', async () => {
    const store = newStore();
    await runLodgerOk(['pull', woRef], { store });
    const dest = `${reg.host}/pushed/copy:v1`;
    const first = await runLodgerOk(['push', woRef, dest], { store });
    expect(first.stdout).toBe(`${dest}@${wo.manifestDigest}\n`);
    // Same registry, another repository: the layers are mounted from where they were pulled, not uploaded.
    for (const d of [...wo.layers.map((l) => l.digest), wo.configDigest]) expect(first.stderr).toContain(`Mounted blob ${d.slice(7, 19)}`);
    expect(reg.countRequests(/"(PUT|PATCH) \/v2\/pushed\/copy\/blobs\/uploads/)).toBe(0);
    const raw = await skopeoInspect(`docker://${dest}`, { raw: true });
    expect(raw).toEqual(wo.manifest);
    // Again: everything is there already.
    const again = await runLodgerOk(['push', '--quiet', woRef, dest], { store });
    expect(again.stdout).toBe(`${dest}@${wo.manifestDigest}\n`);
    const second = await runLodgerOk(['push', woRef, dest], { store });
    for (const l of wo.layers) expect(second.stderr).toContain(`Exists  blob ${l.digest.slice(7, 19)}`);

    const other = newStore();
    expect((await runLodgerOk(['pull', dest], { store: other })).stdout.trim()).toBe(wo.configDigest);
    const r = await runLodgerOk(['run', '--rm', dest, 'sh', '-c', VIEW_SCRIPT], { store: other });
    expect(normaliseView(r.stdout)).toEqual(WHITEOUT_VIEW);
  });

  it('pushes an imported image, which podman-compatible tools then read', async () => {
    const store = newStore();
    const { tar } = await cachedBusybox();
    await runLodgerOk(['import', '--change', 'CMD ["echo", "imported"]', tar, 'imported:1'], { store });
    const dest = `${reg.host}/pushed/imported:1`;
    const r = await runLodgerOk(['push', 'imported:1', dest], { store });
    const digest = r.stdout.trim().split('@')[1];
    const inspected = await skopeoInspect(`docker://${dest}`);
    expect(inspected.Digest).toBe(digest);
    expect((inspected.Layers as string[]).length).toBe(1);
    const other = newStore();
    await runLodgerOk(['pull', dest], { store: other });
    expect((await runLodgerOk(['run', '--rm', dest], { store: other })).stdout).toBe('imported\n');
    // An image that is not in the store cannot be pushed.
    expectFailure(await runLodger(['push', 'nothere:1', `${reg.host}/pushed/nothere:1`], { store }), /no such image/i);
  });
});

describe.runIf(ready)('pull: what is fetched', () => {
  it('does not download a layer the store already has', async () => {
    const store = newStore();
    const [busyboxLayer, whatA] = bbA.layers;
    const before = { bb: blobGets(busyboxLayer.digest), a: blobGets(whatA.digest), b: blobGets(bbB.layers[1].digest) };
    await runLodgerOk(['pull', `${reg.host}/base/busybox:a`], { store });
    expect(blobGets(busyboxLayer.digest)).toBe(before.bb + 1);
    expect(blobGets(whatA.digest)).toBe(before.a + 1);
    // b shares the busybox layer: only its own layer is fetched.
    await runLodgerOk(['pull', `${reg.host}/base/busybox:b`], { store });
    expect(blobGets(busyboxLayer.digest)).toBe(before.bb + 1);
    expect(blobGets(bbB.layers[1].digest)).toBe(before.b + 1);
    // Pulling again fetches no layer at all, and both images run.
    await runLodgerOk(['pull', `${reg.host}/base/busybox:a`], { store });
    expect(blobGets(busyboxLayer.digest)).toBe(before.bb + 1);
    expect(blobGets(whatA.digest)).toBe(before.a + 1);
    expect((await runLodgerOk(['run', '--rm', `${reg.host}/base/busybox:a`], { store })).stdout).toBe('first\n');
    expect((await runLodgerOk(['run', '--rm', `${reg.host}/base/busybox:b`], { store })).stdout).toBe('second\n');
  });

  it('pulls by digest: name@sha256:… gives an image without a tag that runs by that reference', async () => {
    const store = newStore();
    const byDigest = `${reg.host}/layers/whiteouts@${wo.manifestDigest}`;
    const r = await runLodgerOk(['pull', byDigest], { store });
    expect(r.stdout.trim()).toBe(wo.configDigest);
    const [img] = await imagesJson(store);
    expect(img.Id).toBe(wo.configDigest);
    expect(img.RepoTags).toEqual([]);
    expect(img.RepoDigests).toEqual([byDigest]);
    expect((await runLodgerOk(['run', '--rm', byDigest, 'cat', '/data/keep.txt'], { store })).stdout).toBe('keep\n');
    // A digest the registry does not have fails cleanly.
    const missing = await runLodger(['pull', `${reg.host}/layers/whiteouts@sha256:${'0'.repeat(64)}`], { store });
    expectFailure(missing, /not found|unknown|no such/i);
  });

  it('fails with 125 naming the image when the tag or repository does not exist', async () => {
    const store = newStore();
    expectFailure(await runLodger(['pull', `${reg.host}/layers/whiteouts:nope`], { store }), /whiteouts:nope/);
    expectFailure(await runLodger(['pull', `${reg.host}/no/such/repo:1`], { store }), /no\/such\/repo/);
    expect(await imagesJson(store)).toEqual([]);
  });
});

describe.runIf(ready)('run --pull', () => {
  it('never: refuses a missing image without asking the registry; missing: pulls once; always: fetches the new tag', async () => {
    const store = newStore();
    const { tar } = await cachedBusybox();
    const repo = 'pullpolicy/img';
    const ref = `${reg.host}/${repo}:t`;
    const v1 = await buildTaggedBusybox(path.join(scratch, 'policy'), tar, 'one', 'version one');
    const v2 = await buildTaggedBusybox(path.join(scratch, 'policy'), tar, 'two', 'version two');
    await pushOci(v1.dir, 'one', ref);

    const m0 = manifestGets(repo);
    const never = await runLodger(['run', '--rm', '--pull=never', ref], { store });
    expectFailure(never, /not in the local store/, /lodger pull/);
    expect(manifestGets(repo)).toBe(m0);

    expect((await runLodgerOk(['run', '--rm', '--pull=missing', ref], { store })).stdout).toBe('version one\n');
    const m1 = manifestGets(repo);
    expect(m1).toBeGreaterThan(m0);
    // Present now: missing (and the default) do not ask the registry again.
    expect((await runLodgerOk(['run', '--rm', '--pull=missing', ref], { store })).stdout).toBe('version one\n');
    expect((await runLodgerOk(['run', '--rm', ref], { store })).stdout).toBe('version one\n');
    expect(manifestGets(repo)).toBe(m1);

    // The tag moves on in the registry.
    await pushOci(v2.dir, 'two', ref);
    expect((await runLodgerOk(['run', '--rm', '--pull=never', ref], { store })).stdout).toBe('version one\n');
    expect((await runLodgerOk(['run', '--rm', '--pull=missing', ref], { store })).stdout).toBe('version one\n');
    expect((await runLodgerOk(['run', '--rm', '--pull=always', ref], { store })).stdout).toBe('version two\n');
    expect(manifestGets(repo)).toBeGreaterThan(m1);
    // The name moved to the new image; the old one stays, untagged.
    const imgs = await imagesJson(store);
    expect(imgs.find((i) => i.Id === v2.configDigest)?.RepoTags).toEqual([ref]);
    expect(imgs.find((i) => i.Id === v1.configDigest)?.RepoTags).toEqual([]);
    // always with an unreachable registry fails, even though an image by that name is present.
    const gone = await runLodger(['run', '--rm', '--pull=always', `127.0.0.1:1/${repo}:t`], { store });
    expect(gone.code).toBe(125);
  });
});

describe.runIf(ready)('image commands on pulled images', () => {
  it('images --format json and image inspect show RepoTags, RepoDigests and the layers', async () => {
    const store = newStore();
    await runLodgerOk(['pull', woRef], { store });
    const [img] = await imagesJson(store);
    const repoDigest = `${reg.host}/layers/whiteouts@${wo.manifestDigest}`;
    expect(img).toMatchObject({ Id: wo.configDigest, RepoTags: [woRef], RepoDigests: [repoDigest], Digest: wo.manifestDigest, Layers: wo.layers.map((l) => l.diffId) });
    expect(img.Size).toBeGreaterThan(1_000_000);
    const doc = await inspectImage(store, woRef);
    expect(doc.Id).toBe(wo.configDigest);
    expect(doc.RepoTags).toEqual([woRef]);
    expect(doc.RepoDigests).toEqual([repoDigest]);
    expect(doc.RootFS).toEqual({ Type: 'layers', Layers: wo.layers.map((l) => l.diffId) });
    expect(doc.Config.Labels).toEqual({ 'org.lodger.test': 'whiteouts' });
    expect(doc.Config.Cmd).toEqual(['sh']);
    // By id prefix and by digest reference too.
    expect((await inspectImage(store, wo.configDigest.slice(7, 19))).Id).toBe(wo.configDigest);
    expect((await inspectImage(store, repoDigest)).Id).toBe(wo.configDigest);
    const tpl = await runLodgerOk(['image', 'inspect', '-f', '{{.Id}} {{len .RootFS.Layers}}', woRef], { store });
    expect(tpl.stdout).toBe(`${wo.configDigest} 3\n`);
  });

  it('tag adds a name; rmi of one name untags; rmi of the last removes the layers no other image uses', async () => {
    const store = newStore();
    await runLodgerOk(['pull', woRef], { store });
    await runLodgerOk(['pull', `${reg.host}/base/busybox:a`], { store });
    await runLodgerOk(['tag', woRef, 'mine:1', `${reg.host}/other/name:2`], { store });
    let imgs = await imagesJson(store);
    expect(imgs.find((i) => i.Id === wo.configDigest)?.RepoTags.sort()).toEqual([woRef, `${reg.host}/other/name:2`, 'localhost/mine:1'].sort());
    const table = (await runLodgerOk(['images'], { store })).stdout;
    // Local names show as podman shows them, under localhost/.
    expect(table).toMatch(/^localhost\/mine\s+1\s+/m);
    expect(table).toMatch(new RegExp(`^${reg.host}/other/name\\s+2\\s+`, 'm'));
    // The new name runs the same image.
    expect((await runLodgerOk(['run', '--rm', 'mine:1', 'cat', '/opq/new'], { store })).stdout).toBe('new\n');

    const untag = await runLodgerOk(['rmi', 'mine:1'], { store });
    expect(untag.stdout).toMatch(/Untagged: .*mine:1/);
    await runLodgerOk(['rmi', `${reg.host}/other/name:2`], { store });
    expect(layerDirs(store).complete).toHaveLength(4);

    const del = await runLodgerOk(['rmi', woRef], { store });
    expect(del.stdout).toContain(`Deleted: ${wo.configDigest}`);
    imgs = await imagesJson(store);
    expect(imgs.map((i) => i.Id)).toEqual([bbA.configDigest]);
    // The whiteout image's own layers are gone; the busybox layer busybox:a uses stays.
    expect(layerDirs(store).complete.sort()).toEqual(bbA.layers.map((l) => l.diffId).sort());
    expect(layerDirs(store).incomplete).toEqual([]);
    expect(fs.existsSync(path.join(store.root, 'blobs', 'sha256', wo.layers[2].digest.slice(7)))).toBe(false);
    expect((await runLodgerOk(['run', '--rm', `${reg.host}/base/busybox:a`], { store })).stdout).toBe('first\n');
    const again = await runLodger(['rmi', woRef], { store });
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/no such image/i);
  });

  it('rmi refuses an image a container uses; image prune removes dangling images, -a every unused one', async () => {
    const store = newStore();
    await runLodgerOk(['pull', `${reg.host}/layers/whiteouts@${wo.manifestDigest}`], { store });
    await runLodgerOk(['pull', `${reg.host}/base/busybox:a`], { store });
    await runLodgerOk(['pull', `${reg.host}/base/busybox:b`], { store });
    await runLodgerOk(['create', '--name', 'user-of-b', `${reg.host}/base/busybox:b`], { store });
    // rmi's own status for a conflict is 1, as docker's.
    const inUse = await runLodger(['rmi', `${reg.host}/base/busybox:b`], { store });
    expect(inUse.code).toBe(1);
    expect(inUse.stderr).toMatch(/used by container .*user-of-b/);

    // Dangling: the digest-only pull.
    const p1 = await runLodgerOk(['image', 'prune', '-f'], { store });
    expect(p1.stdout).toContain(wo.configDigest);
    expect((await imagesJson(store)).map((i) => i.Id).sort()).toEqual([bbA.configDigest, bbB.configDigest].sort());
    expect(layerDirs(store).complete).toHaveLength(3);

    // -a: a (unused) goes, b (used) stays, and so does the shared busybox layer.
    const p2 = await runLodgerOk(['image', 'prune', '-a', '-f'], { store });
    expect(p2.stdout).toContain(bbA.configDigest);
    expect((await imagesJson(store)).map((i) => i.Id)).toEqual([bbB.configDigest]);
    expect(layerDirs(store).complete.sort()).toEqual(bbB.layers.map((l) => l.diffId).sort());
    expect((await runLodgerOk(['start', '-a', 'user-of-b'], { store })).stdout).toBe('second\n');
  });

  it('system df counts pulled images, shared layers once, and what removing unused ones would reclaim', async () => {
    const store = newStore();
    const a = `${reg.host}/base/busybox:a`;
    const b = `${reg.host}/base/busybox:b`;
    await runLodgerOk(['pull', a], { store });
    await runLodgerOk(['pull', b], { store });
    const df = async () => {
      const rows = (await runLodgerOk(['system', 'df', '--format', 'json'], { store })).stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, string>);
      return Object.fromEntries(rows.map((r) => [r.Type, r]));
    };
    const bytes = (s: string) => {
      const m = /^([0-9.]+)\s*([kMG]?B)/.exec(s);
      if (!m) throw new Error(`not a size: ${s}`);
      return Number(m[1]) * { B: 1, kB: 1e3, MB: 1e6, GB: 1e9 }[m[2] as 'B'];
    };
    const sizeA = (await inspectImage(store, a)).Size as number;
    const sizeB = (await inspectImage(store, b)).Size as number;
    let rows = await df();
    expect(rows.Images).toMatchObject({ TotalCount: '2', Active: '0' });
    expect(rows.Layers).toMatchObject({ TotalCount: '3' });
    // The busybox layer both images hold counts once: the total is about one image's size, not two.
    expect(bytes(rows.Images.Size)).toBeGreaterThan(sizeA * 0.98);
    expect(bytes(rows.Images.Size)).toBeLessThan((sizeA + sizeB) * 0.6);
    expect(rows.Images.Reclaimable).toMatch(/\(100%\)$/);

    // A container of a: a is active, and only b's own small layer could be reclaimed.
    await runLodgerOk(['create', '--name', 'c-of-a', a], { store });
    rows = await df();
    expect(rows.Images).toMatchObject({ TotalCount: '2', Active: '1' });
    expect(rows.Containers).toMatchObject({ TotalCount: '1', Active: '0' });
    expect(bytes(rows.Images.Reclaimable)).toBeLessThan(10_000);
    const verbose = (await runLodgerOk(['system', 'df', '-v'], { store })).stdout;
    expect(verbose).toMatch(new RegExp(`${reg.host}/base/busybox\\s+a\\s+${bbA.configDigest.slice(7, 19)}.*\\s1\\n`));
    expect(verbose).toMatch(/c-of-a/);

    // After the container and a are gone, one image remains.
    await runLodgerOk(['rm', 'c-of-a'], { store });
    await runLodgerOk(['rmi', a], { store });
    rows = await df();
    expect(rows.Images).toMatchObject({ TotalCount: '1', Active: '0' });
    expect(rows.Layers).toMatchObject({ TotalCount: '2' });
  });
});
