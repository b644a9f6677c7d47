// Shared by the foundation-*.test.ts files (issue 2): busybox stores, host-side observers (mount table,
// processes, the store's directories) and a pty runner. Nothing here is lodger's code: every check looks
// at the system from outside, as a user would.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { expect, inject } from 'vitest';
import { lodgerCommand, lodgerEnv, makeStore, requirePrereq, runLodger, runLodgerOk, type LodgerOptions, type LodgerResult, type Store } from '../helpers/cli';
import { runCommand } from '../helpers/exec';
import { subidRange } from '../helpers/prereqs';

export const DRIVERS = ['overlay', 'fuse-overlayfs', 'vfs'] as const;
export type Driver = (typeof DRIVERS)[number];

export const uid = (): number => process.getuid!();
export const gid = (): number => process.getgid!();

/** The busybox fixture of this run; fails (CI) or returns null (elsewhere) when busybox-static is missing. */
export function busyboxFixture(): { rootfs: string; tar: string; ociDir: string; ociTag: string } | null {
  const b = inject('lodger').busybox;
  return requirePrereq(b, 'the busybox fixture (Debian busybox-static)') ? b : null;
}

/** Whether the test user has the subordinate ranges these tests compare against. */
export function haveSubids(): boolean {
  return requirePrereq(
    subidRange('/etc/subuid') !== null && subidRange('/etc/subgid') !== null,
    `a /etc/subuid and /etc/subgid range for ${os.userInfo().username}`,
  );
}

/** A fresh store with the busybox tarball imported as busybox:latest. */
export async function busyboxStore(opts: { env?: Record<string, string | undefined> } = {}): Promise<Store> {
  const store = makeStore('lodger-fnd-');
  const b = busyboxFixture();
  if (!b) throw new Error('busybox fixture missing');
  await runLodgerOk(['import', b.tar, 'busybox:latest'], { store, env: opts.env });
  return store;
}

/** `lodger run --rm [ARGS] busybox sh -c SCRIPT`. */
export function bbsh(store: Store, script: string, args: string[] = [], opts: Omit<LodgerOptions, 'store'> = {}): Promise<LodgerResult> {
  return runLodger(['run', '--rm', ...args, 'busybox', 'sh', '-c', script], { ...opts, store });
}

/** Like bbsh, but throws with the output unless it exits 0; returns stdout. */
export async function bbshOk(store: Store, script: string, args: string[] = [], opts: Omit<LodgerOptions, 'store'> = {}): Promise<string> {
  const r = await bbsh(store, script, args, opts);
  if (r.code !== 0) throw new Error(`container script failed (${r.code}): ${script}\n--- stderr\n${r.stderr}--- stdout\n${r.stdout}`);
  return r.stdout;
}

/** The mount table of this (the test's, i.e. the host's) mount namespace, one line per mount. */
export function hostMountinfo(): string[] {
  return fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter(Boolean);
}

/** Mounts of the host's table that involve DIR: mounted at or below it, or from it (source, lowerdir=…). */
export function hostMountsMentioning(dir: string): string[] {
  return hostMountinfo().filter((l) => l.includes(dir));
}

/** Lines of mountinfo present now and not in BEFORE (mount ids make every mount's line unique). */
export function newMounts(before: string[]): string[] {
  const old = new Set(before);
  return hostMountinfo().filter((l) => !old.has(l));
}

/**
 * New host mounts (since BEFORE) that could be a container's: anything naming DIR (the test's store), or of a
 * type only a container runtime mounts (overlay, fuse-overlayfs, devpts, mqueue). Other activity on a shared
 * machine (autofs, another user's session) is not counted.
 */
export function leakedMounts(before: string[], dir: string): string[] {
  return newMounts(before).filter((l) => {
    const fstype = l.split(' - ')[1]?.split(' ')[0] ?? '';
    return l.includes(dir) || ['overlay', 'fuse.fuse-overlayfs', 'devpts', 'mqueue'].includes(fstype);
  });
}

/** `pgrep -a -u <us>` lines whose command line contains every one of NEEDLES (other runs share this user). */
export async function ourProcesses(...needles: string[]): Promise<string[]> {
  const r = await runCommand('pgrep', ['-a', '-u', String(uid())], { timeoutMs: 10_000 });
  return r.stdout
    .split('\n')
    .filter(Boolean)
    .filter((l) => !/^\d+ pgrep /.test(l))
    .filter((l) => needles.every((n) => l.includes(n)));
}

/** Processes of a container started as `sh -c SCRIPT TAG` (not the lodger CLI whose arguments name TAG too). */
export async function containerShells(tag: string): Promise<string[]> {
  return (await ourProcesses(tag)).filter((l) => /^\d+ sh /.test(l) && l.endsWith(` ${tag}`));
}

/** fuse-overlayfs processes of ours serving a mount from STORE (found by their lowerdir/mountpoint paths). */
export async function fuseOverlayProcesses(storeRoot: string): Promise<string[]> {
  return (await ourProcesses(storeRoot)).filter((l) => /^\d+ (\S*\/)?fuse-overlayfs /.test(l));
}

/** Polls until FN returns a truthy value (returned), or throws after TIMEOUTMS with the last value described. */
export async function waitUntil<T>(what: string, fn: () => T | Promise<T>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T = await fn();
  while (!last) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, 50));
    last = await fn();
  }
  return last;
}

/** Entries of a directory, without dot-files lodger may use for staging; [] when it does not exist. */
export function entries(dir: string, withHidden = false): string[] {
  try {
    return fs.readdirSync(dir).filter((n) => withHidden || !n.startsWith('.')).sort();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}

/** The container ids `lodger ps -a -q --no-trunc` lists. */
export async function psAllIds(store: Store): Promise<string[]> {
  const r = await runLodgerOk(['ps', '-a', '-q', '--no-trunc'], { store });
  return r.stdout.split('\n').filter(Boolean);
}

/** Whether a process is alive (and not a zombie). */
export function alive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** A unique word to find a container's processes by (e.g. as `sh -c SCRIPT WORD`'s $0). */
export function marker(tag: string): string {
  return `lodgertest-${tag}-${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
}

/**
 * Runs `lodger ARGS` on a fresh pty (util-linux script(1)) whose size is set first with stty, the way a
 * user's terminal would be. script's stdin is a pipe kept open until lodger exits: at EOF script would
 * type an end-of-file into the terminal, which is not what a user at a terminal does.
 */
export async function runOnPty(args: string[], opts: { store: Store; rows: number; cols: number; input?: string; timeoutMs?: number }): Promise<LodgerResult> {
  const { cmd, args: pre } = lodgerCommand();
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const line = `stty rows ${opts.rows} cols ${opts.cols}; exec ${[cmd, ...pre, ...args].map(q).join(' ')}`;
  const child = spawn('script', ['-qec', line, '/dev/null'], { env: lodgerEnv({ store: opts.store }), stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  child.stdin.on('error', () => undefined);
  if (opts.input !== undefined) child.stdin.write(opts.input);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ }
  }, opts.timeoutMs ?? 30_000);
  const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => child.once('close', (c, s) => res({ code: c, signal: s })));
  clearTimeout(timer);
  child.stdin.destroy();
  return { code: code ?? 128 + (signal ? os.constants.signals[signal] : 0), signal, stdout, stderr, timedOut };
}

/** Asserts a CLI failure of lodger's own: exit 125 and a one-line "lodger: …" message matching RE. */
export function expectLodgerFailure(r: LodgerResult, re: RegExp): void {
  expect(r.code, `stdout: ${r.stdout}\nstderr: ${r.stderr}`).toBe(125);
  expect(r.stderr).toMatch(re);
  expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
}
