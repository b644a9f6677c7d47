// The read-only image part of a container's root filesystem: the store's layer directories, or a squashfs image file mounted with squashfuse_ll.
import * as path from 'node:path';
import { sharedLayerOwners, type SharedLayerOwner } from '../storage/additionalStores';
import { containerDir, type ContainerRecord } from '../storage/containers';
import { imageLayerDirs } from '../storage/layers';
import { shiftedLayerDirs } from '../storage/shiftedLayers';
import type { StorePaths } from '../storage/paths';
import { fuseIdMapOptions, mapsHostId, type IdMapping } from '../helper/idmap';
import type { Plan } from '../helper/plan';
import { callerMapping } from '../helper/usernsWorker';

/** Where a squashfs image is mounted (in the helper's private mount namespace only). */
export function squashfsMountDir(p: StorePaths, rec: ContainerRecord): string {
  return path.join(containerDir(p, rec.Id), 'sqfs');
}

/** The files extracted from a squashfs image at create (its config, /etc/passwd, /etc/group). */
export function squashfsMetaDir(p: StorePaths, rec: ContainerRecord): string {
  return path.join(containerDir(p, rec.Id), 'image-meta');
}

/**
 * The image's lower directories for overlay, top first: the layers, or keep-id's copies of them (a
 * container created on kernel overlay under keep-id, shiftedLayers.ts). For a squashfs image this adds the step that
 * mounts it (call in the plan's prepare phase, before the overlay): squashfuse_ll runs as the helper's
 * child and dies with it (fusemount.c), so nothing is unpacked and nothing outlives the container.
 */
export function imageLowerDirs(plan: Plan, p: StorePaths, rec: ContainerRecord): string[] {
  if (rec.LayerIdMap) return shiftedLayerDirs(p, rec.Image, rec.Layers, rec.LayerIdMap);
  if (!rec.SquashfsImage) return imageLayerDirs(p, rec.Image, rec.Layers);
  const mnt = squashfsMountDir(p, rec);
  plan.squashfuse(rec.SquashfsImage, mnt);
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
  return imageLayerDirs(p, rec.Image, rec.Layers);
}

/**
 * The layers among LAYERS (diff ids) that come from an additional store populated by someone whose ids
 * MAPPING cannot map — another user's or root's shared store. In the container their files are unmapped:
 * they show as nobody (65534), and neither kernel overlayfs nor plain fuse-overlayfs can copy one up
 * (a copy-up gives the copy the original's owner; chown(2) to an id outside the namespace's map fails
 * with EINVAL, user_namespaces(7), and kernel overlayfs refuses such a copy-up outright). The mapping
 * is the caller's own (host ids), never a user network's identity map over its infra namespace.
 */
export function unmappedSharedLayers(p: StorePaths, layers: string[], mapping: IdMapping): SharedLayerOwner[] {
  return sharedLayerOwners(p, layers).filter((o) => !mapsHostId(mapping.uid, o.uid) || !mapsHostId(mapping.gid, o.gid));
}

/**
 * fuse-overlayfs options for REC's layers: `squash_to_root` when some come from a shared store whose
 * owners the container cannot map (unmappedSharedLayers). fuse-overlayfs(1): every file then shows as
 * owned by 0:0 — the container's root, who may change and copy up any of them (the copy is created by
 * fuse-overlayfs itself, as the container's root, and its failing chown is ignored under squash, see
 * do_fchown in fuse-overlayfs' main.c). The price: the squash covers the container's own layer too, so
 * every file shows as root's and chown inside has no effect. Decided at every mount, not stored, so
 * it follows the store (an admin may re-populate it).
 */
function sharedSquashOption(p: StorePaths, rec: ContainerRecord): string {
  if (rec.SquashfsImage || rec.Layers.length === 0) return '';
  return unmappedSharedLayers(p, rec.Layers, callerMapping(rec.HostConfig.UsernsMode || undefined)).length ? 'squash_to_root' : '';
}

/**
 * The fuse-overlayfs options of REC's root filesystem beyond its directories, for the container's
 * mount (containerPlan.ts) and the worker's (containerFs.ts): keep-id's owner translation (idmap.ts
 * fuseIdMapOptions; a squashfs image needs none — squashfuse shows its ids as they are in the image),
 * a shared store's squash (above), and `noacl` over squashfuse: squashfuse answers EOPNOTSUPP for the
 * POSIX ACL attributes, fuse-overlayfs passes that on to the kernel's ACL check of a new file's
 * directory (posix_acl_create), and creating any file in a directory not yet copied up would fail.
 */
export function fuseOverlayExtraOptions(p: StorePaths, rec: ContainerRecord, mapping: IdMapping): string {
  const opts = [rec.SquashfsImage ? 'noacl' : fuseIdMapOptions(mapping), sharedSquashOption(p, rec)];
  return opts.filter(Boolean).join(',');
}
