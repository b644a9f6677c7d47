// Error types the CLI prints without a stack: each names the operation, the object and what to do.

/** Exit codes as Docker uses them. */
export const EXIT_LODGER_FAILED = 125;
export const EXIT_CANNOT_INVOKE = 126;
export const EXIT_NOT_FOUND = 127;

/**
 * What kind of failure an error is, whatever its domain: each front door maps it once — the CLI to
 * Docker's exit codes and a one-line message, the API to Docker's HTTP statuses (HTTP_STATUS_OF_KIND).
 * - invalid: the request is wrong (a bad flag, reference, option value): fix the input.
 * - not-found: the object named does not exist (no such container, image, network, file).
 * - conflict: the object exists but is in a state that forbids this (name in use, container running or not).
 * - not-modified: nothing to do, the object is already so (Docker's 304 for start/stop).
 * - unauthorized: a registry refused our credentials, or wants some.
 * - unavailable: something this needs is missing or unreachable on this host (a tool, cgroups, a registry).
 * - internal: anything else — lodger or the system failed.
 */
export type ErrorKind = 'invalid' | 'not-found' | 'conflict' | 'not-modified' | 'unauthorized' | 'unavailable' | 'internal';

/** What an error carries besides its code and message; all optional (kind defaults from the code: kindOfCode). */
export interface ErrorDetails {
  kind?: ErrorKind;
  /** The CLI's exit status (125 unless the error is about invoking the container's command: 126/127). */
  exitCode?: number;
  /** The operation that failed ("create", "pull", "rm"…). */
  operation?: string;
  /** The object it failed on (a container name, an image reference, a path). */
  object?: string;
  /** What to do about it, when the message's own hint is not enough for a front door that shows it apart. */
  hint?: string;
}

/**
 * A failure the user can act on. `code` is stable per domain (e.g. `IMAGE_NOT_FOUND`,
 * `IDMAP_FAILED`); `kind` says what sort of failure it is for the front doors (see ErrorKind);
 * `exitCode` is what the CLI exits with (125 unless the error is about invoking the container's command).
 * The third argument is the exit code (the old form) or ErrorDetails.
 */
export class LodgerError extends Error {
  readonly code: string;
  readonly exitCode: number;
  readonly kind: ErrorKind;
  readonly operation?: string;
  readonly object?: string;
  readonly hint?: string;
  constructor(code: string, message: string, details: number | ErrorDetails = EXIT_LODGER_FAILED) {
    super(message);
    const d: ErrorDetails = typeof details === 'number' ? { exitCode: details } : details;
    this.name = 'LodgerError';
    this.code = code;
    this.exitCode = d.exitCode ?? EXIT_LODGER_FAILED;
    this.kind = d.kind ?? kindOfCode(code);
    if (d.operation !== undefined) this.operation = d.operation;
    if (d.object !== undefined) this.object = d.object;
    if (d.hint !== undefined) this.hint = d.hint;
  }
}

/**
 * The kind of each stable code whose kind is not the default: one table instead of a tag at every
 * throw site, so a code keeps one kind wherever it is thrown. Codes not listed are judged by their
 * shape (kindOfCode); anything else is internal.
 */
const KIND_OF_CODE: Record<string, ErrorKind> = {
  // not-found: the named object does not exist.
  NO_SUCH_CONTAINER: 'not-found', IMAGE_NOT_FOUND: 'not-found', NETWORK_NOT_FOUND: 'not-found', NO_SUCH_USER: 'not-found',
  NO_SUCH_GROUP: 'not-found', BLOB_NOT_FOUND: 'not-found', BLOB_UNKNOWN: 'not-found', MANIFEST_BLOB_UNKNOWN: 'not-found',
  PLATFORM_NOT_FOUND: 'not-found', DEVICE_NOT_FOUND: 'not-found', CDI_UNKNOWN_DEVICE: 'not-found', CDI_UNKNOWN_KIND: 'not-found',
  CP_NO_SOURCE: 'not-found', CP_ENOENT: 'not-found', FS_ENOENT: 'not-found', NO_LOG: 'not-found', NOT_LOGGED_IN: 'not-found',
  NETWORK_PORT_NOT_PUBLISHED: 'not-found', EXEC_NOT_FOUND: 'not-found',
  // conflict: it exists, in a state that forbids the operation.
  NAME_IN_USE: 'conflict', NETWORK_NAME_IN_USE: 'conflict', NETWORK_EXISTS: 'conflict', CONTAINER_RUNNING: 'conflict',
  IMAGE_IN_USE: 'conflict', NETWORK_IN_USE: 'conflict', NOT_RUNNING: 'conflict', PAUSED: 'conflict', CP_CONFLICT: 'conflict',
  IMAGE_READ_ONLY: 'conflict', CGROUP_EXISTS: 'conflict', CGROUP_BUSY: 'conflict', STORE_LOCKED: 'conflict',
  COMMIT_VFS: 'conflict', COMMIT_SQUASHFS: 'conflict', COMMIT_NO_IMAGE: 'conflict',
  VOLUME_IN_USE: 'conflict', CIDFILE_EXISTS: 'conflict', PLATFORM_MISMATCH: 'conflict',
  // not-modified: already so (Docker answers 304 to starting a started container or stopping a stopped one).
  ALREADY_RUNNING: 'not-modified',
  // invalid: the request itself is wrong.
  NO_COMMAND: 'invalid', AMBIGUOUS: 'invalid', NETWORK_AMBIGUOUS: 'invalid', RENAME_SAME: 'invalid', BIND_SOURCE: 'invalid', SAVE_TTY: 'invalid', EXPORT_TTY: 'invalid',
  CP_TTY: 'invalid', SAVE_SQUASHFS: 'invalid', SAVE_FORMAT: 'invalid', NOT_SQUASHFS: 'invalid', NOT_A_DEVICE: 'invalid',
  MANIFEST_SCHEMA1: 'invalid', REGISTRY_BLOCKED: 'invalid', KEEP_ID_OVERLAY: 'invalid', KEEP_ID_NETWORK_STORE: 'invalid',
  SQUASHFS_DRIVER: 'invalid', USER_NOT_MAPPED: 'invalid', CDI_CONFLICT: 'invalid', CDI_BAD_NAME: 'invalid', CGROUPS_DISABLED: 'invalid',
  VOLUME_DRIVER: 'invalid', VOLUME_OPTIONS: 'invalid', DUPLICATE_MOUNT: 'invalid', ULIMIT_ABOVE_HARD: 'invalid', SYSCTL_NOT_NAMESPACED: 'invalid', NS_MODE: 'invalid',
  // unauthorized: the registry wants (other) credentials.
  AUTH_FAILED: 'unauthorized', AUTH_REQUIRED: 'unauthorized', ACCESS_DENIED: 'unauthorized', LOGIN_INCOMPLETE: 'unauthorized',
  // unavailable: a tool, a host feature or a server this needs is not there.
  TOOL_MISSING: 'unavailable', NATIVE_MISSING: 'unavailable', NO_FUSE_OVERLAYFS: 'unavailable', NO_SQUASHFS_TOOLS: 'unavailable',
  NETWORK_TOOL_MISSING: 'unavailable', NETWORK_BACKEND_MISSING: 'unavailable', CGROUP_UNAVAILABLE: 'unavailable',
  CGROUP_CONTROLLER_UNAVAILABLE: 'unavailable', NO_CGROUP: 'unavailable', CDI_UNSUPPORTED: 'unavailable', KEEP_ID_NO_SUBIDS: 'unavailable',
  REGISTRY_UNREACHABLE: 'unavailable', REGISTRY_UNAVAILABLE: 'unavailable', REQUEST_TIMEOUT: 'unavailable', TOO_MANY_REQUESTS: 'unavailable',
  STORE_READONLY: 'unavailable', STORE_GONE: 'unavailable', NETWORK_PORT_IN_USE: 'unavailable', NETWORK_ADDRESS_EXHAUSTED: 'unavailable',
};

/**
 * The kind of an error CODE: the table above, else its shape — BAD_* and *_INVALID / *_USAGE are bad
 * input, *_NOT_FOUND missing objects — else internal.
 */
export function kindOfCode(code: string): ErrorKind {
  const k = KIND_OF_CODE[code];
  if (k) return k;
  if (/^BAD_|_INVALID$|_USAGE$/.test(code)) return 'invalid';
  if (/_NOT_FOUND$|^NO_SUCH_/.test(code)) return 'not-found';
  return 'internal';
}

/** The kind of any thrown value: a LodgerError's own, internal for everything else. */
export function kindOf(err: unknown): ErrorKind {
  return err instanceof LodgerError ? err.kind : 'internal';
}

/** Docker's HTTP status for each kind (as moby's errdefs maps its kinds: 400, 404, 409, 304, 401; the rest 500). */
export const HTTP_STATUS_OF_KIND: Readonly<Record<ErrorKind, number>> = {
  'invalid': 400, 'not-found': 404, 'conflict': 409, 'not-modified': 304, 'unauthorized': 401, 'unavailable': 500, 'internal': 500,
};

/** The HTTP status the API answers ERR with (500 for anything not a LodgerError). */
export function httpStatusOf(err: unknown): number {
  return HTTP_STATUS_OF_KIND[kindOf(err)];
}

const ERRNO_TEXT: Record<string, string> = {
  EPERM: 'operation not permitted', ENOENT: 'no such file or directory', ESRCH: 'no such process',
  EINTR: 'interrupted', EIO: 'input/output error', E2BIG: 'argument list too long', ENOEXEC: 'exec format error',
  EBADF: 'bad file descriptor', ECHILD: 'no child processes', EAGAIN: 'resource temporarily unavailable',
  ENOMEM: 'out of memory', EACCES: 'permission denied', EBUSY: 'device or resource busy', EEXIST: 'file exists',
  EXDEV: 'cross-device link', ENODEV: 'no such device', ENOTDIR: 'not a directory', EISDIR: 'is a directory',
  EINVAL: 'invalid argument', EMFILE: 'too many open files', ENOSPC: 'no space left on device', EROFS: 'read-only file system',
  ELOOP: 'too many levels of symbolic links', ENAMETOOLONG: 'file name too long', ENOSYS: 'function not implemented',
  ENOTEMPTY: 'directory not empty', EOPNOTSUPP: 'operation not supported', ENOTSUP: 'operation not supported',
  ECONNREFUSED: 'connection refused', ECONNRESET: 'connection reset', ETIMEDOUT: 'timed out', EADDRINUSE: 'address in use',
  ETXTBSY: 'text file busy', EDQUOT: 'disk quota exceeded', EUSERS: 'too many users',
};

/** Text for an errno number or name, as strerror(3) would say it, without loading the addon. */
export function errnoText(errno: number | string): string {
  let name = typeof errno === 'string' ? errno : '';
  if (typeof errno === 'number') {
    const os = require('node:os') as typeof import('node:os');
    const hit = Object.entries(os.constants.errno).find(([, v]) => v === errno);
    name = hit ? hit[0] : `errno ${errno}`;
  }
  const text = ERRNO_TEXT[name];
  return text ? `${text} (${name})` : name;
}

/** Wraps a Node fs/system error into a LodgerError that says what we were doing. */
export function fsError(operation: string, object: string, err: unknown, hint?: string): LodgerError {
  const e = err as NodeJS.ErrnoException;
  const what = e && e.code ? errnoText(e.code) : String((e && e.message) || err);
  return new LodgerError(
    'FS_' + ((e && e.code) || 'ERROR'),
    `${operation} ${object}: ${what}${hint ? ` — ${hint}` : ''}`,
  );
}
