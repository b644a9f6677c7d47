// The systemd route to a delegated cgroup: detect a user manager and build the `systemd-run --user --scope` command.
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

/**
 * The command that runs `argv` in a new transient scope of the user manager with Delegate=yes, so the
 * scope's cgroup is ours to subdivide (systemd.resource-control(5), Delegate=; systemd's
 * docs/CGROUP_DELEGATION.md). `--scope` keeps argv a child of the caller (stdio, exit status), unlike
 * a service; `--collect` frees the unit even when argv fails. Inside the scope discovery finds its own
 * cgroup writable and named `lodger-*.scope`, and uses placement "lodger-scope".
 */
export function delegatedScopeCommand(argv: readonly string[], opts: { unit: string; systemdRun?: string }): string[] {
  return [
    opts.systemdRun ?? 'systemd-run', '--user', '--scope', '--quiet', '--collect',
    `--unit=${opts.unit}`, '--property=Delegate=yes', '--', ...argv,
  ];
}
