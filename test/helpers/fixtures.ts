// Test fixtures without internet: a busybox rootfs, its tarball and OCI image (cached per run), and the debootstrap Debian tree.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as zlib from 'node:zlib';
import { mustRun } from './exec';
import { buildOciLayout } from './oci';
import { cachedEntry, currentUid, persistentCacheDir, repoRoot, runCacheDir, sharedFixturesDir } from './paths';
import { packDirectory, type OwnerOf } from './tar';

export { buildOciLayout, blobPath, detectCompression, readLayerTar, MEDIA_TYPES } from './oci';
export type { BuiltImage, BuiltLayer, Compression, ImageConfigSpec, LayerSpec, OciLayoutOptions } from './oci';
export { ociToDockerArchive, ociToOciArchive, pushOci, skopeoInspect } from './skopeo';
export type { TarFileSpec } from './tar';

const BUSYBOX = '/bin/busybox';
const busyboxScript = path.join(repoRoot, 'scripts', 'busybox-rootfs.sh');

/** Builds a busybox root filesystem in `dir` (see scripts/busybox-rootfs.sh): applet links, root/nobody/app users, /tmp. */
export async function busyboxRootfs(dir: string): Promise<string> {
  await mustRun('bash', [busyboxScript, dir], { timeoutMs: 60_000 });
  return dir;
}

/** Owners inside busybox archives: everything root's, except app's home (uid/gid 1000). */
export const busyboxOwners: OwnerOf = (rel) => (rel === 'home/app' || rel.startsWith('home/app/') ? { uid: 1000, gid: 1000 } : { uid: 0, gid: 0 });

/** Writes a directory's contents as a tar file (gzip-compressed if asked), with owners from `owner`. */
export async function writeDirectoryTar(dir: string, out: string, opts: { gzip?: boolean; owner?: OwnerOf } = {}): Promise<string> {
  const source = Readable.from(packDirectory(dir, opts.owner), { objectMode: false });
  if (opts.gzip) await pipeline(source, zlib.createGzip(), fs.createWriteStream(out));
  else await pipeline(source, fs.createWriteStream(out));
  return out;
}

export interface BusyboxFixture {
  /** The rootfs tree (files owned by the test user). */
  rootfs: string;
  /** Uncompressed tar of the rootfs, owners as busyboxOwners. */
  tar: string;
  /** OCI layout holding the image as tag `ociTag` (one gzip layer, Cmd ["sh"]). */
  ociDir: string;
  ociTag: string;
}

/** What the cached busybox fixture is made from: a change to any of it gives a new cache entry. */
function busyboxKey(): string {
  const st = fs.statSync(BUSYBOX);
  return createHash('sha256')
    .update(`v1\0${st.size}\0${st.mtimeMs}\0`)
    .update(fs.readFileSync(busyboxScript))
    .update(fs.readFileSync(path.join(__dirname, 'tar.ts')))
    .digest('hex')
    .slice(0, 16);
}

/** The shared busybox fixture of this run (built once per change of its inputs, in os.tmpdir()/lodger-test-<uid>). */
export async function cachedBusybox(): Promise<BusyboxFixture> {
  if (!fs.existsSync(BUSYBOX)) throw new Error(`${BUSYBOX} is missing: install Debian's busybox-static`);
  const dir = await cachedEntry(path.join(runCacheDir(), `busybox-${busyboxKey()}`), async (tmp) => {
    await busyboxRootfs(path.join(tmp, 'rootfs'));
    await writeDirectoryTar(path.join(tmp, 'rootfs'), path.join(tmp, 'rootfs.tar'), { owner: busyboxOwners });
    await buildOciLayout(path.join(tmp, 'oci'), {
      layers: [{ tarFile: path.join(tmp, 'rootfs.tar') }],
      config: { Cmd: ['sh'], Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'] },
      compression: 'gzip',
      tag: 'latest',
    });
  });
  return { rootfs: path.join(dir, 'rootfs'), tar: path.join(dir, 'rootfs.tar'), ociDir: path.join(dir, 'oci'), ociTag: 'latest' };
}

/** A busybox rootfs tarball at `out` (gzip-compressed if asked), as `lodger import` takes it. */
export async function busyboxTar(out: string, opts: { gzip?: boolean } = {}): Promise<string> {
  const { tar } = await cachedBusybox();
  if (opts.gzip) await pipeline(fs.createReadStream(tar), zlib.createGzip(), fs.createWriteStream(out));
  else fs.copyFileSync(tar, out);
  return out;
}

/**
 * The debootstrap fixture: `debootstrap --variant=minbase bookworm` packed as a tar.gz with numeric root
 * owners. Building it needs root, so it is made ahead by scripts/build-debootstrap-fixture.sh, which
 * .ci/run runs (about 30 s, once per machine) into /var/tmp/lodger-fixtures/debootstrap.tar.gz.
 */
export const debootstrapTarballPath = path.join(sharedFixturesDir, 'debootstrap.tar.gz');

/** Whether debootstrapTarball() can deliver: the tarball exists, or we are root and can build it. */
export function hasDebootstrapFixture(): boolean {
  return fs.existsSync(debootstrapTarballPath) || currentUid() === 0;
}

/** Path of the debootstrap tarball; built on the spot when running as root, else an error saying how to get it. */
export async function debootstrapTarball(): Promise<string> {
  if (fs.existsSync(debootstrapTarballPath)) return debootstrapTarballPath;
  if (currentUid() === 0) {
    await mustRun('bash', [path.join(repoRoot, 'scripts', 'build-debootstrap-fixture.sh'), debootstrapTarballPath], { timeoutMs: 600_000 });
    return debootstrapTarballPath;
  }
  throw new Error(
    `${debootstrapTarballPath} is missing: build it once as root with \`sudo bash scripts/build-debootstrap-fixture.sh\` (.ci/run does)`,
  );
}

/**
 * The debootstrap tree unpacked for the test user, cached across runs in /var/tmp/lodger-fixtures-<uid>/.
 * Unpacked unprivileged, every file is the test user's: use the tarball where ownership matters.
 */
export async function debootstrapRootfs(): Promise<string> {
  const tarball = await debootstrapTarball();
  const st = fs.statSync(tarball);
  const key = createHash('sha256').update(`${st.size}\0${st.mtimeMs}`).digest('hex').slice(0, 16);
  const dir = await cachedEntry(path.join(persistentCacheDir(), `debootstrap-${key}`), async (tmp) => {
    fs.mkdirSync(path.join(tmp, 'rootfs'));
    await mustRun('tar', ['-xzf', tarball, '-C', path.join(tmp, 'rootfs'), '--no-same-owner', '--delay-directory-restore'], {
      timeoutMs: 300_000,
    });
  });
  return path.join(dir, 'rootfs');
}
