// The service's peer check (SO_PEERCRED): a connection from another uid is refused even when the socket's own permissions would let it in.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requirePrereq, requireSubids, requireTool } from '../../helpers/prereqs';
import { request, startTestService, type TestService } from './service';

// Another uid, without root: uid 1 of a user namespace mapped from our subordinate range (unshare
// --map-auto runs newuidmap) is a different host uid (the range's first), which SO_PEERCRED reports.
const ok = requirePrereq(process.getuid?.() !== 0, 'an unprivileged user with a subuid range (root is every uid)')
  && requireSubids() && requireTool('unshare') && requireTool('setpriv');
let svc: TestService;

beforeAll(async () => { if (ok) svc = await startTestService(); });
afterAll(async () => { await svc?.stop(); });

/** An HTTP request to SOCKET from uid 1 of a subuid-mapped user namespace (host uid: our range's first); resolves with what came back (or the error). */
function requestAsSubordinate(socket: string): Promise<string> {
  const script = `const c=require('net').connect(process.argv[1],()=>c.write('GET /_ping HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n'));let s='';c.on('data',d=>s+=d);c.on('close',()=>console.log('ANSWER:'+JSON.stringify(s)));c.on('error',e=>console.log('ERROR:'+e.code));`;
  return new Promise((resolve) => {
    const child = spawn('unshare', ['--map-auto', '--map-root-user', '--', 'setpriv', '--reuid=1', '--regid=1', '--clear-groups',
      process.execPath, '-e', script, socket], { stdio: ['ignore', 'pipe', 'inherit'] });
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
    const got = await requestAsSubordinate(svc.socket);
    // Cut off without a byte of answer (the write may meet the closed connection first: EPIPE).
    expect(got).toMatch(/ANSWER:""$/);
    expect(got).not.toContain('200');
    // The owner is still served afterwards.
    expect((await request(svc.socket, 'GET', '/_ping')).status).toBe(200);
  });
});
