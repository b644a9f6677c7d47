// `create` (and the first half of `run`): checks the options, writes the container record and its directories.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LodgerError, fsError } from '../errors';
import type { Reporter } from '../events';
import { DEFAULT_PATH, type ImageConfig } from '../oci/config';
import { containerDir, createContainerRecord, newContainerId, type ContainerRecord, type MountRecord } from '../storage/containers';
import { chooseDriver } from '../storage/driver';
import type { ImageRecord } from '../storage/images';
import { imageLayerDirs } from '../storage/layers';
import type { StorePaths } from '../storage/paths';
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

/** `-v SRC:DST[:ro|rw|z|Z…]` for host directories and files; the source must exist (as podman requires). */
export function parseVolume(spec: string): MountRecord {
  const parts = spec.split(':');
  if (parts.length < 2 || parts.length > 3) throw new LodgerError('BAD_VOLUME', `-v ${spec}: expected SRC:DST[:ro]`);
  const [src, dst, opts = ''] = parts;
  if (!src.startsWith('/') && !src.startsWith('.')) throw new LodgerError('BAD_VOLUME', `-v ${spec}: named volumes are not supported; give a host path (absolute or ./relative)`);
  if (!dst.startsWith('/')) throw new LodgerError('BAD_VOLUME', `-v ${spec}: the container path must be absolute`);
  const source = path.resolve(src);
  if (!fs.existsSync(source)) throw new LodgerError('BIND_SOURCE', `-v ${spec}: bind mount source ${source} does not exist — create it first or fix the path`);
  const flags = opts.split(',').filter(Boolean);
  for (const f of flags) if (!['ro', 'rw', 'z', 'Z', 'rbind', 'bind', 'rprivate', 'private'].includes(f)) throw new LodgerError('BAD_VOLUME', `-v ${spec}: unknown option "${f}"`);
  const ro = flags.includes('ro');
  return { Type: 'bind', Source: source, Destination: path.posix.normalize(dst), Mode: ro ? 'ro' : '', RW: !ro, Propagation: 'rprivate' };
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
  const mounts = [...o.volumes.map(parseVolume), ...dev.mounts];
  const securityOpt = checkSecurityOptions(o);
  const cgMode = cgroupsMode(o.cgroups);
  const id = newContainerId();
  const resources = resourceFlags(o);
  checkCgroupRequest(resources, cgMode, id);
  // Layers of another user's shared store decide the driver too (imageLayers.ts unmappedSharedLayers).
  const driver = await chooseDriver(p, mapping, o.storageDriver,
    src.squashfs ? { squashfs: true } : { shared: unmappedSharedLayers(p, image.layers, mapping) });
  checkDriverFor(src, driver);
  const network = o.network || 'default';
  validateNetworkOptions(o);
  const imageEnv = cfg.config?.Env ?? [];
  const env = mergeEnv(imageEnv.some((e) => e.startsWith('PATH=')) ? [] : [`PATH=${DEFAULT_PATH}`], imageEnv, dev.env, parseEnv(o.env, o.envFile));
  // Every declared option's Docker field (options.ts), then what create resolves against the image and host.
  const declared = dockerBodyFromCreateOptions(o);
  const { HostConfig: declaredHost, NetworkingConfig: _net, Image: _image, Cmd: _cmd, ...declaredConfig } = declared;
  const rec: ContainerRecord = {
    Id: id,
    Name: o.name ?? '',
    Created: new Date().toISOString(),
    Image: o.image,
    ImageID: image.id,
    Config: {
      ...(declaredConfig as Partial<ContainerRecord['Config']>),
      Hostname: o.hostname ?? id.slice(0, 12),
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
      StopSignal: cfg.config?.StopSignal,
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
    },
    Mounts: mounts,
    Driver: driver,
    Layers: image.layers,
    SquashfsImage: src.squashfs?.file,
  };
  await createContainerRecord(p, rec, (dir) => {
    for (const d of driver === 'vfs' ? ['rootfs'] : ['upper', 'work', 'merged']) fs.mkdirSync(path.join(dir, d), { mode: 0o755 });
    // keep-id: the user's own passwd/group entries, bound over the image's (containerPlan.ts).
    if (mapping.keepId) writeKeepIdEtc(dir, src.squashfs ? [src.squashfs.metaDir] : layerDirs, mapping.keepId);
    adoptImageFiles(src, dir);
    fs.writeFileSync(path.join(dir, 'hostname'), rec.Config.Hostname + '\n', { mode: 0o644 });
    // Provisional: a container with a network of its own gets them rewritten once it is attached.
    writeEtcFiles(dir, rec, { kind: network });
  });
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
  return { rec, image, config: cfg };
}
