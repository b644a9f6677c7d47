// The read-only image part of a container's root filesystem: the store's layer directories, or a squashfs image file mounted with squashfuse_ll.
import * as path from 'node:path';
import { containerDir, type ContainerRecord } from '../storage/containers';
import { layerDiffDir } from '../storage/layers';
import type { StorePaths } from '../storage/paths';
import type { Plan } from './plan';

/** Where a squashfs image is mounted (in the helper's private mount namespace only). */
export function squashfsMountDir(p: StorePaths, rec: ContainerRecord): string {
  return path.join(containerDir(p, rec.Id), 'sqfs');
}

/** The files extracted from a squashfs image at create (its config, /etc/passwd, /etc/group). */
export function squashfsMetaDir(p: StorePaths, rec: ContainerRecord): string {
  return path.join(containerDir(p, rec.Id), 'image-meta');
}

/**
 * The image's lower directories for overlay, top first. For a squashfs image this adds the step that
 * mounts it (call in the plan's prepare phase, before the overlay): squashfuse_ll runs as the helper's
 * child and dies with it (fusemount.c), so nothing is unpacked and nothing outlives the container.
 */
export function imageLowerDirs(plan: Plan, p: StorePaths, rec: ContainerRecord): string[] {
  if (!rec.SquashfsImage) return [...rec.Layers].reverse().map((d) => layerDiffDir(p, d));
  const mnt = squashfsMountDir(p, rec);
  plan.add('squashfuse', rec.SquashfsImage, mnt);
  return [mnt];
}

/** Cleanup-phase unmount of what imageLowerDirs mounted (before the container's directory is removed). */
export function imageUnmount(plan: Plan, p: StorePaths, rec: ContainerRecord): void {
  if (rec.SquashfsImage) plan.umount(squashfsMountDir(p, rec));
}

/**
 * Directories the CLI reads image files from (/etc/passwd for -u NAME), top first, without mounting:
 * the layers, or for a squashfs image the few files extracted from it when the container was created.
 */
export function imageReadDirs(p: StorePaths, rec: ContainerRecord): string[] {
  if (rec.SquashfsImage) return [squashfsMetaDir(p, rec)];
  return [...rec.Layers].reverse().map((d) => layerDiffDir(p, d));
}
