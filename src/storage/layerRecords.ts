// A layer's record in a store (layer.json): its digest-named directory, and whether it can be trusted in this boot.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LodgerError } from '../errors';
import { readJson } from './atomic';
import type { StorePaths } from './paths';

export interface LayerRecord {
  diffId: string;
  size: number;
  entries?: number;
  created: string;
  /**
   * The boot (/proc/sys/kernel/random/boot_id) in which the layer was recorded before its files were
   * known to be on disk; removed once a syncfs(2) has made them durable (syncStoreLayers). Until then
   * the layer holds only for that boot: after a power cut its files may be empty or missing.
   */
  unsyncedBoot?: string;
}

let bootIdCache: string | undefined;
/** This boot's id (random(4): boot_id, new at each boot), or '' where /proc does not say. */
export function currentBootId(): string {
  return (bootIdCache ??= (() => {
    try { return fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim(); } catch { return ''; }
  })());
}

/** A record that can be trusted now: durable, or recorded in this boot (the page cache still holds its files). */
function trustworthy(rec: LayerRecord): boolean {
  return rec.unsyncedBoot === undefined || (rec.unsyncedBoot !== '' && rec.unsyncedBoot === currentBootId());
}

const DIGEST_RE = /^sha256:([0-9a-f]{64})$/;

/** The hex of a sha256 digest, refusing anything else before it becomes a path (CVE-2024-3727 class). */
export function digestHex(digest: string): string {
  const m = DIGEST_RE.exec(digest);
  if (!m) throw new LodgerError('BAD_DIGEST', `digest ${JSON.stringify(digest)} is not of the form sha256:<64 hex digits>`);
  return m[1];
}

export function layerDir(p: StorePaths, diffId: string): string {
  return path.join(p.layers, digestHex(diffId));
}

/**
 * A layer counts as present only once its layer.json was written (last, atomically), and only while it
 * can be trusted: one recorded unsynced in an earlier boot (a crash came before its sync) is not.
 */
export function getLayer(p: StorePaths, diffId: string): LayerRecord | undefined {
  return readLayerRecord(layerDir(p, diffId));
}

/** The record of the layer directory DIR (of any store) if it is present and can be trusted (getLayer). */
export function readLayerRecord(dir: string): LayerRecord | undefined {
  const rec = readJson<LayerRecord>(path.join(dir, 'layer.json'));
  return rec && trustworthy(rec) ? rec : undefined;
}
