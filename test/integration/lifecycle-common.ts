// Shared by lifecycle.test.ts and cgroups-cli.test.ts: a busybox store, and host-side observers of processes and cgroups (/proc, cgroupfs) that look at containers from outside, as a user would.
import * as fs from 'node:fs';
import { expect, inject } from 'vitest';
import { makeStore, requirePrereq, requireSubids, runLodger, runLodgerOk, type LodgerResult, type Store } from '../helpers/cli';

/** Whether the busybox fixture and a subuid range are there (in CI their absence fails the file). */
export function lifecyclePrereqs(): boolean {
  return requirePrereq(inject('lodger').busybox, 'the busybox fixture (Debian busybox-static)') && requireSubids();
}

/** A fresh store with the busybox tarball imported as busybox:latest. */
export async function busyboxStore(prefix: string): Promise<Store> {
  const store = makeStore(prefix);
  await runLodgerOk(['import', inject('lodger').busybox!.tar, 'busybox:latest'], { store });
  return store;
}

/** For afterAll: every container of STORE removed (`rm -f`, so no monitor or cgroup stays), then the store. */
export async function dropStore(store: Store | undefined): Promise<void> {
  if (!store) return;
  const ids = (await runLodger(['ps', '-aq'], { store })).stdout.split('\n').filter(Boolean);
  if (ids.length) await runLodger(['rm', '-f', ...ids], { store });
  await store.cleanup();
}

/** `lodger ARGS` and `lodger ARGS` that must succeed, against STORE. */
export function cliFor(store: () => Store): { lodger: (args: string[]) => Promise<LodgerResult>; lodgerOk: (args: string[]) => Promise<LodgerResult> } {
  return {
    lodger: (args) => runLodger(args, { store: store() }),
    lodgerOk: (args) => runLodgerOk(args, { store: store() }),
  };
}

export interface ProcStat { state: string; ppid: number; pgrp: number; session: number }

/** Fields 3–6 of /proc/PID/stat (proc(5)), or null when the process is gone. */
export function procStat(pid: number): ProcStat | null {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: f[0], ppid: Number(f[1]), pgrp: Number(f[2]), session: Number(f[3]) };
}

/** A process that still runs: it exists and is not a zombie (a dead child nobody has reaped yet). */
export function alive(pid: number): boolean {
  const st = procStat(pid);
  return st !== null && st.state !== 'Z' && st.state !== 'X';
}

/** Polls COND every 25 ms until it holds; fails with WHAT after TIMEOUTMS. */
export async function waitUntil(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The cgroup v2 path of PID ("0::" line of /proc/PID/cgroup), e.g. /lodger.delegate/u/session, or null. */
export function cgroupOf(pid: number): string | null {
  try {
    const line = fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').find((l) => l.startsWith('0::'));
    return line ? line.slice(3) : null;
  } catch {
    return null;
  }
}

/** The container's State from `lodger inspect`. */
export async function inspectState(lodgerOk: (args: string[]) => Promise<LodgerResult>, name: string): Promise<{
  Status: string; Running: boolean; Paused: boolean; Pid: number; ExitCode: number; Error: string; OOMKilled: boolean; StartedAt: string; FinishedAt: string;
}> {
  const doc = JSON.parse((await lodgerOk(['inspect', name])).stdout) as Array<{ State: never }>;
  expect(doc).toHaveLength(1);
  return doc[0].State;
}

/** `lodger ps` names (running only, or all with -a), one per line. */
export async function psNames(lodgerOk: (args: string[]) => Promise<LodgerResult>, all = false): Promise<string[]> {
  return (await lodgerOk(['ps', ...(all ? ['-a'] : []), '--format', '{{.Names}}'])).stdout.split('\n').filter(Boolean);
}

/** VmRSS of PID in KiB (proc(5) /proc/PID/status). */
export function rssKiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]);
}

/**
 * Checks that PID is the native helper, not node. Its /proc/PID/exe cannot be read even by its owner: the
 * helper makes itself non-dumpable (PR_SET_DUMPABLE 0, against ptrace and /proc access from a container), so
 * the evidence is its name, its argv[0] (an ELF executable named lodger-helper) and its single thread (node
 * always runs several).
 */
export function expectNativeHelper(pid: number): void {
  expect(fs.readFileSync(`/proc/${pid}/comm`, 'utf8')).toBe('lodger-helper\n');
  const argv0 = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0];
  expect(argv0).toMatch(/(^|\/)lodger-helper$/);
  const head = Buffer.alloc(4);
  const fd = fs.openSync(argv0, 'r');
  try { fs.readSync(fd, head, 0, 4, 0); } finally { fs.closeSync(fd); }
  expect(head.toString('latin1')).toBe('\x7fELF');
  expect(fs.readFileSync(`/proc/${pid}/status`, 'utf8')).toMatch(/^Threads:\s+1$/m);
}
