// Issue 4 through the CLI: detached containers under the native monitor — run -d, logs, restart policies, exec, stop/kill/wait, start/restart, inspect, ps, a killed monitor or CLI — and `lodger attach`.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  killLodgers, lodgerCommand, lodgerEnv, lodgerOutput, requireTool, spawnLodger, waitForExit, waitForOutput, type Store,
} from '../helpers/cli';
import { runCommand } from '../helpers/exec';
import {
  alive, busyboxStore, dropStore, cgroupOf, cliFor, expectNativeHelper, inspectState, lifecyclePrereqs, procStat, psNames, rssKiB, sleep, waitUntil,
} from './lifecycle-common';

const ready = lifecyclePrereqs();
let store: Store;
const { lodger, lodgerOk } = cliFor(() => store);

beforeAll(async () => {
  if (ready) store = await busyboxStore('lodger-lc-');
});
afterEach(() => killLodgers());
afterAll(() => dropStore(store));

/** `lodger run -d --name NAME [ARGS] busybox sh -c SCRIPT`; returns the id it printed. */
async function detached(name: string, script: string, args: string[] = []): Promise<string> {
  const r = await lodgerOk(['run', '-d', '--name', name, ...args, 'busybox', 'sh', '-c', script]);
  return r.stdout.trim();
}

/** The container's log as `lodger logs` prints it (stdout only). */
async function logs(name: string, args: string[] = []): Promise<string> {
  return (await lodgerOk(['logs', ...args, name])).stdout;
}

const count = (text: string, line: string) => text.split('\n').filter((l) => l === line).length;

describe.skipIf(!ready)('run -d and the monitor', () => {
  it('prints the 64-hex id and returns while the container runs; the CLI\'s exit does not stop it', async () => {
    const t0 = Date.now();
    const r = await lodgerOk(['run', '-d', '--name', 'det', 'busybox', 'sh', '-c', 'echo started; sleep 600']);
    expect(r.stdout).toMatch(/^[0-9a-f]{64}\n$/);
    expect(Date.now() - t0).toBeLessThan(10_000);
    // The CLI has exited; the container goes on.
    await sleep(300);
    const st = await inspectState(lodgerOk, 'det');
    expect(st.Status).toBe('running');
    expect(st.Running).toBe(true);
    expect(alive(st.Pid)).toBe(true);
    expect((await lodgerOk(['inspect', '-f', '{{.Id}}', 'det'])).stdout.trim()).toBe(r.stdout.trim());
    await waitUntil(async () => (await logs('det')) === 'started\n', 'the output in the log');
    expect(await psNames(lodgerOk)).toContain('det');
  });

  it('the monitor is the native lodger-helper (not node) in its own session, with RSS ≤ 2 MiB', async () => {
    const st = await inspectState(lodgerOk, 'det');
    const monitor = procStat(st.Pid)!.ppid;
    expect(monitor).toBeGreaterThan(1);
    expectNativeHelper(monitor);
    const ms = procStat(monitor)!;
    expect(ms.session).toBe(monitor);  // setsid(2): a session leader with no terminal
    expect(ms.pgrp).toBe(monitor);
    expect(fs.readFileSync(`/proc/${monitor}/stat`, 'utf8').split(') ')[1].split(' ')[4]).toBe('0');  // tty_nr: none
    // The first container of a fresh store compiled its seccomp filter in this monitor: the worst case.
    expect(rssKiB(monitor)).toBeLessThanOrEqual(2048);
    await lodgerOk(['rm', '-f', 'det']);
    await waitUntil(() => !alive(monitor), 'the monitor to exit after rm -f');
  });
});

describe.skipIf(!ready)('logs', () => {
  beforeAll(async () => {
    // stdout and stderr reach the monitor through two pipes: lines written back to back on both may be
    // logged in either order, so the pauses make the order of the lines --tail picks certain.
    await detached('lg', 'echo one; echo two >&2; sleep 0.2; echo three; sleep 0.4; echo four');
    expect((await lodgerOk(['wait', 'lg'])).stdout).toBe('0\n');
  });

  it('keeps stdout and stderr apart', async () => {
    const r = await lodgerOk(['logs', 'lg']);
    expect(r.stdout).toBe('one\nthree\nfour\n');
    expect(r.stderr).toBe('two\n');
  });

  it('--tail N prints the last N lines', async () => {
    const r = await lodgerOk(['logs', '--tail', '2', 'lg']);
    expect(r.stdout).toBe('three\nfour\n');
    expect(r.stderr).toBe('');
    expect((await lodgerOk(['logs', '--tail', '0', 'lg'])).stdout).toBe('');
  });

  it('-t prefixes each line with its RFC 3339 time; --since keeps what came at or after a time', async () => {
    const stamped = (await lodgerOk(['logs', '-t', 'lg'])).stdout.split('\n').filter(Boolean);
    expect(stamped).toHaveLength(3);
    for (const l of stamped) expect(l).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z (one|three|four)$/);
    const time = (word: string) => Date.parse(stamped.find((l) => l.endsWith(` ${word}`))!.split(' ')[0]);
    expect(time('four') - time('three')).toBeGreaterThanOrEqual(300);
    const between = (time('three') + time('four')) / 2;
    expect(await logs('lg', ['--since', new Date(between).toISOString()])).toBe('four\n');
    expect(await logs('lg', ['--since', (between / 1000).toFixed(3)])).toBe('four\n');
    expect(await logs('lg', ['--since', '1h'])).toBe('one\nthree\nfour\n');
    expect(await logs('lg', ['--since', new Date(time('four') + 60_000).toISOString()])).toBe('');
  });

  it('-f follows the output until the container exits', async () => {
    await detached('lgf', 'for i in 1 2 3 4 5; do echo line $i; sleep 0.3; done; exit 0');
    const f = spawnLodger(['logs', '-f', 'lgf'], { store });
    await waitForOutput(f, 'line 2', { stream: 'stdout' });
    // Still following: the container has more to say.
    expect(f.exitCode).toBeNull();
    expect(lodgerOutput(f).stdout).not.toContain('line 5');
    const r = await waitForExit(f, 15_000);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('line 1\nline 2\nline 3\nline 4\nline 5\n');
  });
});

describe.skipIf(!ready)('restart policies', () => {
  it('on-failure:2 runs the command three times; logs hold every run; RestartCount 2; final exit 1', async () => {
    await detached('rof', 'echo attempt; exit 1', ['--restart', 'on-failure:2']);
    expect((await lodgerOk(['wait', 'rof'])).stdout).toBe('1\n');
    expect(await logs('rof')).toBe('attempt\nattempt\nattempt\n');
    expect((await lodgerOk(['inspect', '-f', '{{.RestartCount}} {{.State.Status}} {{.State.ExitCode}}', 'rof'])).stdout).toBe('2 exited 1\n');
    expect((await lodgerOk(['inspect', '-f', '{{json .HostConfig.RestartPolicy}}', 'rof'])).stdout.trim())
      .toBe('{"Name":"on-failure","MaximumRetryCount":2}');
  });

  it('always keeps restarting a command that exits 0, until stop; stop prevents the next restart', async () => {
    await detached('ralw', 'echo run; sleep 0.3', ['--restart', 'always']);
    await waitUntil(async () => count(await logs('ralw'), 'run') >= 3, 'three runs of a --restart always container', 15_000);
    await lodgerOk(['stop', '-t', '1', 'ralw']);
    const after = await logs('ralw');
    const restarts = (await lodgerOk(['inspect', '-f', '{{.RestartCount}}', 'ralw'])).stdout.trim();
    expect(Number(restarts)).toBeGreaterThanOrEqual(2);
    // Longer than the back-off it had reached (100 ms doubling): a pending restart would have happened.
    await sleep(2_000);
    expect(await logs('ralw')).toBe(after);
    expect((await lodgerOk(['inspect', '-f', '{{.RestartCount}} {{.State.Status}}', 'ralw'])).stdout).toBe(`${restarts} exited\n`);
    expect(await psNames(lodgerOk)).not.toContain('ralw');
  });
});

describe.skipIf(!ready)('exec', () => {
  beforeAll(async () => {
    await detached('ex', 'sleep 600');
  });

  it('exits with the command\'s code: 0, N, 126 not executable, 127 not found', async () => {
    expect((await lodger(['exec', 'ex', 'true'])).code).toBe(0);
    expect((await lodger(['exec', 'ex', 'sh', '-c', 'exit 7'])).code).toBe(7);
    const noexec = await lodger(['exec', 'ex', '/etc/passwd']);
    expect(noexec.code).toBe(126);
    expect(noexec.stderr).toMatch(/permission denied/);
    const missing = await lodger(['exec', 'ex', 'no-such-command']);
    expect(missing.code).toBe(127);
    expect(missing.stderr).toMatch(/not found/);
  });

  it('-e, -u and -w set the environment, the user and the working directory', async () => {
    const r = await lodgerOk(['exec', '-e', 'FOO=bar baz', '-u', '1000:1000', '-w', '/tmp', 'ex', 'sh', '-c', 'echo "$FOO|$(id -u):$(id -g)|$(pwd)"']);
    expect(r.stdout).toBe('bar baz|1000:1000|/tmp\n');
    // Without them: the container's own.
    expect((await lodgerOk(['exec', 'ex', 'sh', '-c', 'echo "${FOO:-unset}|$(id -u)|$(pwd)"'])).stdout).toBe('unset|0|/\n');
  });

  it.skipIf(!requireTool('script'))('-t gives the process a terminal (with lodger on one, from script(1))', async () => {
    const { cmd, args } = lodgerCommand();
    const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
    const line = [cmd, ...args, 'exec', '-t', 'ex', 'tty'].map(q).join(' ');
    const r = await runCommand('script', ['-qec', line, '/dev/null'], { env: lodgerEnv({ store }), timeoutMs: 30_000 });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/\/dev\/pts\/\d+\r?\n/);
    const plain = await lodger(['exec', 'ex', 'tty']);
    expect(plain.stdout).toBe('not a tty\n');
    expect(plain.code).toBe(1);
  });

  it('-d returns at once and leaves the process running', async () => {
    const r = await lodgerOk(['exec', '-d', 'ex', 'sh', '-c', 'sleep 1; echo done > /tmp/bg']);
    expect(r.stdout).toBe('');
    expect((await lodger(['exec', 'ex', 'test', '-e', '/tmp/bg'])).code).toBe(1);
    await waitUntil(async () => (await lodger(['exec', 'ex', 'cat', '/tmp/bg'])).stdout === 'done\n', 'the exec -d process to finish');
  });

  it('in a stopped container: 126 and a message saying to start it', async () => {
    await lodgerOk(['stop', '-t', '0', 'ex']);
    const r = await lodger(['exec', 'ex', 'true']);
    expect(r.code).toBe(126);
    expect(r.stderr).toMatch(/not running/);
  });
});

describe.skipIf(!ready)('stop, kill, wait', () => {
  it('stop: a container with a TERM handler exits with its own code, quickly', async () => {
    await detached('sth', 'trap "echo term; exit 42" TERM; echo ready; while :; do sleep 0.1; done');
    await waitUntil(async () => (await logs('sth')) === 'ready\n', 'the trap to be set');
    const t0 = Date.now();
    expect((await lodgerOk(['stop', 'sth'])).stdout).toBe('sth\n');
    expect(Date.now() - t0).toBeLessThan(5_000);  // not the 10 s timeout
    expect((await lodgerOk(['wait', 'sth'])).stdout).toBe('42\n');
    expect(await logs('sth')).toBe('ready\nterm\n');
    const st = await inspectState(lodgerOk, 'sth');
    expect([st.Status, st.Running, st.ExitCode]).toEqual(['exited', false, 42]);
  });

  it('stop -t 1: a PID 1 without a handler ignores SIGTERM, gets SIGKILL after ≈1 s and exits 137', async () => {
    await detached('stk', 'sleep 600');
    const t0 = Date.now();
    await lodgerOk(['stop', '-t', '1', 'stk']);
    const took = Date.now() - t0;
    expect(took).toBeGreaterThanOrEqual(900);
    expect(took).toBeLessThan(4_000);
    expect((await lodgerOk(['wait', 'stk'])).stdout).toBe('137\n');
    expect((await lodgerOk(['inspect', '-f', '{{.State.ExitCode}}', 'stk'])).stdout).toBe('137\n');
  });

  it('kill -s sends the named signal; plain kill is SIGKILL (137)', async () => {
    await detached('kl', 'trap "echo got-usr1; exit 9" USR1; echo ready; while :; do sleep 0.1; done');
    await waitUntil(async () => (await logs('kl')) === 'ready\n', 'the trap to be set');
    expect((await lodgerOk(['kill', '-s', 'USR1', 'kl'])).stdout).toBe('kl\n');
    expect((await lodgerOk(['wait', 'kl'])).stdout).toBe('9\n');
    expect(await logs('kl')).toBe('ready\ngot-usr1\n');
    await detached('kl2', 'trap "" TERM; sleep 600');
    await lodgerOk(['kill', 'kl2']);
    expect((await lodgerOk(['wait', 'kl2'])).stdout).toBe('137\n');
    const bad = await lodger(['kill', '-s', 'NOSUCHSIG', 'kl2']);
    expect(bad.code).toBe(125);
  });
});

describe.skipIf(!ready)('start and restart', () => {
  it('start runs an exited container again on the same filesystem', async () => {
    await detached('st', 'echo x >> /data; wc -l < /data');
    expect((await lodgerOk(['wait', 'st'])).stdout).toBe('0\n');
    expect((await lodgerOk(['start', 'st'])).stdout).toBe('st\n');
    expect((await lodgerOk(['wait', 'st'])).stdout).toBe('0\n');
    // The second run counted the line the first run wrote.
    expect((await logs('st')).split('\n').map((l) => l.trim()).filter(Boolean)).toEqual(['1', '2']);
  });

  it('restart stops the running container and starts it anew', async () => {
    await detached('rs', 'sleep 600');
    const before = await inspectState(lodgerOk, 'rs');
    expect((await lodgerOk(['restart', '-t', '0', 'rs'])).stdout).toBe('rs\n');
    const after = await inspectState(lodgerOk, 'rs');
    expect(after.Running).toBe(true);
    expect(after.Pid).not.toBe(before.Pid);
    expect(alive(before.Pid)).toBe(false);
    expect(alive(after.Pid)).toBe(true);
    expect(Date.parse(after.StartedAt)).toBeGreaterThan(Date.parse(before.StartedAt));
  });
});

describe.skipIf(!ready)('inspect', () => {
  beforeAll(async () => {
    await detached('insp', 'sleep 600', ['--label', 'k=v', '-e', 'A=1', '-e', 'B=two', '--restart', 'on-failure:3']);
  });

  it('gives Docker-shaped State, Config, Name and HostConfig', async () => {
    const [doc] = JSON.parse((await lodgerOk(['inspect', 'insp'])).stdout) as Array<Record<string, any>>;
    expect(doc.Id).toMatch(/^[0-9a-f]{64}$/);
    expect(doc.Name).toBe('/insp');
    expect(doc.State).toMatchObject({ Status: 'running', Running: true, Paused: false, ExitCode: 0, FinishedAt: '0001-01-01T00:00:00Z' });
    expect(doc.State.Pid).toBeGreaterThan(1);
    expect(alive(doc.State.Pid)).toBe(true);
    expect(Date.now() - Date.parse(doc.State.StartedAt)).toBeLessThan(60_000);
    expect(doc.Config.Cmd).toEqual(['sh', '-c', 'sleep 600']);
    expect(doc.Config.Labels).toEqual({ k: 'v' });
    expect(doc.HostConfig.RestartPolicy).toEqual({ Name: 'on-failure', MaximumRetryCount: 3 });
  });

  it('-f renders Go templates', async () => {
    const f = async (t: string) => (await lodgerOk(['inspect', '-f', t, 'insp'])).stdout;
    expect(await f('{{.State.Status}}')).toBe('running\n');
    expect(await f('{{json .Config.Cmd}}')).toBe('["sh","-c","sleep 600"]\n');
    expect(await f('{{range .Config.Env}}{{.}} {{end}}')).toMatch(/(^| )A=1 B=two \n$/);
    expect(await f('{{index .Config.Labels "k"}}')).toBe('v\n');
    expect(await f('{{.Name}}')).toBe('/insp\n');
  });

  it('after a stop: exited, Pid 0, FinishedAt after StartedAt; an unknown name fails', async () => {
    await lodgerOk(['stop', '-t', '0', 'insp']);
    const st = await inspectState(lodgerOk, 'insp');
    expect([st.Status, st.Running, st.Pid, st.ExitCode]).toEqual(['exited', false, 0, 137]);
    expect(Date.parse(st.FinishedAt)).toBeGreaterThanOrEqual(Date.parse(st.StartedAt));
    const r = await lodger(['inspect', 'no-such-container']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/no such/);
  });
});

describe.skipIf(!ready)('ps', () => {
  let runningId = '';
  let exitedId = '';
  beforeAll(async () => {
    runningId = await detached('psrun', 'sleep 600', ['--label', 'role=web']);
    exitedId = await detached('psexit', 'exit 3');
    await lodgerOk(['wait', 'psexit']);
  });

  it('-q lists running ids; -a adds the exited', async () => {
    const q = (await lodgerOk(['ps', '-q'])).stdout.split('\n');
    expect(q).toContain(runningId.slice(0, 12));
    expect(q).not.toContain(exitedId.slice(0, 12));
    const all = (await lodgerOk(['ps', '-aq', '--no-trunc'])).stdout.split('\n');
    expect(all).toEqual(expect.arrayContaining([runningId, exitedId]));
  });

  it('--filter status=, name= and label=', async () => {
    const names = async (...args: string[]) => (await lodgerOk(['ps', ...args, '--format', '{{.Names}}'])).stdout.split('\n').filter(Boolean);
    const exited = await names('--filter', 'status=exited');
    expect(exited).toContain('psexit');
    expect(exited).not.toContain('psrun');
    expect(await names('--filter', 'status=running', '--filter', 'name=^ps')).toEqual(['psrun']);
    expect(await names('-a', '--filter', 'name=psex')).toEqual(['psexit']);
    expect(await names('-a', '--filter', 'label=role=web')).toEqual(['psrun']);
  });

  it('--format json and --format with a template', async () => {
    // Docker's form: one object per line, with its field names.
    const rows = (await lodgerOk(['ps', '-a', '--no-trunc', '--format', 'json'])).stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, string>);
    expect(rows.find((r) => r.Names === 'psrun')).toMatchObject({ State: 'running', ID: runningId, Image: 'busybox' });
    expect(rows.find((r) => r.Names === 'psexit')).toMatchObject({ State: 'exited', ID: exitedId, Status: expect.stringMatching(/^Exited \(3\)/) });
    const lines = (await lodgerOk(['ps', '-a', '--filter', 'name=^ps', '--format', '{{.Names}} {{.Status}}'])).stdout.split('\n');
    expect(lines).toEqual(expect.arrayContaining([expect.stringMatching(/^psrun Up /), expect.stringMatching(/^psexit Exited \(3\) .* ago$/)]));
  });
});

describe.skipIf(!ready)('a killed monitor or CLI leaves no running container', () => {
  it('SIGKILL to the monitor: the container dies, ps never shows it running, inspect says why', async () => {
    const id = await detached('mk', 'sleep 600');
    const pid = (await inspectState(lodgerOk, 'mk')).Pid;
    const monitor = procStat(pid)!.ppid;
    expectNativeHelper(monitor);
    const cg = cgroupOf(pid);
    process.kill(monitor, 'SIGKILL');
    for (let i = 0; i < 5; i++) {
      expect(await psNames(lodgerOk)).not.toContain('mk');
      await sleep(100);
    }
    // Dead (possibly a zombie until the host's init reaps it: it is no longer the monitor's to reap).
    await waitUntil(() => !alive(pid), 'the container to die with its monitor', 5_000);
    const st = await inspectState(lodgerOk, 'mk');
    expect([st.Status, st.Running]).toEqual(['exited', false]);
    expect(st.Error).toMatch(/monitor/);
    expect((await lodgerOk(['ps', '-a', '--filter', 'name=^mk$', '--format', '{{.Status}}'])).stdout).toMatch(/^Exited \(137\)/);
    // rm tidies what the monitor could not: the record and the container's cgroup.
    await lodgerOk(['rm', 'mk']);
    if (cg?.includes(`lodger-${id}`)) {
      const mount = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').find((l) => l.includes(' - cgroup2 '))!.split(' ')[4];
      expect(fs.existsSync(path.join(mount, cg))).toBe(false);
    }
  });

  it('SIGKILL to the CLI of a foreground container: the container, its helper and its cgroup go too', async () => {
    const cli = spawnLodger(['run', '--name', 'fgk', 'busybox', 'sh', '-c', 'echo ready; sleep 600'], { store });
    await waitForOutput(cli, 'ready', { stream: 'stdout' });
    const pid = (await inspectState(lodgerOk, 'fgk')).Pid;
    const helper = procStat(pid)!.ppid;
    expect(helper).not.toBe(cli.pid);
    const cg = cgroupOf(pid);
    process.kill(cli.pid!, 'SIGKILL');  // the CLI alone, not its process group
    const r = await waitForExit(cli, 10_000);
    expect(r.signal).toBe('SIGKILL');
    await waitUntil(() => !alive(pid) && !alive(helper), 'the container and its helper to die with the CLI', 10_000);
    expect(await psNames(lodgerOk)).not.toContain('fgk');
    const st = await inspectState(lodgerOk, 'fgk');
    expect(st.Running).toBe(false);
    if (cg && /\/lodger-[0-9a-f]{64}$/.test(cg)) {
      const mount = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').find((l) => l.includes(' - cgroup2 '))!.split(' ')[4];
      await waitUntil(() => !fs.existsSync(path.join(mount, cg)), `its cgroup ${cg} to be removed`, 5_000);
    }
  });
});

describe.skipIf(!ready)('attach', () => {
  const TICKER = 'trap "echo got-term; exit 3" TERM; trap "echo got-int; exit 4" INT; i=0; while :; do echo tick $i; echo err $i >&2; i=$((i+1)); sleep 0.2; done';

  it('follows the output from now on, stdout and stderr apart; SIGTERM reaches the container, attach exits with its code', async () => {
    await detached('att', TICKER);
    await waitUntil(async () => (await logs('att')).includes('tick 1\n'), 'two ticks before attaching');
    const a = spawnLodger(['attach', 'att'], { store });
    await waitForOutput(a, /tick \d+\n[^]*tick \d+\n/, { stream: 'stdout' });
    await waitForOutput(a, /err \d+\n/, { stream: 'stderr' });
    process.kill(a.pid!, 'SIGTERM');
    const r = await waitForExit(a, 10_000);
    expect(r.code).toBe(3);
    expect(r.stdout).toMatch(/got-term\n$/);
    // From now on: what was printed before the attach is not repeated.
    expect(r.stdout).not.toMatch(/^tick [01]$/m);
    expect(r.stdout).not.toMatch(/err/);
    expect(r.stderr).toMatch(/^err \d+$/m);
    expect(r.stderr).not.toMatch(/tick/);
    expect((await lodgerOk(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', 'att'])).stdout).toBe('exited 3\n');
  });

  it('ends with the container\'s own exit code when it exits by itself', async () => {
    await detached('att2', 'echo ready; sleep 1; echo bye; exit 5');
    await waitUntil(async () => (await logs('att2')) === 'ready\n', 'the container to start');
    const r = await lodger(['attach', 'att2']);
    expect(r.code).toBe(5);
    expect(r.stdout).toBe('bye\n');
  });

  it('--sig-proxy=false --no-stdin: SIGINT ends the attach and leaves the container running', async () => {
    await detached('att3', TICKER);
    const a = spawnLodger(['attach', '--sig-proxy=false', '--no-stdin', 'att3'], { store });
    await waitForOutput(a, /tick \d+/, { stream: 'stdout' });
    process.kill(a.pid!, 'SIGINT');
    const r = await waitForExit(a, 10_000);
    expect(r.signal).toBe('SIGINT');
    await sleep(300);
    expect((await inspectState(lodgerOk, 'att3')).Running).toBe(true);
    expect(await logs('att3')).not.toContain('got-int');
    await lodgerOk(['rm', '-f', 'att3']);
  });

  it('refuses a container that is not running; --help says when stdin is attached', async () => {
    await detached('att4', 'exit 0');
    await lodgerOk(['wait', 'att4']);
    const r = await lodger(['attach', 'att4']);
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/not running/);
    const help = await lodgerOk(['attach', '--help']);
    expect(help.stdout).toMatch(/Stdin is not attached to a container created without `-i`/);
    expect(help.stdout).toMatch(/--detach-keys/);
    expect(help.stdout).toMatch(/--sig-proxy/);
    expect(help.stdout).toMatch(/--no-stdin/);
  });
});
