// Issue 14, differential: the same Dockerfiles built by `lodger build` and by `podman build` (Debian's podman 4.3 /
// buildah 1.28) give the same image config and the same file tree, entry by entry (paths, types, modes, owners,
// sizes, content hashes, link targets). Heredocs are left out: buildah 1.28 refuses them ("Unknown instruction");
// build.test.ts checks lodger's heredocs against the Dockerfile reference's documented result instead.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeTree, runLodgerOk, type Store } from '../helpers/cli';
import { archiveConfig, imageTree, treeDiff } from '../helpers/imageTree';
import { busyboxFixture, busyboxStore, haveSubids } from './foundation-common';
import { makePodman, type Podman } from './pull-push-common';
import { requireTool } from '../helpers/prereqs';
import { registryPrereqs, startRegistry } from '../helpers/registry';

const ready = haveSubids() && busyboxFixture() !== null && requireTool('podman');

let store: Store;
let podman: Podman;
let work: string;
beforeAll(async () => {
  if (!ready) return;
  store = await busyboxStore();
  podman = makePodman();
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'lodger-build-diff-'));
  fs.writeFileSync(path.join(work, 'auth.json'), '{}');
  // The same base under the same name in both stores.
  await podman.ok(['import', busyboxFixture()!.tar, 'localhost/busybox:latest']);
}, 120_000);
afterAll(async () => {
  await podman?.cleanup();
  await store?.cleanup();
  if (work) await removeTree(work);
});

const CASES: Record<string, Record<string, string | { text: string; mode: number } | { symlink: string }>> = {
  metadata: {
    Dockerfile: [
      'FROM localhost/busybox',
      'ARG VERSION=1.2',
      'ENV APP_VERSION=$VERSION PATH=/opt/app/bin:$PATH',
      'ENV QUOTED="a b" EMPTY=',
      'LABEL org.opencontainers.image.version=$VERSION "multi word"="x y"',
      'EXPOSE 8080 53/udp',
      'WORKDIR /opt/app',
      'USER app',
      'VOLUME ["/data", "/cache"]',
      'STOPSIGNAL SIGTERM',
      'HEALTHCHECK --interval=30s --timeout=3s --retries=3 CMD wget -q -O- http://localhost:8080/ || exit 1',
      'ONBUILD RUN echo child',
      'ENTRYPOINT ["/bin/sh", "-c"]',
      'CMD echo $APP_VERSION',
      '',
    ].join('\n'),
  },
  files: {
    'Dockerfile': [
      'FROM localhost/busybox',
      'COPY app /srv/app/',
      'COPY --chown=1000:1000 conf/settings.ini /etc/myapp/',
      'COPY --chmod=0700 run.sh /usr/local/bin/run.sh',
      'COPY link /srv/link',
      'WORKDIR /srv',
      'COPY app/a.txt ./copied.txt',
      'RUN mkdir -p /var/lib/thing && echo data > /var/lib/thing/f && chown -R 1000:1000 /var/lib/thing && chmod 4755 /bin/busybox',
      'RUN rm -rf /srv/app/sub && rm /usr/bin/env && ln /srv/copied.txt /srv/hard.txt && ln -s /srv/copied.txt /srv/soft',
      'RUN rm -rf /var/lib/thing && mkdir -p /var/lib/thing && echo new > /var/lib/thing/g',
      '',
    ].join('\n'),
    '.dockerignore': 'app/*.log\n',
    'app/a.txt': 'a\n',
    'app/skip.log': 'no\n',
    'app/sub/b.txt': { text: 'b\n', mode: 0o600 },
    'conf/settings.ini': '[x]\ny=1\n',
    'run.sh': { text: '#!/bin/sh\necho run\n', mode: 0o755 },
    'link': { symlink: 'app/a.txt' },
  },
  stages: {
    Dockerfile: [
      'FROM localhost/busybox AS build',
      'RUN mkdir -p /out/bin && echo "#!/bin/sh" > /out/bin/tool && chmod 755 /out/bin/tool && echo lib > /out/lib.txt',
      'FROM localhost/busybox AS unused',
      'RUN exit 1',
      'FROM localhost/busybox',
      'COPY --from=build /out /opt/',
      'COPY --from=build /out/lib.txt /usr/share/lib.txt',
      'CMD ["/opt/bin/tool"]',
      '',
    ].join('\n'),
  },
};

function writeContext(name: string): string {
  const dir = path.join(work, name);
  for (const [f, v] of Object.entries(CASES[name])) {
    const p = path.join(dir, f);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    if (typeof v === 'string') fs.writeFileSync(p, v, { mode: 0o644 });
    else if ('symlink' in v) fs.symlinkSync(v.symlink, p);
    else { fs.writeFileSync(p, v.text); fs.chmodSync(p, v.mode); }
  }
  return dir;
}

/** What both record for an image's config (buildah adds its own version label; podman fills Env/PATH defaults alike). */
const CONFIG_KEYS = ['Env', 'Cmd', 'Entrypoint', 'WorkingDir', 'User', 'Labels', 'ExposedPorts', 'Volumes', 'StopSignal', 'Healthcheck', 'OnBuild'];
function pick(cfg: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of CONFIG_KEYS) {
    let v = cfg[k];
    if (k === 'Labels' && v) v = Object.fromEntries(Object.entries(v as Record<string, string>).filter(([l]) => l !== 'io.buildah.version'));
    if (v === null || v === undefined || v === '' || (typeof v === 'object' && Object.keys(v as object).length === 0)) continue;
    out[k] = v;
  }
  return out;
}

async function both(name: string): Promise<{ mine: Record<string, unknown>; theirs: Record<string, unknown>; diff: string[]; paths: string[] }> {
  const dir = writeContext(name);
  await runLodgerOk(['build', '-q', '-t', `diff-${name}`, dir], { store, timeoutMs: 180_000 });
  await podman.ok(['build', '--runtime', 'runc', '--authfile', path.join(work, 'auth.json'), '--format', 'docker', '--pull=never', '--layers', '-q', '-t', `diff-${name}`, dir], { timeoutMs: 240_000 });
  const a = path.join(work, `${name}.lodger.tar`);
  const b = path.join(work, `${name}.podman.tar`);
  await runLodgerOk(['save', '-o', a, `diff-${name}`], { store });
  await podman.ok(['save', '--format', 'docker-archive', '-o', b, `localhost/diff-${name}`]);
  const mineCfg = archiveConfig(a, work).config as Record<string, unknown>;
  const theirCfg = archiveConfig(b, work).config as Record<string, unknown>;
  const tree = await imageTree(a, work);
  const diff = treeDiff(tree, await imageTree(b, work));
  return { mine: pick(mineCfg), theirs: pick(theirCfg), diff, paths: [...tree.keys()] };
}

describe.runIf(ready)('lodger build and podman build agree', () => {
  it.each(Object.keys(CASES))('%s: the same config and the same file tree', async (name) => {
    const r = await both(name);
    expect(r.mine).toEqual(r.theirs);
    expect(r.diff).toEqual([]);
    // Not two empty trees: the busybox base and what the case adds are there.
    expect(r.paths).toContain('bin/busybox');
    const added: Record<string, string[]> = { metadata: [], files: ['srv/hard.txt', 'srv/soft', 'srv/app/a.txt', 'var/lib/thing/g', 'etc/myapp/settings.ini'], stages: ['opt/bin/tool', 'usr/share/lib.txt'] };
    for (const p of added[name]) expect(r.paths).toContain(p);
    expect(Object.keys(r.mine).length).toBeGreaterThan(name === 'metadata' ? 8 : 1);
  }, 300_000);
});

describe.runIf(ready)('lodger build and podman build agree (extras)', () => {
  it('--layers=false with ADD of an owned tar: one layer above the base for both, the same tree and owners', async () => {
    const dir = path.join(work, 'flat');
    fs.mkdirSync(path.join(dir, 'src/d'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'src/d/f'), 'f\n');
    fs.writeFileSync(path.join(dir, 'src/s'), 's\n');
    fs.chmodSync(path.join(dir, 'src/s'), 0o4711);
    execFileSync('tar', ['-C', path.join(dir, 'src'), '--numeric-owner', '--owner=1234', '--group=2345', '-czf', path.join(dir, 'owned.tar.gz'), 'd', 's']);
    fs.writeFileSync(path.join(dir, 'Dockerfile'), [
      'FROM localhost/busybox',
      'ADD owned.tar.gz /opt/',
      'RUN mkdir -p /var/x && echo x > /var/x/f && chown -R 1000:1000 /var/x && rm /usr/bin/env',
      'RUN rm -rf /var/x && mkdir /var/x && echo y > /var/x/g && rm /opt/s',
      '',
    ].join('\n'));
    await runLodgerOk(['build', '-q', '--layers=false', '-t', 'diff-flat', dir], { store, timeoutMs: 180_000 });
    await podman.ok(['build', '--runtime', 'runc', '--authfile', path.join(work, 'auth.json'), '--format', 'docker', '--pull=never', '--layers=false', '-q', '-t', 'diff-flat', dir], { timeoutMs: 240_000 });
    const a = path.join(work, 'flat.lodger.tar');
    const b = path.join(work, 'flat.podman.tar');
    await runLodgerOk(['save', '-o', a, 'diff-flat'], { store });
    await podman.ok(['save', '--format', 'docker-archive', '-o', b, 'localhost/diff-flat']);
    const layers = (f: string) => ((archiveConfig(f, work) as { rootfs: { diff_ids: string[] } }).rootfs.diff_ids.length);
    expect(layers(a)).toBe(layers(b));
    const tree = await imageTree(a, work);
    expect(treeDiff(tree, await imageTree(b, work))).toEqual([]);
    for (const p of ['opt/d/f', 'var/x/g', 'bin/busybox']) expect([...tree.keys()]).toContain(p);
  }, 300_000);
});

describe.runIf(ready && registryPrereqs())('what lodger builds, podman pulls and runs', () => {
  it('pushed to a registry, the built image runs under podman with its config', async () => {
    const reg = await startRegistry();
    try {
      const dir = path.join(work, 'pushed');
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, 'Dockerfile'), 'FROM localhost/busybox\nENV WHO=podman\nRUN echo "built by lodger, run by $WHO" > /msg && rm /usr/bin/env\nCMD ["cat", "/msg"]\n');
      await runLodgerOk(['build', '-q', '-t', 'pushme:1', dir], { store, timeoutMs: 180_000 });
      const ref = `${reg.host}/built/pushme:1`;
      const pushed = await runLodgerOk(['push', 'pushme:1', ref], { store, timeoutMs: 120_000 });
      expect(pushed.stdout).toMatch(/@sha256:[0-9a-f]{64}\n$/);
      await podman.ok(['pull', '--quiet', '--tls-verify=false', ref]);
      expect(await podman.ok(['run', '--rm', '--runtime', 'runc', '--network', 'none', ref])).toBe('built by lodger, run by podman\n');
      // The whiteout of the RUN layer holds under podman too.
      expect((await podman.run(['run', '--rm', '--runtime', 'runc', '--network', 'none', ref, 'ls', '/usr/bin/env'])).code).not.toBe(0);
    } finally {
      await reg.stop();
    }
  }, 300_000);
});
