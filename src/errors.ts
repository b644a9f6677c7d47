// Error types the CLI prints without a stack: each names the operation, the object and what to do.

/** Exit codes as Docker uses them. */
export const EXIT_LODGER_FAILED = 125;
export const EXIT_CANNOT_INVOKE = 126;
export const EXIT_NOT_FOUND = 127;

/**
 * A failure the user can act on. `code` is stable per domain (e.g. `IMAGE_NOT_FOUND`,
 * `IDMAP_FAILED`); `exitCode` is what the CLI exits with (125 unless the error is about
 * invoking the container's command).
 */
export class LodgerError extends Error {
  readonly code: string;
  readonly exitCode: number;
  constructor(code: string, message: string, exitCode: number = EXIT_LODGER_FAILED) {
    super(message);
    this.name = 'LodgerError';
    this.code = code;
    this.exitCode = exitCode;
  }
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
