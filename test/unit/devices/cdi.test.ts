// Unit tests for CDI: specs in YAML or JSON, spec validation, device resolution (priority, conflicts, "all") and the edits lodger can and cannot carry out.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LodgerError } from '../../../src/errors';
import { cdiEdits, isCdiName, loadCdiRegistry, parseCdiName, parseSpecText, resolveCdiDevices, validateSpec } from '../../../src/devices/cdi';

function thrown(fn: () => unknown): LodgerError {
  try { fn(); } catch (e) { expect(e).toBeInstanceOf(LodgerError); return e as LodgerError; }
  throw new Error('expected a LodgerError');
}

/** The shape `nvidia-ctk cdi generate` writes (abridged): block style, sequences at the key's indentation, a quoted name. */
const NVIDIA_STYLE = `---
cdiVersion: 0.5.0
containerEdits:
  deviceNodes:
  - path: /dev/nvidiactl
  env:
  - NVIDIA_VISIBLE_DEVICES=void
  hooks:
  - args:
    - nvidia-cdi-hook
    - update-ldcache
    hookName: createContainer
    path: /usr/bin/nvidia-cdi-hook
  mounts:
  - containerPath: /usr/lib/x86_64-linux-gnu/libcuda.so.535.104.05
    hostPath: /usr/lib/x86_64-linux-gnu/libcuda.so.535.104.05
    options:
    - ro
    - nosuid
    - nodev
    - bind
devices:
- containerEdits:
    deviceNodes:
    - path: /dev/nvidia0
    - path: /dev/dri/card1   # a comment
  name: "0"
- name: all
  containerEdits:
    deviceNodes:
      - path: /dev/nvidia0
    mounts:
      - hostPath: /a
        containerPath: /b
        options: [ro, "nosuid"]
kind: nvidia.com/gpu
`;

describe('CDI specs in YAML (the yaml library, core schema)', () => {
  it('reads what nvidia-ctk writes, with the same values JSON would give', () => {
    const v = parseSpecText(NVIDIA_STYLE, 'spec.yaml') as Record<string, any>;
    expect(v.cdiVersion).toBe('0.5.0');
    expect(v.kind).toBe('nvidia.com/gpu');
    expect(v.containerEdits.deviceNodes).toEqual([{ path: '/dev/nvidiactl' }]);
    expect(v.containerEdits.hooks[0]).toEqual({ args: ['nvidia-cdi-hook', 'update-ldcache'], hookName: 'createContainer', path: '/usr/bin/nvidia-cdi-hook' });
    expect(v.containerEdits.mounts[0].options).toEqual(['ro', 'nosuid', 'nodev', 'bind']);
    expect(v.devices[0]).toEqual({ containerEdits: { deviceNodes: [{ path: '/dev/nvidia0' }, { path: '/dev/dri/card1' }] }, name: '0' });
    expect(v.devices[1]).toEqual({ name: 'all', containerEdits: { deviceNodes: [{ path: '/dev/nvidia0' }], mounts: [{ hostPath: '/a', containerPath: '/b', options: ['ro', 'nosuid'] }] } });
    expect(validateSpec(v)).toBeUndefined();
  });

  it('types plain scalars by the core schema and keeps quoted ones as strings', () => {
    expect(parseSpecText('a: 12\nb: "12"\nc: true\nd: ~\ne: 0o644\nf: it\'s\ng: \'it\'\'s\'\nh: "t\\u00e9st"\ni: []\nj: {}\nk: x # c\n', 'spec.yaml'))
      .toEqual({ a: 12, b: '12', c: true, d: null, e: 0o644, f: "it's", g: "it's", h: 'tést', i: [], j: {}, k: 'x' });
  });

  it('reads anchors, aliases, block scalars, flow mappings and multi-line plain scalars', () => {
    expect(parseSpecText('a: &x 1\nb: *x\nc: |\n  text\nd: one\n  two\ne: {f: 1}\n', 'spec.yaml'))
      .toEqual({ a: 1, b: 1, c: 'text\n', d: 'one two', e: { f: 1 } });
  });

  it('refuses what is not one well-formed document, naming the line', () => {
    const cases: Array<[string, RegExp]> = [
      ['a: 1\n---\nb: 2\n', /line 2: .*multiple documents/],
      ['a: 1\na: 2\n', /line 2: .*unique/],
      ['a:\n  - 1\n b: 2\n', /line 3: /],
      ['a: [\n', /line 2: /],
    ];
    for (const [text, re] of cases) expect(thrown(() => parseSpecText(text, 'spec.yaml')).message).toMatch(re);
  });

  it('stops an alias bomb instead of expanding it', () => {
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 9; i++) bomb.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10).fill('*' + String.fromCharCode(96 + i)).join(', ')}]`);
    expect(() => parseSpecText(bomb.join('\n') + '\n', 'spec.yaml')).toThrow(/alias|Excessive/i);
  });

  it('makes a key named __proto__ plain data', () => {
    const v = parseSpecText('__proto__:\n  polluted: 1\n', 'spec.yaml') as Record<string, unknown>;
    expect(Object.keys(v)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('CDI names and specs', () => {
  it('tells CDI names from paths and checks their parts', () => {
    expect(isCdiName('nvidia.com/gpu=all')).toBe(true);
    expect(isCdiName('/dev/nvidia0')).toBe(false);
    expect(isCdiName('/dev/a=b')).toBe(false);
    expect(parseCdiName('vendor.example/fake=gpu0')).toEqual({ kind: 'vendor.example/fake', vendor: 'vendor.example', cls: 'fake', name: 'gpu0' });
    expect(thrown(() => parseCdiName('vendor.example/fa ke=x')).message).toMatch(/not a valid CDI device name/);
  });

  it('says what is wrong with a spec', () => {
    expect(validateSpec({ kind: 'a.b/c', devices: [{ name: 'x' }] })).toMatch(/cdiVersion/);
    expect(validateSpec({ cdiVersion: '0.6.0', kind: 'nokind', devices: [{ name: 'x' }] })).toMatch(/not VENDOR\/CLASS/);
    expect(validateSpec({ cdiVersion: '0.6.0', kind: 'a.b/c', devices: [] })).toMatch(/no devices/);
    expect(validateSpec({ cdiVersion: '0.6.0', kind: 'a.b/c', devices: [{ name: 'x' }, { name: 'x' }] })).toMatch(/defined twice/);
    expect(validateSpec({ cdiVersion: '0.6.0', kind: 'a.b/c', devices: [{ name: 'x', containerEdits: { deviceNodes: [{ path: 'dev/x' }] } }] })).toMatch(/absolute "path"/);
    expect(validateSpec({ cdiVersion: '0.6.0', kind: 'a.b/c', devices: [{ name: 'x', containerEdits: { env: ['NOEQUALS'] } }] })).toMatch(/KEY=VALUE/);
  });
});

describe('resolving CDI devices from spec directories', () => {
  let base: string;
  const write = (dir: string, name: string, body: unknown) => {
    fs.mkdirSync(path.join(base, dir), { recursive: true });
    fs.writeFileSync(path.join(base, dir, name), typeof body === 'string' ? body : JSON.stringify(body));
  };
  const dev = (name: string, node: string, env?: string[]) => ({ name, containerEdits: { deviceNodes: [{ path: `/dev/${name}`, hostPath: node }], ...(env ? { env } : {}) } });

  beforeAll(() => {
    base = fs.mkdtempSync(path.join(os.tmpdir(), 'lodger-cdi-unit-'));
    write('etc', 'fake.json', { cdiVersion: '0.6.0', kind: 'vendor.example/fake', containerEdits: { env: ['SPEC=1'] }, devices: [dev('gpu0', '/dev/null', ['G=0']), dev('gpu1', '/dev/zero'), dev('gpu10', '/dev/full')] });
    write('etc', 'dup-a.json', { cdiVersion: '0.6.0', kind: 'vendor.example/dup', devices: [dev('d', '/dev/null')] });
    write('etc', 'dup-b.yaml', 'cdiVersion: 0.6.0\nkind: vendor.example/dup\ndevices:\n- name: d\n');
    write('etc', 'hooked.yaml', 'cdiVersion: 0.6.0\nkind: vendor.example/hooked\ndevices:\n- name: h\n  containerEdits:\n    hooks:\n    - hookName: createContainer\n      path: /usr/bin/some-hook\n      args: [some-hook, run]\n');
    write('etc', 'broken.json', '{ "cdiVersion": "0.6.0", ');
    // The later directory wins for a device both define.
    write('run', 'fake-override.json', { cdiVersion: '0.6.0', kind: 'vendor.example/fake', devices: [dev('gpu1', '/dev/urandom')] });
  });
  afterAll(() => fs.rmSync(base, { recursive: true, force: true }));

  const reg = () => loadCdiRegistry([path.join(base, 'etc'), path.join(base, 'run'), path.join(base, 'missing')]);

  it('reports unreadable spec files and keeps the rest', () => {
    const r = reg();
    expect(r.broken.map((b) => path.basename(b.file))).toEqual(['broken.json']);
    expect(r.specs.map((s) => path.basename(s.file)).sort()).toEqual(['dup-a.json', 'dup-b.yaml', 'fake-override.json', 'fake.json', 'hooked.yaml']);
  });

  it('"all" is every device of the kind, in natural order; the higher-priority directory wins', () => {
    const got = resolveCdiDevices(reg(), ['vendor.example/fake=all']);
    expect(got.map((d) => d.name)).toEqual(['vendor.example/fake=gpu0', 'vendor.example/fake=gpu1', 'vendor.example/fake=gpu10']);
    const edits = cdiEdits(got);
    expect(edits.devices.map((d) => `${d.PathInContainer}<-${d.PathOnHost}`)).toEqual(['/dev/gpu0<-/dev/null', '/dev/gpu1<-/dev/urandom', '/dev/gpu10<-/dev/full']);
    // Spec-level edits once per spec file, device edits per device.
    expect(edits.env).toEqual(['SPEC=1', 'G=0']);
  });

  it('a device asked for twice is injected once', () => {
    expect(resolveCdiDevices(reg(), ['vendor.example/fake=gpu0', 'vendor.example/fake=all']).map((d) => d.device.name)).toEqual(['gpu0', 'gpu1', 'gpu10']);
  });

  it('unknown devices and kinds fail listing what exists (and the broken files)', () => {
    const e1 = thrown(() => resolveCdiDevices(reg(), ['vendor.example/fake=gpu7']));
    expect(e1.message).toBe('--device vendor.example/fake=gpu7: no device "gpu7" of vendor.example/fake — available: vendor.example/fake=gpu0, vendor.example/fake=gpu1, vendor.example/fake=gpu10, or vendor.example/fake=all');
    const e2 = thrown(() => resolveCdiDevices(reg(), ['nvidia.com/gpu=all']));
    expect(e2.code).toBe('CDI_UNKNOWN_KIND');
    expect(e2.message).toMatch(/no CDI spec for nvidia\.com\/gpu in .*\/etc, .*\/run, .*\/missing — available kinds: vendor\.example\/dup \(d\); vendor\.example\/fake \(gpu0, gpu1, gpu10\); vendor\.example\/hooked \(h\)/);
    expect(e2.message).toMatch(/broken\.json/);
    expect(e2.exitCode).toBe(125);
    expect(thrown(() => resolveCdiDevices(loadCdiRegistry([path.join(base, 'missing')]), ['a.b/c=d'])).message).toMatch(/no CDI devices are defined on this host/);
  });

  it('two definitions in one directory are a conflict', () => {
    expect(thrown(() => resolveCdiDevices(reg(), ['vendor.example/dup=d'])).message).toMatch(/defined by both .*dup-a\.json and .*dup-b\.yaml/);
  });

  it('hooks are refused, naming the hook: lodger runs none', () => {
    const e = thrown(() => cdiEdits(resolveCdiDevices(reg(), ['vendor.example/hooked=h'])));
    expect(e.code).toBe('CDI_HOOKS');
    expect(e.message).toMatch(/needs 1 hook\(s\) \(createContainer: \/usr\/bin\/some-hook run\) — lodger runs no OCI hooks yet/);
  });
});
