// `commit`: a container's writable layer becomes the top layer of a new image (config, manifest and blobs as `pull` would leave them).
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { LodgerError } from '../errors';
import type { Reporter } from '../events';
import { applyChanges } from '../image/changes';
import { parseReferenceParts } from '../image/reference';
import { MEDIA, type ImageConfig, type ImageRuntimeConfig } from '../oci/config';
import { putBlobStream } from '../storage/blobs';
import { containerDir, liveState, readContainer, readState, resolveContainer, type ContainerRecord } from '../storage/containers';
import { imageConfig, imageManifest, readIndex, recordNewImage, type ImageRecord } from '../storage/images';
import { storeLayer } from '../storage/layers';
import { ensureStore, type StorePaths } from '../storage/paths';
import type { PackResult } from '../worker/treeTar';
import { callerMapping, runWorker } from '../helper/usernsWorker';

export interface CommitOptions {
  /** -c/--change: Dockerfile instructions applied to the new image's config. */
  changes: string[];
  message?: string;
  author?: string;
  /** -p/--pause (default true): freeze a running container while its layer is read, when it has a cgroup. */
  pause: boolean;
  /** Notes (could not pause it; the layer's unpack notes); default: the store's reporter. */
  report?: Reporter;
}

/** Docker's rule: the new image runs as the container ran — its command, environment, user and directory. */
function containerRuntimeConfig(base: ImageRuntimeConfig, rec: ContainerRecord): ImageRuntimeConfig {
  const c = rec.Config;
  const out: ImageRuntimeConfig = { ...base, Env: c.Env, Cmd: c.Cmd, Entrypoint: c.Entrypoint };
  if (c.User) out.User = c.User; else delete out.User;
  if (c.WorkingDir) out.WorkingDir = c.WorkingDir; else delete out.WorkingDir;
  if (c.Labels && Object.keys(c.Labels).length) out.Labels = c.Labels;
  if (c.ExposedPorts && Object.keys(c.ExposedPorts).length) out.ExposedPorts = c.ExposedPorts;
  if (c.StopSignal) out.StopSignal = c.StopSignal;
  return out;
}

/** Runs FN with the container frozen when it is running in a cgroup of its own (as `docker commit` pauses). */
async function paused<T>(p: StorePaths, rec: ContainerRecord, pause: boolean, report: Reporter | undefined, fn: () => Promise<T>): Promise<T> {
  const st = liveState(readState(p, rec.Id));
  if (!pause || !st.Running || st.Paused || !st.CgroupPath) return fn();
  const { freeze, thaw } = await import('../cgroups/containerCgroup');
  try {
    await freeze(st.CgroupPath);
  } catch (e) {
    // A container we cannot freeze is committed as it runs, as when it has no cgroup.
    report?.({ kind: 'note', message: `could not pause ${rec.Name} for the commit (${(e as Error).message}); its files are read while it runs` });
    return fn();
  }
  try { return await fn(); } finally { await thaw(st.CgroupPath); }
}

export async function commitContainer(p: StorePaths, ref: string, name: string | undefined, o: CommitOptions): Promise<ImageRecord> {
  const id = resolveContainer(p, ref);
  const rec = readContainer(p, id);
  if (!rec) throw new LodgerError('NO_SUCH_CONTAINER', `no such container: ${ref}`);
  if (rec.Driver === 'vfs') {
    throw new LodgerError('COMMIT_VFS', `commit ${rec.Name}: the container uses the vfs storage driver, which keeps no separate layer of its changes — create it with --storage-driver overlay (or fuse-overlayfs) to commit it, or use "lodger export" and "lodger import"`);
  }
  const parent = readIndex(p).find((i) => i.id === rec.ImageID);
  // A squashfs file saved from an image still in the store has that image's config digest, so it builds on its layers.
  if (!parent && rec.SquashfsImage) throw new LodgerError('COMMIT_SQUASHFS', `commit ${rec.Name}: it runs from the squashfs file ${rec.SquashfsImage}, whose image is not in the store to build a layer on — use "lodger export" and "lodger import" instead`);
  if (!parent) throw new LodgerError('COMMIT_NO_IMAGE', `commit ${rec.Name}: its image ${rec.ImageID.slice(7, 19)} is no longer in the store — load or pull "${rec.Image}" again first`);
  // Validated before any work: a bad name or --change is the user's mistake, not a half-made image.
  if (name) parseReferenceParts(name);
  const parentCfg = imageConfig(p, parent);
  const runtime = applyChanges(containerRuntimeConfig(parentCfg.config ?? {}, rec), o.changes);
  const parentManifest = imageManifest(p, parent);

  ensureStore(p);
  const tarFile = path.join(p.tmp, `commit-${process.pid}-${crypto.randomBytes(6).toString('hex')}.tar`);
  try {
    const upper = path.join(containerDir(p, id), 'upper');
    // keep-id's upper layer on fuse-overlayfs is kept in the store's default ownership (fuse-overlayfs maps
    // it back), so it is read under the default mapping like any layer; on kernel overlay over the
    // shifted copies (LayerIdMap) it is owned as keep-id sees it, so it is read in keep-id's namespace.
    const mapping = callerMapping(rec.LayerIdMap ? 'keep-id' : rec.HostConfig.UsernsMode === 'single' ? 'single' : undefined);
    await paused(p, rec, o.pause, o.report ?? p.report, () => runWorker<PackResult>('pack', [upper, tarFile, 'diff'], undefined, mapping));
    // One pass keeps the compressed blob (for save and push), the other unpacks the layer and names it.
    const [blob, layer] = await Promise.all([
      putBlobStream(p, fs.createReadStream(tarFile).pipe(zlib.createGzip())),
      storeLayer(p, fs.createReadStream(tarFile), undefined, undefined, o.report ?? p.report),
    ]);
    const created = new Date().toISOString();
    const cmd = [...(rec.Config.Entrypoint ?? []), ...(rec.Config.Cmd ?? [])].join(' ');
    const config: ImageConfig = {
      ...parentCfg,
      created,
      config: runtime,
      rootfs: { type: 'layers', diff_ids: [...parentCfg.rootfs.diff_ids, layer.diffId] },
      history: [...(parentCfg.history ?? []), { created, created_by: cmd, ...(o.message ? { comment: o.message } : {}) }],
    };
    if (o.author) config.author = o.author; else delete config.author;
    return await recordNewImage(p, {
      config,
      layers: [...parentManifest.layers, { mediaType: MEDIA.ociLayerGzip, digest: blob.digest, size: blob.size }],
      diffIds: [...parent.layers, layer.diffId],
      size: parent.size + layer.size,
      names: name ? [name] : [],
      created,
    });
  } finally {
    fs.rmSync(tarFile, { force: true });
  }
}
