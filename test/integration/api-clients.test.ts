// Real clients other than the docker CLI against `lodger system service`: docker-compose 1.29, dockerode, Testcontainers (Node).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireTool, runLodgerOk } from '../helpers/cli';
import { runCommand } from '../helpers/exec';
import { apiPrereqs, dropService, startApiService, type ApiService } from './api-common';

const ok = apiPrereqs();
let svc: ApiService;

beforeAll(async () => { if (ok) svc = await startApiService('lodger-api-clients-'); }, 120_000);
afterAll(() => dropService(svc), 120_000);

describe.skipIf(!ok)('docker-compose 1.29', () => {
  it('up -d / down of two services that reach each other by service name, with a named volume', async () => {
    if (!requireTool('docker-compose')) return;
    const dir = path.join(svc.store.dir, 'proj');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'docker-compose.yml'), [
      'version: "3"',
      'services:',
      '  web:',
      '    image: busybox',
      // A shell as PID 1 that exits on SIGTERM (a PID 1 without a handler would wait out compose's 10 s).
      '    command: sh -c "trap \'exit 0\' TERM; mkdir -p /www; cat /seed/page > /www/index.html; httpd -f -p 8080 -h /www & wait"',
      '    volumes: ["seed:/seed"]',
      '    depends_on: [seeder]',
      '  seeder:',
      '    image: busybox',
      '    command: sh -c "echo hello-from-web > /seed/page"',
      '    volumes: ["seed:/seed"]',
      '  client:',
      '    image: busybox',
      '    command: sh -c "for i in $$(seq 1 40); do wget -qO- http://web:8080/index.html && exit 0; sleep 0.25; done; exit 1"',
      '    depends_on: [web]',
      'volumes:',
      '  seed: {}',
      '',
    ].join('\n'));
    const compose = (args: string[]) => runCommand('docker-compose', ['-p', 'demo', ...args], { cwd: dir, env: svc.env, timeoutMs: 120_000 });
    const up = await compose(['up', '-d']);
    expect(up.code, up.stderr).toBe(0);
    expect(up.stderr).toContain('Creating demo_web_1');
    // The client exits once it has fetched the page from "web".
    let state = '';
    for (let i = 0; i < 100 && !state.startsWith('exited'); i++) {
      await new Promise((r) => setTimeout(r, 100));
      state = (await runLodgerOk(['inspect', '--format', '{{.State.Status}} {{.State.ExitCode}}', 'demo_client_1'], { store: svc.store })).stdout.trim();
    }
    expect(state).toBe('exited 0');
    const logs = await compose(['logs', '--no-color', 'client']);
    expect(logs.stdout).toContain('hello-from-web');
    const ps = await compose(['ps']);
    expect(ps.stdout).toMatch(/demo_web_1 .* Up/);
    expect((await runLodgerOk(['volume', 'ls'], { store: svc.store })).stdout).toContain('demo_seed');
    const down = await compose(['down', '-v']);
    expect(down.code, down.stderr).toBe(0);
    expect((await runLodgerOk(['ps', '-aq'], { store: svc.store })).stdout).toBe('');
    expect((await runLodgerOk(['network', 'ls'], { store: svc.store })).stdout).not.toContain('demo_default');
  }, 180_000);
});

describe.skipIf(!ok)('dockerode', () => {
  it('creates, starts, waits for and removes a container, reading its demultiplexed logs', async () => {
    const Docker = (await import('dockerode')).default;
    const d = new Docker({ socketPath: svc.socket });
    expect((await d.ping()).toString()).toBe('OK');
    const c = await d.createContainer({ Image: 'busybox', Cmd: ['sh', '-c', 'echo to-out; echo to-err >&2; exit 7'], Labels: { via: 'dockerode' } });
    await c.start();
    expect((await c.wait()).StatusCode).toBe(7);
    const raw = await c.logs({ stdout: true, stderr: true, follow: false }) as unknown as Buffer;
    const { Demuxer } = await import('../../src/api/mux');
    const frames = new Demuxer().push(raw).map((f) => `${f.stream}:${f.payload.toString()}`);
    expect(frames).toEqual(['1:to-out\n', '2:to-err\n']);
    const listed = await d.listContainers({ all: true, filters: { label: ['via=dockerode'] } });
    expect(listed.map((x) => x.Id)).toEqual([c.id]);
    await c.remove();
    expect(await d.listContainers({ all: true, filters: { label: ['via=dockerode'] } })).toEqual([]);
    const images = await d.listImages();
    expect(images.flatMap((i) => i.RepoTags ?? [])).toContain('busybox:latest');
  });
});

describe.skipIf(!ok)('Testcontainers (Node)', () => {
  it('GenericContainer with a listening-port wait strategy, exec and logs', async () => {
    process.env.DOCKER_HOST = svc.env.DOCKER_HOST;
    process.env.TESTCONTAINERS_RYUK_DISABLED = 'true';
    const { GenericContainer, Wait } = await import('testcontainers');
    const c = await new GenericContainer('busybox')
      .withCommand(['sh', '-c', 'echo ready; mkdir -p /www && echo tc-page > /www/index.html && exec httpd -f -p 8080 -h /www'])
      .withExposedPorts(8080)
      .withWaitStrategy(Wait.forListeningPorts())
      .withPullPolicy({ shouldPull: () => false })
      .start();
    try {
      const port = c.getMappedPort(8080);
      const res = await fetch(`http://${c.getHost()}:${port}/index.html`);
      expect(await res.text()).toBe('tc-page\n');
      const ex = await c.exec(['sh', '-c', 'echo from-exec; exit 2']);
      expect(ex.exitCode).toBe(2);
      expect(ex.output).toContain('from-exec');
      const stream = await c.logs();
      const first = await new Promise<string>((resolve) => stream.on('data', (l: Buffer | string) => resolve(String(l))));
      expect(first).toContain('ready');
      stream.destroy();
    } finally {
      await c.stop();
    }
    expect((await runLodgerOk(['ps', '-aq'], { store: svc.store })).stdout).toBe('');
  }, 120_000);

  it('GenericContainer.fromDockerfile builds through POST /build and runs the image', async () => {
    process.env.DOCKER_HOST = svc.env.DOCKER_HOST;
    process.env.TESTCONTAINERS_RYUK_DISABLED = 'true';
    const { GenericContainer, Wait } = await import('testcontainers');
    const dir = fs.mkdtempSync(path.join(svc.store.dir, 'tc-build-'));
    fs.writeFileSync(path.join(dir, 'Dockerfile'), 'FROM busybox\nRUN echo tc-built > /msg\nCMD ["sh", "-c", "cat /msg; sleep 300"]\n');
    const image = await GenericContainer.fromDockerfile(dir).withPullPolicy({ shouldPull: () => false }).build('tc-built:1', { deleteOnExit: false });
    const c = await image.withWaitStrategy(Wait.forLogMessage('tc-built')).start();
    try {
      expect((await c.exec(['cat', '/msg'])).output).toBe('tc-built\n');
    } finally {
      await c.stop();
    }
  }, 180_000);
});
