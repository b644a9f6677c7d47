// Lifetimes of the detached network processes (slirp4netns, pasta, watchdogs): identity, liveness, termination, logs.
import { closeSync, openSync, readFileSync, statSync, readSync } from 'node:fs';

/** A pid plus its start time (proc(5), /proc/PID/stat field 22), so a reused pid is never signalled. */
export interface ProcessIdentity {
  pid: number;
  startTime: string;
}

interface StatFields {
  state: string;
  ppid: number;
  startTime: string;
}

function readStat(pid: number): StatFields | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // proc(5): "pid (comm) state ppid …"; comm may itself contain ") ", so split after the last one.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0], ppid: Number(fields[1]), startTime: fields[19] };
}

/** 'zombie' counts as gone for callers: the process has exited and only awaits its parent's wait(2). */
export function processState(pid: number): 'running' | 'zombie' | 'gone' {
  const stat = readStat(pid);
  if (!stat) return 'gone';
  return stat.state === 'Z' || stat.state === 'X' ? 'zombie' : 'running';
}

export function identify(pid: number): ProcessIdentity | null {
  const stat = readStat(pid);
  return stat ? { pid, startTime: stat.startTime } : null;
}

/** True while the very process identified is alive (not exited, not replaced by a reused pid). */
export function isAlive(id: ProcessIdentity): boolean {
  const stat = readStat(id.pid);
  return !!stat && stat.startTime === id.startTime && stat.state !== 'Z' && stat.state !== 'X';
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Waits until the process is gone (or a zombie); false on timeout. */
export async function waitForExit(id: ProcessIdentity, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let delay = 2;
  while (isAlive(id)) {
    if (Date.now() >= deadline) return false;
    await sleep(delay);
    delay = Math.min(delay * 2, 50);
  }
  return true;
}

/** SIGTERM, then SIGKILL after `graceMs`; a process already gone is fine. */
export async function terminate(id: ProcessIdentity, graceMs = 2000): Promise<void> {
  if (!isAlive(id)) return;
  try {
    process.kill(id.pid, 'SIGTERM');
  } catch {
    return; // ESRCH: it exited between the check and the signal
  }
  if (await waitForExit(id, graceMs)) return;
  try {
    process.kill(id.pid, 'SIGKILL');
  } catch {
    return;
  }
  await waitForExit(id, 2000);
}

/** Opens (creating, appending) a log file to become a detached process's stdout/stderr. */
export function openLog(path: string): number {
  return openSync(path, 'a', 0o600);
}

/** The last `maxBytes` of a log file, trimmed, for error messages ('' when absent). */
export function tailFile(path: string, maxBytes = 2048): string {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return '';
  }
  try {
    const size = statSync(path).size;
    const length = Math.min(size, maxBytes);
    const buf = Buffer.alloc(length);
    readSync(fd, buf, 0, length, size - length);
    return buf
      .toString('utf8')
      .split('\n')
      // Old pastas without /dev/log repeat this before every line; it hides the real message.
      .filter((l) => l.trim() && !l.startsWith('Failed to send'))
      .join('\n');
  } finally {
    closeSync(fd);
  }
}
