// Test prerequisites: in CI a missing one fails the test; elsewhere it lets the test be skipped with a note saying why.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { currentUid } from './paths';

/** True under CI (CI set to anything but "", "0" or "false"), where nothing may be skipped for want of a prerequisite. */
export function inCI(): boolean {
  const ci = process.env.CI;
  return ci !== undefined && ci !== '' && ci !== '0' && ci.toLowerCase() !== 'false';
}

const warned = new Set<string>();

/**
 * Returns true when `ok` holds. Otherwise throws in CI (so the test, or the file calling it at collection
 * time, fails) and returns false elsewhere, for `it.skipIf(!requirePrereq(...))` or an early return.
 */
export function requirePrereq(ok: unknown, message: string): boolean {
  if (ok) return true;
  if (inCI()) throw new Error(`missing test prerequisite (CI does not skip): ${message}`);
  if (!warned.has(message)) {
    warned.add(message);
    console.warn(`skipping: ${message}`);
  }
  return false;
}

// sbin directories are searched too: an unprivileged user's PATH often lacks them (debootstrap, ip live there).
const extraToolDirs = ['/usr/local/sbin', '/usr/sbin', '/sbin'];

/** The absolute path of an executable on PATH (or in the sbin directories), or null. */
export function toolPath(name: string): string | null {
  if (name.includes('/')) return isExecutable(name) ? name : null;
  const dirs = [...(process.env.PATH ?? '').split(':').filter(Boolean), ...extraToolDirs];
  for (const dir of dirs) {
    const candidate = path.join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return null;
}

function isExecutable(p: string): boolean {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

/** requirePrereq for a host program; the message points at the package list that provides it. */
export function requireTool(name: string): boolean {
  return requirePrereq(toolPath(name) !== null, `${name} is not installed (sudo scripts/setup-host.sh installs scripts/packages.txt)`);
}

export interface IdRange {
  start: number;
  count: number;
}

/** The first range /etc/subuid (or /etc/subgid) gives the current user, by name or uid, or null. */
export function subidRange(file: '/etc/subuid' | '/etc/subgid' = '/etc/subuid'): IdRange | null {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return null;
  }
  const uid = String(currentUid());
  const name = os.userInfo().username;
  for (const line of text.split('\n')) {
    const [who, start, count] = line.trim().split(':');
    if ((who === name || who === uid) && start !== undefined && count !== undefined) {
      const r = { start: Number(start), count: Number(count) };
      if (Number.isSafeInteger(r.start) && Number.isSafeInteger(r.count) && r.count > 0) return r;
    }
  }
  return null;
}

/** requirePrereq for a subuid and subgid range (multi-id containers need one; `lodgernosub` lacks it on purpose). */
export function requireSubids(): boolean {
  return requirePrereq(
    subidRange('/etc/subuid') !== null && subidRange('/etc/subgid') !== null,
    `user ${os.userInfo().username} has no range in /etc/subuid and /etc/subgid (sudo scripts/setup-host.sh --user NAME adds one)`,
  );
}

/**
 * The cgroup v2 directory delegated to the test user: $LODGER_TEST_CGROUP, which .ci/run exports, when we
 * may create children and move processes in it; otherwise null.
 */
export function delegatedCgroup(): string | null {
  const dir = process.env.LODGER_TEST_CGROUP;
  if (!dir) return null;
  try {
    fs.accessSync(dir, fs.constants.W_OK);
    fs.accessSync(path.join(dir, 'cgroup.procs'), fs.constants.W_OK);
    return dir;
  } catch {
    return null;
  }
}

/** requirePrereq for a delegated cgroup; returns its path, or null outside CI when there is none. */
export function requireDelegatedCgroup(): string | null {
  const dir = delegatedCgroup();
  requirePrereq(dir, 'no delegated cgroup v2 subtree: set LODGER_TEST_CGROUP to one you own (sudo bash .ci/run --host-only makes one)');
  return dir;
}

/** Integration and security tests run the CLI as an unprivileged user, never as root. */
export function assertUnprivileged(): void {
  if (currentUid() === 0) {
    throw new Error(
      'integration tests must run as an unprivileged user with a subuid range, not as root: ' +
        'e.g. runuser -u lodgertest -- npx vitest run test/integration',
    );
  }
}
