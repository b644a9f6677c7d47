// The docker CLI (28.x) against `lodger system service` as the unprivileged user: run, ps, logs, exec, images, pull/push, networks, ports — and the store shared with lodger's own CLI.
import * as fs from 'node:fs';
import * as http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLodger, runLodgerOk } from '../helpers/cli';
import { registryPrereqs, startRegistry, type TestRegistry } from '../helpers/registry';
import { SWAGGER_FILE, SwaggerChecker } from '../unit/api/swagger';
import { apiPrereqs, apiRequest, docker, dockerOk, dropService, startApiService, type ApiService } from './api-common';

const ok = apiPrereqs();
let svc: ApiService;

beforeAll(async () => { if (ok) svc = await startApiService('lodger-api-docker-'); }, 120_000);
afterAll(() => dropService(svc), 120_000);

describe.skipIf(!ok)('docker CLI through lodger system service', () => {
  it('docker version names lodger as the server and its API version', async () => {
    const r = await dockerOk(svc, ['version', '--format', '{{.Server.Platform.Name}} {{.Server.APIVersion}} {{.Server.MinAPIVersion}}']);
    expect(r.stdout.trim()).toBe('lodger 1.43 1.24');
    const info = await dockerOk(svc, ['info', '--format', '{{.OSType}} {{.Images}}']);
    expect(info.stdout.trim()).toBe('linux 1');
  });

  it('docker run --rm gives the output, the exit code, and leaves no container', async () => {
    const r = await docker(svc, ['run', '--rm', 'busybox', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
    expect(r.stdout).toBe('out\n');
    expect(r.stderr).toContain('err\n');
    expect(r.code).toBe(3);
    expect((await runLodgerOk(['ps', '-aq'], { store: svc.store })).stdout).toBe('');
  });

  it('docker run passes env, workdir, user and entrypoint', async () => {
    const r = await dockerOk(svc, ['run', '--rm', '-e', 'FOO=bar', '-w', '/tmp', '-u', '1000:1000', '--entrypoint', 'sh', 'busybox', '-c', 'echo $FOO $(pwd) $(id -u)']);
    expect(r.stdout).toBe('bar /tmp 1000\n');
  });

  it('run -d: docker ps, lodger ps, docker logs (tail, follow), stop, rm', async () => {
    const id = (await dockerOk(svc, ['run', '-d', '--name', 'ticker', '--label', 'team=api', 'busybox', 'sh', '-c', 'for i in 1 2 3; do echo line $i; done; echo warn >&2; sleep 300'])).stdout.trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    const ps = await dockerOk(svc, ['ps', '--filter', 'label=team=api', '--format', '{{.ID}} {{.Names}} {{.State}}']);
    expect(ps.stdout.trim()).toBe(`${id.slice(0, 12)} ticker running`);
    // The same container seen by lodger's own CLI: one store, no daemon in between.
    expect((await runLodgerOk(['ps', '--format', '{{.Names}}'], { store: svc.store })).stdout).toContain('ticker');
    let logs = await dockerOk(svc, ['logs', 'ticker']);
    for (let i = 0; i < 50 && !logs.stderr.includes('warn'); i++) { await new Promise((r) => setTimeout(r, 100)); logs = await dockerOk(svc, ['logs', 'ticker']); }
    expect(logs.stdout).toBe('line 1\nline 2\nline 3\n');
    expect(logs.stderr).toBe('warn\n');
    expect((await dockerOk(svc, ['logs', '--tail', '1', 'ticker'])).stderr).toBe('warn\n');
    // logs -f ends when the container stops.
    const follow = docker(svc, ['logs', '-f', 'ticker']);
    await new Promise((r) => setTimeout(r, 300));
    await dockerOk(svc, ['stop', '-t', '1', 'ticker']);
    const f = await follow;
    expect(f.code).toBe(0);
    expect(f.stdout).toContain('line 3\n');
    const st = await dockerOk(svc, ['inspect', '--format', '{{.State.Status}} {{.State.ExitCode}}', 'ticker']);
    expect(st.stdout.trim()).toBe('exited 137');
    await dockerOk(svc, ['rm', 'ticker']);
    expect((await docker(svc, ['inspect', 'ticker'])).stderr).toContain('No such');
  });

  it('a container made by lodger run -d is listed, exec-able and removable by docker', async () => {
    const id = (await runLodgerOk(['run', '-d', '--name', 'fromcli', 'busybox', 'sleep', '300'], { store: svc.store })).stdout.trim();
    expect((await dockerOk(svc, ['ps', '--format', '{{.ID}}'])).stdout).toContain(id.slice(0, 12));
    const ex = await docker(svc, ['exec', 'fromcli', 'sh', '-c', 'echo in-exec; exit 4']);
    expect(ex.stdout).toBe('in-exec\n');
    expect(ex.code).toBe(4);
    expect((await dockerOk(svc, ['exec', '-i', 'fromcli', 'cat'], { input: 'piped\n' })).stdout).toBe('piped\n');
    expect((await docker(svc, ['rm', 'fromcli'])).code).not.toBe(0);  // running: 409 without -f
    await dockerOk(svc, ['rm', '-f', 'fromcli']);
    expect((await runLodgerOk(['ps', '-aq'], { store: svc.store })).stdout).not.toContain(id.slice(0, 12));
  });

  it('docker cp copies out of and into a container, and a path cannot leave its root', async () => {
    await dockerOk(svc, ['run', '-d', '--name', 'cpbox', 'busybox', 'sh', '-c', 'mkdir -p /data/sub && echo inside > /data/sub/f.txt && sleep 300']);
    try {
      const host = fs.mkdtempSync(`${svc.store.dir}/cp-`);
      for (let i = 0; i < 50; i++) { if ((await docker(svc, ['exec', 'cpbox', 'test', '-f', '/data/sub/f.txt'])).code === 0) break; await new Promise((r) => setTimeout(r, 100)); }
      await dockerOk(svc, ['cp', 'cpbox:/data', `${host}/out`]);
      expect(fs.readFileSync(`${host}/out/sub/f.txt`, 'utf8')).toBe('inside\n');
      fs.writeFileSync(`${host}/in.txt`, 'from-host\n');
      await dockerOk(svc, ['cp', `${host}/in.txt`, 'cpbox:/data/']);
      await dockerOk(svc, ['cp', `${host}/in.txt`, 'cpbox:/data/renamed.txt']);
      expect((await dockerOk(svc, ['exec', 'cpbox', 'cat', '/data/in.txt', '/data/renamed.txt'])).stdout).toBe('from-host\nfrom-host\n');
      // ".." cannot climb out of the container's root: this names the container's own /etc/passwd.
      await dockerOk(svc, ['cp', 'cpbox:/../../../../etc/passwd', `${host}/passwd`]);
      expect(fs.readFileSync(`${host}/passwd`, 'utf8')).toMatch(/^root:x:0:0:/);
      expect(fs.readFileSync(`${host}/passwd`, 'utf8')).not.toContain('lodgertest');
      expect((await docker(svc, ['cp', 'cpbox:/nonexistent', `${host}/x`])).code).not.toBe(0);
    } finally {
      await docker(svc, ['rm', '-f', 'cpbox']);
    }
  });

  it('docker images, tag, inspect and rmi', async () => {
    await dockerOk(svc, ['tag', 'busybox', 'mybox:1']);
    const imgs = await dockerOk(svc, ['images', '--format', '{{.Repository}}:{{.Tag}}']);
    expect(imgs.stdout.split('\n')).toEqual(expect.arrayContaining(['busybox:latest', 'mybox:1']));
    const id = (await dockerOk(svc, ['image', 'inspect', '--format', '{{.Id}}', 'busybox'])).stdout.trim();
    expect((await dockerOk(svc, ['image', 'inspect', '--format', '{{.Id}}', 'mybox:1'])).stdout.trim()).toBe(id);
    await dockerOk(svc, ['rmi', 'mybox:1']);
    expect((await dockerOk(svc, ['images', '--format', '{{.Repository}}'])).stdout).not.toContain('mybox');
  });

  it('docker build from a directory, then runs the image', async () => {
    const dir = fs.mkdtempSync(`${svc.store.dir}/build-`);
    fs.writeFileSync(`${dir}/Dockerfile`, 'FROM busybox\nARG GREETING=hi\nCOPY msg.txt /msg.txt\nRUN echo "$GREETING from RUN" >> /msg.txt\nCMD ["cat", "/msg.txt"]\n');
    fs.writeFileSync(`${dir}/msg.txt`, 'from COPY\n');
    const b = await dockerOk(svc, ['build', '--build-arg', 'GREETING=hello', '-t', 'built:1', dir], { timeoutMs: 120_000 });
    expect(b.stdout + b.stderr).toContain('Successfully tagged built:1');
    expect((await dockerOk(svc, ['run', '--rm', 'built:1'])).stdout).toBe('from COPY\nhello from RUN\n');
    const bad = await docker(svc, ['build', '-t', 'broken:1', '-f', `${dir}/Dockerfile.missing`, dir]);
    expect(bad.code).not.toBe(0);
  });

  it('docker save, load and export', async () => {
    const dir = fs.mkdtempSync(`${svc.store.dir}/save-`);
    await dockerOk(svc, ['tag', 'busybox', 'savebox:1']);
    await dockerOk(svc, ['save', '-o', `${dir}/box.tar`, 'savebox:1']);
    await dockerOk(svc, ['rmi', 'savebox:1']);
    expect((await dockerOk(svc, ['load', '-i', `${dir}/box.tar`])).stdout).toContain('Loaded image: savebox:1');
    expect((await dockerOk(svc, ['run', '--rm', 'savebox:1', 'echo', 'loaded'])).stdout).toBe('loaded\n');
    await dockerOk(svc, ['create', '--name', 'exp', 'busybox', 'true']);
    await dockerOk(svc, ['export', '-o', `${dir}/exp.tar`, 'exp']);
    const { runCommand } = await import('../helpers/exec');
    expect((await runCommand('tar', ['-tf', `${dir}/exp.tar`])).stdout.split('\n')).toEqual(expect.arrayContaining(['bin/busybox']));
    await dockerOk(svc, ['rm', 'exp']);
    await dockerOk(svc, ['rmi', 'savebox:1']);
  });

  it('docker push and pull with a local registry, then run the pulled image', async () => {
    if (!registryPrereqs()) return;
    const reg: TestRegistry = await startRegistry();
    try {
      const ref = `${reg.host}/team/bb:1`;
      await dockerOk(svc, ['tag', 'busybox', ref]);
      const push = await dockerOk(svc, ['push', ref]);
      expect(push.stdout).toMatch(/digest: sha256:[0-9a-f]{64}/);
      await dockerOk(svc, ['rmi', ref]);
      const pull = await dockerOk(svc, ['pull', ref]);
      expect(pull.stdout).toContain(`Downloaded newer image for ${ref}`);
      expect((await dockerOk(svc, ['run', '--rm', ref, 'echo', 'pulled'])).stdout).toBe('pulled\n');
      // docker run pulls what it does not have (create answers 404, the CLI pulls and retries).
      await dockerOk(svc, ['rmi', ref]);
      const run = await dockerOk(svc, ['run', '--rm', ref, 'echo', 'auto']);
      expect(run.stdout).toBe('auto\n');
      expect(run.stderr).toContain('Unable to find image');
    } finally {
      await reg.stop();
    }
  });

  it('docker run -p publishes a port reachable from the host', async () => {
    await dockerOk(svc, ['run', '-d', '--name', 'web', '-p', '127.0.0.1::8080', 'busybox', 'sh', '-c', 'echo hello-web > /tmp/index.html; exec httpd -f -p 8080 -h /tmp']);
    try {
      const port = (await dockerOk(svc, ['port', 'web', '8080/tcp'])).stdout.trim();
      expect(port).toMatch(/^127\.0\.0\.1:\d+$/);
      let body = '';
      for (let i = 0; i < 50 && !body; i++) {
        body = await new Promise<string>((resolve) => {
          http.get(`http://${port}/index.html`, (res) => { let s = ''; res.on('data', (c) => (s += c)); res.on('end', () => resolve(s)); }).on('error', () => setTimeout(() => resolve(''), 100));
        });
      }
      expect(body).toBe('hello-web\n');
    } finally {
      await docker(svc, ['rm', '-f', 'web']);
    }
  });

  it('docker network create, ls, inspect, rm', async () => {
    const id = (await dockerOk(svc, ['network', 'create', 'apinet'])).stdout.trim();
    expect(id).toMatch(/^[0-9a-f]{12,64}$/);
    expect((await dockerOk(svc, ['network', 'ls', '--format', '{{.Name}}'])).stdout.split('\n')).toEqual(expect.arrayContaining(['bridge', 'host', 'none', 'apinet']));
    expect((await dockerOk(svc, ['network', 'inspect', '--format', '{{.Name}} {{.Driver}}', 'apinet'])).stdout.trim()).toBe('apinet bridge');
    expect((await runLodgerOk(['network', 'ls'], { store: svc.store })).stdout).toContain('apinet');
    await dockerOk(svc, ['network', 'rm', 'apinet']);
    expect((await docker(svc, ['network', 'inspect', 'apinet'])).code).not.toBe(0);
  });

  it('docker volume create, ls, inspect, rm; a named volume keeps data across containers', async () => {
    await dockerOk(svc, ['volume', 'create', '--label', 'k=v', 'apivol']);
    expect((await dockerOk(svc, ['volume', 'ls', '--format', '{{.Name}}', '--filter', 'label=k=v'])).stdout.trim()).toBe('apivol');
    await dockerOk(svc, ['run', '--rm', '-v', 'apivol:/data', 'busybox', 'sh', '-c', 'echo kept > /data/f']);
    expect((await dockerOk(svc, ['run', '--rm', '-v', 'apivol:/data', 'busybox', 'cat', '/data/f'])).stdout).toBe('kept\n');
    expect((await dockerOk(svc, ['volume', 'inspect', '--format', '{{.Name}} {{.Driver}}', 'apivol'])).stdout.trim()).toBe('apivol local');
    const swagger = new SwaggerChecker();
    expect(swagger.errors('GET', '/volumes', 200, (await apiRequest(svc.socket, 'GET', '/v1.41/volumes')).json())).toEqual([]);
    expect(swagger.errors('GET', '/volumes/{name}', 200, (await apiRequest(svc.socket, 'GET', '/v1.41/volumes/apivol')).json())).toEqual([]);
    await dockerOk(svc, ['volume', 'rm', 'apivol']);
    expect((await docker(svc, ['volume', 'inspect', 'apivol'])).code).not.toBe(0);
  });

  it('errors come back as Docker reports them', async () => {
    const r = await docker(svc, ['inspect', '--type', 'container', 'nonexistent']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('No such');
    const bad = await docker(svc, ['run', '--rm', '--name', 'bad name!', 'busybox', 'true']);
    expect(bad.code).toBe(125);
    expect(bad.stderr).toContain('Invalid container name');
    expect(fs.existsSync(svc.socket)).toBe(true);
    expect((await runLodger(['ps', '-a', '--format', '{{.Names}}'], { store: svc.store })).stdout).not.toContain('bad name');
  });

  it('container and image answers match Docker\'s v1.41 schema', async () => {
    if (!fs.existsSync(SWAGGER_FILE)) throw new Error(`${SWAGGER_FILE} is missing: apt install docker-doc`);
    const swagger = new SwaggerChecker();
    const id = (await dockerOk(svc, ['run', '-d', '-p', '127.0.0.1::80', '--label', 'schema=1', 'busybox', 'sleep', '300'])).stdout.trim();
    try {
      const check = async (theirs: string, ours: string, method = 'GET', status = 200) => {
        const r = await apiRequest(svc.socket, method, `/v1.41${ours}`);
        expect(r.status, r.body.toString()).toBe(status);
        expect(swagger.errors(method, theirs, status, r.json()), `${method} ${ours}`).toEqual([]);
      };
      await check('/containers/json', '/containers/json?all=1');
      await check('/containers/{id}/json', `/containers/${id}/json`);
      await check('/containers/{id}/top', `/containers/${id}/top`);
      await check('/images/json', '/images/json');
      await check('/images/{name}/json', '/images/busybox/json');
      await check('/images/{name}/history', '/images/busybox/history');
      const ex = await apiRequest(svc.socket, 'POST', `/v1.41/containers/${id}/exec`, { Cmd: ['true'], AttachStdout: true });
      expect(swagger.errors('POST', '/containers/{id}/exec', 201, ex.json())).toEqual([]);
      await check('/exec/{id}/json', `/exec/${ex.json().Id}/json`);
    } finally {
      await docker(svc, ['rm', '-f', id]);
    }
  });
});
