// Issue 8 point 7, devices: `--device VENDOR/CLASS=NAME|all` resolved from CDI specs (JSON and YAML) into bound device
// nodes, bind mounts and env; hooks and unknown devices refused with 125; plain `--device /dev/x[:/dev/y][:rwm]` binds a host node.
// The fake "GPUs" are ordinary host nodes (/dev/null, /dev/zero), as a CDI spec for a real GPU names /dev/nvidia0.
// The default spec directories /etc/cdi and /var/run/cdi (the later one winning) are read as installed by .ci/run.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeTree, requirePrereq, runLodger, runLodgerOk, type Store } from '../helpers/cli';
import { busyboxFixture, busyboxStore, expectLodgerFailure, haveSubids } from './foundation-common';

const ok = haveSubids() && busyboxFixture() !== null;

let work: string;
let store: Store;
let specDir: string;
let driverDir: string;
let env: Record<string, string>;

const FAKE_JSON = (driver: string) => ({
  cdiVersion: '0.6.0',
  kind: 'vendor.example/fake',
  containerEdits: {
    env: ['FAKE_DRIVER_ROOT=/opt/fake-driver'],
    mounts: [{ hostPath: driver, containerPath: '/opt/fake-driver', options: ['ro', 'nosuid', 'nodev', 'bind'] }],
  },
  devices: [
    { name: 'gpu0', containerEdits: { deviceNodes: [{ path: '/dev/fake/gpu0', hostPath: '/dev/null' }], env: ['FAKE_VISIBLE_DEVICES=gpu0'] } },
    { name: 'gpu1', containerEdits: { deviceNodes: [{ path: '/dev/fake/gpu1', hostPath: '/dev/zero' }] } },
  ],
});

// The same kind of file in YAML, as nvidia-ctk writes them (block style, sequences at the key's indentation).
const OTHER_YAML = `---
cdiVersion: "0.5.0"
kind: other.example/accel
devices:
- name: a0
  containerEdits:
    deviceNodes:
    - path: /dev/accel0
      hostPath: /dev/full
    env:
    - ACCEL=a0   # which one
`;

const HOOKED_YAML = `cdiVersion: 0.6.0
kind: hooked.example/gpu
devices:
- name: "0"
  containerEdits:
    deviceNodes:
    - path: /dev/null
    hooks:
    - hookName: createContainer
      path: /usr/bin/nvidia-cdi-hook
      args: [nvidia-cdi-hook, update-ldcache]
`;

beforeAll(async () => {
  if (!ok) return;
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'lodger-hpc-dev-'));
  specDir = path.join(work, 'cdi');
  driverDir = path.join(work, 'driver');
  fs.mkdirSync(specDir);
  fs.mkdirSync(driverDir);
  fs.writeFileSync(path.join(driverDir, 'libfake.so.1'), 'fake driver library\n');
  fs.writeFileSync(path.join(specDir, 'fake.json'), JSON.stringify(FAKE_JSON(driverDir), null, 2));
  fs.writeFileSync(path.join(specDir, 'other.yaml'), OTHER_YAML);
  fs.writeFileSync(path.join(specDir, 'hooked.yaml'), HOOKED_YAML);
  store = await busyboxStore();
  env = { LODGER_CDI_SPEC_DIRS: `${path.join(work, 'no-such-dir')}:${specDir}` };
});

afterAll(async () => {
  if (store) await store.cleanup();
  if (work) await removeTree(work);
});

const sh = (args: string[], script: string, e: Record<string, string | undefined> = env) =>
  runLodger(['run', '--rm', ...args, 'busybox', 'sh', '-c', script], { store, env: e });

describe.skipIf(!ok)('--device with CDI', () => {
  it('VENDOR/CLASS=all injects every device of the kind: the nodes, the spec\'s and the devices\' env, and the read-only mount', async () => {
    const r = await sh(['--device', 'vendor.example/fake=all'], [
      'for d in /dev/fake/gpu0 /dev/fake/gpu1; do [ -c $d ] && stat -c "%n %t:%T" $d; done',
      'echo "$FAKE_DRIVER_ROOT $FAKE_VISIBLE_DEVICES"',
      'cat /opt/fake-driver/libfake.so.1',
      'echo data > /dev/fake/gpu0 && echo wrote-gpu0',
      'head -c 4 /dev/fake/gpu1 | od -An -tx1',
      'touch /opt/fake-driver/new 2>&1 || true',
    ].join('; '));
    expect(r.stderr).toBe('');
    expect(r.stdout.split('\n')).toEqual([
      '/dev/fake/gpu0 1:3', '/dev/fake/gpu1 1:5',
      '/opt/fake-driver gpu0',
      'fake driver library',
      'wrote-gpu0',
      ' 00 00 00 00',
      "touch: /opt/fake-driver/new: Read-only file system",
      '',
    ]);
    expect(fs.existsSync(path.join(driverDir, 'new'))).toBe(false);
  });

  it('one named device brings only its own node and env; a YAML spec works the same; -e wins over CDI env', async () => {
    const r = await sh(['--device', 'vendor.example/fake=gpu1', '--device', 'other.example/accel=a0', '-e', 'ACCEL=mine'],
      'ls /dev/fake; stat -c "%t:%T" /dev/accel0; echo "${FAKE_VISIBLE_DEVICES:-unset} $ACCEL $FAKE_DRIVER_ROOT"');
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('gpu1\n1:7\nunset mine /opt/fake-driver\n');
  });

  it('an unknown device or kind fails with 125, listing what is available', async () => {
    const dev = await sh(['--device', 'vendor.example/fake=gpu7'], 'true');
    expectLodgerFailure(dev, /--device vendor\.example\/fake=gpu7: no device "gpu7" of vendor\.example\/fake — available: vendor\.example\/fake=gpu0, vendor\.example\/fake=gpu1, or vendor\.example\/fake=all/);
    const kind = await sh(['--device', 'nvidia.com/gpu=all'], 'true');
    expectLodgerFailure(kind, /no CDI spec for nvidia\.com\/gpu in .* — available kinds: hooked\.example\/gpu \(0\); other\.example\/accel \(a0\); vendor\.example\/fake \(gpu0, gpu1\)/);
    // Nothing was created for the refused containers.
    expect((await runLodgerOk(['ps', '-a', '-q'], { store })).stdout).toBe('');
  });

  it('a device whose spec has hooks is refused with 125 naming the hook (lodger runs none)', async () => {
    const r = await sh(['--device', 'hooked.example/gpu=0'], 'true');
    expectLodgerFailure(r, /CDI device hooked\.example\/gpu=0 \(.*hooked\.yaml\) needs 1 hook\(s\) \(createContainer: \/usr\/bin\/nvidia-cdi-hook update-ldcache\) — lodger runs no OCI hooks yet/);
  });

  it('inspect records the CDI request and the device nodes it became', async () => {
    const id = (await runLodgerOk(['create', '--device', 'vendor.example/fake=gpu0', 'busybox', 'true'], { store, env })).stdout.trim();
    const [c] = JSON.parse((await runLodgerOk(['inspect', id], { store })).stdout) as Array<{ HostConfig: Record<string, unknown> }>;
    expect(c.HostConfig.DeviceRequests).toEqual([{ Driver: 'cdi', DeviceIDs: ['vendor.example/fake=gpu0'] }]);
    expect(c.HostConfig.Devices).toEqual([{ PathOnHost: '/dev/null', PathInContainer: '/dev/fake/gpu0', CgroupPermissions: 'rwm' }]);
    await runLodgerOk(['rm', id], { store });
  });
});

describe.skipIf(!ok)('--device with a host path', () => {
  it('/dev/zero:/dev/myzero binds the host node at the given path; /dev/full keeps its path', async () => {
    const r = await sh(['--device', '/dev/zero:/dev/myzero', '--device', '/dev/full:rw'], 'stat -c "%n %t:%T" /dev/myzero /dev/full; head -c 2 /dev/myzero | od -An -tx1; echo x > /dev/full 2>&1 || echo full-refused');
    expect(r.stdout).toBe('/dev/myzero 1:5\n/dev/full 1:7\n 00 00\nfull-refused\n');
  });

  it('refuses with 125 what it cannot do: a missing node, a plain file, narrower permissions than rw', async () => {
    expectLodgerFailure(await sh(['--device', '/dev/lodger-no-such-device'], 'true'), /--device \/dev\/lodger-no-such-device: \/dev\/lodger-no-such-device does not exist on this host/);
    expectLodgerFailure(await sh(['--device', '/etc/hostname'], 'true'), /\/etc\/hostname is not a device node — use -v/);
    expectLodgerFailure(await sh(['--device', '/dev/zero:r'], 'true'), /cannot restrict a device to "r" — that needs the device cgroup/);
  });
});

/** The specs .ci/run installs as root (scripts/lib/host.sh host_install_cdi_specs): kind lodger.test/dev. */
const ETC_SPEC = '/etc/cdi/lodger-test.json';
const RUN_SPEC = '/var/run/cdi/lodger-test.yaml';
const systemSpecs = ok && requirePrereq(fs.existsSync(ETC_SPEC) && fs.existsSync(RUN_SPEC),
  `the CDI test specs ${ETC_SPEC} and ${RUN_SPEC} — sudo bash .ci/run --host-only installs them`);

describe.skipIf(!systemSpecs)('--device with CDI specs in the default directories (/etc/cdi, /var/run/cdi)', () => {
  // No LODGER_CDI_SPEC_DIRS: lodger looks where nvidia-ctk and device plugins put specs.
  const sys = (args: string[], script: string) => sh(args, script, { LODGER_CDI_SPEC_DIRS: undefined });

  it('a device of /etc/cdi brings its node, its own and its spec\'s env, and the spec\'s read-only mount', async () => {
    const r = await sys(['--device', 'lodger.test/dev=null'], [
      'stat -c "%n %t:%T" /dev/lodger-test/*',
      'echo "$LODGER_CDI_SPEC $LODGER_CDI_NULL ${LODGER_CDI_ZERO:-unset}"',
      'cat /opt/lodger-cdi/driver.txt',
      'touch /opt/lodger-cdi/new 2>&1 || true',
    ].join('; '));
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('/dev/lodger-test/null 1:3\netc etc unset\nlodger test CDI driver files\ntouch: /opt/lodger-cdi/new: Read-only file system\n');
  });

  it('/var/run/cdi overrides /etc/cdi for a device both define: its node and env, without the /etc spec\'s edits', async () => {
    // /etc/cdi says zero is /dev/zero (1:5) with LODGER_CDI_ZERO=etc; /var/run/cdi says /dev/full (1:7) and "run".
    const r = await sys(['--device', 'lodger.test/dev=zero'],
      'stat -c "%n %t:%T" /dev/lodger-test/*; echo "$LODGER_CDI_ZERO ${LODGER_CDI_SPEC:-unset}"; test -e /opt/lodger-cdi || echo no-mount');
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('/dev/lodger-test/zero 1:7\nrun unset\nno-mount\n');
  });

  it('VENDOR/CLASS=all is every device of the kind from both directories, each once, the override winning', async () => {
    const r = await sys(['--device', 'lodger.test/dev=all'], 'stat -c "%n %t:%T" /dev/lodger-test/*; echo "$LODGER_CDI_NULL $LODGER_CDI_ZERO $LODGER_CDI_SPEC"');
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('/dev/lodger-test/full 1:7\n/dev/lodger-test/null 1:3\n/dev/lodger-test/zero 1:7\netc run etc\n');
  });

  it('LODGER_CDI_SPEC_DIRS replaces the default directories', async () => {
    const r = await runLodger(['run', '--rm', '--device', 'lodger.test/dev=null', 'busybox', 'true'], { store, env });
    expectLodgerFailure(r, /--device lodger\.test\/dev=null: no CDI spec for lodger\.test\/dev in /);
  });
});
