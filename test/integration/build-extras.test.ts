// Issue 14, `lodger build` gaps as an unprivileged user: ADD of a tar keeps its owners, --layers=false,
// COPY --from with wildcards, RUN --mount=type=bind,from=, and --platform for another architecture refused.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { runLodger, runLodgerOk } from '../helpers/cli';
import { buildPrereqs, useBuildKit } from './build-common';

const ok = buildPrereqs();
const kit = useBuildKit(ok, 'lodger-build-extras-');
const { context, build, buildOk, run } = kit;
async function layerCount(ref: string): Promise<number> {
  return (JSON.parse((await runLodgerOk(['inspect', ref], { store: kit.store() })).stdout)[0] as { RootFS: { Layers: string[] } }).RootFS.Layers.length;
}

describe.skipIf(!ok)('lodger build (extras)', () => {
  it('ADD of a local tar keeps the owners, ids and modes the archive records; --chown overrides them', async () => {
    const dir = context({ Dockerfile: 'FROM busybox\nADD owned.tar.gz /opt/\nADD --chown=7:8 owned.tar.gz /chowned/\n', 'src/d/f': 'f\n', 'src/s': 's\n', 'src/root': 'r\n' });
    const src = path.join(dir, 'src');
    fs.chmodSync(path.join(src, 'd'), 0o750);
    fs.chmodSync(path.join(src, 's'), 0o4711);
    // Owners as GNU tar records them: numeric ids only, or a name with its id (the id is what counts).
    const list = path.join(dir, 'owned.tar');
    execFileSync('tar', ['-C', src, '--numeric-owner', '--owner=1234', '--group=2345', '-cf', list, 'd']);
    execFileSync('tar', ['-C', src, '--owner=bob:4321', '--group=staff:99', '-rf', list, 's']);
    execFileSync('tar', ['-C', src, '--owner=0', '--group=0', '--numeric-owner', '-rf', list, 'root']);
    execFileSync('gzip', [list]);
    await buildOk(['-t', 'addown:1', dir]);
    expect(await run(['addown:1', 'stat', '-c', '%u:%g %a %n', '/opt/d', '/opt/d/f', '/opt/s', '/opt/root', '/chowned/d/f', '/chowned/s'])).toBe(
      '1234:2345 750 /opt/d\n1234:2345 644 /opt/d/f\n4321:99 4711 /opt/s\n0:0 644 /opt/root\n7:8 644 /chowned/d/f\n7:8 4711 /chowned/s\n');
  });

  it('COPY --from=STAGE takes wildcard sources, each matched file under the destination directory', async () => {
    const dir = context({
      Dockerfile: [
        'FROM busybox AS b',
        'RUN mkdir -p /out/sub && echo a > /out/a.txt && echo b > /out/b.txt && echo c > /out/c.log && echo s > /out/sub/s.txt',
        'FROM busybox',
        'COPY --from=b /out/*.txt /dst/',
        'COPY --from=b /out/s*/*.txt /deep/',
        '',
      ].join('\n'),
    });
    await buildOk(['-t', 'wild:1', dir]);
    expect(await run(['wild:1', 'sh', '-c', 'ls /dst /deep; cat /dst/a.txt /dst/b.txt'])).toBe('/deep:\ns.txt\n\n/dst:\na.txt\nb.txt\na\nb\n');
    const none = await build([context({ Dockerfile: 'FROM busybox AS b\nFROM busybox\nCOPY --from=b /etc/*.nothing /x/\n' })]);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/\/etc\/\*\.nothing: no such file or directory/);
  });

  it('RUN --mount=type=bind,from= mounts a stage\'s or an image\'s path, read-only unless rw, and not in the layer', async () => {
    const dir = context({
      Dockerfile: [
        'FROM busybox AS b',
        'RUN mkdir /out && echo built > /out/artifact',
        'FROM busybox',
        'RUN --mount=type=bind,from=b,source=/out,target=/m cat /m/artifact > /got && (touch /m/x 2>/dev/null && echo writable || echo readonly) >> /got',
        'RUN --mount=type=bind,from=b,source=/out,target=/m,rw touch /m/x && ls /m >> /got',
        'RUN --mount=type=bind,from=busybox,source=/bin/busybox,target=/opt/echo /opt/echo image >> /got',
        'RUN ls /m 2>&1 >> /got || echo gone >> /got',
        '',
      ].join('\n'),
    });
    await buildOk(['-t', 'mfrom:1', dir]);
    expect(await run(['mfrom:1', 'cat', '/got'])).toBe('built\nreadonly\nartifact\nx\nimage\ngone\n');
  });

  it('--layers=false commits each stage\'s steps as one layer on top of its base, deletions and owners kept', async () => {
    const dir = context({
      Dockerfile: [
        'FROM busybox',
        'COPY f /f',
        'RUN mkdir -p /d/sub && echo x > /d/sub/x && chown -R 1000:1001 /d && echo tmp > /tmp/t',
        'RUN rm /tmp/t /bin/vi && echo y > /d/y && chmod 4755 /d/y',
        'ENV A=1',
        'RUN rm -rf /etc/network && mkdir /etc/network && echo new > /etc/network/only',
        '',
      ].join('\n'),
      f: 'file\n',
    });
    const base = await layerCount('busybox');
    await buildOk(['--layers=false', '-t', 'flat:1', dir]);
    expect(await layerCount('flat:1')).toBe(base + 1);
    const img = JSON.parse((await runLodgerOk(['inspect', 'flat:1'], { store: kit.store() })).stdout)[0] as { History: Array<{ empty_layer?: boolean }> };
    expect(img.History.filter((h) => !h.empty_layer).length).toBe(base + 1);
    expect(await run(['flat:1', 'sh', '-c', 'cat /f /d/sub/x; stat -c "%u:%g %a %n" /d /d/sub/x /d/y; ls /etc/network; ls /tmp; ls /bin/vi 2>&1 || true'])).toBe(
      'file\nx\n1000:1001 755 /d\n1000:1001 644 /d/sub/x\n0:0 4755 /d/y\nonly\nls: /bin/vi: No such file or directory\n');
    await buildOk(['-t', 'flat:layers', dir]);
    expect(await layerCount('flat:layers')).toBe(base + 4);
  });

  it('refuses --platform for another architecture (exit 1, no emulation) and keeps the host\'s and $BUILDPLATFORM', async () => {
    const arch = process.arch === 'arm64' ? 'amd64' : 'arm64';
    const host = process.arch === 'arm64' ? 'linux/arm64' : 'linux/amd64';
    const dir = context({ Dockerfile: 'FROM busybox\nRUN echo hi > /hi\n' });
    const bad = await build(['--platform', `linux/${arch}`, '-t', 'plat:bad', dir]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/does not emulate other architectures/);
    const badFrom = await build(['-t', 'plat:bad', context({ Dockerfile: `FROM --platform=linux/${arch} busybox\nRUN true\n` })]);
    expect(badFrom.code).toBe(1);
    expect(badFrom.stderr).toMatch(/does not emulate other architectures/);
    expect((await runLodger(['image', 'inspect', 'plat:bad'], { store: kit.store() })).code).not.toBe(0);
    await buildOk(['--platform', host, '-t', 'plat:host', dir]);
    await buildOk(['-t', 'plat:bp', context({ Dockerfile: 'FROM --platform=$BUILDPLATFORM busybox\nARG TARGETARCH\nRUN echo $TARGETARCH > /a\n' })]);
    expect(await run(['plat:bp', 'cat', '/a'])).toBe(`${host.split('/')[1]}\n`);
  });
});
