// Turns the helper's {step, path, errno, detail} records into LodgerErrors that say what failed and what to do.
import { EXIT_CANNOT_INVOKE, EXIT_NOT_FOUND, LodgerError, errnoText } from '../errors';
import type { HelperFailure } from './helperProcess';

export interface FailureContext { user?: string; what?: string }

export function helperFailureToError(f: HelperFailure, ctx: FailureContext = {}): LodgerError {
  const why = f.errno ? errnoText(f.errno) : '';
  const what = ctx.what ?? 'container';
  switch (f.step) {
    case 'newuidmap':
    case 'newgidmap':
      return new LodgerError('IDMAP_FAILED',
        `${f.step} failed for pid ${f.path}: ${f.detail} — ask an admin to add a range for "${ctx.user ?? 'you'}" to ` +
        `/etc/sub${f.step === 'newuidmap' ? 'uid' : 'gid'} (and check that ${f.step} is installed setuid, package "uidmap"), or run with --userns=single`);
    case 'unshare':
      return new LodgerError('USERNS_FAILED', `create the ${f.path} for the ${what}: ${why} — ${f.detail}`);
    case 'exec': {
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
    case 'mount':
      return new LodgerError('MOUNT_FAILED', `mount ${f.detail} on ${f.path} for the ${what}: ${why}` +
        (f.detail === 'overlay' ? ' — this kernel may not allow overlayfs in a user namespace; try --storage-driver fuse-overlayfs' : ''));
    case 'join-cgroup':
      return new LodgerError('CGROUP_FAILED', `place the ${what} in its cgroup ${f.path}: ${why} — run with --cgroups=disabled if this host does not delegate cgroups to you`);
    case 'open-namespace':
      return new LodgerError('NOT_RUNNING', `join the ${what}'s namespaces (${f.path}): ${why} — is the container still running?`, EXIT_CANNOT_INVOKE);
    default:
      return new LodgerError('HELPER_' + f.step.toUpperCase().replace(/-/g, '_'),
        `${f.step} ${f.path} for the ${what}: ${why}${f.detail ? ` (${f.detail})` : ''}`);
  }
}
