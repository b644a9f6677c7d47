// `lodger pull` against registries that lie, break or are cut off (issue 3): tampered, longer and dropped blobs, altered manifests, lying diff_ids, killed pulls and schema 1 — never a half image in the store, and the next pull works.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { killLodgers, requireSubids, runLodger, runLodgerOk, spawnLodger, waitForExit, type Store } from '../helpers/cli';
import { blobPath, cachedBusybox, pushOci, type BuiltImage } from '../helpers/fixtures';
import { registryPrereqs, startRegistry, type TestRegistry } from '../helpers/registry';
import {
  blobLeftovers, buildBigImage, buildWhiteoutImage, expectBlobsIntact, expectFailure, imagesJson, layerDirs, processesMentioning, startProxy, startSchema1Server, type Proxy, pullPushScratch,
} from './pull-push-common';

const ready = registryPrereqs() && requireSubids();
const { scratch, newStore } = pullPushScratch('pp-integrity');

let reg: TestRegistry;
let proxy: Proxy;
let wo: BuiltImage;
let big: BuiltImage & { fileSha256: string[] };

/** The whiteout image with a config whose last diff_id is wrong (the blobs themselves are intact). */
async function lyingImage(dir: string): Promise<BuiltImage> {
  const { tar } = await cachedBusybox();
  const img = await buildWhiteoutImage(dir, tar);
  const config = JSON.parse(JSON.stringify(img.config)) as { rootfs: { diff_ids: string[] } };
  config.rootfs.diff_ids[2] = `sha256:${createHash('sha256').update('not this layer').digest('hex')}`;
  const cfg = Buffer.from(JSON.stringify(config));
  const cfgDigest = `sha256:${createHash('sha256').update(cfg).digest('hex')}`;
  fs.writeFileSync(blobPath(dir, cfgDigest), cfg);
  const manifest = { ...img.manifest, config: { ...(img.manifest.config as object), digest: cfgDigest, size: cfg.length } };
  const mb = Buffer.from(JSON.stringify(manifest));
  const mDigest = `sha256:${createHash('sha256').update(mb).digest('hex')}`;
  fs.writeFileSync(blobPath(dir, mDigest), mb);
  const index = JSON.parse(fs.readFileSync(path.join(dir, 'index.json'), 'utf8'));
  index.manifests.push({ mediaType: img.manifest.mediaType, digest: mDigest, size: mb.length, annotations: { 'org.opencontainers.image.ref.name': 'lie' } });
  fs.writeFileSync(path.join(dir, 'index.json'), JSON.stringify(index));
  return { ...img, tag: 'lie', manifestDigest: mDigest, configDigest: cfgDigest, manifest, config };
}

beforeAll(async () => {
  if (!ready) return;
  const { tar } = await cachedBusybox();
  reg = await startRegistry();
  proxy = await startProxy(reg.host);
  wo = await buildWhiteoutImage(path.join(scratch, 'wo'), tar);
  await pushOci(wo.dir, 'v1', `${reg.host}/integrity/wo:v1`);
  big = await buildBigImage(path.join(scratch, 'big'), tar, 2, 8);
  await pushOci(big.dir, 'big', `${reg.host}/integrity/big:1`);
  const liar = await lyingImage(path.join(scratch, 'liar'));
  await pushOci(liar.dir, 'lie', `${reg.host}/integrity/liar:1`);
});

afterEach(async () => {
  killLodgers();
  if (proxy) proxy.fault = { kind: 'none' };
});

afterAll(async () => {
  await proxy?.close();
  await reg?.stop();
});

/** Nothing of a failed pull is visible or half-made: no image, only complete layers, no temp blobs, every blob intact. */
async function expectNoHalfImage(store: Store): Promise<void> {
  expect(await imagesJson(store)).toEqual([]);
  const dirs = layerDirs(store);
  expect(dirs.incomplete).toEqual([]);
  expect(blobLeftovers(store)).toEqual([]);
  expectBlobsIntact(store);
}

/** The whiteout image pulled through the proxy with no fault runs. */
async function expectGoodPull(store: Store, ref = `${proxy.host}/integrity/wo:v1`): Promise<void> {
  proxy.fault = { kind: 'none' };
  const r = await runLodgerOk(['pull', ref], { store });
  expect(r.stdout.trim()).toBe(ref.includes('big') ? big.configDigest : wo.configDigest);
  const out = await runLodgerOk(['run', '--rm', ref, 'sh', '-c', ref.includes('big') ? 'wc -c < /big1.bin' : 'cat /opq/new /data/keep.txt'], { store });
  expect(out.stdout).toBe(ref.includes('big') ? `${8 << 20}\n` : 'new\nkeep\n');
  const dirs = layerDirs(store);
  expect(dirs.incomplete).toEqual([]);
  expect(dirs.staging).toEqual([]);
  expect(blobLeftovers(store)).toEqual([]);
}

describe.runIf(ready)('a registry that serves the wrong bytes', () => {
  it.each([
    ['the gzip layer', 0],
    ['the zstd layer', 1],
    ['the uncompressed layer', 2],
  ])('a changed byte in %s fails the pull (125, digest named) and leaves no half image', async (_what, i) => {
    const store = newStore();
    const layer = wo.layers[i];
    proxy.fault = { kind: 'flip', digest: layer.digest };
    const r = await runLodger(['pull', `${proxy.host}/integrity/wo:v1`], { store });
    expectFailure(r, new RegExp(layer.digest.slice(7, 19)));
    expect(r.stderr).toMatch(/match|corrupt|digest/i);
    await expectNoHalfImage(store);
    // The tampered blob is not in the store under its name.
    expect(fs.existsSync(path.join(store.root, 'blobs', 'sha256', layer.digest.slice(7)))).toBe(false);
    await expectGoodPull(store);
  });

  it('a changed config blob fails the pull', async () => {
    const store = newStore();
    proxy.fault = { kind: 'flip', digest: wo.configDigest };
    expectFailure(await runLodger(['pull', `${proxy.host}/integrity/wo:v1`], { store }), new RegExp(wo.configDigest.slice(7, 19)));
    await expectNoHalfImage(store);
    await expectGoodPull(store);
  });

  it.each([
    ['with a Content-Length that says so', true],
    ['without a Content-Length', false],
  ])('a blob longer than the manifest says, %s, fails the pull', async (_what, announce) => {
    const store = newStore();
    proxy.fault = { kind: 'longer', digest: wo.layers[1].digest, announce };
    const r = await runLodger(['pull', `${proxy.host}/integrity/wo:v1`], { store });
    expectFailure(r, new RegExp(`${wo.layers[1].size}`), /more than|announces/);
    await expectNoHalfImage(store);
    await expectGoodPull(store);
  });

  it('a manifest that differs from the digest the registry states is refused; by digest, any change is', async () => {
    const store = newStore();
    proxy.fault = { kind: 'manifest' };
    expectFailure(await runLodger(['pull', `${proxy.host}/integrity/wo:v1`], { store }), /manifest/, new RegExp(wo.manifestDigest.slice(7, 19)));
    expectFailure(await runLodger(['pull', `${proxy.host}/integrity/wo@${wo.manifestDigest}`], { store }), new RegExp(wo.manifestDigest.slice(7, 19)));
    await expectNoHalfImage(store);
    await expectGoodPull(store);
  });

  it('a config whose diff_id does not match the layer fails the pull and keeps no such layer', async () => {
    const store = newStore();
    const r = await runLodger(['pull', `${reg.host}/integrity/liar:1`], { store });
    expectFailure(r, /diff_id/);
    await expectNoHalfImage(store);
    // Layers verified before the lie may stay (they are complete and correct); the lying one is nowhere.
    for (const d of layerDirs(store).complete) expect(wo.layers.map((l) => l.diffId)).toContain(d);
    expect(layerDirs(store).complete).not.toContain(wo.layers[2].diffId);
    await expectGoodPull(store, `${reg.host}/integrity/wo:v1`);
  });

  it('a registry speaking Docker schema 1 is refused with a clear message', async () => {
    const store = newStore();
    const old = await startSchema1Server();
    try {
      for (const repo of ['signed/img', 'plain/img']) {
        const r = await runLodger(['pull', `${old.host}/${repo}:latest`], { store });
        expectFailure(r, /schema 1/, new RegExp(repo));
      }
      expect(await imagesJson(store)).toEqual([]);
    } finally {
      await old.close();
    }
  });
});

describe.runIf(ready)('pulls cut short', () => {
  it('a connection dropped mid-blob once is resumed and the pull succeeds', async () => {
    const store = newStore();
    const digest = big.layers[1].digest;
    proxy.fault = { kind: 'drop', digest, times: 1 };
    const before = proxy.requests.length;
    const r = await runLodgerOk(['pull', `${proxy.host}/integrity/big:1`], { store });
    expect(r.stdout.trim()).toBe(big.configDigest);
    expect(proxy.requests.slice(before).filter((l) => l === `GET /v2/integrity/big/blobs/${digest}`)).toHaveLength(2);
    const out = await runLodgerOk(['run', '--rm', `${proxy.host}/integrity/big:1`, 'sh', '-c', 'sha256sum /big0.bin /big1.bin | cut -c1-64'], { store });
    expect(out.stdout).toBe(big.fileSha256.map((h) => h + '\n').join(''));
    expectBlobsIntact(store);
  });

  it('a layer still marked unsynced by an earlier boot (power lost before its sync) is fetched again by the next pull', async () => {
    const store = newStore();
    const ref = `${proxy.host}/integrity/wo:v1`;
    await runLodgerOk(['pull', ref], { store });
    const records = () => layerDirs(store).complete.map((d) => path.join(store.root, 'layers', d.slice(7), 'layer.json'));
    const marked = () => records().filter((f) => (JSON.parse(fs.readFileSync(f, 'utf8')) as { unsyncedBoot?: string }).unsyncedBoot !== undefined);
    for (let i = 0; i < 100 && marked().length > 0; i++) await new Promise((r) => setTimeout(r, 100));
    expect(marked(), 'layers still unsynced 10 s after the pull').toEqual([]);
    // What a crash between a layer's record and its sync leaves, as the next boot sees it.
    for (const f of records()) fs.writeFileSync(f, JSON.stringify({ ...JSON.parse(fs.readFileSync(f, 'utf8')), unsyncedBoot: 'an-earlier-boot' }));
    const r = await runLodger(['run', '--rm', ref, 'true'], { store });
    expect(r.code, r.stderr).toBe(125);
    expect(r.stderr).toMatch(/is missing from the store .*pull or load the image again/);
    proxy.requests.length = 0;
    await expectGoodPull(store);
    for (const l of wo.layers) expect(proxy.requests).toContain(`GET /v2/integrity/wo/blobs/${l.digest}`);
  });

  it('a connection dropped mid-blob every time fails the pull (125) without a half image; the next pull completes', async () => {
    const store = newStore();
    proxy.fault = { kind: 'drop', digest: big.layers[2].digest };
    const r = await runLodger(['pull', `${proxy.host}/integrity/big:1`], { store });
    expectFailure(r, new RegExp(big.layers[2].digest.slice(7, 19)), /interrupted|reset|closed|aborted/i);
    await expectNoHalfImage(store);
    await expectGoodPull(store, `${proxy.host}/integrity/big:1`);
  }, 90_000);

  it.each([200, 500, 1000])('a pull SIGKILLed after %i ms leaves no half image, no process behind, and the next pull completes', async (ms) => {
    const store = newStore();
    // Two 8 MB layers at 3 MB/s each (downloaded side by side): about 2.7 s, so every kill lands mid-download.
    proxy.fault = { kind: 'throttle', bytesPerSecond: 3 << 20 };
    const child = spawnLodger(['pull', `${proxy.host}/integrity/big:1`], { store });
    await new Promise((r) => setTimeout(r, ms));
    expect(child.exitCode, 'the pull finished before it could be killed').toBeNull();
    process.kill(child.pid!, 'SIGKILL');
    const res = await waitForExit(child);
    expect(res.signal).toBe('SIGKILL');
    // Helpers of the killed CLI must not keep writing into the store.
    let left: number[] = [];
    for (let i = 0; i < 50; i++) {
      left = processesMentioning(store.root);
      if (left.length === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(left, 'processes still working in the store 5 s after the pull was killed').toEqual([]);
    expect(await imagesJson(store)).toEqual([]);
    expect(layerDirs(store).incomplete).toEqual([]);
    expectBlobsIntact(store);
    await expectGoodPull(store, `${proxy.host}/integrity/big:1`);
  });
});
