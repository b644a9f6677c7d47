// A container's mounts from -v, --mount, --tmpfs, --volumes-from and the image's VOLUME entries (parsed by mountSpec.ts); named and anonymous volumes are made here.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LodgerError } from '../errors';
import type { MountRecord } from '../storage/containers';
import type { StorePaths } from '../storage/paths';
import { ANONYMOUS_LABEL, anonymousVolumeName, ensureVolume, volumeDataDir } from '../volumes/volumes';
import { parseMountFlag, parseTmpfsFlag, parseVolumeFlag, type MountSpec } from './mountSpec';

export type { MountSpec } from './mountSpec';
export { parseMountFlag, parseTmpfsFlag, parseVolumeFlag } from './mountSpec';

export interface MountRequest {
  volumes: string[];
  mounts: string[];
  tmpfs: string[];
  /** --volumes-from: the other containers' mounts (resolved by the caller: CONTAINER[:ro|rw] → its mounts). */
  inherited: MountRecord[];
  /** The image's VOLUME entries (config.Volumes keys). */
  imageVolumes: string[];
}

/** Every mount spec, checked: one mount per target, the image's VOLUMEs where nothing else goes. */
export function collectMounts(r: Omit<MountRequest, 'inherited'>): MountSpec[] {
  const specs = [...r.volumes.map(parseVolumeFlag), ...r.mounts.map(parseMountFlag), ...r.tmpfs.map(parseTmpfsFlag)];
  const seen = new Map<string, string>();
  for (const s of specs) {
    const prev = seen.get(s.target);
    if (prev) throw new LodgerError('DUPLICATE_MOUNT', `duplicate mount point ${s.target}: ${prev} and ${s.given}`);
    seen.set(s.target, s.given);
  }
  for (const v of r.imageVolumes) {
    const target = path.posix.normalize(v).replace(/(.)\/$/, '$1');
    if (!target.startsWith('/') || seen.has(target)) continue;
    seen.set(target, `the image's VOLUME ${v}`);
    specs.push({ type: 'volume', source: '', target, readOnly: false, given: `VOLUME ${v}` });
  }
  return specs;
}

/** A mount to carry out and, for a volume made empty or new now, whether to fill it from the image. */
export interface ResolvedMounts { mounts: MountRecord[]; copyUp: Array<{ target: string; dataDir: string }>; createdVolumes: string[] }

/** Makes the volumes the specs need (named ones on first use, anonymous ones always) and the mount records. */
export async function resolveMounts(p: StorePaths, specs: MountSpec[], inherited: MountRecord[] = []): Promise<ResolvedMounts> {
  const out: ResolvedMounts = { mounts: [], copyUp: [], createdVolumes: [] };
  const targets = new Set(specs.map((s) => s.target));
  for (const s of specs) {
    if (s.type === 'bind') {
      if (!fs.existsSync(s.source)) throw new LodgerError('BIND_SOURCE', `${s.given}: bind mount source ${s.source} does not exist — create it first or fix the path`);
      out.mounts.push({ Type: 'bind', Source: s.source, Destination: s.target, Mode: s.readOnly ? 'ro' : '', RW: !s.readOnly, Propagation: s.propagation ?? 'rprivate' });
    } else if (s.type === 'tmpfs') {
      out.mounts.push({ Type: 'tmpfs', Source: '', Destination: s.target, Mode: '', RW: !s.readOnly, Propagation: '', TmpfsOptions: [...(s.tmpfsFlags ?? []), ...(s.tmpfsData ?? [])].join(',') });
    } else {
      const anonymous = s.source === '';
      const name = anonymous ? anonymousVolumeName() : s.source;
      const labels = anonymous ? { [ANONYMOUS_LABEL]: '' } : s.labels;
      const { created } = await ensureVolume(p, name, { labels });
      if (created) out.createdVolumes.push(name);
      const dataDir = volumeDataDir(p, name);
      // Docker fills a volume from the image whenever it is empty when mounted, new or not (unless nocopy).
      if (!s.noCopy && isEmptyDir(dataDir)) out.copyUp.push({ target: s.target, dataDir });
      out.mounts.push({ Type: 'volume', Name: name, Source: dataDir, Destination: s.target, Driver: 'local', Mode: s.readOnly ? 'ro' : (s.given.startsWith('-v') ? 'z' : ''), RW: !s.readOnly, Propagation: '', ...(anonymous ? { Anonymous: true } : {}) });
    }
  }
  // --volumes-from: the other container's mounts where this one has nothing of its own.
  for (const m of inherited) {
    if (targets.has(m.Destination)) continue;
    targets.add(m.Destination);
    out.mounts.push(m);
  }
  return out;
}

function isEmptyDir(dir: string): boolean {
  try { return fs.readdirSync(dir).length === 0; } catch { return false; }
}

/** `--volumes-from CONTAINER[:ro|rw]`: that container's bind mounts and volumes, read-only with :ro (docker-run(1)). */
export function inheritMounts(spec: string, mounts: MountRecord[]): MountRecord[] {
  const i = spec.lastIndexOf(':');
  const mode = i > 0 ? spec.slice(i + 1) : '';
  if (mode && mode !== 'ro' && mode !== 'rw') throw new LodgerError('BAD_MOUNT', `--volumes-from ${spec}: unknown mode "${mode}" (ro or rw)`);
  return mounts
    .filter((m) => m.Type === 'bind' || m.Type === 'volume')
    .map((m) => {
      const rw = mode === 'ro' ? false : mode === 'rw' ? true : m.RW;
      // Not this container's to remove: the volume stays with the one that made it.
      const { Anonymous: _, ...rest } = m;
      return { ...rest, RW: rw, Mode: rw ? rest.Mode.replace(/^ro$/, '') : 'ro' };
    });
}

/** The --volumes-from spec's container reference. */
export function volumesFromRef(spec: string): string {
  const i = spec.lastIndexOf(':');
  return i > 0 && ['ro', 'rw'].includes(spec.slice(i + 1)) ? spec.slice(0, i) : spec;
}
