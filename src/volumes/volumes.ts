// Named and anonymous volumes in the store ($root/volumes/NAME/{volume.json,_data}): create, list, inspect, remove, prune — data shaped as Docker's Volume object.
//
// A volume is a directory of the store bound into containers. Its record is written under the store
// lock into a staging directory that is renamed into place, so a volume either exists whole or not at
// all. Files in _data are owned by the container's ids (subuid range, as layer files are), so a volume
// is deleted through the store worker when the user alone cannot (storage/layers.ts removeTrees).
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LodgerError } from '../errors';
import { readJson, writeJsonAtomic } from '../storage/atomic';
import { listContainerIds, liveState, readContainer, readState } from '../storage/containers';
import { removeTrees } from '../storage/layers';
import { withStoreLock } from '../storage/lock';
import type { StorePaths } from '../storage/paths';

/** Docker's label on a volume made for a container's `-v /path` or an image's VOLUME (moby ≥ 23). */
export const ANONYMOUS_LABEL = 'com.docker.volume.anonymous';

/** Docker's Volume object (Engine API `GET /volumes/{name}`). */
export interface Volume {
  Name: string;
  Driver: 'local';
  Mountpoint: string;
  CreatedAt: string;
  Labels: Record<string, string>;
  Scope: 'local';
  Options: Record<string, string>;
}

interface VolumeRecord { Name: string; CreatedAt: string; Labels: Record<string, string>; Options: Record<string, string> }

/** Docker's rule for volume names (daemon/names: RestrictedNamePattern), at least two characters. */
const NAME_RX = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

export function volumesDir(p: StorePaths): string {
  return path.join(p.root, 'volumes');
}

function volumeDir(p: StorePaths, name: string): string {
  if (!NAME_RX.test(name)) {
    throw new LodgerError('BAD_VOLUME_NAME', `invalid volume name ${JSON.stringify(name)}: it must match [a-zA-Z0-9][a-zA-Z0-9_.-]+ (a host path must be absolute or start with "./")`);
  }
  return path.join(volumesDir(p), name);
}

/** The directory a container mounts for volume NAME. */
export function volumeDataDir(p: StorePaths, name: string): string {
  return path.join(volumeDir(p, name), '_data');
}

function toVolume(p: StorePaths, r: VolumeRecord): Volume {
  return { Name: r.Name, Driver: 'local', Mountpoint: volumeDataDir(p, r.Name), CreatedAt: r.CreatedAt, Labels: r.Labels, Scope: 'local', Options: r.Options };
}

function readRecord(p: StorePaths, name: string): VolumeRecord | undefined {
  return readJson<VolumeRecord>(path.join(volumeDir(p, name), 'volume.json'));
}

export interface CreateVolumeOptions {
  labels?: Record<string, string>;
  /** Docker's local driver options (-o type=…,device=…) — refused: a mount of a device needs root. */
  options?: Record<string, string>;
  driver?: string;
}

/** A fresh anonymous volume's name: 64 hex digits, as Docker's. */
export function anonymousVolumeName(): string {
  return crypto.randomBytes(32).toString('hex');
}

function checkDriver(o: CreateVolumeOptions): void {
  if (o.driver && o.driver !== 'local') throw new LodgerError('VOLUME_DRIVER', `volume driver "${o.driver}" is not available: lodger has only the "local" driver`);
  const opts = Object.keys(o.options ?? {});
  if (opts.length) throw new LodgerError('VOLUME_OPTIONS', `volume options (${opts.join(', ')}) are not supported: the local driver's type/device/o mount a filesystem, which needs root — use a bind mount of a host directory instead`);
}

/** Creates volume NAME (or finds it, as `docker volume create` does for an existing name); CREATED says which. */
export async function ensureVolume(p: StorePaths, name: string, o: CreateVolumeOptions = {}): Promise<{ volume: Volume; created: boolean }> {
  checkDriver(o);
  const dir = volumeDir(p, name);
  return withStoreLock(p, () => {
    const existing = readRecord(p, name);
    if (existing) return { volume: toVolume(p, existing), created: false };
    fs.mkdirSync(volumesDir(p), { recursive: true, mode: 0o700 });
    const stage = path.join(volumesDir(p), `.tmp-${process.pid}-${crypto.randomBytes(4).toString('hex')}`);
    fs.mkdirSync(stage, { mode: 0o700 });
    // _data is the volume's root as containers see it: root's (the user's) and 0755, as Docker makes it.
    fs.mkdirSync(path.join(stage, '_data'), { mode: 0o755 });
    fs.chmodSync(path.join(stage, '_data'), 0o755);
    const rec: VolumeRecord = { Name: name, CreatedAt: new Date().toISOString(), Labels: o.labels ?? {}, Options: o.options ?? {} };
    writeJsonAtomic(path.join(stage, 'volume.json'), rec);
    // A leftover without its record (a crash mid-removal) is replaced.
    if (fs.existsSync(dir)) fs.renameSync(dir, path.join(volumesDir(p), `.trash-${process.pid}-${crypto.randomBytes(4).toString('hex')}`));
    fs.renameSync(stage, dir);
    return { volume: toVolume(p, rec), created: true };
  });
}

export async function createVolume(p: StorePaths, name: string | undefined, o: CreateVolumeOptions = {}): Promise<Volume> {
  return (await ensureVolume(p, name || anonymousVolumeName(), o)).volume;
}

export function inspectVolume(p: StorePaths, name: string): Volume {
  const r = NAME_RX.test(name) ? readRecord(p, name) : undefined;
  if (!r) throw new LodgerError('VOLUME_NOT_FOUND', `no such volume: ${name} — see "lodger volume ls"`);
  return toVolume(p, r);
}

/** Every volume, by name. */
export function allVolumes(p: StorePaths): Volume[] {
  let names: string[] = [];
  try { names = fs.readdirSync(volumesDir(p)); } catch { return []; }
  const out: Volume[] = [];
  for (const n of names.sort()) {
    if (!NAME_RX.test(n)) continue;
    const r = readRecord(p, n);
    if (r) out.push(toVolume(p, r));
  }
  return out;
}

/** Which containers mount each volume (by name), and whether any of them runs. */
export function volumeUsers(p: StorePaths): Map<string, Array<{ id: string; running: boolean }>> {
  const users = new Map<string, Array<{ id: string; running: boolean }>>();
  for (const id of listContainerIds(p)) {
    const rec = readContainer(p, id);
    if (!rec) continue;
    const names = new Set(rec.Mounts.filter((m) => m.Type === 'volume' && m.Name).map((m) => m.Name!));
    if (names.size === 0) continue;
    const running = liveState(readState(p, id)).Running;
    for (const n of names) users.set(n, [...(users.get(n) ?? []), { id, running }]);
  }
  return users;
}

/** `--filter` of `volume ls` / `volume prune`: name=, label=K[=V], label!=K[=V], dangling=true|false, driver=. */
export interface VolumeFilter { key: string; value: string; negate?: boolean }

export function parseVolumeFilters(specs: string[]): VolumeFilter[] {
  return specs.map((s) => {
    const m = /^([a-z]+)(!?)=(.*)$/.exec(s);
    if (!m || !['name', 'label', 'dangling', 'driver', 'all'].includes(m[1])) {
      throw new LodgerError('BAD_FILTER', `invalid filter ${JSON.stringify(s)}: use name=, label=KEY[=VALUE], label!=KEY[=VALUE], dangling=true|false or driver=`);
    }
    if (m[2] && m[1] !== 'label') throw new LodgerError('BAD_FILTER', `invalid filter ${JSON.stringify(s)}: only label may be negated (label!=)`);
    if (m[1] === 'dangling' && !['true', 'false', '1', '0'].includes(m[3])) throw new LodgerError('BAD_FILTER', `invalid filter ${JSON.stringify(s)}: dangling is true or false`);
    return { key: m[1], value: m[3], negate: m[2] === '!' };
  });
}

function labelMatches(labels: Record<string, string>, spec: string): boolean {
  const i = spec.indexOf('=');
  if (i < 0) return Object.hasOwn(labels, spec);
  return labels[spec.slice(0, i)] === spec.slice(i + 1);
}

/** Docker's filter semantics: different keys must all match; several values of one key match if any does (label: all must). */
export function matchesFilters(v: Volume, inUse: boolean, filters: VolumeFilter[]): boolean {
  const byKey = new Map<string, VolumeFilter[]>();
  for (const f of filters) byKey.set(f.key + (f.negate ? '!' : ''), [...(byKey.get(f.key + (f.negate ? '!' : '')) ?? []), f]);
  for (const [key, fs_] of byKey) {
    switch (key) {
      case 'name': if (!fs_.some((f) => v.Name.includes(f.value))) return false; break;
      case 'driver': if (!fs_.some((f) => f.value === v.Driver)) return false; break;
      case 'dangling': if (!fs_.some((f) => (['true', '1'].includes(f.value) ? !inUse : inUse))) return false; break;
      case 'label': if (!fs_.every((f) => labelMatches(v.Labels, f.value))) return false; break;
      case 'label!': if (fs_.some((f) => labelMatches(v.Labels, f.value))) return false; break;
      default: break;
    }
  }
  return true;
}

export function listVolumes(p: StorePaths, filters: VolumeFilter[] = []): Volume[] {
  const users = volumeUsers(p);
  return allVolumes(p).filter((v) => matchesFilters(v, users.has(v.Name), filters));
}

export interface RemoveVolumeOptions {
  /** Also when stopped containers use it (their records keep naming it; a start recreates it empty). */
  force?: boolean;
}

/**
 * Removes volume NAME. Docker refuses a volume any container uses; lodger's -f removes one that only
 * stopped containers use. A running container's volume is never removed: its files are in use.
 */
export async function removeVolume(p: StorePaths, name: string, o: RemoveVolumeOptions = {}): Promise<void> {
  const trash = await withStoreLock(p, () => {
    inspectVolume(p, name);
    const users = volumeUsers(p).get(name) ?? [];
    const running = users.filter((u) => u.running);
    if (running.length) throw new LodgerError('VOLUME_IN_USE', `remove volume ${name}: it is in use by running container ${running.map((u) => u.id.slice(0, 12)).join(', ')} — stop it first`);
    if (users.length && !o.force) throw new LodgerError('VOLUME_IN_USE', `remove volume ${name}: it is in use by container ${users.map((u) => u.id.slice(0, 12)).join(', ')} — remove the container first ("lodger rm -v"), or use "lodger volume rm -f"`);
    // The record vanishes at once (a rename); the files are deleted after the lock is let go.
    const t = path.join(volumesDir(p), `.trash-${process.pid}-${crypto.randomBytes(4).toString('hex')}`);
    fs.renameSync(volumeDir(p, name), t);
    return t;
  });
  await removeTrees([trash]);
}

/** The anonymous volumes among NAMES that no container other than EXCEPT uses: what `rm -v` removes. */
export async function removeAnonymousVolumes(p: StorePaths, names: string[]): Promise<string[]> {
  const users = volumeUsers(p);
  const removed: string[] = [];
  for (const n of names) {
    let v: Volume;
    try { v = inspectVolume(p, n); } catch { continue; }
    if (!Object.hasOwn(v.Labels, ANONYMOUS_LABEL) || users.has(n)) continue;
    await removeVolume(p, n);
    removed.push(n);
  }
  return removed;
}

export interface PruneReport { VolumesDeleted: string[]; SpaceReclaimed: number }

/**
 * `volume prune`: unused volumes matching FILTERS. As Docker ≥ 23, only anonymous ones unless ALL
 * (or the filter all=true) is given.
 */
export async function pruneVolumes(p: StorePaths, o: { all?: boolean; filters?: VolumeFilter[] } = {}): Promise<PruneReport> {
  const filters = (o.filters ?? []).filter((f) => f.key !== 'all');
  const all = o.all || (o.filters ?? []).some((f) => f.key === 'all' && ['true', '1'].includes(f.value));
  const users = volumeUsers(p);
  const victims = allVolumes(p).filter((v) => !users.has(v.Name) && (all || Object.hasOwn(v.Labels, ANONYMOUS_LABEL)) && matchesFilters(v, false, filters));
  const sizes = await volumeSizes(p, victims.map((v) => v.Name));
  const deleted: string[] = [];
  let space = 0;
  for (const [i, v] of victims.entries()) {
    try { await removeVolume(p, v.Name); } catch { continue; }  // taken into use meanwhile
    deleted.push(v.Name);
    space += sizes[i] ?? 0;
  }
  return { VolumesDeleted: deleted, SpaceReclaimed: space };
}

/** Apparent sizes of volumes' _data trees (the worker reads the subuid-owned files, storage/layers.ts). */
export async function volumeSizes(p: StorePaths, names: string[]): Promise<number[]> {
  if (names.length === 0) return [];
  const { runWorker } = require('../helper/usernsWorker') as typeof import('../helper/usernsWorker');
  const { result } = await runWorker<number[]>('du', names.map((n) => volumeDataDir(p, n)));
  return result;
}
