// Build errors: one LodgerError subclass whose codes say which part of a build failed (stable, for the CLI and the API).
import { LodgerError, type ErrorKind } from '../errors';

export type BuildErrorCode =
  | 'BUILD_SYNTAX' | 'BUILD_UNKNOWN_INSTRUCTION' | 'BUILD_VARIABLE' | 'BUILD_NO_DOCKERFILE' | 'BUILD_NO_FROM'
  | 'BUILD_TARGET' | 'BUILD_STAGE' | 'BUILD_COPY_SOURCE' | 'BUILD_CONTEXT' | 'BUILD_RUN_FAILED' | 'BUILD_UNSUPPORTED'
  | 'BUILD_CANCELLED' | 'BUILD_FETCH' | 'BUILD_SECRET' | 'BUILD_USER';

/** A build that cannot be made as written is the caller's mistake (invalid); a fetch or a cancel is not. */
function kindOf(code: BuildErrorCode): ErrorKind {
  if (code === 'BUILD_FETCH' || code === 'BUILD_CANCELLED') return 'unavailable';
  return 'invalid';
}

export class BuildError extends LodgerError {
  constructor(code: BuildErrorCode, message: string, exitCode = 1) {
    super(code, message, { exitCode, kind: kindOf(code) });
  }
}

/** Prefixes an error thrown while handling an instruction with where it is: `Dockerfile:7: COPY …: `. */
export function atLine(file: string, line: number, text: string, e: unknown): Error {
  if (!(e instanceof LodgerError)) return e as Error;
  const where = `${file}:${line}: ${text.length > 60 ? text.slice(0, 57) + '...' : text}`;
  if (e.message.startsWith(where)) return e;
  return new BuildError(e.code as BuildErrorCode, `${where}: ${e.message}`, e.exitCode);
}
