// Issue 14, `lodger build` as an unprivileged user: instructions and their config, layers (ownership from RUN, whiteouts),
// the cache (hits, misses, same image ID), .dockerignore, multi-stage with --target, and failures that leave no tag.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { runLodgerOk, spawnLodger, waitForExit, waitForOutput } from '../helpers/cli';
import { buildPrereqs, useBuildKit } from './build-common';

const ok = buildPrereqs();
const kit = useBuildKit(ok, 'lodger-build-');
const { context, build, buildOk, run } = kit;

interface Inspect { Id: string; Config: Record<string, unknown>; History: Array<{ created_by: string; empty_layer?: boolean }>; RootFS: { Layers: string[] } }
async function inspect(ref: string): Promise<Inspect> {
  return JSON.parse((await runLodgerOk(['inspect', ref], { store: kit.store() })).stdout)[0] as Inspect;
}

describe.skipIf(!ok)('lodger build', () => {
  it('records every metadata instruction in the config as Docker does, with empty_layer history', async () => {
    const dir = context({
      Dockerfile: [
        'FROM busybox',
        'ENV A=1 B="two words"',
        'ENV C=${A}-x',
        'LABEL org.example.v="1.0" "with space"=yes',
        'EXPOSE 80 53/udp',
        'WORKDIR /srv',
        'WORKDIR sub',
        'USER app:app',
        'VOLUME /data',
        'STOPSIGNAL SIGQUIT',
        'HEALTHCHECK --interval=5s --retries=2 CMD wget -q localhost || exit 1',
        'ONBUILD RUN echo triggered > /tmp/trig',
        'ENTRYPOINT ["/bin/echo"]',
        'CMD redis-server',
        '',
      ].join('\n'),
    });
    const r = await buildOk(['-t', 'meta:1', dir]);
    expect(r.stdout).toMatch(/STEP 1\/14: FROM busybox/);
    expect(r.stdout).toMatch(/STEP 14\/14: CMD redis-server/);
    const img = await inspect('meta:1');
    expect(img.Config).toMatchObject({
      Env: expect.arrayContaining(['A=1', 'B=two words', 'C=1-x']),
      Labels: { 'org.example.v': '1.0', 'with space': 'yes' },
      ExposedPorts: { '80/tcp': {}, '53/udp': {} },
      WorkingDir: '/srv/sub',
      User: 'app:app',
      Volumes: { '/data': {} },
      StopSignal: 'SIGQUIT',
      Entrypoint: ['/bin/echo'],
      Cmd: ['/bin/sh', '-c', 'redis-server'],
    });
    const hist = img.History.slice(-13);
    expect(hist.every((h) => h.empty_layer === true)).toBe(true);
    expect(img.RootFS.Layers).toHaveLength(1);
    // A child image runs the trigger right after its FROM.
    const child = context({ Dockerfile: 'FROM meta:1\nUSER root\n' });
    await buildOk(['-t', 'child:1', child]);
    expect(await run(['--entrypoint', 'cat', 'child:1', '/tmp/trig'])).toBe('triggered\n');
  });

  it('makes one layer per RUN and COPY: ownership from RUN chown, deletions as whiteouts, opaque directories', async () => {
    const dir = context({
      'Dockerfile': [
        'FROM busybox',
        'COPY --chown=app:app data /data/',
        'RUN mkdir -p /d/keep && echo x > /d/keep/old && echo y > /gone && chown 1000:1000 /gone',
        'RUN rm /gone && rm -rf /d && mkdir -p /d && echo new > /d/only && chown -R 1234:5678 /d',
        'RUN chmod 4755 /d/only && ln /d/only /d/hard',
        '',
      ].join('\n'),
      'data/f': 'file\n',
    });
    await buildOk(['-t', 'layers:1', dir]);
    const img = await inspect('layers:1');
    expect(img.RootFS.Layers).toHaveLength(5);
    expect(await run(['layers:1', 'sh', '-c', 'ls -ln /data/f | awk \'{print $3":"$4}\'; ls /d; ls /gone 2>&1 || true; stat -c "%a %u:%g %h" /d/only'])).toBe(
      '1000:1000\nhard\nonly\nls: /gone: No such file or directory\n4755 1234:5678 2\n');
    // The layer of the second RUN holds a whiteout for /gone and an opaque /d.
    const out = path.join(kit.work(), 'layers.tar');
    await runLodgerOk(['save', '-o', out, 'layers:1'], { store: kit.store() });
    const x = path.join(kit.work(), 'layers-x');
    fs.mkdirSync(x);
    execFileSync('tar', ['-C', x, '-xf', out]);
    const manifest = JSON.parse(fs.readFileSync(path.join(x, 'manifest.json'), 'utf8'))[0] as { Layers: string[] };
    const listing = execFileSync('tar', ['-tvf', path.join(x, manifest.Layers[3])]).toString();
    expect(listing).toMatch(/ \.wh\.gone\n/);
    expect(listing).toMatch(/d\/\.wh\.\.wh\.\.opq\n/);
    expect(listing).toMatch(/1234\/5678 .* d\/only\n/);
  });

  it('reuses cached steps, gives the same image ID, ignores mtimes, and reruns from the first step that reads a changed file', async () => {
    const dir = context({
      'Dockerfile': 'FROM busybox\nCOPY a /a\nRUN cat /a > /a2\nCOPY b /b\nRUN cat /b > /b2\n',
      'a': 'A\n',
      'b': 'B\n',
    });
    const first = await buildOk(['-q', '-t', 'cache:1', dir]);
    const second = await buildOk(['-t', 'cache:1', dir]);
    expect((second.stdout.match(/Using cache/g) ?? []).length).toBe(4);
    expect(second.stdout.trim().split('\n').pop()).toBe(first.stdout.trim().slice(7));
    // A new mtime alone is no change.
    fs.utimesSync(path.join(dir, 'b'), new Date(), new Date(2001, 1, 1));
    const touched = await buildOk(['-q', '-t', 'cache:1', dir]);
    expect(touched.stdout).toBe(first.stdout);
    fs.writeFileSync(path.join(dir, 'b'), 'B2\n');
    const changed = await buildOk(['-t', 'cache:1', dir]);
    expect(changed.stdout).toMatch(/STEP 2\/5: COPY a \/a\n--> Using cache\n.*STEP 3\/5: RUN cat \/a > \/a2\n--> Using cache\n.*STEP 4\/5: COPY b \/b\n(?!--> Using cache)/s);
    expect(await run(['cache:1', 'cat', '/b2'])).toBe('B2\n');
    const nocache = await buildOk(['--no-cache', '-t', 'cache:2', dir]);
    expect(nocache.stdout).not.toMatch(/Using cache/);
  });

  it('honours .dockerignore with exceptions, and refuses to copy an excluded file by name', async () => {
    const dir = context({
      'Dockerfile': 'FROM busybox\nCOPY . /ctx/\n',
      '.dockerignore': '*.log\nsecret/\n!secret/keep\n',
      'app.txt': 'app\n',
      'debug.log': 'no\n',
      'secret/key': 'no\n',
      'secret/keep': 'yes\n',
    });
    await buildOk(['-t', 'ign:1', dir]);
    const files = (await run(['ign:1', 'find', '/ctx', '-type', 'f'])).trim().split('\n').sort();
    expect(files).toEqual(['/ctx/.dockerignore', '/ctx/Dockerfile', '/ctx/app.txt', '/ctx/secret/keep']);
    const bad = context({ 'Dockerfile': 'FROM busybox\nCOPY debug.log /x\n', '.dockerignore': '*.log\n', 'debug.log': 'no\n' });
    const r = await build(['-t', 'ign:2', bad]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/Dockerfile:2: COPY debug\.log \/x: .*debug\.log.*excluded by \.dockerignore/);
  });

  it('builds only the stages the target needs, copies between stages, and honours --target', async () => {
    const dir = context({
      Dockerfile: [
        'ARG BASE=busybox',
        'FROM ${BASE} AS builder',
        'ARG MSG=built',
        'RUN mkdir /out && echo $MSG > /out/artifact',
        'FROM busybox AS broken',
        'RUN exit 3',
        'FROM busybox',
        'COPY --from=builder /out/artifact /app/artifact',
        'CMD ["cat", "/app/artifact"]',
        '',
      ].join('\n'),
    });
    const r = await buildOk(['--build-arg', 'MSG=hello', '-t', 'multi:1', dir]);
    expect(r.stdout).not.toMatch(/exit 3/);
    expect(await run(['multi:1'])).toBe('hello\n');
    const t = await buildOk(['--target', 'builder', '-t', 'multi:builder', dir]);
    expect(t.stdout).not.toMatch(/COPY --from/);
    expect(await run(['multi:builder', 'cat', '/out/artifact'])).toBe('built\n');
    const bad = await build(['--target', 'nope', dir]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/--target nope: no such stage/);
  });

  it('runs heredocs (RUN <<EOF, COPY <<EOF) and takes a context tar on stdin', async () => {
    const dir = context({
      Dockerfile: 'FROM busybox\nARG X=val\nRUN <<EOF\necho one > /h1\necho "$X" >> /h1\nEOF\nCOPY <<EOT /etc/greeting\nhello $X\nEOT\n',
    });
    await buildOk(['-t', 'here:1', dir]);
    expect(await run(['here:1', 'cat', '/h1', '/etc/greeting'])).toBe('one\nval\nhello val\n');
    const tar = execFileSync('tar', ['-C', dir, '-c', '.']);
    const r = await runLodgerOk(['build', '-q', '-t', 'here:2', '-'], { store: kit.store(), input: tar, timeoutMs: 120_000 });
    expect(r.stdout).toMatch(/^sha256:[0-9a-f]{64}\n$/);
  });

  it('ADD of a local tar (plain or gzip) adds its contents; COPY adds the archive itself', async () => {
    const dir = context({ Dockerfile: 'FROM busybox\nADD files.tar.gz /opt/\nADD plain.tar /plain\nCOPY files.tar.gz /copied/\n', 'src/x/one': '1\n', 'src/two': '2\n' });
    execFileSync('tar', ['-C', path.join(dir, 'src'), '-czf', path.join(dir, 'files.tar.gz'), '.']);
    execFileSync('tar', ['-C', path.join(dir, 'src'), '-cf', path.join(dir, 'plain.tar'), 'two']);
    await buildOk(['-t', 'add:1', dir]);
    expect(await run(['add:1', 'sh', '-c', 'cat /opt/x/one /opt/two /plain/two; ls /copied'])).toBe('1\n2\n2\nfiles.tar.gz\n');
  });

  it('ADD of a URL fetches it (redirects followed, mode 0600, not unpacked), and its content decides the cache', async () => {
    const http = await import('node:http');
    let body = 'remote v1\n';
    const server = http.createServer((req, res) => {
      if (req.url === '/r') { res.writeHead(302, { Location: '/files/hello.txt' }); res.end(); return; }
      if (req.url === '/files/hello.txt') { res.writeHead(200, { 'Last-Modified': 'Wed, 21 Oct 2015 07:28:00 GMT' }); res.end(body); return; }
      res.writeHead(404); res.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as { port: number }).port;
      const dir = context({ Dockerfile: `FROM busybox\nADD http://127.0.0.1:${port}/r /dl/\n` });
      await buildOk(['-t', 'url:1', dir]);
      expect(await run(['url:1', 'sh', '-c', 'cat /dl/hello.txt; stat -c "%a %Y" /dl/hello.txt'])).toBe('remote v1\n600 1445412480\n');
      expect((await buildOk(['-t', 'url:1', dir])).stdout).toMatch(/Using cache/);
      body = 'remote v2\n';
      expect((await buildOk(['-t', 'url:1', dir])).stdout).not.toMatch(/Using cache/);
      const missing = await build([context({ Dockerfile: `FROM busybox\nADD http://127.0.0.1:${port}/nope /x\n` })]);
      expect(missing.stderr).toMatch(/Dockerfile:2: ADD .*\/nope.*: the server answered 404/);
    } finally {
      server.close();
    }
  });

  it('--label, --iidfile, --secret, RUN --mount bind/tmpfs, --network none and --timestamp', async () => {
    const dir = context({
      Dockerfile: [
        'FROM busybox',
        'RUN --mount=type=secret,id=tok test "$(cat /run/secrets/tok)" = s3cret && echo secret-ok > /secret-ok',
        'RUN --mount=type=bind,source=conf,target=/mnt/conf cat /mnt/conf/value > /from-bind',
        'RUN --mount=type=tmpfs,target=/scratch echo x > /scratch/y && ls /scratch > /tmpfs-list',
        'RUN --network=none ls /sys/class/net > /nets-none',
        '',
      ].join('\n'),
      'conf/value': 'bound\n',
    });
    const secret = path.join(kit.work(), 'tok');
    fs.writeFileSync(secret, 's3cret');
    const iid = path.join(kit.work(), 'iid');
    await buildOk(['--secret', `id=tok,src=${secret}`, '--label', 'team=build', '--iidfile', iid, '--timestamp', '1700000000', '-t', 'opts:1', dir]);
    const img = await inspect('opts:1');
    expect(fs.readFileSync(iid, 'utf8')).toBe(img.Id);
    expect((img.Config.Labels as Record<string, string>).team).toBe('build');
    expect((img as unknown as { Created: string }).Created).toMatch(/^2023-11-14T22:13:20/);
    expect(await run(['opts:1', 'sh', '-c', 'cat /secret-ok /from-bind /tmpfs-list /nets-none; ls /run/secrets /mnt/conf /scratch 2>/dev/null | wc -w'])).toBe('secret-ok\nbound\ny\nlo\n0\n');
    // A required secret that was not given stops the build.
    const req = await build([context({ Dockerfile: 'FROM busybox\nRUN --mount=type=secret,id=missing,required cat /run/secrets/missing\n' })]);
    expect(req.stderr).toMatch(/the secret "missing" is required/);
  });

  it('builds independent stages at the same time (they meet over the host network, RUN\'s default)', async () => {
    const port = 20000 + Math.floor(Math.random() * 20000);
    const dir = context({
      Dockerfile: [
        'FROM busybox AS listener',
        `RUN timeout 60 nc -l -p ${port} > /got`,
        'FROM busybox AS talker',
        `RUN for i in $(seq 1 300); do echo hello | nc 127.0.0.1 ${port} && break; sleep 0.2; done; echo sent > /sent`,
        'FROM busybox',
        'COPY --from=listener /got /got',
        'COPY --from=talker /sent /sent',
        'RUN --mount=type=bind,source=.,target=/ctx,rw rm /ctx/Dockerfile && echo scribble > /ctx/new',
        '',
      ].join('\n'),
    });
    await buildOk(['-t', 'par:1', dir]);
    expect(await run(['par:1', 'cat', '/got', '/sent'])).toBe('hello\nsent\n');
    // A rw bind mount's writes are thrown away: the context is untouched.
    expect(fs.readdirSync(dir)).toEqual(['Dockerfile']);
  });

  it('keeps RUN --mount=type=cache content across builds, out of the image', async () => {
    const dir = context({ Dockerfile: 'FROM busybox\nARG N\nRUN --mount=type=cache,target=/cache echo $N >> /cache/log && cat /cache/log > /seen\n' });
    await buildOk(['--build-arg', 'N=1', '-t', 'cm:1', dir]);
    await buildOk(['--build-arg', 'N=2', '-t', 'cm:2', dir]);
    expect(await run(['cm:2', 'sh', '-c', 'cat /seen; ls /cache 2>/dev/null | wc -l'])).toBe('1\n2\n0\n');
  });

  it('a failing RUN names the step, its line and the command, exits non-zero and writes no tag', async () => {
    const dir = context({ Dockerfile: 'FROM busybox\nRUN echo before\nRUN echo out; exit 7\nRUN echo never\n' });
    const r = await build(['-t', 'fail:1', dir]);
    expect(r.code).not.toBe(0);
    expect(r.stdout).toMatch(/STEP 3\/4: RUN echo out; exit 7\nout\n/);
    expect(r.stderr).toMatch(/Dockerfile:3: RUN echo out; exit 7: the command exited with status 7/);
    expect(r.stdout).not.toMatch(/never/);
    const images = await runLodgerOk(['images', '--format', '{{.Repository}}'], { store: kit.store() });
    expect(images.stdout).not.toMatch(/fail/);
    const ps = await runLodgerOk(['ps', '-a', '-q'], { store: kit.store() });
    expect(ps.stdout).toBe('');
  });

  it('names the missing COPY source, the line of an unknown instruction, and refuses ../ and links out of the context', async () => {
    const missing = await build([context({ Dockerfile: 'FROM busybox\nCOPY nothere /x\n' })]);
    expect(missing.stderr).toMatch(/Dockerfile:2: COPY nothere \/x: nothere: no such file or directory in the build context|COPY nothere: no such file/);
    const unknown = await build([context({ Dockerfile: 'FROM busybox\n\nFROBNICATE x\n' })]);
    expect(unknown.stderr).toMatch(/line 3: unknown instruction FROBNICATE/);
    const up = await build([context({ Dockerfile: 'FROM busybox\nCOPY ../x /x\n' })]);
    expect(up.stderr).toMatch(/outside the build context/);
    const dir = context({ Dockerfile: 'FROM busybox\nCOPY link /copied\nCOPY . /all/\n' });
    fs.symlinkSync('/etc/passwd', path.join(dir, 'link'));
    const r = await build(['-t', 'escape:1', dir]);
    // The link is resolved inside the context (/etc/passwd of the context: absent), never the host's.
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/COPY link/);
    fs.rmSync(path.join(dir, 'Dockerfile'));
    fs.writeFileSync(path.join(dir, 'Dockerfile'), 'FROM busybox\nCOPY . /all/\n');
    await buildOk(['-t', 'escape:2', dir]);
    expect(await run(['escape:2', 'readlink', '/all/link'])).toBe('/etc/passwd\n');
  });

  it('builder prune removes cache entries no image uses, and the next build runs the step again', async () => {
    const dir = context({ Dockerfile: 'FROM busybox\nRUN echo prune-me > /p\n' });
    await buildOk(['-q', dir]);
    const pr = await runLodgerOk(['builder', 'prune', '-a', '-f'], { store: kit.store() });
    expect(pr.stdout).toMatch(/Deleted build cache entries: [1-9]/);
    const again = await buildOk([dir]);
    expect(again.stdout).not.toMatch(/Using cache/);
  });

  /** Processes of ours whose command line holds MARKER. */
  function processesWith(marker: string): number[] {
    const out: number[] = [];
    for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
      try { if (fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').includes(marker)) out.push(Number(pid)); } catch { /* gone */ }
    }
    return out;
  }
  async function until(fn: () => boolean, what: string): Promise<void> {
    for (let i = 0; i < 200 && !fn(); i++) await new Promise((r) => setTimeout(r, 50));
    if (!fn()) throw new Error(`after 10 s: ${what}`);
  }

  it.each(['SIGINT', 'SIGKILL'] as const)('%s during a RUN leaves no process, container, temporary file or tag, and the next build works', async (sig) => {
    const marker = `3133${sig === 'SIGINT' ? 7 : 8}`;
    const dir = context({ Dockerfile: `FROM busybox\nRUN echo started; sleep ${marker}\n` });
    const child = spawnLodger(['build', '-t', `cancel:${sig.toLowerCase()}`, dir], { store: kit.store() });
    await waitForOutput(child, 'started', { timeoutMs: 60_000 });
    await until(() => processesWith(`sleep ${marker}`).length > 0, `sleep ${marker} has not started`);
    process.kill(child.pid!, sig);
    const r = await waitForExit(child, 30_000);
    expect(r.code === 0).toBe(false);
    await until(() => processesWith(`sleep ${marker}`).length === 0, `sleep ${marker} runs`);
    const images = await runLodgerOk(['images'], { store: kit.store() });
    expect(images.stdout).not.toMatch(new RegExp(`cancel +${sig.toLowerCase()}`));
    // The next build sweeps what a killed one could not remove, and works.
    const next = context({ Dockerfile: 'FROM busybox\nRUN echo next > /n\n' });
    await buildOk(['-t', 'after-cancel:1', next]);
    expect(await run(['after-cancel:1', 'cat', '/n'])).toBe('next\n');
    expect((await runLodgerOk(['ps', '-a', '-q'], { store: kit.store() })).stdout).toBe('');
    const tmp = path.join(kit.store().root, 'tmp');
    expect(fs.existsSync(tmp) ? fs.readdirSync(tmp).filter((n) => n.startsWith('build-')) : []).toEqual([]);
    expect(fs.readdirSync(path.join(kit.store().root, 'layers')).filter((n) => n.startsWith('.tmp-'))).toEqual([]);
  }, 120_000);
});
