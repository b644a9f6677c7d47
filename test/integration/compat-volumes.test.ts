// Issue 16, volumes: named volumes made on first use and filled from the image (copy-up, owners and modes as
// Docker keeps them), anonymous volumes for `-v /path` and the image's VOLUME removed by `rm -v` and `--rm`,
// and `lodger volume create|ls|inspect|rm|prune` with Docker's output, filters and refusals.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { removeTree, requireTool, runLodger, runLodgerOk, type Store } from '../helpers/cli';
import { buildOciLayout, ociToDockerArchive } from '../helpers/fixtures';
import { busyboxFixture, busyboxStore, haveSubids } from './foundation-common';

const ok = haveSubids() && requireTool('skopeo');
const IMG = 'localhost/volimg:1';

let store: Store;
let work: string;

/** busybox plus /srv/app (1000:1000, 0750) holding a file of 33:33 0640 and a symlink, and VOLUME /anon with a file. */
async function loadVolumeImage(): Promise<void> {
  const oci = path.join(work, 'oci');
  await buildOciLayout(oci, {
    tag: 'v1',
    layers: [
      { tarFile: busyboxFixture()!.tar },
      {
        files: [
          { path: 'srv', type: 'dir' },
          { path: 'srv/app', type: 'dir', mode: 0o750, uid: 1000, gid: 1000 },
          { path: 'srv/app/conf', type: 'file', content: 'from-image\n', mode: 0o640, uid: 33, gid: 33 },
          { path: 'srv/app/link', type: 'symlink', target: 'conf', uid: 33, gid: 33 },
          { path: 'anon', type: 'dir', mode: 0o755 },
          { path: 'anon/seed', type: 'file', content: 'seed\n' },
        ],
      },
    ],
    config: { Cmd: ['sh'], Volumes: ['/anon'] },
  });
  await runLodgerOk(['load', '-i', await ociToDockerArchive(oci, 'v1', path.join(work, 'img.tar'), IMG)], { store });
}

const volumeNames = async (...args: string[]) => (await runLodgerOk(['volume', 'ls', '-q', ...args], { store })).stdout.split('\n').filter(Boolean);

beforeAll(async () => {
  if (!ok) return;
  store = await busyboxStore();
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'lodger-compat-vol-'));
  await loadVolumeImage();
});
afterAll(async () => {
  await store?.cleanup();
  if (work) await removeTree(work);
});
beforeEach(async () => {
  if (!ok) return;
  // Each test starts with no containers and no volumes.
  for (const id of (await runLodgerOk(['ps', '-aq'], { store })).stdout.split('\n').filter(Boolean)) await runLodgerOk(['rm', '-f', id], { store });
  for (const v of await volumeNames()) await runLodgerOk(['volume', 'rm', '-f', v], { store });
});

describe.skipIf(!ok)('named volumes', () => {
  it('-v NAME:/path makes the volume on first use; its files outlive the container and show in the next one', async () => {
    await runLodgerOk(['run', '--rm', '-v', 'data:/data', 'busybox', 'sh', '-c', 'echo kept > /data/f'], { store });
    expect(await volumeNames()).toEqual(['data']);
    const r = await runLodgerOk(['run', '--rm', '-v', 'data:/data:ro', 'busybox', 'sh', '-c', 'cat /data/f; touch /data/g 2>&1 || true'], { store });
    expect(r.stdout).toMatch(/^kept\n.*Read-only file system/);
  });

  it('inspect shows Docker\'s Volume object; ls prints DRIVER and VOLUME NAME', async () => {
    await runLodgerOk(['volume', 'create', '--label', 'team=a', 'web'], { store });
    const [v] = JSON.parse((await runLodgerOk(['volume', 'inspect', 'web'], { store })).stdout);
    expect(v).toMatchObject({ Name: 'web', Driver: 'local', Scope: 'local', Labels: { team: 'a' }, Options: {} });
    expect(v.Mountpoint).toBe(path.join(store.root, 'volumes', 'web', '_data'));
    expect(Number.isNaN(Date.parse(v.CreatedAt))).toBe(false);
    expect(fs.statSync(v.Mountpoint).isDirectory()).toBe(true);
    expect((await runLodgerOk(['volume', 'ls'], { store })).stdout).toMatch(/^DRIVER\s+VOLUME NAME\nlocal\s+web\n$/);
    expect((await runLodgerOk(['volume', 'inspect', '-f', '{{.Driver}} {{.Labels.team}}', 'web'], { store })).stdout).toBe('local a\n');
    // An existing name is returned as it is (Docker's create is idempotent).
    expect((await runLodgerOk(['volume', 'create', 'web'], { store })).stdout).toBe('web\n');
  });

  it('copy-up: a new volume takes the image\'s files at the mount point with their owners and modes (-v and --mount)', async () => {
    const script = 'stat -c "%u:%g %a %n" /srv/app /srv/app/conf; readlink /srv/app/link; cat /srv/app/conf';
    const want = '1000:1000 750 /srv/app\n33:33 640 /srv/app/conf\nconf\nfrom-image\n';
    expect((await runLodgerOk(['run', '--rm', '-v', 'app1:/srv/app', IMG, 'sh', '-c', script], { store })).stdout).toBe(want);
    expect((await runLodgerOk(['run', '--rm', '--mount', 'type=volume,src=app2,dst=/srv/app', IMG, 'sh', '-c', script], { store })).stdout).toBe(want);
    // The copy is in the volume: another image's container sees it at any path.
    expect((await runLodgerOk(['run', '--rm', '-v', 'app1:/x', 'busybox', 'cat', '/x/conf'], { store })).stdout).toBe('from-image\n');
  });

  it('a volume that already has files is not filled again; volume-nocopy leaves a new one empty', async () => {
    await runLodgerOk(['run', '--rm', '-v', 'own:/srv/app', 'busybox', 'sh', '-c', 'echo mine > /srv/app/mine'], { store });
    expect((await runLodgerOk(['run', '--rm', '-v', 'own:/srv/app', IMG, 'ls', '/srv/app'], { store })).stdout).toBe('mine\n');
    expect((await runLodgerOk(['run', '--rm', '--mount', 'type=volume,src=empty,dst=/srv/app,volume-nocopy', IMG, 'ls', '-A', '/srv/app'], { store })).stdout).toBe('');
    expect((await runLodgerOk(['run', '--rm', '-v', 'empty2:/srv/app:nocopy', IMG, 'ls', '-A', '/srv/app'], { store })).stdout).toBe('');
  });

  it('a volume in use is not removed without -f; a running container\'s not even with -f', async () => {
    await runLodgerOk(['create', '--name', 'user1', '-v', 'busy:/d', 'busybox', 'true'], { store });
    const r = await runLodger(['volume', 'rm', 'busy'], { store });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/remove volume busy: it is in use by container [0-9a-f]{12}/);
    expect(await volumeNames()).toEqual(['busy']);
    await runLodgerOk(['run', '-d', '--name', 'runner', '-v', 'busy2:/d', 'busybox', 'sleep', '60'], { store });
    const r2 = await runLodger(['volume', 'rm', '-f', 'busy2'], { store });
    expect(r2.code).toBe(1);
    expect(r2.stderr).toMatch(/in use by running container/);
    await runLodgerOk(['volume', 'rm', '-f', 'busy'], { store });
    expect(await volumeNames()).toEqual(['busy2']);
    const missing = await runLodger(['volume', 'rm', 'nope'], { store });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no such volume: nope/);
  });

  it('refuses bad names, drivers and driver options with the reason', async () => {
    const bad = await runLodger(['run', '--rm', '-v', 'a:b:/x', 'busybox', 'true'], { store });
    expect(bad.code).toBe(125);
    const r = await runLodger(['volume', 'create', '-d', 'nfs', 'x1'], { store });
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/only the "local" driver/);
    const o = await runLodger(['volume', 'create', '-o', 'type=tmpfs', 'x2'], { store });
    expect(o.stderr).toMatch(/needs root/);
    const n = await runLodger(['volume', 'create', 'a'], { store });
    expect(n.stderr).toMatch(/invalid volume name "a"/);
  });
});

describe.skipIf(!ok)('anonymous volumes', () => {
  it('the image\'s VOLUME gets an anonymous volume filled from the image; rm keeps it, rm -v removes it', async () => {
    await runLodgerOk(['create', '--name', 'a1', IMG, 'cat', '/anon/seed'], { store });
    const [name] = await volumeNames();
    expect(name).toMatch(/^[0-9a-f]{64}$/);
    const [v] = JSON.parse((await runLodgerOk(['volume', 'inspect', name], { store })).stdout);
    expect(v.Labels).toEqual({ 'com.docker.volume.anonymous': '' });
    expect((await runLodgerOk(['start', '-a', 'a1'], { store })).stdout).toBe('seed\n');
    const mounts = JSON.parse((await runLodgerOk(['inspect', 'a1'], { store })).stdout)[0].Mounts;
    expect(mounts).toEqual([expect.objectContaining({ Type: 'volume', Name: name, Destination: '/anon', Driver: 'local', RW: true })]);
    await runLodgerOk(['rm', '-v', 'a1'], { store });
    expect(await volumeNames()).toEqual([]);
    // Without -v the volume stays (Docker's default), and prune removes it.
    await runLodgerOk(['create', '--name', 'a2', IMG, 'true'], { store });
    await runLodgerOk(['rm', 'a2'], { store });
    expect(await volumeNames()).toHaveLength(1);
  });

  it('-v /path and --rm: the anonymous volumes go with the container; named ones stay', async () => {
    await runLodgerOk(['run', '--rm', '-v', '/scratch', '-v', 'keep:/keep', 'busybox', 'sh', '-c', 'echo x > /scratch/f; echo y > /keep/f'], { store });
    expect(await volumeNames()).toEqual(['keep']);
    await runLodgerOk(['run', '--rm', '-d', '--name', 'det', '-v', '/scratch', 'busybox', 'true'], { store });
    await runLodger(['wait', 'det'], { store });
    for (let i = 0; i < 100 && (await volumeNames()).length > 1; i++) await new Promise((r) => setTimeout(r, 50));
    expect(await volumeNames()).toEqual(['keep']);
  });

  it('--volumes-from mounts the other container\'s volumes, read-only with :ro', async () => {
    await runLodgerOk(['create', '--name', 'src', '-v', 'shared:/shared', '-v', '/anonv', 'busybox', 'true'], { store });
    await runLodgerOk(['run', '--rm', '-v', 'shared:/shared', 'busybox', 'sh', '-c', 'echo s > /shared/f'], { store });
    const r = await runLodgerOk(['run', '--rm', '--volumes-from', 'src:ro', 'busybox', 'sh', '-c', 'cat /shared/f; ls -d /anonv; touch /shared/g 2>&1 || true'], { store });
    expect(r.stdout).toMatch(/^s\n\/anonv\n.*Read-only file system/);
    // The anonymous volume stays src's: the --rm container did not take it along.
    expect(await volumeNames()).toHaveLength(2);
  });
});

describe.skipIf(!ok)('volume ls filters, --format, prune, system df', () => {
  it('filters by name, label and dangling; formats through a Go template', async () => {
    await runLodgerOk(['volume', 'create', '--label', 'env=prod', 'v-prod'], { store });
    await runLodgerOk(['volume', 'create', '--label', 'env=dev', '--label', 'x', 'v-dev'], { store });
    await runLodgerOk(['create', '-v', 'v-dev:/d', 'busybox', 'true'], { store });
    expect(await volumeNames('--filter', 'label=env=prod')).toEqual(['v-prod']);
    expect(await volumeNames('--filter', 'label=x')).toEqual(['v-dev']);
    expect(await volumeNames('--filter', 'label!=x')).toEqual(['v-prod']);
    expect(await volumeNames('--filter', 'dangling=true')).toEqual(['v-prod']);
    expect(await volumeNames('--filter', 'dangling=false')).toEqual(['v-dev']);
    expect(await volumeNames('--filter', 'name=prod')).toEqual(['v-prod']);
    const f = await runLodgerOk(['volume', 'ls', '--format', '{{.Name}} {{.Driver}} {{.Scope}}', '--filter', 'name=v-'], { store });
    expect(f.stdout).toBe('v-dev local local\nv-prod local local\n');
    const bad = await runLodger(['volume', 'ls', '--filter', 'colour=red'], { store });
    expect(bad.code).toBe(125);
  });

  it('prune removes unused anonymous volumes, -a unused named ones too; system df counts them', async () => {
    await runLodgerOk(['volume', 'create', 'named-unused'], { store });
    await runLodgerOk(['create', '-v', 'named-used:/d', 'busybox', 'true'], { store });
    await runLodgerOk(['run', '--name', 'big', '-v', '/big', 'busybox', 'sh', '-c', 'head -c 300000 /dev/zero > /big/f'], { store });
    const df = (await runLodgerOk(['system', 'df', '--format', '{{.Type}} {{.TotalCount}} {{.Active}}'], { store })).stdout;
    expect(df).toMatch(/^Local Volumes 3 2$/m);
    // The container that wrote to /big goes (without -v): its anonymous volume is now unused.
    await runLodgerOk(['rm', 'big'], { store });
    const p1 = await runLodgerOk(['volume', 'prune', '-f'], { store });
    expect(p1.stdout).toMatch(/^Deleted Volumes:\n[0-9a-f]{64}\n\nTotal reclaimed space: 30\d(\.\d+)?kB\n$/);
    expect(await volumeNames()).toEqual(['named-unused', 'named-used']);
    const p2 = await runLodgerOk(['volume', 'prune', '-af'], { store });
    expect(p2.stdout).toMatch(/^Deleted Volumes:\nnamed-unused\n/);
    expect(await volumeNames()).toEqual(['named-used']);
  });
});
