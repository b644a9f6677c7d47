// The service's peer check (SO_PEERCRED): a connection from another uid is refused even when the socket's own permissions would let it in.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requirePrereq } from '../../helpers/prereqs';
import { request, startTestService, type TestService } from './service';

const ok = requirePrereq(process.getuid?.() === 0, 'root, to connect to the service as another uid (unit tests run as root in CI)');
let svc: TestService;

beforeAll(async () => { if (ok) svc = await startTestService(); });
afterAll(async () => { await svc?.stop(); });

/** An HTTP request to SOCKET from a process running as UID; resolves with what came back (or the error). */
function requestAs(uid: number, socket: string): Promise<string> {
  const script = `const c=require('net').connect(process.argv[1],()=>c.write('GET /_ping HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n'));let s='';c.on('data',d=>s+=d);c.on('close',()=>console.log('ANSWER:'+JSON.stringify(s)));c.on('error',e=>console.log('ERROR:'+e.code));`;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['-e', script, socket], { uid, gid: uid, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('exit', () => resolve(out.trim()));
  });
}

describe.skipIf(!ok)('peer credentials', () => {
  it('the owner is served', async () => {
    expect((await request(svc.socket, 'GET', '/_ping')).status).toBe(200);
  });

  it('another uid is refused even when the socket and its directory are opened to it', async () => {
    // As if someone loosened the permissions by hand: only SO_PEERCRED stands in the way now.
    fs.chmodSync(path.dirname(svc.socket), 0o755);
    fs.chmodSync(path.dirname(path.dirname(svc.socket)), 0o755);
    fs.chmodSync(svc.dir, 0o755);
    fs.chmodSync(svc.socket, 0o666);
    const got = await requestAs(65534, svc.socket);
    // Cut off without a byte of answer (the write may meet the closed connection first: EPIPE).
    expect(got).toMatch(/ANSWER:""$/);
    expect(got).not.toContain('200');
    // The owner is still served afterwards.
    expect((await request(svc.socket, 'GET', '/_ping')).status).toBe(200);
  });
});
