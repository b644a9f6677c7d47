// Read-only image stores an admin shares (podman's additionalimagestores): where they are, and the images and layers found in them.
//
// A shared store is a lodger store (populated with `lodger --root DIR pull/import`) that users read but
// never change: lodger never writes, locks or garbage-collects one, and `rmi` refuses its images.
// Its files belong to whoever populated it: for a store shared between users an admin populates it as a
// dedicated user and makes it world-readable (chmod -R a+rX); in other users' namespaces those owners
// are unmapped and show as nobody (65534), which reading does not mind — but changing them does: a copy-up
// must give the container's copy the file's owner, which the namespace cannot name. Containers of such
// images therefore use fuse-overlayfs with squash_to_root (sharedLayerOwners here, the decision in
// storage/driver.ts and containers/imageLayers.ts; see docs/HPC.md).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { userConfigDir } from '../config/dirs';
import { isTable, parseToml, TomlSyntaxError } from '../config/toml';
import { digestHex, getLayer, readLayerRecord } from './layerRecords';
import { storePaths, type StorePaths } from './paths';
import type { Reporter } from '../events';

export const SYSTEM_STORAGE_CONF = '/etc/containers/storage.conf';

/** Said once per process: a bad file or store is met by every lookup of a command. */
const warned = new Set<string>();
function warnOnce(report: Reporter | undefined, msg: string): void {
  if (!report || warned.has(msg)) return;
  warned.add(msg);
  report({ kind: 'warning', message: msg });
}

/**
 * `additionalimagestores` of [storage.options] in the user's storage.conf ($XDG_CONFIG_HOME/containers/
 * storage.conf), or the system's when the user has none — the user's file replaces the system's, as
 * containers-storage.conf(5) says for rootless users. A file we cannot parse is warned about, not fatal:
 * it is podman's file too, and lodger should not stop working over a key it does not use.
 */
export function storageConfStores(systemFile = SYSTEM_STORAGE_CONF, report?: Reporter): string[] {
  const user = path.join(userConfigDir(), 'containers', 'storage.conf');
  const file = fs.existsSync(user) ? user : systemFile;
  let text: string;
  try { text = fs.readFileSync(file, 'utf8'); } catch { return []; }
  try {
    const storage = parseToml(text).storage;
    const options = isTable(storage) ? storage.options : undefined;
    const list = isTable(options) ? options.additionalimagestores : undefined;
    if (list === undefined) return [];
    if (!Array.isArray(list) || list.some((x) => typeof x !== 'string')) {
      warnOnce(report, `${file}: [storage.options] additionalimagestores must be an array of paths; ignored`);
      return [];
    }
    return list as string[];
  } catch (e) {
    if (!(e instanceof TomlSyntaxError)) throw e;
    warnOnce(report, `${file} line ${e.line}: ${e.message}; its additionalimagestores are ignored`);
    return [];
  }
}

let cached: { key: string; stores: StorePaths[] } | undefined;

/**
 * The additional stores in order: $LODGER_ADDITIONAL_STORES (colon-separated roots), then storage.conf's.
 * Only lodger stores are used (they have images.json); a podman store (containers/storage layout) is
 * said once and skipped. The caller's own store is never its own additional store. SYSTEMCONF: where
 * the system's storage.conf is (tests give another path).
 */
export function additionalStores(p: StorePaths, systemConf = SYSTEM_STORAGE_CONF): StorePaths[] {
  const env = process.env.LODGER_ADDITIONAL_STORES ?? '';
  const key = `${p.root}\0${env}\0${process.env.XDG_CONFIG_HOME ?? ''}\0${systemConf}`;
  if (cached?.key === key) return cached.stores;
  const roots = [...env.split(':').filter(Boolean), ...storageConfStores(systemConf, p.report)].map((r) => path.resolve(r));
  const stores: StorePaths[] = [];
  for (const root of [...new Set(roots)]) {
    if (root === p.root) continue;
    const s = storePaths(root, p.report);
    if (fs.existsSync(s.imagesIndex)) stores.push(s);
    else if (fs.existsSync(path.join(root, 'overlay-images'))) warnOnce(p.report, `additional image store ${root} is a containers/storage (podman) store, which lodger cannot read; skipped — populate a lodger store for it with "lodger --root DIR pull IMAGE"`);
    else warnOnce(p.report, `additional image store ${root} has no images.json (not a lodger store, or not readable by you); skipped`);
  }
  cached = { key, stores };
  return stores;
}

/** The first additional store that has layer HEX complete, with the layer's unpacked directory. */
export function additionalLayer(p: StorePaths, hex: string): { store: StorePaths; diff: string } | undefined {
  for (const store of additionalStores(p)) {
    const dir = path.join(store.layers, hex);
    if (readLayerRecord(dir)) return { store, diff: path.join(dir, 'diff') };
  }
  return undefined;
}

/** A lower directory of a container that comes from an additional store, with its owner on the host. */
export interface SharedLayerOwner { store: string; dir: string; uid: number; gid: number }

/**
 * Of LAYERS (diff ids), those a container takes from an additional store — not in the caller's own store,
 * which wins (layers.ts locateLayer) — each with the host owner of the layer's diff directory: the root
 * directory of the layer, which `import`/`pull` create as root of the populating user's namespace, so its
 * owner says whose ids the layer's files carry. A directory we cannot stat is left out: lodger fails on
 * it later with a better message.
 */
export function sharedLayerOwners(p: StorePaths, layers: string[]): SharedLayerOwner[] {
  if (additionalStores(p).length === 0) return [];
  const out: SharedLayerOwner[] = [];
  for (const id of layers) {
    if (getLayer(p, id)) continue;  // the caller's own store wins (layers.ts locateLayer)
    const shared = additionalLayer(p, digestHex(id));
    if (!shared) continue;
    try {
      const st = fs.statSync(shared.diff);
      out.push({ store: shared.store.root, dir: shared.diff, uid: st.uid, gid: st.gid });
    } catch { /* see above */ }
  }
  return out;
}
