// A real `lodger system service` (the built bundle) on a fresh temporary store, for the unit tests of the API's answers.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

const REPO = path.resolve(__dirname, '../../..');

export interface TestService { socket: string; child: ChildProcess; dir: string; stop(): Promise<void> }

export async function startTestService(): Promise<TestService> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lodger-api-unit-'));
  const run = path.join(dir, 'run');
  fs.mkdirSync(run, { mode: 0o700 });
  const socket = path.join(run, 'lodger', 'lodger.sock');
  const child = spawn(process.execPath, [path.join(REPO, 'bin', 'lodger'), 'system', 'service', '--time', '0', `unix://${socket}`], {
    env: { ...process.env, LODGER_ROOT: path.join(dir, 'root'), XDG_RUNTIME_DIR: run, XDG_CONFIG_HOME: path.join(dir, 'config') },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  for (let i = 0; ; i++) {
    const up = await new Promise<boolean>((resolve) => { const c = net.connect(socket, () => { c.destroy(); resolve(true); }); c.once('error', () => resolve(false)); });
    if (up) break;
    if (i > 200 || child.exitCode !== null) throw new Error(`the service did not start: ${err}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    socket, child, dir,
    stop: async () => {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function request(socket: string, method: string, urlPath: string, body?: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: socket, method, path: urlPath, headers: body ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}
