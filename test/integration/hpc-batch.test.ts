// Issue 8.4, batch jobs and users without subordinate ids: many concurrent jobs of one user share a store with no
// XDG_RUNTIME_DIR, systemd user session or D-Bus; with no subuid range what can work works and the rest says why.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeStore, runLodger, runLodgerOk, type LodgerResult, type Store } from '../helpers/cli';
import { pushOci } from '../helpers/fixtures';
import { registryPrereqs, startRegistry, type TestRegistry } from '../helpers/registry';
import { busyboxFixture, entries, haveSubids, hostMountinfo, leakedMounts, uid } from './foundation-common';

interface IndexFile { images: Array<{ names: string[]; layers: string[] }> }

/** A batch job's environment: no runtime dir, no session bus, a private TMPDIR (lodger's fallback lives there). */
function batchEnv(tmp: string): Record<string, string | undefined> {
  return { XDG_RUNTIME_DIR: undefined, DBUS_SESSION_BUS_ADDRESS: undefined, XDG_SESSION_ID: undefined, TMPDIR: tmp };
}

describe.skipIf(!(haveSubids() && busyboxFixture() && registryPrereqs()))('12 concurrent batch jobs on one store', () => {
  let store: Store;
  let registry: TestRegistry;
  let tmp: string;
  let ref: string;
  beforeAll(async () => {
    store = makeStore('lodger-hpc-batch-');
    tmp = path.join(store.dir, 'tmpdir');
    fs.mkdirSync(tmp, { mode: 0o700 });
    registry = await startRegistry();
    const b = busyboxFixture()!;
    ref = `${registry.host}/hpc/bb:1`;
    await pushOci(b.ociDir, b.ociTag, ref);
    await runLodgerOk(['import', b.tar, 'busybox'], { store, env: batchEnv(tmp) });
  });
  afterAll(async () => {
    await registry?.stop();
    await store?.cleanup();
  });

  it('all succeed — runs, runs that pull, pulls and imports at once — and the store is consistent afterwards', async () => {
    const env = batchEnv(tmp);
    const mounts = hostMountinfo();
    const tar = busyboxFixture()!.tar;
    const jobs: Array<{ what: string; p: Promise<LodgerResult>; out?: string }> = [];
    for (let i = 0; i < 9; i++) {
      jobs.push({ what: `run ${i}`, out: `job-${i}\n`, p: runLodger(['run', '--rm', 'busybox', 'sh', '-c', `echo job-${i} > /tmp/out && cat /tmp/out`], { store, env, timeoutMs: 120_000 }) });
    }
    for (let i = 0; i < 3; i++) {
      // run from the registry: each may be the one that pulls, while the others do too.
      jobs.push({ what: `run-pull ${i}`, out: `pulled-${i}\n`, p: runLodger(['run', '--rm', ref, 'echo', `pulled-${i}`], { store, env, timeoutMs: 120_000 }) });
    }
    for (let i = 0; i < 2; i++) jobs.push({ what: `pull ${i}`, p: runLodger(['pull', '-q', ref], { store, env, timeoutMs: 120_000 }) });
    for (let i = 0; i < 2; i++) jobs.push({ what: `import ${i}`, p: runLodger(['import', tar, `batch-import:${i}`], { store, env, timeoutMs: 120_000 }) });

    const results = await Promise.all(jobs.map((j) => j.p));
    const failed = results.map((r, i) => ({ r, j: jobs[i] })).filter(({ r, j }) => r.code !== 0 || (j.out !== undefined && !r.stdout.endsWith(j.out)));
    expect(failed.map(({ j, r }) => `${j.what}: exit ${r.code}${r.timedOut ? ' (timed out)' : ''}\n${r.stderr}${r.stdout}`)).toEqual([]);

    // Consistent: every image's layers are complete, nothing half-made is left, no container, lock or mount stays.
    const index = JSON.parse(fs.readFileSync(path.join(store.root, 'images.json'), 'utf8')) as IndexFile;
    const names = index.images.flatMap((i) => i.names).sort();
    expect(names).toEqual(['localhost/batch-import:0', 'localhost/batch-import:1', 'localhost/busybox:latest', ref].sort());
    for (const img of index.images) {
      for (const l of img.layers) expect(fs.existsSync(path.join(store.root, 'layers', l.slice(7), 'layer.json')), l).toBe(true);
    }
    expect(entries(path.join(store.root, 'layers'), true).filter((n) => n.startsWith('.'))).toEqual([]);
    expect(entries(path.join(store.root, 'containers'), true)).toEqual([]);
    expect(fs.existsSync(path.join(store.root, 'store.lock'))).toBe(false);
    expect((await runLodgerOk(['ps', '-a', '-q'], { store, env })).stdout).toBe('');
    expect(leakedMounts(mounts, store.dir)).toEqual([]);
    // And it still works: every image runs.
    for (const n of ['busybox', 'batch-import:1', ref]) {
      expect((await runLodgerOk(['run', '--rm', n, 'echo', 'after'], { store, env })).stdout).toBe('after\n');
    }
    // The runtime dir fallback the jobs shared is private.
    const st = fs.statSync(path.join(tmp, `lodger-run-${uid()}`));
    expect([st.uid, st.mode & 0o777]).toEqual([uid(), 0o700]);
  }, 240_000);
});

describe.skipIf(!busyboxFixture())('without a subordinate id range', () => {
  let store: Store;
  let env: Record<string, string | undefined>;
  beforeAll(async () => {
    store = makeStore('lodger-hpc-nosub-');
    const empty = path.join(store.dir, 'empty');
    fs.writeFileSync(empty, '');
    env = { LODGER_SUBUID_FILE: empty, LODGER_SUBGID_FILE: empty };
  });
  afterAll(async () => {
    await store?.cleanup();
  });

  it('import, run, exec, logs and rm work, and each command says once what will not work', async () => {
    const imp = await runLodgerOk(['import', busyboxFixture()!.tar, 'busybox'], { store, env });
    // The image has a file of uid 1000, which a single-id mapping cannot own: the note says so and why.
    expect(imp.stderr).toMatch(/ownership not kept for \/home\/app \(uid 1000, gid 1000\).*\/etc\/subuid/s);
    const run = await runLodger(['run', '--rm', 'busybox', 'sh', '-c', 'id -u; stat -c %u:%g /home/app; chown 1000 /tmp 2>&1 || echo chown-refused'], { store, env });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^0\n0:0\n.*Invalid argument\nchown-refused\n$/s);
    expect(run.stderr.match(/no entry for "[^"]+" in \/etc\/subuid/g)).toHaveLength(1);
    expect(run.stderr).toMatch(/changing ownership .* will fail/);

    const d = await runLodgerOk(['run', '-d', '--name', 'nosub', 'busybox', 'sh', '-c', 'echo logged; sleep 60'], { store, env });
    try {
      expect((await runLodgerOk(['exec', 'nosub', 'id', '-u'], { store, env })).stdout).toBe('0\n');
      let logs = '';
      for (let i = 0; i < 50 && !logs.includes('logged'); i++) {
        logs = (await runLodgerOk(['logs', 'nosub'], { store, env })).stdout;
        if (!logs.includes('logged')) await new Promise((r) => setTimeout(r, 100));
      }
      expect(logs).toBe('logged\n');
    } finally {
      await runLodgerOk(['rm', '-f', 'nosub'], { store, env });
    }
    expect((await runLodgerOk(['ps', '-a', '-q', '--no-trunc'], { store, env })).stdout).not.toContain(d.stdout.trim());
  });

  it('a user other than root is refused before starting, naming the missing range and whose it is', async () => {
    for (const args of [['run', '--rm', '-u', '1000', 'busybox', 'id'], ['run', '--rm', '-u', 'app', 'busybox', 'id']]) {
      const r = await runLodger(args, { store, env });
      expect(r.code, r.stderr).toBe(125);
      expect(r.stderr).toMatch(/run as uid 1000: .*single-id mapping/);
      expect(r.stderr).toContain(`no range for "${process.env.USER ?? require('node:os').userInfo().username}" in ${env.LODGER_SUBUID_FILE}`);
      expect(r.stderr).not.toMatch(/internal error/);
    }
    const c = (await runLodgerOk(['run', '-d', 'busybox', 'sleep', '60'], { store, env })).stdout.trim();
    try {
      const e = await runLodger(['exec', '-u', '1000', c, 'id'], { store, env });
      expect(e.code).toBe(125);
      expect(e.stderr).toMatch(/run as uid 1000: .*no range for/);
    } finally {
      await runLodger(['rm', '-f', c], { store, env });
    }
  });

  describe.skipIf(!haveSubids())('a store written with a range, used without one', () => {
    let withRange: Store;
    beforeAll(async () => {
      withRange = makeStore('lodger-hpc-nosub2-');
      await runLodgerOk(['import', busyboxFixture()!.tar, 'busybox'], { store: withRange });
    });
    afterAll(async () => {
      await withRange?.cleanup();
    });

    it.each(['overlay', 'fuse-overlayfs'])('files of other uids show as nobody (65534) with %s', async (driver) => {
      const r = await runLodger(['run', '--rm', '--storage-driver', driver, 'busybox', 'sh', '-c', 'stat -c %u:%g /home/app /bin/busybox'], { store: withRange, env });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe('65534:65534\n0:0\n');
    });

    it('vfs cannot give its copy those owners: they become root\'s, and a note says why', async () => {
      const r = await runLodger(['run', '--rm', '--storage-driver', 'vfs', 'busybox', 'stat', '-c', '%u:%g', '/home/app'], { store: withRange, env });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe('0:0\n');
      expect(r.stderr).toMatch(/ownership not kept for \/home\/app.*\/etc\/subuid/s);
    });
  });
});
