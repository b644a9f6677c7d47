// A squashfs file used as an image (`lodger run FILE.sqfs`): recognising it, and reading its config and the files the process needs without mounting it.
//
// Layout (what `lodger save --format squashfs` writes): the squashfs root is the image's flattened root
// filesystem, owners as the container sees them, and the image config (image-spec config.md, the bytes
// of the store's config blob, so its sha256 is the image id) is the file /.lodger/config.json inside it.
// Inside rather than beside: one file to copy to a cluster, and the config cannot be separated from the
// tree it describes. HPC runtimes do the same — Apptainer keeps /.singularity.d/ in the image, Charliecloud
// /ch/metadata.json — so the file also runs as a plain root filesystem under ch-run or apptainer.
// A squashfs without /.lodger/config.json (made by other tools) runs with an empty config: give a command.
import * as crypto from 'node:crypto';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LodgerError, fsError } from '../errors';
import { DEFAULT_PATH, hostArchitecture, type ImageConfig } from '../oci/config';

/** Where the image config lives inside the squashfs (relative to its root). */
export const SQUASHFS_CONFIG_PATH = '.lodger/config.json';

/** The files read from the image before it is mounted: the config, and what resolveUser needs (imageUser.ts). */
const META_FILES = [SQUASHFS_CONFIG_PATH, 'etc/passwd', 'etc/group'];

/** squashfs superblock magic "hsqs" (little-endian 0x73717368, squashfs_fs.h). */
const MAGIC = Buffer.from('hsqs');

/**
 * Whether REF names a squashfs file rather than an image in the store. Image references never start
 * with "/" or "." (docker reference grammar), so those are paths; so is a name ending in .sqfs or
 * .squashfs (a repository name could, but such images are not something anyone pulls).
 */
export function isSquashfsRef(ref: string): boolean {
  return /^\.{0,2}\//.test(ref) || /\.(sqfs|squashfs)$/i.test(ref);
}

export interface SquashfsImage {
  /** Absolute path of the file. */
  file: string;
  config: ImageConfig;
  /** sha256 of the embedded config (the store's image id), or of the superblock for a foreign file. */
  id: string;
  /** A directory holding the extracted META_FILES (relative paths as in the image), owned by the caller. */
  metaDir: string;
}

function unsquashfsPath(): string {
  for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(':').concat(['/usr/sbin', '/sbin'])) {
    const p = path.join(dir, 'unsquashfs');
    try { fs.accessSync(p, fs.constants.X_OK); return p; } catch { /* next */ }
  }
  throw new LodgerError('NO_SQUASHFS_TOOLS', 'run a squashfs image: unsquashfs is not installed — install it (Debian: apt install squashfs-tools)');
}

/** Checks FILE is a regular file starting with the squashfs magic; returns its superblock (96 bytes). */
function superblock(file: string, ref: string): Buffer {
  let fd: number;
  try { fd = fs.openSync(file, fs.constants.O_RDONLY); } catch (e) {
    throw fsError('run: open the squashfs image', file, e, `give the path of a squashfs file (made with "lodger save --format squashfs"), or an image name without "/" in front`);
  }
  try {
    if (!fs.fstatSync(fd).isFile()) throw new LodgerError('NOT_SQUASHFS', `run: ${ref} is not a regular file — give the path of a squashfs image file`);
    const sb = Buffer.alloc(96);
    const n = fs.readSync(fd, sb, 0, 96, 0);
    if (n < 96 || !sb.subarray(0, 4).equals(MAGIC)) {
      throw new LodgerError('NOT_SQUASHFS', `run: ${ref} is not a squashfs file (no "hsqs" magic) — make one with "lodger save --format squashfs -o FILE IMAGE", or import a tarball with "lodger import"`);
    }
    return sb;
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Opens the squashfs image REF: checks it, then extracts its config, /etc/passwd and /etc/group into a
 * new directory under TMPDIR with unsquashfs (squashfs-tools; ~3 ms, one process) — no mount is needed
 * before the container's helper mounts it. unsquashfs writes only those names, under a directory of
 * ours, as our own files (it changes owners only when run as root, unsquashfs(1)).
 */
export function openSquashfsImage(ref: string, tmpDir: string): SquashfsImage {
  const file = path.resolve(ref);
  const sb = superblock(file, ref);
  const tool = unsquashfsPath();
  fs.mkdirSync(tmpDir, { recursive: true, mode: 0o700 });
  const metaDir = path.join(tmpDir, `sqfs-meta-${process.pid}-${crypto.randomBytes(4).toString('hex')}`);
  // The files are kept per version of the image file (identity, size and times: any rewrite changes
  // ctime), so later runs copy three small files instead of starting unsquashfs (~4 ms of a ~100 ms start).
  const st = fs.statSync(file);
  const cached = path.join(tmpDir, 'sqfs-meta-cache', crypto.createHash('sha256').update(`${file}\0${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`).digest('hex').slice(0, 24));
  if (fs.existsSync(cached)) {
    fs.cpSync(cached, metaDir, { recursive: true });
  } else {
    // -d must not exist yet: unsquashfs creates it. Absent names (a foreign image's config) are not an error.
    const r = spawnSync(tool, ['-n', '-q', '-no-xattrs', '-d', metaDir, file, ...META_FILES], { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
    if (r.status !== 0) {
      fs.rmSync(metaDir, { recursive: true, force: true });
      throw new LodgerError('SQUASHFS_READ', `run: read ${SQUASHFS_CONFIG_PATH} from the squashfs image ${file}: unsquashfs failed (${r.status ?? r.signal}): ${(r.stderr ?? '').trim() || 'no message'} — is the file complete?`);
    }
    const stage = `${cached}.${process.pid}.tmp`;
    try {
      fs.cpSync(metaDir, stage, { recursive: true });
      fs.renameSync(stage, cached);
    } catch {
      // Another CLI filled the entry first, or the store is read-only: the cache is only a shortcut.
      fs.rmSync(stage, { recursive: true, force: true });
    }
  }
  let config: ImageConfig;
  let id: string;
  const cfgFile = path.join(metaDir, SQUASHFS_CONFIG_PATH);
  let bytes: Buffer | undefined;
  try { bytes = fs.readFileSync(cfgFile); } catch { bytes = undefined; }
  if (bytes) {
    try { config = JSON.parse(bytes.toString('utf8')) as ImageConfig; } catch (e) {
      fs.rmSync(metaDir, { recursive: true, force: true });
      throw new LodgerError('SQUASHFS_CONFIG', `run: /${SQUASHFS_CONFIG_PATH} in the squashfs image ${file} is not JSON (${(e as Error).message}) — save the image again with "lodger save --format squashfs"`);
    }
    id = 'sha256:' + crypto.createHash('sha256').update(bytes).digest('hex');
  } else {
    config = { architecture: hostArchitecture(), os: 'linux', config: { Env: [`PATH=${DEFAULT_PATH}`] }, rootfs: { type: 'layers', diff_ids: [] } };
    id = 'sha256:' + crypto.createHash('sha256').update(sb).digest('hex');
  }
  return { file, config, id, metaDir };
}
