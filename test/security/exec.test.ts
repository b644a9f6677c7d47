// `lodger exec` into a running container: the new process gets the container's capabilities, filter and clean fds, and a container racing for the helper's /proc/PID/exe during exec never reaches it (CVE-2019-5736).
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/cli';
import { busyboxStore, expectExit, securityPrereqs, statusFields, type SecurityStore } from './securityHarness';

const ready = securityPrereqs();
let s: SecurityStore;
let helper = '';
const DOCKER_DEFAULT = '00000000a80425fb';
const NONE = '0000000000000000';
const lastCap = Number(fs.readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8'));
const ALL = ((1n << BigInt(lastCap + 1)) - 1n).toString(16).padStart(16, '0');

beforeAll(async () => {
  if (!ready) return;
  s = await busyboxStore('lodger-sec-exec-');
  // A helper the test user owns and may write, as in a per-user install: the container must still never reach it.
  const dir = fs.mkdtempSync(path.join(s.dir, 'helper-'));
  helper = path.join(dir, 'lodger-helper');
  fs.copyFileSync(path.join(repoRoot, 'build', 'Release', 'lodger-helper'), helper);
  fs.chmodSync(helper, 0o755);
});
afterAll(async () => {
  if (s) await s.lodger(['rm', '-f', 'exec-default', 'exec-dropped', 'exec-race']);
  await s?.cleanup();
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

  it('starts with only fds 0, 1 and 2', async () => {
    const r = await s.lodger(['exec', 'exec-default', 'ls', '/proc/self/fd'], { env: env() });
    expectExit(r, 0);
    expect(r.stdout.trim().split('\n')).toEqual(['0', '1', '2', '3']);
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
