// `lodger exec` into a running container: the new process joins every namespace of the container and gets its capabilities, filter and clean fds; -w cannot take it out through /proc/self/fd; and a container racing for the helper's /proc/PID/exe during exec never reaches it (CVE-2019-5736).
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/cli';
import { busyboxStore, expectExit, removeBuiltTools, Sentinel, securityPrereqs, statusFields, wrappedHelper, type SecurityStore } from './securityHarness';

const ready = securityPrereqs({ gcc: true });
let s: SecurityStore;
let sentinel: Sentinel;
let helper = '';
const DOCKER_DEFAULT = '00000000a80425fb';
const NONE = '0000000000000000';
const lastCap = Number(fs.readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8'));
const ALL = ((1n << BigInt(lastCap + 1)) - 1n).toString(16).padStart(16, '0');

beforeAll(async () => {
  if (!ready) return;
  s = await busyboxStore('lodger-sec-exec-');
  sentinel = new Sentinel(s.dir);
  // A helper the test user owns and may write, as in a per-user install: the container must still never reach it.
  const dir = fs.mkdtempSync(path.join(s.dir, 'helper-'));
  helper = path.join(dir, 'lodger-helper');
  fs.copyFileSync(path.join(repoRoot, 'build', 'Release', 'lodger-helper'), helper);
  fs.chmodSync(helper, 0o755);
});
afterAll(async () => {
  if (s) await s.lodger(['rm', '-f', 'exec-default', 'exec-dropped', 'exec-race', 'exec-single']);
  await s?.cleanup();
  removeBuiltTools();
});

const env = () => ({ LODGER_HELPER: helper });

async function startSleeper(name: string, args: string[] = [], cmd = ['sleep', '300']): Promise<void> {
  const r = await s.lodger(['run', '-d', '--name', name, ...args, 'busybox', ...cmd], { env: env() });
  expectExit(r, 0);
}

async function execStatus(name: string, args: string[] = []): Promise<Record<string, string>> {
  const r = await s.lodger(['exec', ...args, name, 'sh', '-c', 'grep -E "^(Cap|NoNewPrivs|Seccomp:)" /proc/self/status'], { env: env() });
  expectExit(r, 0);
  return statusFields(r.stdout);
}

describe.skipIf(!ready)('a process started with exec', () => {
  it("has the container's capabilities and seccomp filter, not everything of the user namespace", async () => {
    await startSleeper('exec-default');
    expect(await execStatus('exec-default')).toMatchObject({ CapBnd: DOCKER_DEFAULT, CapEff: DOCKER_DEFAULT, CapPrm: DOCKER_DEFAULT, CapInh: NONE, CapAmb: NONE, Seccomp: '2' });
    expect(await execStatus('exec-default', ['-u', '1000'])).toMatchObject({ CapBnd: DOCKER_DEFAULT, CapEff: NONE, CapPrm: NONE, Seccomp: '2' });
  });

  it("keeps what the container was created with: --cap-drop ALL and no-new-privileges", async () => {
    await startSleeper('exec-dropped', ['--cap-drop', 'ALL', '--security-opt', 'no-new-privileges']);
    expect(await execStatus('exec-dropped')).toMatchObject({ CapBnd: NONE, CapEff: NONE, NoNewPrivs: '1', Seccomp: '2' });
  });

  it('exec --privileged gets every capability, but the container keeps its filter', async () => {
    expect(await execStatus('exec-default', ['--privileged'])).toMatchObject({ CapBnd: ALL, CapEff: ALL, Seccomp: '2' });
  });

  it("is in every namespace of the container's PID 1: mnt, pid, net, uts, ipc, user and cgroup", async () => {
    const kinds = ['mnt', 'pid', 'net', 'uts', 'ipc', 'user', 'cgroup'];
    const r = await s.lodger(['exec', 'exec-default', 'sh', '-c', kinds.map((k) => `echo ${k} $(readlink /proc/self/ns/${k}) $(readlink /proc/1/ns/${k})`).join('; ')], { env: env() });
    expectExit(r, 0);
    const mine = (k: string) => fs.readlinkSync(`/proc/self/ns/${k}`);
    for (const line of r.stdout.trim().split('\n')) {
      const [kind, self, init] = line.split(' ');
      expect(`${kind}: ${self}`).toBe(`${kind}: ${init}`);
      // Not the namespaces lodger runs in: the comparison above is between the container's own.
      expect(`${kind}: ${self}`).not.toBe(`${kind}: ${mine(kind)}`);
    }
    expect(r.stdout.trim().split('\n').map((l) => l.split(' ')[0])).toEqual(kinds);
  });

  it('in a --userns=single container, cannot call setgroups either (/proc/self/setgroups is deny)', async () => {
    await startSleeper('exec-single', ['--userns=single']);
    const r = await s.lodger(['exec', 'exec-single', 'sh', '-c', 'cat /proc/self/setgroups; cat /proc/self/uid_map'], { env: env() });
    expectExit(r, 0);
    const [setgroups, ...map] = r.stdout.trim().split('\n');
    expect(setgroups).toBe('deny');
    expect(map.map((l) => l.trim().split(/\s+/))).toEqual([['0', String(process.getuid!()), '1']]);
  });

  it('starts with only fds 0, 1 and 2', async () => {
    const r = await s.lodger(['exec', 'exec-default', 'ls', '/proc/self/fd'], { env: env() });
    expectExit(r, 0);
    expect(r.stdout.trim().split('\n')).toEqual(['0', '1', '2', '3']);
  });

  it('-w /proc/self/fd/N is refused with exit 125, and the command does not run', async () => {
    for (const n of [0, 1, 2, 3, 4, 5, 6, 7]) {
      const r = await s.lodger(['exec', '-w', `/proc/self/fd/${n}`, 'exec-default', 'sh', '-c', 'pwd; ls -a'], { env: env() });
      expectExit(r, 125);
      // None of the exec'd process's fds is a directory: each is refused as not one, or as absent.
      expect(r.stderr).toMatch(new RegExp(`^lodger: set the working directory of the exec process to /proc/self/fd/${n}: (not a directory|no such file or directory)`, 'm'));
      expect(r.stdout).toBe('');
    }
  });

  it('a directory fd the helper held by mistake cannot be the working directory: the getcwd(3) check refuses it before exec (CVE-2024-21626)', async () => {
    // The CLI never hands the helper a directory fd, so the last check in process.c is reached only through
    // helperwrap, which opens the host directory as fd 42 before starting the helper.
    const leaky = await wrappedHelper(s.dir, helper, ['--leak', sentinel.dir]);
    for (const w of ['/proc/self/fd/42', '/proc/self/fd/42/..', '/proc/self/fd/42/pts']) {
      const r = await s.lodger(['exec', '-w', w, 'exec-default', 'sh', '-c', 'pwd; ls -a; touch pwned-by-exec'], { env: { LODGER_HELPER: leaky } });
      expectExit(r, 125);
      expect(r.stderr).toContain(`lodger: set the working directory of the exec process to ${w}: the working directory is outside the container's root filesystem`);
      expect(r.stdout).toBe('');
    }
    sentinel.assertUntouched();
  });

  it('a container process that races to open every new process\'s /proc/PID/exe for writing never reaches the helper', async () => {
    const before = (() => { const st = fs.statSync(helper); return `${createHash('sha256').update(fs.readFileSync(helper)).digest('hex')} ${st.mtimeMs}`; })();
    // The attacker: PID 1 of the container scans /proc without pause and appends to every exe it can open.
    await startSleeper('exec-race', ['--cap-add', 'SYS_PTRACE'], ['sh', '-c',
      'while :; do for p in /proc/[0-9]*; do [ "$p" = /proc/$$ ] || echo pwned 2>/dev/null >> $p/exe; done; done']);
    for (let i = 0; i < 15; i++) {
      const r = await s.lodger(['exec', 'exec-race', 'true'], { env: env() });
      expectExit(r, 0);
    }
    const st = fs.statSync(helper);
    expect(`${createHash('sha256').update(fs.readFileSync(helper)).digest('hex')} ${st.mtimeMs}`).toBe(before);
  });
});
