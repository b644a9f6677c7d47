// RUN: executes a command in a container of the build (same id mapping as `run`) and archives its writable layer as the step's layer.
//
// The container is an ordinary one of the store, labelled as a build's: `ps -a` shows it while it
// runs, and the build removes it afterwards. One left by a killed build is removed by the next one
// (sweepBuildContainers). The diff of its upper directory is archived in the user namespace by the
// same worker `commit` uses (worker/treeTar.ts, mode diff: overlay whiteouts become OCI ones).
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LodgerError } from '../errors';
import { resolveInLayers } from '../image/layerLookup';
import { containerDir, createContainerRecord, listContainerIds, liveState, newContainerId, readContainer, readState, type ContainerRecord, type MountRecord } from '../storage/containers';
import { chooseDriver } from '../storage/driver';
import { newLayerStage } from '../storage/layers';
import type { StorePaths } from '../storage/paths';
import { removeCgroup } from '../containers/cgroupSetup';
import { helperFailureToError } from '../helper/helperErrors';
import { unmappedSharedLayers } from '../containers/imageLayers';
import { launchContainer } from '../containers/launch';
import { writeEtcFiles } from '../containers/networkSetup';
import { removeContainer } from '../containers/remove';
import { processSpec } from '../containers/start';
import { callerMapping, runWorker } from '../helper/usernsWorker';
import type { PackResult } from '../worker/treeTar';

export const BUILD_LABEL = 'io.lodger.build';

export interface RunStepInput {
  /** diff_ids of the image so far, bottom first. */
  layers: string[];
  /** What to call the base in the container record (the stage's base image). */
  image: string;
  imageId: string;
  argv: string[];
  env: string[];
  user: string;
  cwd: string;
  network: 'default' | 'none' | 'host';
  mounts: MountRecord[];
  /** The image's layer directories, top first: what existed before the step. */
  lowerDirs: string[];
  onOutput: (stream: 'stdout' | 'stderr', data: Buffer) => void;
  signal?: AbortSignal;
  /** Takes work that may finish later (the container's removal); without it, runStep waits for it. */
  defer?: (p: Promise<unknown>) => void;
}

export interface RunStepResult {
  exitCode: number;
  tarFile?: string;
  /** A layer staging directory already holding the layer's files (diff/), when the upper could move there. */
  stage?: string;
}

/**
 * The default network of a build's RUN is the host's, as rootless BuildKit's (`--oci-worker-net=host`):
 * package managers work, and no user-mode network stack is started for each step. `none` isolates it.
 */
function networkMode(n: RunStepInput['network']): string {
  return n === 'none' ? 'none' : 'host';
}

/** Where the helper mounts over the container's root (containerPlan.ts): not the command's changes. */
const MOUNT_TARGETS = ['/dev', '/proc', '/sys', '/etc/hostname', '/etc/hosts', '/etc/resolv.conf'];

/**
 * Removes from UPPER what the helper created only to mount over — an empty file or directory at a
 * mount target the image did not have, and the empty directories made above it — so the layer holds
 * what the command changed, as Docker's and buildah's do. Those entries are owned by container root,
 * which is the caller on the host, so no user namespace is needed.
 */
export function removeMountStubs(upper: string, lowerDirs: string[], targets: string[]): void {
  const deepestFirst = [...new Set(targets.map((t) => path.posix.resolve('/', t)))].sort((a, b) => b.split('/').length - a.split('/').length);
  for (const t of deepestFirst) {
    for (let cur = t; cur !== '/'; cur = path.posix.dirname(cur)) {
      if (resolveInLayers(lowerDirs, cur)) break;
      const host = path.join(upper, cur);
      const st = fs.lstatSync(host, { throwIfNoEntry: false });
      if (!st) continue;
      try {
        if (st.isFile() && st.size === 0 && cur === t) fs.rmSync(host);
        else if (st.isDirectory() && fs.readdirSync(host).length === 0) fs.rmdirSync(host);
        else break;
      } catch {
        // Not ours to remove as the caller (the command changed its directory's owner or mode): it stays.
        break;
      }
    }
  }
}

export async function runStep(p: StorePaths, o: RunStepInput): Promise<RunStepResult> {
  const mapping = callerMapping();
  const driver = await chooseDriver(p, mapping, undefined, { shared: unmappedSharedLayers(p, o.layers, mapping) });
  if (driver === 'vfs') throw new LodgerError('BUILD_UNSUPPORTED', 'RUN needs an overlay storage driver (kernel overlayfs or fuse-overlayfs) to see what the command changed — install fuse-overlayfs, or check `lodger info`');
  const id = newContainerId();
  const rec: ContainerRecord = {
    Id: id,
    Name: `build-${id.slice(0, 12)}`,
    Created: new Date().toISOString(),
    Image: o.image,
    ImageID: o.imageId,
    Config: {
      Hostname: id.slice(0, 12), Domainname: '', User: o.user, Env: o.env, Cmd: o.argv, Entrypoint: null, Image: o.image,
      WorkingDir: o.cwd, Labels: { [BUILD_LABEL]: String(process.pid) }, Tty: false, OpenStdin: false,
    },
    HostConfig: {
      Binds: [], NetworkMode: networkMode(o.network), AutoRemove: false, ReadonlyRootfs: false, Init: false, Privileged: false,
      RestartPolicy: { Name: 'no', MaximumRetryCount: 0 }, PortBindings: {}, Dns: [], DnsSearch: [], DnsOptions: [], ExtraHosts: [],
      CapAdd: [], CapDrop: [], SecurityOpt: [], UsernsMode: mapping.setgroupsDeny ? 'single' : '', Resources: {}, Cgroups: 'disabled',
    },
    Mounts: o.mounts,
    Driver: driver,
    Layers: o.layers,
  };
  await createContainerRecord(p, rec, (dir) => {
    for (const d of ['upper', 'work', 'merged']) fs.mkdirSync(path.join(dir, d), { mode: 0o755 });
    fs.writeFileSync(path.join(dir, 'hostname'), rec.Config.Hostname + '\n', { mode: 0o644 });
    writeEtcFiles(dir, rec, { kind: rec.HostConfig.NetworkMode });
  });
  try {
    const proc = processSpec(p, rec, { argv: o.argv, env: o.env, cwd: o.cwd });
    const { h, cgroupPath } = await launchContainer(p, rec, mapping, { process: proc, keepStdin: false, stdio: ['ignore', 'pipe', 'pipe'] });
    h.child.stdout?.on('data', (d: Buffer) => o.onOutput('stdout', d));
    h.child.stderr?.on('data', (d: Buffer) => o.onOutput('stderr', d));
    // Cancelled: the container's init is killed (and with it its pid namespace, pid_namespaces(7));
    // the helper then sees it exit and unmounts and cleans up as after any exit.
    const abort = () => { void h.pid.then((pid) => { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }, () => undefined); };
    if (o.signal?.aborted) abort();
    o.signal?.addEventListener('abort', abort);
    let res: { code: number; signal: NodeJS.Signals | null };
    try { res = await h.exited; } finally { o.signal?.removeEventListener('abort', abort); }
    await removeCgroup(cgroupPath);
    if (o.signal?.aborted) throw new LodgerError('BUILD_CANCELLED', 'the build was cancelled', 130);
    const failures = h.events.errors.filter((f) => !f.step.startsWith('cleanup-'));
    if (failures.length) throw helperFailureToError(failures[0], { user: mapping.user });
    if (res.signal) return { exitCode: 128 + (require('node:os').constants.signals[res.signal] ?? 0) };
    if (res.code !== 0) return { exitCode: res.code };
    const tarFile = path.join(p.tmp, `build-run-${process.pid}-${crypto.randomBytes(6).toString('hex')}.tar`);
    const upper = path.join(containerDir(p, id), 'upper');
    removeMountStubs(upper, o.lowerDirs, [...MOUNT_TARGETS, ...o.mounts.map((m) => m.Destination)]);
    await runWorker<PackResult>('pack', [upper, tarFile, 'diff'], undefined, mapping);
    // The upper directory is the layer, in the store's own on-disk form (whiteouts as 0:0 devices,
    // opaque directories by xattr): moved into layers/ rather than unpacked again from the tar. Where
    // it cannot move (another filesystem, or a RUN gave / away to another id) the tar is unpacked.
    const stage = newLayerStage(p);
    try {
      fs.renameSync(upper, path.join(stage, 'diff'));
      return { exitCode: 0, tarFile, stage };
    } catch {
      fs.rmdirSync(stage);
      return { exitCode: 0, tarFile };
    }
  } finally {
    // Removed meanwhile: the next step need not wait for it (the build waits for all at its end).
    const removal = removeContainer(p, id, true).catch(() => undefined);
    if (o.defer) o.defer(removal); else await removal;
  }
}

/** Removes build containers whose build is gone (a killed `lodger build` could not remove its own). */
export async function sweepBuildContainers(p: StorePaths): Promise<void> {
  for (const id of listContainerIds(p)) {
    const rec = readContainer(p, id);
    const owner = Number(rec?.Config.Labels?.[BUILD_LABEL]);
    if (!rec || !owner) continue;
    let alive = false;
    try { process.kill(owner, 0); alive = true; } catch { /* gone */ }
    if (alive && owner !== process.pid) continue;
    if (liveState(readState(p, id)).Running && alive) continue;
    await removeContainer(p, id, true).catch(() => undefined);
  }
}
