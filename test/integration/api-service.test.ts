// `lodger system service` itself, as the unprivileged user: its socket's permissions, idle exit and SIGTERM, containers that outlive it, bad requests, concurrency, clients that go away, a SIGKILL mid-create.
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeStore, runLodger, runLodgerOk, spawnLodger, waitForExit } from '../helpers/cli';
import { apiPrereqs, apiRequest, docker, dockerOk, dropService, serveStore, startApiService, waitForSocket, type ApiService } from './api-common';

const ok = apiPrereqs();
let svc: ApiService;

beforeAll(async () => { if (ok) svc = await startApiService('lodger-api-svc-'); }, 120_000);
afterAll(() => dropService(svc), 120_000);

/** A raw HTTP/1.1 exchange on the socket (for upgrades and half-finished requests). */
function rawConnect(socket: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => { const c = net.connect(socket, () => resolve(c)); c.once('error', reject); });
}

describe.skipIf(!ok)('lodger system service', () => {
  it('listens on a 0600 socket in a 0700 directory of the user', () => {
    const st = fs.statSync(svc.socket);
    expect(st.isSocket()).toBe(true);
    expect(st.mode & 0o777).toBe(0o600);
    expect(st.uid).toBe(process.getuid!());
    expect(fs.statSync(path.dirname(svc.socket)).mode & 0o777).toBe(0o700);
  });

  it('answers _ping with Api-Version, with and without a version prefix; refuses versions below 1.24', async () => {
    const head = await apiRequest(svc.socket, 'HEAD', '/_ping');
    expect(head.status).toBe(200);
    expect(head.headers['api-version']).toBe('1.43');
    const get = await apiRequest(svc.socket, 'GET', '/v1.41/_ping');
    expect(get.body.toString()).toBe('OK');
    expect(get.headers['api-version']).toBe('1.41');
    expect((await apiRequest(svc.socket, 'GET', '/v1.24/containers/json')).status).toBe(200);
    const old = await apiRequest(svc.socket, 'GET', '/v1.18/version');
    expect(old.status).toBe(400);
    expect(old.json().message).toContain('too old');
  });

  it('answers a malformed body with 400 and {"message"}, and goes on serving', async () => {
    const bad = await apiRequest(svc.socket, 'POST', '/containers/create', '{"Image": "busybox", ');
    expect(bad.status).toBe(400);
    expect(bad.json().message).toContain('malformed JSON');
    const wrong = await apiRequest(svc.socket, 'POST', '/containers/create', { Image: 'busybox', Cmd: 'true', HostConfig: { Binds: 'x' } });
    expect(wrong.status).toBe(400);
    const huge = await apiRequest(svc.socket, 'POST', '/containers/create', Buffer.alloc(5 << 20, 0x20));
    expect(huge.status).toBe(413);
    const garbage = await rawConnect(svc.socket);
    const answer = await new Promise<string>((resolve) => { let s = ''; garbage.on('data', (d) => (s += d)); garbage.on('close', () => resolve(s)); garbage.write('NOT HTTP AT ALL\r\n\r\n'); });
    expect(answer).toMatch(/^HTTP\/1\.1 400/);
    expect((await apiRequest(svc.socket, 'GET', '/nope')).status).toBe(404);
    expect((await apiRequest(svc.socket, 'GET', '/containers/nonexistent/json')).status).toBe(404);
    expect((await apiRequest(svc.socket, 'GET', '/_ping')).status).toBe(200);
  });

  it('runs 20 concurrent create+start+wait requests to completion', async () => {
    const one = async (i: number) => {
      const c = await apiRequest(svc.socket, 'POST', `/containers/create?name=conc${i}`, { Image: 'busybox', Cmd: ['sh', '-c', `exit ${i}`] });
      expect(c.status).toBe(201);
      const id = c.json().Id as string;
      const wait = apiRequest(svc.socket, 'POST', `/containers/${id}/wait?condition=next-exit`);
      expect((await apiRequest(svc.socket, 'POST', `/containers/${id}/start`)).status).toBe(204);
      const w = await wait;
      return w.json().StatusCode as number;
    };
    const codes = await Promise.all(Array.from({ length: 20 }, (_, i) => one(i)));
    expect(codes).toEqual(Array.from({ length: 20 }, (_, i) => i));
    const list = await apiRequest(svc.socket, 'GET', '/containers/json?all=1&filters=' + encodeURIComponent(JSON.stringify({ name: ['conc'] })));
    expect(list.json()).toHaveLength(20);
    expect((await apiRequest(svc.socket, 'POST', '/containers/prune')).json().ContainersDeleted).toHaveLength(20);
  }, 180_000);

  it('a client leaving mid-logs or mid-attach leaves the container running and the service serving', async () => {
    const id = (await dockerOk(svc, ['run', '-d', 'busybox', 'sh', '-c', 'while true; do echo tick; sleep 0.2; done'])).stdout.trim();
    const logs = await rawConnect(svc.socket);
    logs.write(`GET /containers/${id}/logs?follow=1&stdout=1 HTTP/1.1\r\nHost: x\r\n\r\n`);
    await new Promise((r) => logs.once('data', r));
    logs.destroy();
    const att = await rawConnect(svc.socket);
    att.write(`POST /containers/${id}/attach?stream=1&stdout=1 HTTP/1.1\r\nHost: x\r\nUpgrade: tcp\r\nConnection: Upgrade\r\n\r\n`);
    const first = await new Promise<string>((r) => att.once('data', (d) => r(d.toString('latin1'))));
    expect(first).toMatch(/^HTTP\/1\.1 101/);
    att.destroy();
    await new Promise((r) => setTimeout(r, 500));
    const st = await apiRequest(svc.socket, 'GET', `/containers/${id}/json`);
    expect(st.json().State.Running).toBe(true);
    await dockerOk(svc, ['rm', '-f', id]);
  });

  it('attach without a TTY frames stdout and stderr (8-byte headers)', async () => {
    const c = await apiRequest(svc.socket, 'POST', '/containers/create', { Image: 'busybox', Cmd: ['sh', '-c', 'echo out; echo err >&2'] });
    const id = c.json().Id as string;
    const att = await rawConnect(svc.socket);
    att.write(`POST /v1.41/containers/${id}/attach?stream=1&stdout=1&stderr=1 HTTP/1.1\r\nHost: x\r\nUpgrade: tcp\r\nConnection: Upgrade\r\n\r\n`);
    const chunks: Buffer[] = [];
    const done = new Promise<void>((r) => { att.on('data', (d) => chunks.push(d)); att.on('end', () => r()); att.on('close', () => r()); });
    await new Promise((r) => setTimeout(r, 200));
    expect((await apiRequest(svc.socket, 'POST', `/containers/${id}/start`)).status).toBe(204);
    await done;
    const all = Buffer.concat(chunks);
    const body = all.subarray(all.indexOf('\r\n\r\n') + 4);
    const { Demuxer } = await import('../../src/api/mux');
    const frames = new Demuxer().push(body).map((f) => `${f.stream}:${f.payload.toString()}`).sort();
    expect(frames).toEqual(['1:out\n', '2:err\n']);
    await apiRequest(svc.socket, 'DELETE', `/containers/${id}?force=1`);
  });

  it('containers outlive the service; SIGTERM removes the socket; a new service sees them', async () => {
    const store = makeStore('lodger-api-life-');
    await runLodgerOk(['import', (await import('vitest')).inject('lodger').busybox!.tar, 'busybox:latest'], { store });
    let s = await serveStore(store);
    try {
      const id = (await dockerOk(s, ['run', '-d', 'busybox', 'sleep', '300'])).stdout.trim();
      const r = await s.stop();
      expect(r.code).toBe(0);
      expect(fs.existsSync(s.socket)).toBe(false);
      expect((await runLodgerOk(['ps', '-q', '--no-trunc'], { store })).stdout).toContain(id);
      s = await serveStore(store);
      expect((await dockerOk(s, ['ps', '-q', '--no-trunc'])).stdout).toContain(id);
      await dockerOk(s, ['rm', '-f', id]);
    } finally {
      await dropService(s);
    }
  }, 120_000);

  it('exits by itself after --time seconds without connections', async () => {
    const store = makeStore('lodger-api-idle-');
    try {
      const child = spawnLodger(['system', 'service', '--time', '1'], { store });
      const socket = path.join(store.runtimeDir, 'lodger', 'lodger.sock');
      await waitForSocket(socket, child);
      const r = await waitForExit(child, 20_000);
      expect(r.code).toBe(0);
      expect(fs.existsSync(socket)).toBe(false);
    } finally {
      await store.cleanup();
    }
  });

  it('refuses tcp:// on a non-loopback address, warns on loopback', async () => {
    const r = await runLodger(['system', 'service', '--time', '1', 'tcp://0.0.0.0:23750'], { store: svc.store });
    expect(r.code).toBe(125);
    expect(r.stderr).toContain('non-loopback');
    const lo = await runLodger(['system', 'service', '--time', '1', 'tcp://127.0.0.1:0'], { store: svc.store, timeoutMs: 20_000 });
    expect(lo.code).toBe(0);
    expect(lo.stderr).toContain('warning');
  });

  it('a service SIGKILLed during a create leaves a store lodger can use', async () => {
    const store = makeStore('lodger-api-kill-');
    await runLodgerOk(['import', (await import('vitest')).inject('lodger').busybox!.tar, 'busybox:latest'], { store });
    const s = await serveStore(store);
    try {
      const reqs = Array.from({ length: 5 }, (_, i) => apiRequest(s.socket, 'POST', `/containers/create?name=k${i}`, { Image: 'busybox', Cmd: ['true'] }).catch(() => undefined));
      await new Promise((r) => setTimeout(r, 150));
      process.kill(s.child.pid!, 'SIGKILL');
      await Promise.all(reqs);
      await waitForExit(s.child);
      const run = await runLodgerOk(['run', '--rm', 'busybox', 'echo', 'still-fine'], { store });
      expect(run.stdout).toBe('still-fine\n');
      // Whatever was created is a whole container: each can be removed.
      const ids = (await runLodgerOk(['ps', '-aq'], { store })).stdout.split('\n').filter(Boolean);
      if (ids.length) await runLodgerOk(['rm', '-f', ...ids], { store });
      // A new service starts on the stale socket file.
      const again = await serveStore(store);
      expect((await docker(again, ['ps', '-a'])).code).toBe(0);
      await again.stop();
    } finally {
      await store.cleanup();
    }
  }, 120_000);

  it('serves a socket passed by systemd socket activation (LISTEN_FDS, LISTEN_PID)', async () => {
    const store = makeStore('lodger-api-activation-');
    let service: import('node:child_process').ChildProcess | undefined;
    try {
      // What systemd does for a socket unit: bind and listen, then exec the service with the socket as
      // fd 3 and LISTEN_PID set to the pid the service will have (python's exec keeps it).
      const sockPath = path.join(store.runtimeDir, 'activated.sock');
      const { lodgerCommand, lodgerEnv } = await import('../helpers/cli');
      const { cmd, args } = lodgerCommand();
      const { spawn } = await import('node:child_process');
      const activate = [
        'import os, socket, sys',
        's = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(16)',
        // dup2 onto itself (the socket may already be fd 3) keeps close-on-exec: clear it either way.
        'os.dup2(s.fileno(), 3); os.set_inheritable(3, True)',
        'os.environ.update(LISTEN_FDS="1", LISTEN_PID=str(os.getpid()))',
        'os.execvp(sys.argv[2], sys.argv[2:])',
      ].join('\n');
      const child = service = spawn('python3', ['-c', activate, sockPath, cmd, ...args, 'system', 'service', '--time', '0'], { env: lodgerEnv({ store }), stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      child.stderr!.on('data', (d) => (err += d));
      let r;
      for (let i = 0; i < 100; i++) {
        r = await apiRequest(sockPath, 'GET', '/_ping').catch(() => undefined);
        if (r) break;
        await new Promise((res) => setTimeout(res, 100));
      }
      expect(r?.status, err).toBe(200);
      expect(err).toContain('fd://3');
    } finally {
      if (service && service.exitCode === null) {
        service.kill('SIGTERM');
        await new Promise((res) => service!.once('exit', res));
      }
      await store.cleanup();
    }
  });
});
