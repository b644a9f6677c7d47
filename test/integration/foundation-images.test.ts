// Issue 2, images without a registry: `import` of root filesystem tarballs, `load` of OCI and docker archives
// (skopeo's, and podman's when rootless podman works here), `images` (table and JSON), `rmi` (in use, untag vs
// delete, unused layers removed), `ps -a` and `rm`.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { makeStore, removeTree, requirePrereq, requireTool, runLodger, runLodgerOk, type Store } from '../helpers/cli';
import { imageDocs } from '../helpers/images';
import { runCommand } from '../helpers/exec';
import { buildOciLayout, ociToDockerArchive, ociToOciArchive, type TarFileSpec } from '../helpers/fixtures';
import { busyboxFixture, entries, expectLodgerFailure, haveSubids, marker, containerShells, psAllIds, waitUntil } from './foundation-common';

const ok = haveSubids() && busyboxFixture() !== null;

let work: string;
beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'lodger-fnd-img-'));
});
afterAll(async () => {
  if (work) await removeTree(work);
});

let store: Store;
beforeEach(() => {
  store = makeStore('lodger-fnd-img-store-');
});
afterEach(async () => {
  await store.cleanup();
});

interface ImageJson {
  Id: string;
  Names: string[];
  RepoTags: string[];
  Size: number;
  Layers: string[];
  Created: string;
}

async function imagesJson(): Promise<ImageJson[]> {
  return imageDocs({ store });
}

/** Rows of the `images` table as {repo, tag, id, size}. */
async function imagesTable(): Promise<Array<{ repo: string; tag: string; id: string; line: string }>> {
  const lines = (await runLodgerOk(['images'], { store })).stdout.trim().split('\n');
  expect(lines[0]).toMatch(/^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE\s*$/);
  return lines.slice(1).map((line) => {
    const [repo, tag, id] = line.split(/\s{2,}/);
    return { repo, tag, id, line };
  });
}

const layerDirs = () => entries(path.join(store.root, 'layers')).filter((n) => /^[0-9a-f]{64}$/.test(n));

describe.skipIf(!ok)('import', () => {
  it('`import ROOTFS.tar NAME:TAG` makes a runnable image listed by `images` (table and JSON)', async () => {
    const b = busyboxFixture()!;
    const r = await runLodgerOk(['import', b.tar, 'mybase:1'], { store });
    const id = r.stdout.trim();
    expect(id).toMatch(/^sha256:[0-9a-f]{64}$/);
    const table = await imagesTable();
    expect(table).toHaveLength(1);
    expect(table[0].repo).toMatch(/^(localhost\/)?mybase$/);
    expect(table[0].tag).toBe('1');
    expect(id.slice(7)).toMatch(new RegExp(`^${table[0].id}`));
    expect(table[0].line).toMatch(/\d(\.\d+)?\s?[kMG]?B\s*$/);
    const json = await imagesJson();
    expect(json).toHaveLength(1);
    expect(json[0].Id).toBe(id);
    expect(json[0].RepoTags).toEqual(['localhost/mybase:1']);
    expect(json[0].Layers).toHaveLength(1);
    expect(json[0].Size).toBeGreaterThan(1_000_000); // the busybox binary alone
    expect(Number.isNaN(Date.parse(json[0].Created))).toBe(false);
    expect((await runLodgerOk(['run', '--rm', 'mybase:1', 'echo', 'imported'], { store })).stdout).toBe('imported\n');
  });

  it('a gzip tarball gives the same layer (content-addressed by the uncompressed tar) and a name without a tag is :latest', async () => {
    const b = busyboxFixture()!;
    const gz = path.join(work, 'rootfs.tar.gz');
    fs.writeFileSync(gz, zlib.gzipSync(fs.readFileSync(b.tar)));
    await runLodgerOk(['import', b.tar, 'plain:1'], { store });
    await runLodgerOk(['import', gz, 'gzipped'], { store });
    const json = await imagesJson();
    expect(json.flatMap((i) => i.RepoTags).sort()).toEqual(['localhost/gzipped:latest', 'localhost/plain:1']);
    expect(new Set(json.flatMap((i) => i.Layers)).size).toBe(1);
    expect(layerDirs()).toHaveLength(1);
    expect((await runLodgerOk(['run', '--rm', 'gzipped', 'echo', 'from-gzip'], { store })).stdout).toBe('from-gzip\n');
  });

  it.skipIf(!requireTool('zstd'))('a zstd tarball imports too', async () => {
    const b = busyboxFixture()!;
    const zst = path.join(work, 'rootfs.tar.zst');
    const z = await runCommand('zstd', ['-q', '-f', '-o', zst, b.tar]);
    expect(z.code, z.stderr).toBe(0);
    await runLodgerOk(['import', zst, 'zstd:1'], { store });
    expect((await runLodgerOk(['run', '--rm', 'zstd:1', 'echo', 'from-zstd'], { store })).stdout).toBe('from-zstd\n');
  });

  it('importing a file that does not exist fails with 125 naming it, and lists nothing', async () => {
    const missing = path.join(work, 'nope.tar');
    const r = await runLodger(['import', missing, 'nope:1'], { store });
    expectLodgerFailure(r, /nope\.tar/);
    expect(await imagesJson()).toEqual([]);
  });

  it('importing something that is not a tar fails with 125 and lists nothing', async () => {
    const junk = path.join(work, 'junk.tar');
    fs.writeFileSync(junk, 'this is not a tar archive\n'.repeat(100));
    const r = await runLodger(['import', junk, 'junk:1'], { store });
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/^lodger: /);
    expect(await imagesJson()).toEqual([]);
  });
});

/** A two-layer image on busybox: layer 2 deletes a file, replaces a directory's contents (opaque) and adds one. */
async function layeredOci(dir: string, tag: string): Promise<void> {
  const b = busyboxFixture()!;
  const top: TarFileSpec[] = [
    { path: 'etc/to-delete', type: 'whiteout' },
    { path: 'opt/app', type: 'opaque' },
    { path: 'opt/app/new', type: 'file', content: 'new\n' },
    { path: 'etc/added', type: 'file', content: 'added in layer 2\n' },
  ];
  await buildOciLayout(dir, {
    tag,
    layers: [
      { tarFile: b.tar },
      {
        files: [
          { path: 'etc/to-delete', type: 'file', content: 'x\n' },
          { path: 'opt/app', type: 'dir' },
          { path: 'opt/app/old', type: 'file', content: 'old\n' },
        ],
      },
      { files: top },
    ],
    config: { Cmd: ['sh', '-c', 'echo loaded-cmd; ls /opt/app; cat /etc/added; ls /etc/to-delete 2>&1; true'], Env: ['PATH=/usr/sbin:/usr/bin:/sbin:/bin'] },
  });
}

describe.skipIf(!ok || !requireTool('skopeo'))('load', () => {
  const expectLoadedRuns = async (ref: string) => {
    const r = await runLodgerOk(['run', '--rm', ref], { store });
    expect(r.stdout).toBe('loaded-cmd\nnew\nadded in layer 2\nls: /etc/to-delete: No such file or directory\n');
  };

  it('`load -i` of an OCI archive (skopeo): layers with whiteouts applied, config honoured', async () => {
    const oci = path.join(work, 'oci-load');
    await layeredOci(oci, 'v1');
    const archive = await ociToOciArchive(oci, 'v1', path.join(work, 'image-oci.tar'), 'localhost/from-oci:v1');
    const r = await runLodgerOk(['load', '-i', archive], { store });
    expect(r.stdout).toMatch(/Loaded image/);
    const json = await imagesJson();
    expect(json).toHaveLength(1);
    expect(json[0].Layers).toHaveLength(3);
    await expectLoadedRuns(json[0].Id.slice(7, 19));
  });

  it('`load -i` of a docker-archive (skopeo) keeps its name', async () => {
    const oci = path.join(work, 'docker-load');
    await layeredOci(oci, 'v1');
    const archive = await ociToDockerArchive(oci, 'v1', path.join(work, 'image-docker.tar'), 'localhost/from-docker:v1');
    const r = await runLodgerOk(['load', '-i', archive], { store });
    expect(r.stdout).toMatch(/Loaded image: (localhost\/)?from-docker:v1/);
    expect((await imagesJson()).flatMap((i) => i.RepoTags)).toEqual(['localhost/from-docker:v1']);
    await expectLoadedRuns('localhost/from-docker:v1');
  });

  it('`load` reads the archive from stdin', async () => {
    const oci = path.join(work, 'stdin-load');
    await layeredOci(oci, 'v1');
    const archive = await ociToDockerArchive(oci, 'v1', path.join(work, 'image-stdin.tar'), 'localhost/from-stdin:v1');
    const r = await runLodger(['load'], { store, input: fs.readFileSync(archive) });
    expect(r.code, r.stderr).toBe(0);
    await expectLoadedRuns('localhost/from-stdin:v1');
    expect(entries(path.join(store.root, 'tmp'))).toEqual([]);
  });

  it('loading the same image twice changes nothing (one image, same layers)', async () => {
    const oci = path.join(work, 'twice-load');
    await layeredOci(oci, 'v1');
    const archive = await ociToDockerArchive(oci, 'v1', path.join(work, 'image-twice.tar'), 'localhost/twice:v1');
    await runLodgerOk(['load', '-i', archive], { store });
    const layers = layerDirs();
    await runLodgerOk(['load', '-i', archive], { store });
    expect(await imagesJson()).toHaveLength(1);
    expect(layerDirs()).toEqual(layers);
  });

  it('a file that is not an image archive: 125, nothing listed', async () => {
    const junk = path.join(work, 'not-an-archive.tar');
    fs.writeFileSync(junk, Buffer.alloc(10240));
    const r = await runLodger(['load', '-i', junk], { store });
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/^lodger: /);
    expect(await imagesJson()).toEqual([]);
  });
});

describe.skipIf(!ok || !requireTool('podman'))('load of podman save archives', () => {
  let podDir: string;
  let podmanOk = false;
  const podman = (args: string[]) =>
    runCommand('podman', ['--root', path.join(podDir, 'root'), '--runroot', path.join(podDir, 'run'), '--storage-driver', 'vfs', ...args], {
      timeoutMs: 120_000,
      env: { ...process.env, XDG_CONFIG_HOME: path.join(podDir, 'config'), CONTAINERS_CONF: '/dev/null' },
    });
  beforeAll(async () => {
    podDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lodger-fnd-podman-'));
    fs.mkdirSync(path.join(podDir, 'config'));
    const r = await podman(['import', '--change', 'CMD ["echo", "from podman"]', busyboxFixture()!.tar, 'localhost/podbox:1']);
    podmanOk = requirePrereq(r.code === 0, `rootless podman works here (podman import: ${r.stderr.trim().split('\n').pop()})`);
  });
  afterAll(async () => {
    if (podDir) await removeTree(podDir);
  });

  for (const format of ['docker-archive', 'oci-archive']) {
    it(`podman save --format ${format}`, async ({ skip }) => {
      if (!podmanOk) skip();
      const file = path.join(podDir, `${format}.tar`);
      const s = await podman(['save', '--format', format, '-o', file, 'localhost/podbox:1']);
      expect(s.code, s.stderr).toBe(0);
      const r = await runLodgerOk(['load', '-i', file], { store });
      expect(r.stdout).toMatch(/Loaded image/);
      const json = await imagesJson();
      expect(json).toHaveLength(1);
      const ref = json[0].RepoTags[0] ?? json[0].Id;
      if (format === 'docker-archive') expect(json[0].RepoTags).toEqual(['localhost/podbox:1']);
      expect((await runLodgerOk(['run', '--rm', ref], { store })).stdout).toBe('from podman\n');
    });
  }
});

describe.skipIf(!ok)('rmi', () => {
  it('refuses an image a container uses; works once the container is removed', async () => {
    await runLodgerOk(['import', busyboxFixture()!.tar, 'used:1'], { store });
    const name = `user-${process.pid}`;
    await runLodgerOk(['run', '--name', name, 'used:1', 'true'], { store });
    const r = await runLodger(['rmi', 'used:1'], { store });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/in use|used by/i);
    expect(r.stderr).toMatch(new RegExp(name));
    expect((await imagesJson()).flatMap((i) => i.RepoTags)).toEqual(['localhost/used:1']);
    expect(layerDirs()).toHaveLength(1);
    await runLodgerOk(['rm', name], { store });
    const ok2 = await runLodger(['rmi', 'used:1'], { store });
    expect(ok2.code, ok2.stderr).toBe(0);
    expect(await imagesJson()).toEqual([]);
  });

  it('refuses the image of a running container', async () => {
    await runLodgerOk(['import', busyboxFixture()!.tar, 'busy:1'], { store });
    const id = (await runLodgerOk(['run', '-d', 'busy:1', 'sleep', '60'], { store })).stdout.trim();
    try {
      const r = await runLodger(['rmi', 'busy:1'], { store });
      expect(r.code).not.toBe(0);
      expect(await imagesJson()).toHaveLength(1);
    } finally {
      await runLodger(['rm', '-f', id], { store });
    }
  });

  it('with two names, removing one untags; removing the last deletes the image and its layer', async () => {
    const id = (await runLodgerOk(['import', busyboxFixture()!.tar, 'two:a'], { store })).stdout.trim();
    await runLodgerOk(['tag', 'two:a', 'two:b'], { store });
    const names = (await imagesJson()).flatMap((i) => i.RepoTags);
    expect(names).toHaveLength(2);
    expect(names).toContain('localhost/two:a');
    const b = names.find((n) => /(^|\/)two:b$/.test(n));
    expect(b).toBeDefined();

    const untag = await runLodgerOk(['rmi', 'two:a'], { store });
    expect(untag.stdout).toMatch(/Untagged: (localhost\/)?two:a/);
    expect(untag.stdout).not.toMatch(/Deleted/);
    const left = await imagesJson();
    expect(left.map((i) => [i.Id, i.RepoTags])).toEqual([[id, [b]]]);
    expect(layerDirs()).toHaveLength(1);
    expect((await runLodgerOk(['run', '--rm', 'two:b', 'echo', 'still-there'], { store })).stdout).toBe('still-there\n');

    const del = await runLodgerOk(['rmi', 'two:b'], { store });
    expect(del.stdout).toMatch(/Untagged: \S*two:b/);
    expect(del.stdout).toContain(`Deleted: ${id}`);
    expect(await imagesJson()).toEqual([]);
    expect(layerDirs()).toEqual([]);
  });

  it('a layer two images share stays until neither uses it', async () => {
    const b = busyboxFixture()!;
    const oci = path.join(work, `shared-${Date.now()}`);
    await buildOciLayout(oci, { tag: 'top', layers: [{ tarFile: b.tar }, { files: [{ path: 'etc/top', type: 'file', content: 'top\n' }] }] });
    await runLodgerOk(['import', b.tar, 'base:1'], { store });
    await runLodgerOk(['load', '-i', await ociToDockerArchive(oci, 'top', path.join(work, `top-${Date.now()}.tar`), 'localhost/top:1')], { store });
    expect(layerDirs()).toHaveLength(2); // busybox once, plus the top layer
    await runLodgerOk(['rmi', 'top:1'], { store });
    expect(layerDirs()).toHaveLength(1);
    expect((await runLodgerOk(['run', '--rm', 'base:1', 'echo', 'base-ok'], { store })).stdout).toBe('base-ok\n');
    await runLodgerOk(['rmi', 'base:1'], { store });
    expect(layerDirs()).toEqual([]);
  });

  it('an image that does not exist: an error naming it', async () => {
    const r = await runLodger(['rmi', 'no-such-image:9'], { store });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/no-such-image/);
  });
});

describe.skipIf(!ok)('ps -a and rm', () => {
  beforeEach(async () => {
    await runLodgerOk(['import', busyboxFixture()!.tar, 'busybox'], { store });
  });

  it('ps lists running containers; ps -a also created and exited ones, with their status', async () => {
    const created = (await runLodgerOk(['create', '--name', 'c-created', 'busybox', 'true'], { store })).stdout.trim();
    const running = (await runLodgerOk(['run', '-d', '--name', 'c-running', 'busybox', 'sleep', '60'], { store })).stdout.trim();
    expect((await runLodger(['run', '--name', 'c-exited', 'busybox', 'sh', '-c', 'exit 3'], { store })).code).toBe(3);
    try {
      const ps = (await runLodgerOk(['ps'], { store })).stdout.trim().split('\n');
      expect(ps[0]).toMatch(/^CONTAINER ID\s+IMAGE\s+COMMAND\s+CREATED\s+STATUS\s+PORTS\s+NAMES\s*$/);
      expect(ps.slice(1)).toHaveLength(1);
      expect(ps[1]).toMatch(new RegExp(`^${running.slice(0, 12)}\\s+busybox\\s+"sleep 60"\\s+.*\\bUp\\b.*\\bc-running\\s*$`));

      const all = (await runLodgerOk(['ps', '-a'], { store })).stdout.trim().split('\n').slice(1);
      expect(all).toHaveLength(3);
      const row = (n: string) => all.find((l) => l.trim().endsWith(n)) ?? '';
      expect(row('c-created')).toMatch(/\bCreated\b/);
      expect(row('c-created').startsWith(created.slice(0, 12))).toBe(true);
      expect(row('c-running')).toMatch(/\bUp\b/);
      expect(row('c-exited')).toMatch(/\bExited \(3\)/);
    } finally {
      await runLodger(['rm', '-f', running], { store });
    }
  });

  it('rm refuses a running container without -f (and it keeps running); rm -f kills and removes it', async () => {
    const tag = marker('rm');
    const id = (await runLodgerOk(['run', '-d', 'busybox', 'sh', '-c', 'while :; do sleep 1; done', tag], { store })).stdout.trim();
    await waitUntil('the container to run', async () => (await containerShells(tag)).length === 1, 5000);
    const r = await runLodger(['rm', id], { store });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/running/);
    expect(r.stderr).toMatch(/-f/);
    expect(await containerShells(tag)).toHaveLength(1);
    expect(await psAllIds(store)).toEqual([id]);

    const f = await runLodger(['rm', '-f', id], { store });
    expect(f.code, f.stderr).toBe(0);
    await waitUntil('the container process to go', async () => (await containerShells(tag)).length === 0, 5000);
    expect(await psAllIds(store)).toEqual([]);
    expect(entries(path.join(store.root, 'containers'))).toEqual([]);
  });

  it('rm removes exited containers by name and by id prefix; an unknown one is an error', async () => {
    await runLodgerOk(['run', '--name', 'done1', 'busybox', 'true'], { store });
    const id2 = (await runLodgerOk(['create', 'busybox', 'true'], { store })).stdout.trim();
    expect((await runLodgerOk(['rm', 'done1', id2.slice(0, 12)], { store })).stdout.trim().split('\n')).toEqual(['done1', id2.slice(0, 12)]);
    expect(await psAllIds(store)).toEqual([]);
    const r = await runLodger(['rm', 'no-such-container'], { store });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/no-such-container/);
  });
});
