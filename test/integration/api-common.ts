// Shared by the api*.test.ts files (issue 15): a `lodger system service` on a fresh busybox store, the docker CLI pointed at it, and raw requests to its socket.
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';
import { inject } from 'vitest';
import { killLodgers, lodgerOutput, makeStore, requirePrereq, requireSubids, requireTool, runLodger, runLodgerOk, spawnLodger, waitForExit, type LodgerResult, type Store } from '../helpers/cli';
import { runCommand, type CommandResult } from '../helpers/exec';

/** The docker CLI the issue names (static 28.x); Debian's docker.io may shadow it in PATH. */
export const DOCKER = '/usr/local/bin/docker';

export function apiPrereqs(): boolean {
  return requirePrereq(inject('lodger').busybox, 'the busybox fixture (Debian busybox-static)') && requireSubids()
    && requirePrereq(fs.existsSync(DOCKER), `the docker CLI 28.x at ${DOCKER}`);
}

export interface ApiService {
  store: Store;
  socket: string;
  child: ChildProcess;
  /** The environment a docker client needs: DOCKER_HOST, a private DOCKER_CONFIG. */
  env: NodeJS.ProcessEnv;
  /** SIGTERM, then the service's exit. */
  stop(): Promise<LodgerResult>;
}

/** A fresh store with busybox imported as busybox:latest, and a service on it (--time 0 unless ARGS say otherwise). */
export async function startApiService(prefix: string, args: string[] = ['--time', '0']): Promise<ApiService> {
  const store = makeStore(prefix);
  await runLodgerOk(['import', inject('lodger').busybox!.tar, 'busybox:latest'], { store });
  return serveStore(store, args);
}

export async function serveStore(store: Store, args: string[] = ['--time', '0']): Promise<ApiService> {
  const socket = path.join(store.runtimeDir, 'lodger', 'lodger.sock');
  const child = spawnLodger(['system', 'service', ...args], { store });
  await waitForSocket(socket, child);
  const dockerConfig = path.join(store.dir, 'docker-config');
  fs.mkdirSync(dockerConfig, { recursive: true });
  return {
    store, socket, child,
    env: { ...process.env, DOCKER_HOST: `unix://${socket}`, DOCKER_CONFIG: dockerConfig, ...store.env },
    stop: async () => { try { process.kill(child.pid!, 'SIGTERM'); } catch { /* gone */ } return waitForExit(child, 30_000); },
  };
}

export async function waitForSocket(socket: string, child: ChildProcess): Promise<void> {
  // Connecting, not the file's existence: a service killed earlier may have left its socket file.
  const answers = () => new Promise<boolean>((resolve) => {
    const c = net.connect(socket, () => { c.destroy(); resolve(true); });
    c.once('error', () => resolve(false));
  });
  for (let i = 0; i < 300; i++) {
    if (await answers()) return;
    if (child.exitCode !== null) throw new Error(`the service exited: ${lodgerOutput(child).stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no socket at ${socket} after 15 s: ${lodgerOutput(child).stderr}`);
}

/** `docker ARGS…` against the service. */
export function docker(svc: ApiService, args: string[], opts: { input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<CommandResult> {
  return runCommand(DOCKER, args, { env: { ...svc.env, ...opts.env }, input: opts.input, timeoutMs: opts.timeoutMs ?? 60_000 });
}

export async function dockerOk(svc: ApiService, args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<CommandResult> {
  const r = await docker(svc, args, opts);
  if (r.code !== 0) throw new Error(`docker ${args.join(' ')} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}\nservice: ${lodgerOutput(svc.child).stderr}`);
  return r;
}

export interface ApiResponse { status: number; headers: http.IncomingHttpHeaders; body: Buffer; json(): any }

/** One HTTP request to the service's socket. */
export function apiRequest(socket: string, method: string, urlPath: string, body?: unknown, headers: Record<string, string> = {}): Promise<ApiResponse> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    const req = http.request({ socketPath: socket, method, path: urlPath, headers: { ...(data ? { 'Content-Type': 'application/json', 'Content-Length': String(data.length) } : {}), ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const buf = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: buf, json: () => JSON.parse(buf.toString('utf8')) });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    if (data) req.write(data);
    req.end();
  });
}

/** For afterAll: the service stopped, every container removed, the store deleted. */
export async function dropService(svc: ApiService | undefined): Promise<void> {
  if (!svc) return;
  await svc.stop().catch(() => undefined);
  const ids = (await runLodger(['ps', '-aq'], { store: svc.store })).stdout.split('\n').filter(Boolean);
  if (ids.length) await runLodger(['rm', '-f', ...ids], { store: svc.store });
  killLodgers();
  await svc.store.cleanup();
}

export { requireTool };
