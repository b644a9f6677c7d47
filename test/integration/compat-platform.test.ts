// Issue 16, platforms: `run`/`create --platform P` of an image the store holds for another platform fetch P's
// image from the registry, as `pull --platform` does; inspect shows the platform of what runs.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeTree, runLodger, runLodgerOk, type Store } from '../helpers/cli';
import { buildOciLayout, pushOci, type BuiltImage } from '../helpers/fixtures';
import { registryPrereqs, startRegistry, type TestRegistry } from '../helpers/registry';
import { busyboxFixture, busyboxStore, haveSubids } from './foundation-common';

const ok = haveSubids() && registryPrereqs();
// Both variants hold the host's busybox (so both run here); only their config and /etc/platform differ.
const HOST = process.arch === 'arm64' ? 'arm64' : 'amd64';
const OTHER = HOST === 'arm64' ? 'amd64' : 'arm64';

let store: Store;
let work: string;
let reg: TestRegistry;
let ref: string;

async function variant(arch: string): Promise<BuiltImage> {
  return buildOciLayout(path.join(work, arch), {
    tag: '1', architecture: arch,
    layers: [{ tarFile: busyboxFixture()!.tar }, { files: [{ path: 'etc/platform', type: 'file', content: `${arch}\n` }] }],
    config: { Cmd: ['cat', '/etc/platform'] },
  });
}

beforeAll(async () => {
  if (!ok) return;
  store = await busyboxStore();
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'lodger-compat-plat-'));
  reg = await startRegistry();
  ref = `${reg.host}/test/multi:1`;
  const imgs: Record<string, BuiltImage> = {};
  for (const arch of [HOST, OTHER]) {
    imgs[arch] = await variant(arch);
    await pushOci(imgs[arch].dir, '1', `${reg.host}/test/multi:${arch}`);
  }
  const index = JSON.stringify({
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [HOST, OTHER].map((arch) => ({ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: imgs[arch].manifestDigest, size: imgs[arch].manifestSize, platform: { os: 'linux', architecture: arch } })),
  });
  const res = await fetch(`http://${reg.host}/v2/test/multi/manifests/1`, { method: 'PUT', body: index, headers: { 'Content-Type': 'application/vnd.oci.image.index.v1+json' } });
  expect(res.status).toBe(201);
  expect(res.headers.get('docker-content-digest')).toBe(`sha256:${createHash('sha256').update(index).digest('hex')}`);
});
afterAll(async () => {
  await reg?.stop();
  await store?.cleanup();
  if (work) await removeTree(work);
});

const imageArch = async () => JSON.parse((await runLodgerOk(['image', 'inspect', ref], { store })).stdout)[0].Architecture;

describe.skipIf(!ok)('--platform on run and create', () => {
  it('a local image of another platform is replaced by the one asked for; inspect shows what runs', async () => {
    await runLodgerOk(['pull', ref], { store });
    expect(await imageArch()).toBe(HOST);
    expect((await runLodgerOk(['run', '--rm', ref], { store })).stdout).toBe(`${HOST}\n`);
    // The brief's case: the local image is the host's; --platform asks for the other.
    expect((await runLodgerOk(['run', '--rm', '--platform', `linux/${OTHER}`, ref], { store })).stdout).toBe(`${OTHER}\n`);
    expect(await imageArch()).toBe(OTHER);
    // Asking again for what is here pulls nothing new and runs it.
    expect((await runLodgerOk(['run', '--rm', '--platform', `linux/${OTHER}`, '--pull', 'never', ref], { store })).stdout).toBe(`${OTHER}\n`);
    await runLodgerOk(['create', '--name', 'p1', '--platform', `linux/${HOST}`, ref], { store });
    const doc = JSON.parse((await runLodgerOk(['inspect', 'p1'], { store })).stdout)[0];
    expect(doc.ImageManifestDescriptor).toEqual({ platform: { os: 'linux', architecture: HOST } });
    expect((await runLodgerOk(['start', '-a', 'p1'], { store })).stdout).toBe(`${HOST}\n`);
  });

  it('--pull=never with another platform is refused, naming both', async () => {
    await runLodgerOk(['pull', '--platform', `linux/${HOST}`, ref], { store });
    const r = await runLodger(['run', '--rm', '--pull', 'never', '--platform', `linux/${OTHER}`, ref], { store });
    expect(r.code).toBe(125);
    expect(r.stderr).toContain(`is here for linux/${HOST}, not linux/${OTHER}, and --pull=never was given`);
  });
});
