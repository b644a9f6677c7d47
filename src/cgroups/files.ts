// cgroupfs file I/O for the cgroups library: reads, single-write() writes, and polling a condition with a deadline.
import * as fs from 'node:fs';
import { fsError, LodgerError } from '../errors';

/** Reads a cgroupfs file; failures name the file and the operation. */
export function readCgroupFile(path: string, operation = 'read'): string {
  try {
    return fs.readFileSync(path, 'utf8');
  } catch (err) {
    throw fsError(operation, path, err);
  }
}

/**
 * Reads a cgroupfs file that exists only when its controller is enabled (memory.*, pids.*, io.*):
 * absence (ENOENT) is an answer, not an error.
 */
export function readOptionalCgroupFile(path: string): string | null {
  try {
    return fs.readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw fsError('read', path, err);
  }
}

/**
 * Writes `value` with one write(2) on an O_WRONLY descriptor. Not fs.writeFileSync's default flags:
 * O_CREAT would turn a missing interface file (controller not enabled) into EACCES instead of ENOENT,
 * and cgroup.kill is write-only (mode 0200), so O_RDWR would fail. The kernel parses each write(2)
 * as one request (cgroup-v2.rst "Conventions"), so the value must not be split.
 * Returns the errno code on failure so callers can turn EBUSY/ENOENT/EINVAL into their own message.
 */
export function tryWriteCgroupFile(path: string, value: string): NodeJS.ErrnoException | null {
  let fd = -1;
  try {
    fd = fs.openSync(path, fs.constants.O_WRONLY); // libuv adds O_CLOEXEC itself
    fs.writeSync(fd, value);
    return null;
  } catch (err) {
    return err as NodeJS.ErrnoException;
  } finally {
    if (fd >= 0) fs.closeSync(fd);
  }
}

/** True when we may write the file, as access(2) with W_OK says (cgroupfs honours plain mode bits). */
export function canWrite(path: string): boolean {
  try {
    fs.accessSync(path, fs.constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Calls `check` until it returns something other than undefined, backing off from 1 ms to 25 ms.
 * Polling rather than inotify on cgroup.events: the kernel does raise modify events there
 * (cgroup-v2.rst, cgroup.events: "a value change in this file generates a file modified event"),
 * but a watch adds an fd and a race between arming it and the first read, for waits of a few ms.
 */
export async function pollUntil<T>(check: () => T | undefined, timeoutMs: number, onTimeout: () => LodgerError): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let delay = 1;
  for (;;) {
    const v = check();
    if (v !== undefined) return v;
    if (Date.now() >= deadline) throw onTimeout();
    await sleep(Math.min(delay, Math.max(1, deadline - Date.now())));
    delay = Math.min(delay * 2, 25);
  }
}
