// Self-test of the fixture builders: OCI layouts must be exactly right (digests, diff_ids, sizes, whiteouts), checked by skopeo and by reading the blobs.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import * as tar from 'tar-stream';
import { afterAll, describe, expect, it } from 'vitest';
import {
  blobPath,
  buildOciLayout,
  busyboxTar,
  cachedBusybox,
  debootstrapRootfs,
  debootstrapTarball,
  debootstrapTarballPath,
  hasDebootstrapFixture,
  MEDIA_TYPES,
  ociToDockerArchive,
  ociToOciArchive,
  readLayerTar,
  skopeoInspect,
  type Compression,
  type TarFileSpec,
} from '../../helpers/fixtures';
import { mustRun } from '../../helpers/exec';
import { requirePrereq, requireTool } from '../../helpers/prereqs';

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'lodger-fixtures-test-'));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

interface Listed {
  name: string;
  type: string;
  mode: number;
  uid: number;
  gid: number;
  linkname: string | null;
  content: string;
}

async function listTar(bytes: Buffer): Promise<Listed[]> {
  const out: Listed[] = [];
  const ex = tar.extract();
  const done = new Promise<void>((resolve, reject) => {
    ex.on('entry', (h, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: unknown) => chunks.push(c as Buffer));
      stream.on('end', () => {
        out.push({ name: h.name, type: h.type, mode: h.mode, uid: h.uid, gid: h.gid, linkname: h.linkname ?? null, content: Buffer.concat(chunks).toString() });
        next();
      });
    });
    ex.on('finish', () => resolve());
    ex.on('error', reject);
  });
  Readable.from([bytes]).pipe(ex as unknown as NodeJS.WritableStream);
  await done;
  return out;
}

const base: TarFileSpec[] = [
  { path: 'etc', type: 'dir' },
  { path: 'etc/passwd', type: 'file', content: 'root:x:0:0:root:/root:/bin/sh\n' },
  { path: 'etc/removed', type: 'file', content: 'gone in layer 2\n' },
  { path: 'data', type: 'dir', mode: 0o750, uid: 1000, gid: 1000 },
  { path: 'data/a', type: 'file', content: 'a', mode: 0o600, uid: 1000, gid: 1000 },
  { path: 'data/old', type: 'file', content: 'hidden by the opaque dir' },
  { path: 'data/hard', type: 'link', target: 'data/a' },
  { path: 'bin', type: 'dir' },
  { path: 'bin/tool', type: 'file', content: '#!/bin/sh\n', mode: 0o4755 },
  { path: 'bin/alias', type: 'symlink', target: 'tool' },
];
const upper: TarFileSpec[] = [
  { path: 'etc/removed', type: 'whiteout' },
  { path: 'data', type: 'dir', mode: 0o755 },
  { path: 'data', type: 'opaque' },
  { path: 'data/new', type: 'file', content: 'only this is visible' },
];
const config = {
  Entrypoint: ['/bin/tool'],
  Cmd: ['--help'],
  Env: ['PATH=/bin', 'GREETING=hello world'],
  WorkingDir: '/data',
  User: '1000:1000',
  ExposedPorts: ['8080/tcp'],
  Labels: { 'org.example.test': 'yes' },
  StopSignal: 'SIGINT',
};

describe.each<Compression>(['gzip', 'zstd', 'none'])('buildOciLayout with %s layers', (compression) => {
  const dir = path.join(scratch, `layout-${compression}`);
  const built = buildOciLayout(dir, { layers: [{ files: base }, { files: upper }], config, compression, tag: 'v1' });

  it('writes oci-layout, index.json and blobs whose names, sizes and media types match their descriptors', async () => {
    const img = await built;
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'oci-layout'), 'utf8'))).toEqual({ imageLayoutVersion: '1.0.0' });
    const index = JSON.parse(fs.readFileSync(path.join(dir, 'index.json'), 'utf8'));
    expect(index.manifests).toHaveLength(1);
    expect(index.manifests[0].annotations['org.opencontainers.image.ref.name']).toBe('v1');
    expect(index.manifests[0].digest).toBe(img.manifestDigest);

    const manifestBytes = fs.readFileSync(blobPath(dir, img.manifestDigest));
    expect(sha256(manifestBytes)).toBe(img.manifestDigest);
    expect(manifestBytes.length).toBe(index.manifests[0].size);
    const manifest = JSON.parse(manifestBytes.toString());
    expect(manifest.mediaType).toBe(MEDIA_TYPES.manifest);

    const configBytes = fs.readFileSync(blobPath(dir, manifest.config.digest));
    expect(sha256(configBytes)).toBe(manifest.config.digest);
    expect(configBytes.length).toBe(manifest.config.size);
    const cfg = JSON.parse(configBytes.toString());

    expect(manifest.layers).toHaveLength(2);
    for (const [i, desc] of (manifest.layers as Array<{ digest: string; size: number; mediaType: string }>).entries()) {
      expect(desc.mediaType).toBe(MEDIA_TYPES.layer[compression]);
      const blob = fs.readFileSync(blobPath(dir, desc.digest));
      expect(sha256(blob)).toBe(desc.digest);
      expect(blob.length).toBe(desc.size);
      const raw = await readLayerTar(blobPath(dir, desc.digest));
      expect(sha256(raw)).toBe(cfg.rootfs.diff_ids[i]);
      expect(img.layers[i]!.diffId).toBe(cfg.rootfs.diff_ids[i]);
    }
    expect(cfg.config.ExposedPorts).toEqual({ '8080/tcp': {} });
    expect(cfg.config.Entrypoint).toEqual(['/bin/tool']);
    expect(cfg.rootfs.type).toBe('layers');
  });

  it('writes whiteouts, opaque markers, links and owners as tar entries', async () => {
    const img = await built;
    const lower = await listTar(await readLayerTar(blobPath(dir, img.layers[0]!.digest)));
    const byName = new Map(lower.map((e) => [e.name.replace(/\/$/, ''), e]));
    expect(byName.get('data')).toMatchObject({ type: 'directory', mode: 0o750, uid: 1000, gid: 1000 });
    expect(byName.get('data/a')).toMatchObject({ type: 'file', mode: 0o600, uid: 1000, content: 'a' });
    expect(byName.get('data/hard')).toMatchObject({ type: 'link', linkname: 'data/a' });
    expect(byName.get('bin/tool')).toMatchObject({ mode: 0o4755, uid: 0 });
    expect(byName.get('bin/alias')).toMatchObject({ type: 'symlink', linkname: 'tool' });

    const top = await listTar(await readLayerTar(blobPath(dir, img.layers[1]!.digest)));
    expect(top.map((e) => e.name.replace(/\/$/, ''))).toEqual(['etc/.wh.removed', 'data', 'data/.wh..wh..opq', 'data/new']);
  });

  it('is what skopeo reads', async () => {
    if (!requireTool('skopeo')) return;
    const img = await built;
    const info = await skopeoInspect(`oci:${dir}:v1`);
    expect(info.Digest).toBe(img.manifestDigest);
    expect(info.Layers).toEqual(img.layers.map((l) => l.digest));
    expect(info.Env).toEqual(config.Env);
    expect(info.Labels).toEqual(config.Labels);
    const cfg = await skopeoInspect(`oci:${dir}:v1`, { config: true });
    expect((cfg.rootfs as { diff_ids: string[] }).diff_ids).toEqual(img.layers.map((l) => l.diffId));
    expect((cfg.config as Record<string, unknown>).StopSignal).toBe('SIGINT');
  });

  it('is deterministic: the same input gives the same digests', async () => {
    const img = await built;
    const again = await buildOciLayout(path.join(scratch, `again-${compression}`), { layers: [{ files: base }, { files: upper }], config, compression, tag: 'v1' });
    expect(again.manifestDigest).toBe(img.manifestDigest);
  });
});

describe('tarFile layers', () => {
  it('keeps a tar already in the wanted compression byte for byte, and recompresses otherwise', async () => {
    if (!requireTool('zstd')) return;
    const gz = await busyboxTar(path.join(scratch, 'bb.tar.gz'), { gzip: true });
    const plain = (await cachedBusybox()).tar;
    const zst = path.join(scratch, 'bb.tar.zst');
    await mustRun('zstd', ['-q', '-f', plain, '-o', zst]);
    const diffId = sha256(fs.readFileSync(plain));

    const same = await buildOciLayout(path.join(scratch, 'tarfile-gz'), { layers: [{ tarFile: gz }], compression: 'gzip' });
    expect(same.layers[0]!.digest).toBe(sha256(fs.readFileSync(gz)));
    expect(same.layers[0]!.diffId).toBe(diffId);

    const fromZstd = await buildOciLayout(path.join(scratch, 'tarfile-zst'), { layers: [{ tarFile: zst, compression: 'gzip' }, { tarFile: plain, compression: 'none' }] });
    expect(fromZstd.layers.map((l) => l.diffId)).toEqual([diffId, diffId]);
    expect(fromZstd.layers[1]!.digest).toBe(diffId);
    expect(fromZstd.layers[0]!.mediaType).toBe(MEDIA_TYPES.layer.gzip);
  });

  it('keeps other images in an existing layout and replaces one with the same tag', async () => {
    const dir = path.join(scratch, 'multi');
    await buildOciLayout(dir, { layers: [{ files: [{ path: 'a', type: 'file', content: '1' }] }], tag: 'one' });
    await buildOciLayout(dir, { layers: [{ files: [{ path: 'b', type: 'file', content: '2' }] }], tag: 'two' });
    const again = await buildOciLayout(dir, { layers: [{ files: [{ path: 'b', type: 'file', content: '3' }] }], tag: 'two' });
    const index = JSON.parse(fs.readFileSync(path.join(dir, 'index.json'), 'utf8'));
    expect(index.manifests.map((m: { annotations: Record<string, string> }) => m.annotations['org.opencontainers.image.ref.name'])).toEqual(['one', 'two']);
    expect(index.manifests[1].digest).toBe(again.manifestDigest);
  });
});

describe('busybox fixture', () => {
  it('has a static busybox, applet links, the three users and app-owned home in its tar', async () => {
    const bb = await cachedBusybox();
    expect(fs.readlinkSync(path.join(bb.rootfs, 'bin/sh'))).toBe('../bin/busybox');
    expect(fs.readFileSync(path.join(bb.rootfs, 'etc/passwd'), 'utf8')).toMatch(/^app:x:1000:1000:/m);
    expect(fs.readFileSync(path.join(bb.rootfs, 'etc/group'), 'utf8')).toMatch(/^nobody:x:65534:/m);
    expect(fs.statSync(path.join(bb.rootfs, 'tmp')).mode & 0o7777).toBe(0o1777);
    const entries = new Map((await listTar(fs.readFileSync(bb.tar))).map((e) => [e.name.replace(/\/$/, ''), e]));
    expect(entries.get('home/app')).toMatchObject({ type: 'directory', uid: 1000, gid: 1000 });
    expect(entries.get('bin/busybox')).toMatchObject({ type: 'file', uid: 0, mode: 0o755 });
    expect(entries.get('usr/bin/env')).toMatchObject({ type: 'symlink', linkname: '../../bin/busybox' });
    // The binary must run with nothing else around it.
    expect(await mustRun(path.join(bb.rootfs, 'bin/busybox'), ['echo', 'static ok'])).toBe('static ok\n');
  });

  it('converts to docker-archive and oci-archive with skopeo, keeping diff_ids', async () => {
    if (!requireTool('skopeo')) return;
    const bb = await cachedBusybox();
    const want = (await skopeoInspect(`oci:${bb.ociDir}:${bb.ociTag}`, { config: true })).rootfs;
    const docker = await ociToDockerArchive(bb.ociDir, bb.ociTag, path.join(scratch, 'bb-docker.tar'), 'busybox:latest');
    expect((await skopeoInspect(`docker-archive:${docker}`, { config: true })).rootfs).toEqual(want);
    const manifest = JSON.parse(await mustRun('tar', ['-xOf', docker, 'manifest.json']));
    expect(manifest[0].RepoTags).toEqual(['docker.io/library/busybox:latest']);
    const oci = await ociToOciArchive(bb.ociDir, bb.ociTag, path.join(scratch, 'bb-oci.tar'));
    expect((await skopeoInspect(`oci-archive:${oci}:latest`, { config: true })).rootfs).toEqual(want);
    expect((await skopeoInspect(`oci:${bb.ociDir}:${bb.ociTag}`)).Architecture).toBe(process.arch === 'x64' ? 'amd64' : process.arch);
  });
});

describe('debootstrap fixture', () => {
  it('is a root-owned minbase tarball, unpacked once per user into a cached tree', async () => {
    if (!requirePrereq(hasDebootstrapFixture(), `${debootstrapTarballPath} is missing (sudo bash scripts/build-debootstrap-fixture.sh)`)) return;
    const tarball = await debootstrapTarball();
    const listing = await mustRun('sh', ['-c', `tar -tzvf "${tarball}" ./etc/debian_version ./usr/bin/dpkg`]);
    expect(listing).toMatch(/^-rw-r--r-- 0\/0 .* \.\/etc\/debian_version$/m);
    const rootfs = await debootstrapRootfs();
    expect(fs.readFileSync(path.join(rootfs, 'etc/debian_version'), 'utf8')).toMatch(/^12\./);
    expect(fs.existsSync(path.join(rootfs, 'usr/bin/dpkg'))).toBe(true);
    expect(await debootstrapRootfs()).toBe(rootfs);
  }, 300_000);
});
