// Issue 4's stdin: `lodger attach` gives a detached container created with -i (run -d -i, run -dit, create -i + start) our stdin through its monitor's attach socket — Docker's StdinOnce=false, detach keys on a terminal, the monitor's RSS.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { killLodgers, lodgerCommand, lodgerEnv, lodgerOutput, requireTool, runLodger, spawnLodger, waitForExit, waitForOutput, type Store } from '../helpers/cli';
import { exitStatus, killChild } from '../helpers/exec';
import { alive, busyboxStore, dropStore, cliFor, expectNativeHelper, inspectState, lifecyclePrereqs, procStat, rssKiB, sleep, waitUntil } from './lifecycle-common';

const ready = lifecyclePrereqs();
let store: Store;
const { lodger, lodgerOk } = cliFor(() => store);

/** Processes started here other than through spawnLodger (script(1) sessions): killed after each test. */
const terminals = new Set<ChildProcess>();

beforeAll(async () => {
  if (ready) store = await busyboxStore('lodger-att-');
});
afterEach(() => {
  killLodgers();
  for (const t of terminals) killChild(t, 'SIGKILL', true);
  terminals.clear();
});
afterAll(() => dropStore(store));

/** `lodger run -d [ARGS] --name NAME busybox CMD…`; returns the id. */
async function detached(name: string, args: string[], cmd: string[]): Promise<string> {
  return (await lodgerOk(['run', '-d', ...args, '--name', name, 'busybox', ...cmd])).stdout.trim();
}

/** The container's log as `lodger logs` prints it (stdout). */
async function logs(name: string): Promise<string> {
  return (await lodgerOk(['logs', name])).stdout;
}

/** Where the monitor of container ID listens (the container's runtime dir, under the store's XDG_RUNTIME_DIR). */
function attachSocket(id: string): string {
  return path.join(store.runtimeDir, 'lodger', 'c', id.slice(0, 12), 'attach.sock');
}

/** The pid of NAME's monitor: its init's parent. */
async function monitorOf(name: string): Promise<number> {
  const st = await inspectState(lodgerOk, name);
  expect(st.Running).toBe(true);
  return procStat(st.Pid)!.ppid;
}

/**
 * `lodger ARGS` as a user at a terminal would run it: script(1) gives it a new pty, 30×100 (a pty made
 * for a script whose stdin is no terminal is 0×0 until told), and what we write to script's stdin is typed.
 */
function onTerminal(args: string[]): { child: ChildProcess; output: () => string; exited: Promise<number> } {
  const { cmd, args: pre } = lodgerCommand();
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  // -e: script exits with lodger's status; -f: output is passed on as it comes.
  const line = `stty rows 30 cols 100; exec ${[cmd, ...pre, ...args].map(q).join(' ')}`;
  const child = spawn('script', ['-qfec', line, '/dev/null'], {
    env: lodgerEnv({ store }), stdio: ['pipe', 'pipe', 'pipe'], detached: true,
  });
  terminals.add(child);
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (out += s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (out += s));
  const exited = new Promise<number>((resolve) => child.once('exit', (code, sig) => { terminals.delete(child); resolve(exitStatus(code, sig)); }));
  return { child, output: () => out, exited };
}

describe.skipIf(!ready)('attach gives stdin to a container run with -d -i', () => {
  it('piped input reaches the container (in attach\'s output and in the log); the end of it does not close the container\'s stdin', async () => {
    const id = await detached('cat1', ['-i'], ['cat']);
    // Nobody attached: the monitor holds the container's stdin open, so cat does not see EOF and exit.
    await sleep(500);
    expect((await inspectState(lodgerOk, 'cat1')).Running).toBe(true);
    const sock = attachSocket(id);
    const st = fs.statSync(sock);
    expect(st.isSocket()).toBe(true);
    expect(st.mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.dirname(sock)).mode & 0o077).toBe(0);

    const a = spawnLodger(['attach', 'cat1'], { store });
    a.stdin!.end('hello\n');
    await waitForOutput(a, 'hello\n', { stream: 'stdout' });
    // Docker's StdinOnce=false for a detached container: our EOF is not the container's; attach goes on
    // following the output, and the container goes on reading.
    await sleep(500);
    expect(a.exitCode).toBeNull();
    expect((await inspectState(lodgerOk, 'cat1')).Running).toBe(true);

    const b = spawnLodger(['attach', 'cat1'], { store });
    b.stdin!.write('world\n');
    await waitForOutput(b, 'world\n', { stream: 'stdout' });
    await waitForOutput(a, 'hello\nworld\n', { stream: 'stdout' });
    expect(await logs('cat1')).toBe('hello\nworld\n');

    // The spec's memory bound, measured with a client attached and input having gone through.
    const monitor = await monitorOf('cat1');
    expectNativeHelper(monitor);
    expect(rssKiB(monitor)).toBeLessThanOrEqual(2048);

    // The container's exit ends both attaches with its status, and its socket goes.
    await lodgerOk(['kill', 'cat1']);
    expect((await waitForExit(a, 10_000)).code).toBe(137);
    expect((await waitForExit(b, 10_000)).code).toBe(137);
    await waitUntil(() => !fs.existsSync(sock), 'the attach socket to be removed');
    await waitUntil(() => !alive(monitor), 'the monitor to exit');
  });

  it('--no-stdin forwards nothing; several clients at once each give input', async () => {
    await detached('cat2', ['-i'], ['cat']);
    const quiet = spawnLodger(['attach', '--no-stdin', 'cat2'], { store });
    quiet.stdin!.end('not-this\n');
    const x = spawnLodger(['attach', 'cat2'], { store });
    const y = spawnLodger(['attach', 'cat2'], { store });
    // Each attach shows the output from when it started: x types until quiet has shown a line.
    while (!lodgerOutput(quiet).stdout.includes('from-x\n')) {
      x.stdin!.write('from-x\n');
      await waitUntil(async () => (await logs('cat2')).endsWith('from-x\n'), 'x\'s line in the log');
      await sleep(100);
    }
    y.stdin!.write('from-y\n');
    await waitForOutput(quiet, 'from-y\n', { stream: 'stdout' });
    await waitForOutput(x, 'from-y\n', { stream: 'stdout' });
    const lines = (await logs('cat2')).split('\n').filter(Boolean);
    expect(new Set(lines)).toEqual(new Set(['from-x', 'from-y']));
    expect(lines[lines.length - 1]).toBe('from-y');
    expect(quiet.exitCode).toBeNull();
    await lodgerOk(['kill', 'cat2']);
    for (const c of [quiet, x, y]) expect((await waitForExit(c, 10_000)).code).toBe(137);
  });

  it('create -i, then start: the monitor keeps stdin for attach, and the attach\'s EOF ends it (StdinOnce)', async () => {
    // create -i without -d records StdinOnce, as `docker create -i` does: the attached client's end of
    // input is the container's (run -d -i records none: see above, its stdin outlives each client).
    await lodgerOk(['create', '-i', '--name', 'crt', 'busybox', 'sh', '-c', 'read x; echo "got $x"; read y || echo "eof"; exit 3']);
    await lodgerOk(['start', 'crt']);
    const r = await runLodger(['attach', 'crt'], { store, input: 'one\n' });
    expect(r.stdout).toBe('got one\neof\n');
    expect(r.code).toBe(3);
    expect(await logs('crt')).toBe('got one\neof\n');
  });
});

describe.skipIf(!ready || !requireTool('script'))('attach on a terminal to a container run with -dit', () => {
  it('puts the terminal in raw mode, types into the container\'s pty, and ctrl-p ctrl-q detaches (exit 0) leaving it running', async () => {
    await detached('sh1', ['-it'], ['sh']);
    const t = onTerminal(['attach', 'sh1']);
    // attach resizes the pty to our terminal's size once its stdin is attached (raw mode set): the shell
    // redraws its prompt on that SIGWINCH, and from then on what we type is the container's.
    await waitUntil(() => t.output().includes('/ # '), 'the prompt, redrawn when attach resized the pty');
    // The arithmetic shows that the shell ran the line, not just that the pty echoed it; the container's
    // pty has our terminal's size.
    t.child.stdin!.write('echo r-$((40+2)) $(stty size)\r');
    await waitUntil(() => /r-42 30 100\r*\n/.test(t.output()), `the shell's answer on the terminal (so far: ${JSON.stringify(t.output())})`);
    t.child.stdin!.write('\x10\x11');
    expect(await t.exited).toBe(0);
    expect(t.output()).toMatch(/read escape sequence/);
    await sleep(300);
    expect((await inspectState(lodgerOk, 'sh1')).Running).toBe(true);
    expect(await logs('sh1')).toMatch(/r-42/);

    // Attach again (other detach keys, which nobody types): the shell's own exit ends the attach with
    // its status, as Docker's does.
    const u = onTerminal(['attach', '--detach-keys', 'ctrl-x', 'sh1']);
    await waitUntil(() => u.output().includes('/ # '), 'the prompt again');
    u.child.stdin!.write('echo again-$((1+1)); exit 7\r');
    expect(await u.exited).toBe(7);
    expect(u.output()).toMatch(/again-2/);
    expect(u.output()).not.toMatch(/read escape sequence/);
    expect((await inspectState(lodgerOk, 'sh1')).ExitCode).toBe(7);
  });

  it('refuses detach keys it cannot read', async () => {
    await detached('sh2', ['-it'], ['sh']);
    const r = await lodger(['attach', '--detach-keys', 'ctrl-1', 'sh2']);
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/--detach-keys: "ctrl-1"/);
    await lodgerOk(['rm', '-f', 'sh2']);
  });
});

describe.skipIf(!ready)('attach to a container created without -i', () => {
  it('shows the output as before, sends nothing to the container, and the monitor has no attach socket', async () => {
    const id = await detached('noi', [], ['sh', '-c', 'trap "exit 9" TERM; while read l; do echo "read $l"; done; echo eof; while :; do echo tick; sleep 0.2; done']);
    // Its stdin is /dev/null: read sees EOF at once.
    await waitUntil(async () => (await logs('noi')).startsWith('eof\ntick\n'), 'the container to see EOF on stdin');
    expect(fs.existsSync(attachSocket(id))).toBe(false);
    const a = spawnLodger(['attach', 'noi'], { store });
    a.stdin!.end('ignored\n');
    await waitForOutput(a, /tick\n[^]*tick\n/, { stream: 'stdout' });
    expect(await logs('noi')).not.toMatch(/read ignored/);
    process.kill(a.pid!, 'SIGTERM');
    const r = await waitForExit(a, 10_000);
    expect(r.code).toBe(9);
    expect(r.stderr).toBe('');
  });
});
