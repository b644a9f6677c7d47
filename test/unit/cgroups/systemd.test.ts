// Unit tests for the systemd route to a delegated cgroup: user manager detection and the systemd-run scope command.
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { detectUserSystemd, isLodgerScope, isSystemdUnitCgroup, lodgerScopeUnit } from '../../../src/cgroups/systemd';

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'lodger-cg-systemd-'));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

describe('systemd user manager detection', () => {
  it('finds a manager listening on $XDG_RUNTIME_DIR/systemd/private', async () => {
    const runtime = path.join(scratch, 'run');
    fs.mkdirSync(path.join(runtime, 'systemd'), { recursive: true });
    const sock = path.join(runtime, 'systemd', 'private');
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(sock, resolve));
    try {
      expect(detectUserSystemd({ XDG_RUNTIME_DIR: runtime })).toEqual({ available: true, via: sock });
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('says why not when the socket is missing or not a socket', () => {
    const empty = path.join(scratch, 'empty');
    fs.mkdirSync(path.join(empty, 'systemd'), { recursive: true });
    const r = detectUserSystemd({ XDG_RUNTIME_DIR: empty });
    expect(r.available).toBe(false);
    expect(r.reason).toBe(`no systemd user manager is listening on ${path.join(empty, 'systemd', 'private')}`);
    fs.writeFileSync(path.join(empty, 'systemd', 'private'), '');
    expect(detectUserSystemd({ XDG_RUNTIME_DIR: empty }).reason).toContain('is not a socket');
  });

  it('says XDG_RUNTIME_DIR is unset when it is', () => {
    expect(detectUserSystemd({}).reason).toMatch(/^XDG_RUNTIME_DIR is not set/);
  });

  it('with probe, falls back to systemctl --user and still says no where nothing answers', () => {
    // No user manager for this test user (CI has none): the probe must not turn that into a yes.
    const r = detectUserSystemd({ PATH: process.env.PATH, XDG_RUNTIME_DIR: path.join(scratch, 'nowhere') }, true);
    expect(r.available).toBe(false);
  });
});

describe('scope names', () => {
  it('recognises lodger scopes and other systemd units by cgroup name', () => {
    expect(isLodgerScope('/sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/app.slice/lodger-4f2a.scope')).toBe(true);
    expect(isLodgerScope('/sys/fs/cgroup/unified/lodger.delegate/lodgertest')).toBe(false);
    expect(isLodgerScope(`/sys/fs/cgroup/user.slice/app.slice/${lodgerScopeUnit('4f2a'.repeat(16))}`)).toBe(true);
    expect(isSystemdUnitCgroup('/sys/fs/cgroup/user.slice')).toBe(true);
    expect(isSystemdUnitCgroup('/sys/fs/cgroup/app.slice/vte-spawn-1.scope')).toBe(true);
    expect(isSystemdUnitCgroup('/sys/fs/cgroup/unified/lodger.delegate/lodgertest/session')).toBe(false);
  });
});
