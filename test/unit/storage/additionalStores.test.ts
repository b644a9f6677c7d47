// Where additional read-only image stores come from and in which order ($LODGER_ADDITIONAL_STORES, then the user's
// storage.conf, which replaces the system's /etc/containers/storage.conf — containers-storage.conf(5)), and which of a
// container's layers come from a store whose owners the container's user namespace cannot map.
// The system file is given as a temporary path: writing the real /etc/containers/storage.conf would change every
// other test's (and podman's) view of the machine.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { additionalStores, storageConfStores } from '../../../src/storage/additionalStores';
import { storePaths } from '../../../src/storage/paths';
import type { EngineEvent } from '../../../src/events';
import { unmappedSharedLayers } from '../../../src/containers/imageLayers';
import type { IdMapping } from '../../../src/helper/idmap';

let dir: string;
let systemConf: string;
let userConf: string;
const saved = { ...process.env };

const conf = (stores: string[]) => `[storage]\ndriver = "overlay"\n\n[storage.options]\nadditionalimagestores = [\n${stores.map((s) => `  "${s}",\n`).join('')}]\n`;

/** An (empty) lodger store at DIR/NAME: images.json is what makes it one. */
function lodgerStore(name: string): string {
  const root = path.join(dir, name);
  fs.mkdirSync(root, { recursive: true });
  fs.writeFileSync(path.join(root, 'images.json'), '{"images":[]}\n');
  return root;
}

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lodger-unit-stores-'));
  systemConf = path.join(dir, 'etc-containers-storage.conf');
  fs.mkdirSync(path.join(dir, 'config', 'containers'), { recursive: true });
  userConf = path.join(dir, 'config', 'containers', 'storage.conf');
  process.env.XDG_CONFIG_HOME = path.join(dir, 'config');
  delete process.env.LODGER_ADDITIONAL_STORES;
});

afterEach(() => {
  process.env = { ...saved };
  vi.restoreAllMocks();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('storageConfStores', () => {
  it('reads the system file when the user has none', () => {
    fs.writeFileSync(systemConf, conf(['/shared/a', '/shared/b']));
    expect(storageConfStores(systemConf)).toEqual(['/shared/a', '/shared/b']);
  });

  it('the user\'s file replaces the system\'s, also when it does not name the key', () => {
    fs.writeFileSync(systemConf, conf(['/shared/system']));
    fs.writeFileSync(userConf, conf(['/shared/user']));
    expect(storageConfStores(systemConf)).toEqual(['/shared/user']);
    fs.writeFileSync(userConf, '[storage]\ndriver = "overlay"\n');
    expect(storageConfStores(systemConf)).toEqual([]);
  });

  it('neither file: no stores; a file it cannot parse or a key of the wrong type: a warning naming the file, no stores', () => {
    expect(storageConfStores(systemConf)).toEqual([]);
    const events: EngineEvent[] = [];
    fs.writeFileSync(systemConf, '[storage.options]\nadditionalimagestores = [\n');
    expect(storageConfStores(systemConf, (e) => events.push(e))).toEqual([]);
    fs.writeFileSync(systemConf, '[storage.options]\nadditionalimagestores = "/shared/a"\n');
    expect(storageConfStores(systemConf, (e) => events.push(e))).toEqual([]);
    expect(events.every((e) => e.kind === 'warning')).toBe(true);
    const said = events.map((e) => ('message' in e ? e.message : '')).join('\n');
    expect(said).toMatch(new RegExp(`${systemConf} line \\d+: .*its additionalimagestores are ignored`));
    expect(said).toContain(`${systemConf}: [storage.options] additionalimagestores must be an array of paths; ignored`);
  });
});

describe('additionalStores', () => {
  it('$LODGER_ADDITIONAL_STORES first, then storage.conf\'s; each once; never the caller\'s own store; only lodger stores', () => {
    const a = lodgerStore('a');
    const b = lodgerStore('b');
    const c = lodgerStore('c');
    const own = lodgerStore('own');
    const events: EngineEvent[] = [];
    process.env.LODGER_ADDITIONAL_STORES = `${b}:${own}`;
    fs.writeFileSync(systemConf, conf([c, b, a, path.join(dir, 'missing')]));
    expect(additionalStores(storePaths(own, (e) => events.push(e)), systemConf).map((s) => s.root)).toEqual([b, c, a]);
    expect(events.map((e) => ('message' in e ? e.message : '')).join('\n')).toContain(`additional image store ${path.join(dir, 'missing')} has no images.json`);
  });
});

describe('unmappedSharedLayers', () => {
  const hex = 'ab'.repeat(32);
  const map = (uid: number, gid: number): IdMapping => ({
    mode: 'helper', setgroupsDeny: false, user: 'u',
    uid: [{ inside: 0, outside: uid, count: 1 }, { inside: 1, outside: 100000, count: 65536 }],
    gid: [{ inside: 0, outside: gid, count: 1 }, { inside: 1, outside: 100000, count: 65536 }],
  });

  it('a layer of an additional store counts when its directory\'s owner (uid or gid) has no id in the namespace', () => {
    const shared = lodgerStore('shared');
    const diff = path.join(shared, 'layers', hex, 'diff');
    fs.mkdirSync(diff, { recursive: true });
    fs.writeFileSync(path.join(shared, 'layers', hex, 'layer.json'), '{}');
    process.env.LODGER_ADDITIONAL_STORES = shared;
    const p = storePaths(lodgerStore('own'));
    const me = { uid: process.getuid!(), gid: process.getgid!() };
    // The layer directory is ours here: a mapping of our ids sees its owners, one of someone else's does not.
    expect(unmappedSharedLayers(p, [`sha256:${hex}`], map(me.uid, me.gid))).toEqual([]);
    expect(unmappedSharedLayers(p, [`sha256:${hex}`], map(me.uid + 1, me.gid))).toEqual([{ store: shared, dir: diff, uid: me.uid, gid: me.gid }]);
    expect(unmappedSharedLayers(p, [`sha256:${hex}`], map(me.uid, me.gid + 1))).toHaveLength(1);
    // The same layer in the caller's own store is used from there: nothing to squash.
    fs.mkdirSync(path.join(p.layers, hex, 'diff'), { recursive: true });
    fs.writeFileSync(path.join(p.layers, hex, 'layer.json'), '{}');
    expect(unmappedSharedLayers(p, [`sha256:${hex}`], map(me.uid + 1, me.gid))).toEqual([]);
  });
});
