// `create` (and the first half of `run`): checks the options, writes the container record and its directories.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LodgerError, fsError } from '../errors';
import type { Reporter } from '../events';
import { DEFAULT_PATH, type ImageConfig } from '../oci/config';
import { containerDir, createContainerRecord, newContainerId, readContainer, resolveContainer, type ContainerRecord, type MountRecord } from '../storage/containers';
import { chooseDriver } from '../storage/driver';
import type { ImageRecord } from '../storage/images';
import { imageLayerDirs } from '../storage/layers';
import type { StorePaths } from '../storage/paths';
import { allShiftedReady, prepareShiftedLayers, scheduleShiftedLayers, shiftable, shiftKey } from '../storage/shiftedLayers';
import { runWorker } from '../helper/usernsWorker';
import { adoptImageFiles, checkDriverFor, resolveImageSource } from './imageSource';
import { unmappedSharedLayers } from './imageLayers';
import { resolveDeviceRequests } from '../devices/devices';
import { checkCgroupRequest, cgroupsMode } from './cgroupSetup';
import { validateNetworkOptions, writeEtcFiles } from './networkSetup';
import { translateIds, type IdMapping } from '../helper/idmap';
import { writeKeepIdEtc } from './keepId';
import { labelMap, resourceFlags, type CreateOptions } from './options';
import { dockerBodyFromCreateOptions } from './createBody';
import { checkSecurityOptions } from '../security/security';
import { collectMounts, inheritMounts, resolveMounts, volumesFromRef } from './mounts';
import { runOnContainerFs } from './containerFs';
import { healthConfig } from './healthConfig';
import { imagePlatform } from './runImage';
import { formatPlatform } from '../image/platform';
import { parseLogOpts, checkCidfile, checkNamespaceMode, checkStopSignal, parseShmSize, parseStopTimeout, parseSysctls, parseUlimits, writeCidfile } from './processFlags';

/** `-e K=V`, `-e K` (from our environment, skipped when unset) and --env-file lines, in Docker's order. */
export function parseEnv(env: string[], envFiles: string[]): string[] {
  const out: string[] = [];
  const add = (item: string) => {
    if (item.includes('=')) out.push(item);
    else if (process.env[item] !== undefined) out.push(`${item}=${process.env[item]}`);
  };
  for (const f of envFiles) {
    let text: string;
    try { text = fs.readFileSync(f, 'utf8'); } catch (e) { throw fsError('read --env-file', f, e); }
    for (const line of text.split('\n')) {
      const t = line.trim();
      if (t && !t.startsWith('#')) add(t);
    }
  }
  for (const e of env) add(e);
  return out;
}

/** Later entries win; keys keep their first position. */
export function mergeEnv(...lists: string[][]): string[] {
  const map = new Map<string, string>();
  for (const list of lists) for (const kv of list) {
    const k = kv.split('=')[0];
    map.set(k, kv);
  }
  return [...map.values()];
}

/** Docker's command rules: --entrypoint replaces the image's and drops its Cmd; args replace Cmd. */
export function resolveCommand(cfg: ImageConfig, command: string[], entrypoint?: string): { entrypoint: string[] | null; cmd: string[] | null } {
  const image = cfg.config ?? {};
  if (entrypoint !== undefined) {
    return { entrypoint: entrypoint === '' ? null : [entrypoint], cmd: command.length ? command : null };
  }
  return { entrypoint: image.Entrypoint ?? null, cmd: command.length ? command : image.Cmd ?? null };
}

export interface Created { rec: ContainerRecord; image: ImageRecord; config: ImageConfig }

/** keep-id's copies of LAYERS (shiftedLayers.ts): their key and whether they are ready, when they can exist. */
function keepIdShift(p: StorePaths, layers: string[], mapping: IdMapping, squashfs: boolean): { key: string; ready: boolean } | undefined {
  if (!mapping.keepId || squashfs || !shiftable(p, layers)) return undefined;
  const key = shiftKey(mapping);
  return { key, ready: allShiftedReady(p, key, layers) };
}

/** Creates the container O describes; REPORT (default: the store's) gets the notes of copying its image (vfs). */
export async function createContainer(p: StorePaths, o: CreateOptions, mapping: IdMapping, report: Reporter | undefined = p.report): Promise<Created> {
  const src = resolveImageSource(p, o.image);
  const { image, config: cfg } = src;
  // Top first; every layer must be there before anything is written (a squashfs image has none).
  const layerDirs = src.squashfs ? [] : imageLayerDirs(p, o.image, image.layers);
  const { entrypoint, cmd } = resolveCommand(cfg, o.command, o.entrypoint);
  if (!(entrypoint?.length || cmd?.length)) throw new LodgerError('NO_COMMAND', `no command specified for image ${o.image} — give one after the image name`);
  // Devices first: a missing device or CDI spec fails before anything is probed or written.
  const dev = resolveDeviceRequests(o.devices ?? []);
  // Parsed and checked before anything is written; volumes are made just before the record (mounts.ts).
  const mountSpecs = collectMounts({ volumes: o.volumes, mounts: o.mounts, tmpfs: o.tmpfs, imageVolumes: Object.keys(cfg.config?.Volumes ?? {}) });
  const inherited = o.volumesFrom.flatMap((spec) => inheritMounts(spec, volumesFromMounts(p, spec)));
  const securityOpt = checkSecurityOptions(o);
  const cgMode = cgroupsMode(o.cgroups);
  const id = newContainerId();
  const resources = resourceFlags(o);
  checkCgroupRequest(resources, cgMode, id);
  // keep-id runs on kernel overlay over copies of the layers owned as it needs (shiftedLayers.ts) once
  // they are ready: made in the background after a run on fuse-overlayfs, or now when overlay is asked for.
  const shift = keepIdShift(p, image.layers, mapping, !!src.squashfs);
  const want = o.storageDriver || process.env.LODGER_STORAGE_DRIVER || '';
  if (shift && !shift.ready && want === 'overlay') shift.ready = await prepareShiftedLayers(p, image.layers, mapping, { wait: true });
  // Layers of another user's shared store decide the driver too (imageLayers.ts unmappedSharedLayers).
  const driver = await chooseDriver(p, mapping, o.storageDriver,
    src.squashfs ? { squashfs: true } : { shared: unmappedSharedLayers(p, image.layers, mapping), shifted: shift?.ready });
  checkDriverFor(src, driver);
  if (shift && !shift.ready && !want) scheduleShiftedLayers(p, image.layers);
  const network = o.network || 'default';
  validateNetworkOptions(o);
  const pidMode = checkNamespaceMode('--pid', o.pid);
  const ipcMode = checkNamespaceMode('--ipc', o.ipc);
  const utsMode = checkNamespaceMode('--uts', o.uts);
  if (utsMode === 'host' && o.hostname) throw new LodgerError('BAD_OPTIONS', '--hostname and --uts host cannot be combined: the host name is the host\'s');
  const ulimits = parseUlimits(o.ulimits);
  const sysctls = parseSysctls(o.sysctls, { network, ipc: ipcMode });
  const stopSignal = checkStopSignal(o.stopSignal);
  const stopTimeout = parseStopTimeout(o.stopTimeout);
  const shmSize = parseShmSize(o.shmSize);
  checkCidfile(o.cidfile);
  const logConfig = parseLogOpts(o.logOpts);
  const healthcheck = healthConfig({
    cmd: o.healthCmd, interval: o.healthInterval, timeout: o.healthTimeout, retries: o.healthRetries,
    startPeriod: o.healthStartPeriod, startInterval: o.healthStartInterval, none: o.noHealthcheck,
  }, cfg.config?.Healthcheck);
  const imageEnv = cfg.config?.Env ?? [];
  const env = mergeEnv(imageEnv.some((e) => e.startsWith('PATH=')) ? [] : [`PATH=${DEFAULT_PATH}`], imageEnv, dev.env, parseEnv(o.env, o.envFile));
  // Every declared option's Docker field (options.ts), then what create resolves against the image and host.
  const declared = dockerBodyFromCreateOptions(o);
  const { HostConfig: declaredHost, NetworkingConfig: _net, Image: _image, Cmd: _cmd, ...declaredConfig } = declared;
  const vols = await resolveMounts(p, mountSpecs, inherited);
  const mounts: MountRecord[] = [...vols.mounts, ...dev.mounts];
  const rec: ContainerRecord = {
    Id: id,
    Name: o.name ?? '',
    Created: new Date().toISOString(),
    Image: o.image,
    ImageID: image.id,
    Config: {
      ...(declaredConfig as Partial<ContainerRecord['Config']>),
      Hostname: utsMode === 'host' ? os.hostname() : o.hostname ?? id.slice(0, 12),
      Domainname: '',
      // keep-id runs as the user's own uid:gid unless -u says otherwise (podman-run(1) --userns=keep-id).
      User: o.user ?? (mapping.keepId ? `${mapping.keepId.uid}:${mapping.keepId.gid}` : cfg.config?.User ?? ''),
      Env: env,
      Cmd: cmd,
      Entrypoint: entrypoint,
      Image: o.image,
      WorkingDir: o.workdir ?? cfg.config?.WorkingDir ?? '',
      Labels: { ...(cfg.config?.Labels ?? {}), ...labelMap(o.labels) },
      Tty: o.tty,
      OpenStdin: o.interactive,
      StopSignal: stopSignal ?? cfg.config?.StopSignal,
      ...(stopTimeout !== undefined ? { StopTimeout: stopTimeout } : {}),
      ...(healthcheck ? { Healthcheck: healthcheck } : {}),
      ExposedPorts: cfg.config?.ExposedPorts,
    },
    HostConfig: {
      ...(declaredHost as ContainerRecord['HostConfig']),
      NetworkMode: network,
      // -p values as given: resolved to host ports at each start (networkSetup.ts).
      PublishSpecs: o.publish,
      SecurityOpt: securityOpt,
      UsernsMode: mapping.keepId ? 'keep-id' : mapping.setgroupsDeny ? 'single' : '',
      Resources: resources,
      Cgroups: cgMode,
      Devices: dev.devices,
      DeviceRequests: dev.cdi.length ? [{ Driver: 'cdi', DeviceIDs: dev.cdi }] : undefined,
      Ulimits: ulimits,
      Sysctls: sysctls,
      GroupAdd: o.groupAdd,
      ShmSize: shmSize ?? 64 * 1024 * 1024,
      PidMode: pidMode,
      IpcMode: ipcMode,
      UTSMode: utsMode,
      ...(logConfig ? { LogConfig: logConfig } : {}),
    },
    Mounts: mounts,
    Driver: driver,
    Layers: image.layers,
    SquashfsImage: src.squashfs?.file,
    ImagePlatform: src.squashfs ? undefined : formatPlatform(imagePlatform(p, image)),
    LayerIdMap: shift?.ready && driver === 'overlay' ? shift.key : undefined,
  };
  try {
    await createContainerRecord(p, rec, (dir) => {
      // Under the store lock, as `volume rm`/`prune` check use: a volume removed since it was made above
      // fails this create instead of leaving a record that mounts nothing.
      for (const m of rec.Mounts) {
        if (m.Type === 'volume' && !fs.existsSync(m.Source)) throw new LodgerError('VOLUME_NOT_FOUND', `create: volume ${m.Name} was removed meanwhile — try again`);
      }
      for (const d of driver === 'vfs' ? ['rootfs'] : ['upper', 'work', 'merged']) fs.mkdirSync(path.join(dir, d), { mode: 0o755 });
      // keep-id: the user's own passwd/group entries, bound over the image's (containerPlan.ts).
      if (mapping.keepId) writeKeepIdEtc(dir, src.squashfs ? [src.squashfs.metaDir] : layerDirs, mapping.keepId);
      adoptImageFiles(src, dir);
      fs.writeFileSync(path.join(dir, 'hostname'), rec.Config.Hostname + '\n', { mode: 0o644 });
      // Provisional: a container with a network of its own gets them rewritten once it is attached.
      writeEtcFiles(dir, rec, { kind: network });
    });
  } catch (e) {
    // Anonymous volumes made for a container that could not be created are nobody's.
    const { removeAnonymousVolumes } = await import('../volumes/volumes');
    await removeAnonymousVolumes(p, vols.createdVolumes).catch(() => undefined);
    throw e;
  }
  if (driver === 'vfs') {
    const rootfs = path.join(containerDir(p, id), 'rootfs');
    // keep-id: the copy is owned as the container must see it — each layer file's id, as seen in the
    // keep-id namespace, translated back to the id it was stored with (idmap.ts translateIds).
    const ids = mapping.keepId ? [JSON.stringify({ uid: translateIds(mapping.keepId.storage.uid, mapping.uid), gid: translateIds(mapping.keepId.storage.gid, mapping.gid) })] : [];
    const notes = new Set<string>();
    for (const layerDir of [...layerDirs].reverse()) {
      const { result } = await runWorker<{ notes?: string[] }>('apply', [layerDir, rootfs, ...ids], undefined, mapping);
      for (const n of result?.notes ?? []) notes.add(n);
    }
    // E.g. owners a single-id mapping cannot give the copy: the user should know the copy differs.
    for (const n of notes) report?.({ kind: 'note', message: n });
  }
  // Docker's copy-up: a new (empty) volume takes the image's files at its mount point, owners and
  // modes kept — they are subuid-owned, so the copy runs in the worker on the container's layers.
  if (vols.copyUp.length) {
    await runOnContainerFs(p, rec, { write: false, snapshot: true }, 'copyup', (root) => [JSON.stringify({ root, items: vols.copyUp })]);
  }
  writeCidfile(o.cidfile, rec.Id);
  return { rec, image, config: cfg };
}

/** The mounts of the container a --volumes-from spec names. */
function volumesFromMounts(p: StorePaths, spec: string): MountRecord[] {
  const other = readContainer(p, resolveContainer(p, volumesFromRef(spec)));
  if (!other) throw new LodgerError('NO_SUCH_CONTAINER', `--volumes-from ${spec}: no such container`);
  return other.Mounts;
}
