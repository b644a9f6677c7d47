// Issue 6.1, the systemd route: lodger started from a systemd unit that was not delegated to it (a desktop
// terminal's app-*.scope) moves itself into a delegated scope of the user manager, lodger-<id>.scope, and
// makes the container's cgroup inside it. .ci/run starts a real user manager (systemd --user) for the test
// user and exports its runtime dir as LODGER_TEST_USER_RUNTIME.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lodgerCommand, type LodgerResult, type Store } from '../helpers/cli';
import { runCommand } from '../helpers/exec';
import { assertUnprivileged, requireDelegatedCgroup, requirePrereq, toolPath } from '../helpers/prereqs';
import { busyboxStore, cgroupOf, inspectState, lifecyclePrereqs, procStat, waitUntil } from './lifecycle-common';

const runtime = process.env.LODGER_TEST_USER_RUNTIME ?? '';
const managerUp = !!runtime && fs.existsSync(path.join(runtime, 'bus')) && fs.existsSync(path.join(runtime, 'systemd', 'private'));
const ready = lifecyclePrereqs() && requireDelegatedCgroup() !== null &&
  requirePrereq(managerUp, 'a systemd user manager for the test user: .ci/run starts one (host_start_user_manager) and exports LODGER_TEST_USER_RUNTIME') &&
  requirePrereq(toolPath('systemd-run') && toolPath('busctl'), 'systemd-run and busctl (Debian package "systemd")');

let store: Store;
/** The user's session as a systemd desktop has it: XDG_RUNTIME_DIR and the session bus of the user manager. */
const sessionEnv = (): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = { ...process.env, ...store.env, XDG_RUNTIME_DIR: runtime, DBUS_SESSION_BUS_ADDRESS: `unix:path=${runtime}/bus` };
  delete env.NODE_EXTRA_CA_CERTS;
  delete env.LODGER_CGROUP_PARENT;
  return env;
};

/** `lodger ARGS` started the way a terminal of a systemd desktop starts it: inside an ordinary (non-delegated) scope. */
function lodgerInAppScope(args: string[]): Promise<LodgerResult> {
  const { cmd, args: pre } = lodgerCommand();
  return runCommand('systemd-run', ['--user', '--scope', '--quiet', '--collect', '--', cmd, ...pre, ...args], { env: sessionEnv(), timeoutMs: 50_000, processGroup: true });
}
function lodger(args: string[]): Promise<LodgerResult> {
  const { cmd, args: pre } = lodgerCommand();
  return runCommand(cmd, [...pre, ...args], { env: sessionEnv(), timeoutMs: 50_000 });
}
async function ok(r: Promise<LodgerResult>): Promise<LodgerResult> {
  const res = await r;
  expect(res.code, res.stderr + res.stdout).toBe(0);
  return res;
}
const systemctl = (...args: string[]) => runCommand('systemctl', ['--user', ...args], { env: sessionEnv(), timeoutMs: 10_000 });
const mount = () => fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').find((l) => l.includes(' - cgroup2 '))!.split(' ')[4];

describe.skipIf(!ready)('under a systemd user manager, from a scope that is not delegated', () => {
  beforeAll(async () => {
    // The CLI is started through systemd-run here, not runLodger, which checks this itself.
    assertUnprivileged();
    store = await busyboxStore('lodger-cgsd-');
  });
  afterAll(async () => {
    if (!store) return;
    const ids = (await lodger(['ps', '-aq'])).stdout.split('\n').filter(Boolean);
    if (ids.length) await lodger(['rm', '-f', ...ids]);
    fs.rmSync(path.join(runtime, 'lodger'), { recursive: true, force: true });
    await store.cleanup();
  });

  it('the caller\'s own cgroup is a systemd unit lodger may not use (the premise)', async () => {
    const r = await ok(runCommand('systemd-run', ['--user', '--scope', '--quiet', '--', 'cat', '/proc/self/cgroup'], { env: sessionEnv(), timeoutMs: 10_000 }));
    expect(r.stdout).toMatch(/^0::\/.*\/app\.slice\/run-[^/]+\.scope$/m);
  });

  it('a detached container gets a delegated lodger-<id>.scope holding its monitor, with the container in its own child cgroup', async () => {
    const id = (await ok(lodgerInAppScope(['run', '-d', '--name', 'sd', 'busybox', 'sleep', '600']))).stdout.trim();
    const unit = `lodger-${id}.scope`;
    const { Pid } = await inspectState((a) => ok(lodger(a)), 'sd');
    const own = cgroupOf(Pid)!;
    expect(own).toMatch(new RegExp(`/app\\.slice/${unit.replace(/\./g, '\\.')}/lodger-${id}$`));
    // The monitor is in the scope, outside the container's cgroup.
    const monitor = procStat(Pid)!.ppid;
    expect(path.dirname(own)).toBe(cgroupOf(monitor)!.replace(/\/lodger-init$/, ''));
    expect(cgroupOf(monitor)).not.toBe(own);
    // systemd knows the unit and that it is delegated.
    const show = await ok(systemctl('show', unit, '-p', 'Delegate', '-p', 'ActiveState'));
    expect(show.stdout).toContain('Delegate=yes');
    expect(show.stdout).toContain('ActiveState=active');
    // Freeze and thaw work through the scope's subtree, as anywhere else.
    const dir = path.join(mount(), own);
    await ok(lodger(['pause', 'sd']));
    await waitUntil(() => /^frozen 1$/m.test(fs.readFileSync(path.join(dir, 'cgroup.events'), 'utf8')), 'frozen');
    await ok(lodger(['unpause', 'sd']));
    await waitUntil(() => /^frozen 0$/m.test(fs.readFileSync(path.join(dir, 'cgroup.events'), 'utf8')), 'thawed');
    // rm -f ends the container and its monitor; the emptied scope is collected by systemd.
    await ok(lodger(['rm', '-f', 'sd']));
    expect(fs.existsSync(dir)).toBe(false);
    await waitUntil(async () => !(await systemctl('is-active', unit)).stdout.startsWith('active'), `${unit} collected`);
  });

  it('a foreground --rm run leaves no scope behind and gives the container\'s status', async () => {
    const before = (await systemctl('list-units', '--all', '--plain', '--no-legend', 'lodger-*')).stdout;
    const r = await lodgerInAppScope(['run', '--rm', 'busybox', 'sh', '-c', 'cat /proc/self/cgroup; exit 3']);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stdout).toMatch(/^0::\/$/m); // a private cgroup namespace rooted at the container's own cgroup
    await waitUntil(async () => (await systemctl('list-units', '--all', '--plain', '--no-legend', 'lodger-*')).stdout === before, 'no lodger scope left');
  });

  it('a limit needs its controller in the scope: where the user manager\'s app.slice lacks it, run refuses and names it', async () => {
    const slice = (await ok(systemctl('show', 'app.slice', '-p', 'ControlGroup'))).stdout.trim().replace(/^ControlGroup=/, '');
    const offered = fs.readFileSync(path.join(mount(), slice, 'cgroup.controllers'), 'utf8').split(/\s+/);
    const r = await lodgerInAppScope(['run', '--rm', '--pids-limit', '10', 'busybox', 'sh', '-c', 'cat /sys/fs/cgroup/pids.max']);
    if (offered.includes('pids')) {
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toBe('10\n');
    } else {
      expect(r.code, r.stdout + r.stderr).toBe(125);
      expect(r.stderr).toContain('"pids"');
    }
  });
});
