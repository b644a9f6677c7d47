// The systemd route to a delegated cgroup: detect a user manager and move lodger into a delegated scope of its own.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';

export interface UserSystemd {
  available: boolean;
  /** How we know: the private socket we found, or `systemctl --user`. */
  via?: string;
  /** Why not, in words fit for `lodger info`. */
  reason?: string;
}

/**
 * Whether a systemd user manager is running for us. The manager listens on
 * `$XDG_RUNTIME_DIR/systemd/private` (systemd(1), "Sockets and FIFOs"); its presence is enough and
 * costs one stat. Only when `probe` is set and the socket is absent do we ask `systemctl --user`
 * (it may reach the manager over the session bus instead), because spawning it costs tens of ms on
 * `run`'s path. On this project's CI host there is no user manager: the answer is a reason, not an error.
 */
export function detectUserSystemd(env: NodeJS.ProcessEnv = process.env, probe = false): UserSystemd {
  const runtime = env.XDG_RUNTIME_DIR;
  let reason: string;
  if (runtime) {
    const sock = path.join(runtime, 'systemd', 'private');
    try {
      if (fs.statSync(sock).isSocket()) return { available: true, via: sock };
      reason = `${sock} is not a socket`;
    } catch {
      reason = `no systemd user manager is listening on ${sock}`;
    }
  } else {
    reason = 'XDG_RUNTIME_DIR is not set, so there is no systemd user manager to ask';
  }
  if (probe) {
    const r = spawnSync('systemctl', ['--user', 'show-environment'], { env, stdio: 'ignore', timeout: 2000 });
    if (!r.error && r.status === 0) return { available: true, via: 'systemctl --user' };
  }
  return { available: false, reason };
}

/** Scope unit names lodger asks for; discovery recognises its own scopes by this shape. */
export function lodgerScopeUnit(id: string): string {
  return `lodger-${id}.scope`;
}

/** True for a cgroup directory that is one of lodger's own delegated scopes. */
export function isLodgerScope(cgroupDir: string): boolean {
  return /^lodger-[A-Za-z0-9_.-]+\.scope$/.test(path.basename(cgroupDir));
}

/** True for a cgroup that a systemd manager created for a unit: it owns it and may reorganise it. */
export function isSystemdUnitCgroup(cgroupDir: string): boolean {
  return /\.(slice|scope|service)$/.test(path.basename(cgroupDir));
}

/** The `busctl` arguments that ask the user manager for a transient scope holding `pid`, with Delegate=yes. */
export function scopeRequestArgs(unit: string, pid: number): string[] {
  // org.freedesktop.systemd1(5), StartTransientUnit(name, mode, properties a(sv), aux a(sa(sv))): a scope is
  // the one unit type that adopts running processes (PIDs). Delegate=yes makes its cgroup ours to subdivide
  // (systemd.resource-control(5)); CollectMode frees the unit once it is empty, even after a failure.
  return [
    '--user', 'call', 'org.freedesktop.systemd1', '/org/freedesktop/systemd1', 'org.freedesktop.systemd1.Manager',
    'StartTransientUnit', 'ssa(sv)a(sa(sv))', unit, 'fail',
    '4', 'PIDs', 'au', '1', String(pid), 'Delegate', 'b', 'true', 'CollectMode', 's', 'inactive-or-failed',
    'Description', 's', `lodger container scope ${unit}`, '0',
  ];
}

/** What asking for a scope came to: the cgroup we now live in, or why not (words for an error or `info`). */
export type ScopeResult = { ok: true; cgroup: string } | { ok: false; reason: string };

/**
 * Moves this process into a new delegated scope `unit` of the user manager, as podman moves itself into a
 * scope: systemd-run cannot adopt a running process, the D-Bus API can. The call returns once the job is
 * queued, so we wait until /proc/self/cgroup names the scope. A user manager that cannot move us itself
 * (our cgroup belongs to root, as a login session's does) asks the system manager to (systemd's
 * AttachProcessesToUnit), so this works from an ordinary terminal.
 */
export function moveSelfToDelegatedScope(unit: string, env: NodeJS.ProcessEnv = process.env, timeoutMs = 3000): ScopeResult {
  const r = spawnSync('busctl', scopeRequestArgs(unit, process.pid), { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
  if (r.error) {
    const code = (r.error as NodeJS.ErrnoException).code;
    return { ok: false, reason: code === 'ENOENT' ? 'busctl (package "systemd") is not installed, so lodger cannot ask the user manager for a scope' : `busctl: ${r.error.message}` };
  }
  if (r.status !== 0) return { ok: false, reason: `the user manager refused a delegated scope ${unit}: ${(r.stderr || r.stdout).trim() || `busctl exited ${r.status}`}` };
  const deadline = Date.now() + timeoutMs;
  const wait = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    const line = fs.readFileSync('/proc/self/cgroup', 'utf8').split('\n').find((l) => l.startsWith('0::'));
    const cgroup = line ? line.slice(3) : '';
    if (path.basename(cgroup) === unit) return { ok: true, cgroup };
    if (Date.now() > deadline) return { ok: false, reason: `the user manager accepted scope ${unit} but did not move lodger into it within ${timeoutMs} ms` };
    Atomics.wait(wait, 0, 0, 5);
  }
}
