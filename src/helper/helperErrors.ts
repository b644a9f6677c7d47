// Turns the helper's {step, path, errno, detail} records into LodgerErrors that say what failed and what to do.
import { EXIT_CANNOT_INVOKE, EXIT_NOT_FOUND, LodgerError, errnoText } from '../errors';
import { capabilityName } from './capabilityNames';
import type { HelperFailure } from './helperProcess';

export interface FailureContext { user?: string; what?: string }

export function helperFailureToError(f: HelperFailure, ctx: FailureContext = {}): LodgerError {
  const why = f.errno ? errnoText(f.errno) : '';
  const what = ctx.what ?? 'container';
  // The step names are steps.def's FAILURE entries: a case for a name the helper never reports does not compile.
  switch (f.step) {
    case 'newuidmap':
    case 'newgidmap':
      return new LodgerError('IDMAP_FAILED',
        `${f.step} failed for pid ${f.path}: ${f.detail} — ask an admin to add a range for "${ctx.user ?? 'you'}" to ` +
        `/etc/sub${f.step === 'newuidmap' ? 'uid' : 'gid'} (and check that ${f.step} is installed setuid, package "uidmap"), or run with --userns=single`);
    case 'setrlimit':
      return new LodgerError('ULIMIT_FAILED', `set --ulimit ${f.path} for the ${what}: ${why} — ${f.detail}`);
    case 'sysctl':
      return new LodgerError('SYSCTL_FAILED', `set --sysctl ${f.path} in the ${what}: ${why} — this kernel may not have it, or it is not the container's to set`);
    case 'unshare':
      return new LodgerError('USERNS_FAILED', `create the ${f.path} for the ${what}: ${why} — ${f.detail}`);
    case 'exec': {
      if (f.errno === 7) {
        // E2BIG from execve(2): the command and environment together exceed ARG_MAX (normally refused earlier, execLimits.ts).
        return new LodgerError('ARG_MAX', `exec "${f.path}" in the ${what}: ${why} — the command and its arguments plus the environment (-e, --env-file, the image's Env) exceed the kernel's limit ARG_MAX; shorten them or raise the stack limit (ulimit -s)`);
      }
      if (f.errno === 2 || f.errno === 20 || f.errno === 40) {
        return new LodgerError('EXEC_NOT_FOUND', `exec "${f.path}" in the ${what}: executable file not found in $PATH — check the command or the image's PATH`, EXIT_NOT_FOUND);
      }
      if (f.detail) return new LodgerError('EXEC_FAILED', `start the ${what}: ${f.detail}`);
      return new LodgerError('EXEC_FAILED', `exec "${f.path}" in the ${what}: ${why} — is it an executable for this machine?`, EXIT_CANNOT_INVOKE);
    }
    case 'chdir':
      return new LodgerError('CWD_FAILED', `set the working directory of the ${what} to ${f.path}: ${f.detail || why}`);
    case 'setuid':
    case 'setgid':
      return new LodgerError('USER_FAILED', `switch to the ${what}'s user: ${f.detail} — with a single-id mapping only root exists inside; get a subuid range or run as root (-u 0)`);
    case 'open-bind-source':
      return new LodgerError('BIND_SOURCE', `bind mount ${f.path} into the ${what}: ${why} — check that the path exists and is readable`);
    case 'fuse-overlayfs':
      return new LodgerError('MOUNT_FAILED', `mount the ${what}'s root filesystem with fuse-overlayfs at ${f.path}: ${f.detail || why} — check that /dev/fuse is usable (mode 0666) or use --storage-driver vfs`);
    case 'squashfuse':
      return new LodgerError('MOUNT_FAILED', `mount the ${what}'s squashfs image at ${f.path} with squashfuse_ll: ${f.detail || why} — check that squashfuse_ll is installed (Debian: apt install squashfuse), that /dev/fuse is usable (mode 0666) and that the image file is readable`);
    case 'mount':
      return new LodgerError('MOUNT_FAILED', `mount ${f.detail} on ${f.path} for the ${what}: ${why}` +
        (f.detail === 'overlay' ? ' — this kernel may not allow overlayfs in a user namespace; try --storage-driver fuse-overlayfs' : ''));
    case 'join-cgroup':
      return new LodgerError('CGROUP_FAILED', `place the ${what} in its cgroup ${f.path}: ${why} — run with --cgroups=disabled if this host does not delegate cgroups to you`);
    case 'open-namespace':
      return new LodgerError('NOT_RUNNING', `join the ${what}'s namespaces (${f.path}): ${why} — is the container still running?`, EXIT_CANNOT_INVOKE);
    case 'open-in-rootfs':
      // mounts.c resolves container paths with RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS (openat2(2)).
      return new LodgerError('ROOTFS_PATH', `set up ${f.path} in the ${what}'s root filesystem (as a mount point or the working directory): ${why} — ` +
        (f.errno === 40
          ? 'a path through /proc/*/fd, /proc/*/cwd or /proc/*/root leads outside the container and is refused; use a directory of the image'
          : 'symbolic links are followed only inside the image; the image may link this path to something it does not contain'));
    case 'mkdir':
      return new LodgerError('ROOTFS_PATH', `create the directory ${f.path} for the ${what} (as a mount point or the working directory): ${why}` +
        (/^\/(proc|sys)\//.test(f.path) ? " — /proc and /sys belong to the kernel: nothing can be created there, and they cannot hold the working directory; use a directory of the image" : ''));
    // caps.c and seccomp.c carry out what security.ts decided from --cap-add/--cap-drop/--privileged/--security-opt.
    case 'drop-capability':
    case 'raise-ambient-capability':
      return new LodgerError('CAPABILITIES_FAILED', `${f.step === 'drop-capability' ? 'drop' : 'raise'} ${capabilityName(Number(f.path))} for the ${what}: ${why} — check --cap-add/--cap-drop`);
    case 'get-capabilities':
    case 'set-capabilities':
    case 'keep-capabilities':
    case 'clear-ambient-capabilities':
      return new LodgerError('CAPABILITIES_FAILED', `set the capabilities of the ${what}'s process (${f.step}): ${why}${f.detail ? ` — ${f.detail}` : ''}`);
    case 'close-fds':
      // process.c: close_range(2) failed (Linux < 5.11) and the fds could not be marked from /proc/self/fd either.
      return new LodgerError('CLOSE_FDS_FAILED', `close lodger's file descriptors before starting the ${what}: ${f.detail}${why ? `: ${why}` : ''} — ` +
        `the command would inherit them, so it was not started; this needs Linux 5.11 or later, or the kernel's /proc mounted in the ${what}`);
    case 'no-new-privileges':
      return new LodgerError('SECURITY_FAILED', `set no_new_privs for the ${what}: ${why} — this kernel may be too old for --security-opt no-new-privileges`);
    case 'seccomp':
    case 'seccomp-rule':
      return new LodgerError('SECCOMP_FAILED', `load the seccomp filter of the ${what}${f.step === 'seccomp-rule' ? ` (rule for ${f.path})` : ''}: ${f.detail ? `${f.detail}: ` : ''}${why} — fix the profile given with --security-opt seccomp=FILE, or run with --security-opt seccomp=unconfined`);
    case 'read-plan':
    case 'parse-plan':
    case 'plan':
      // plan.c refused what plan.ts encoded: the two sides disagree about steps.def.
      return new LodgerError('PLAN_REFUSED', `the helper refused the plan for the ${what} (${f.path}: ${f.detail || why}) — lodger-helper and the CLI do not match; rebuild lodger (npm run build) and report it if it persists`);
    default:
      return new LodgerError('HELPER_' + f.step.toUpperCase().replace(/-/g, '_'),
        `${f.step} ${f.path} for the ${what}: ${why}${f.detail ? ` (${f.detail})` : ''}`);
  }
}
