// Which image a container is created from: an image in the store, or a squashfs image file given by its path.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LodgerError } from '../errors';
import type { ImageConfig } from '../oci/config';
import { isSquashfsRef, openSquashfsImage, type SquashfsImage } from '../image/squashfsImage';
import type { StorageDriverName } from '../storage/containers';
import { findImage, imageConfig, type ImageRecord } from '../storage/images';
import type { StorePaths } from '../storage/paths';

export interface ImageSource { image: ImageRecord; config: ImageConfig; squashfs?: SquashfsImage }

/** Resolves REF to an image of the store, or (a path) to a squashfs image file, read without mounting it. */
export function resolveImageSource(p: StorePaths, ref: string): ImageSource {
  if (isSquashfsRef(ref)) {
    const sq = openSquashfsImage(ref, p.tmp);
    // Its extracted files move into the container's directory; if creating fails first, they go with us.
    process.once('exit', () => fs.rmSync(sq.metaDir, { recursive: true, force: true }));
    const size = fs.statSync(sq.file).size;
    const image: ImageRecord = { id: sq.id, names: [sq.file], manifestDigest: '', layers: [], created: sq.config.created ?? '', size };
    return { image, config: sq.config, squashfs: sq };
  }
  const image = findImage(p, ref);
  if (!image) throw new LodgerError('IMAGE_NOT_FOUND', `image "${ref}" is not in the local store — pull it ("lodger pull ${ref}"), or import/load it`);
  return { image, config: imageConfig(p, image) };
}

/** A squashfs image is the lower layer of an overlay; the copying vfs driver has no layers to copy. */
export function checkDriverFor(src: ImageSource, driver: StorageDriverName): void {
  if (src.squashfs && driver === 'vfs') {
    throw new LodgerError('SQUASHFS_DRIVER', `run ${src.squashfs.file}: a squashfs image is mounted as the lower layer of an overlay, which the vfs storage driver does not use — use --storage-driver overlay or fuse-overlayfs (Debian: apt install fuse-overlayfs)`);
  }
}

/** In the new container's directory DIR: the squashfs mount point and the files read from the image. */
export function adoptImageFiles(src: ImageSource, dir: string): void {
  if (!src.squashfs) return;
  fs.mkdirSync(path.join(dir, 'sqfs'), { mode: 0o755 });
  const meta = path.join(dir, 'image-meta');
  try {
    fs.renameSync(src.squashfs.metaDir, meta);
  } catch (e) {
    // The files were read into the store's tmp/, and a store on a network filesystem keeps its containers
    // on local storage (paths.ts resolveContainersDir): rename(2) does not cross filesystems (EXDEV).
    if ((e as NodeJS.ErrnoException).code !== 'EXDEV') throw e;
    fs.cpSync(src.squashfs.metaDir, meta, { recursive: true });
    fs.rmSync(src.squashfs.metaDir, { recursive: true, force: true });
  }
}
