// Docker's error answers: one place turns a failure into {"message"} with the status Docker would use.
import { LodgerError } from '../errors';

/** A failure that already knows its HTTP status (bad query, unknown route, malformed body…). */
export class ApiError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
  }
}

export const badRequest = (message: string): ApiError => new ApiError(400, message);
export const notFound = (message: string): ApiError => new ApiError(404, message);
export const conflict = (message: string): ApiError => new ApiError(409, message);

/**
 * Engine error codes by the kind Docker's errdefs gives them (moby api/server/httpstatus): a client
 * branches on the status — the docker CLI pulls on a 404 from create, compose creates a network on a
 * 404 from its inspect — so the kinds matter more than the text.
 */
const CONFLICT = new Set(['NAME_IN_USE', 'NETWORK_NAME_IN_USE', 'NETWORK_EXISTS', 'NETWORK_IN_USE', 'NOT_RUNNING', 'PAUSED',
  'ALREADY_RUNNING', 'CONTAINER_RUNNING', 'IMAGE_IN_USE', 'CP_CONFLICT', 'RENAME_SAME', 'NETWORK_PORT_IN_USE', 'NETWORK_ADDRESS_IN_USE']);
const NOT_FOUND = new Set(['NO_SUCH_CONTAINER', 'IMAGE_NOT_FOUND', 'NETWORK_NOT_FOUND', 'NO_SUCH_USER', 'NO_SUCH_GROUP', 'CP_NO_SOURCE',
  'LAYER_MISSING', 'BLOB_MISSING', 'PLATFORM_NOT_FOUND', 'NETWORK_PORT_NOT_PUBLISHED', 'NO_SUCH_EXEC', 'NO_SUCH_VOLUME']);

/** The HTTP status of an engine error code. */
export function statusOfCode(code: string): number {
  if (NOT_FOUND.has(code) || code.endsWith('_NOT_FOUND')) return 404;
  if (CONFLICT.has(code) || code.endsWith('_IN_USE') || code.endsWith('_CONFLICT')) return 409;
  if (code.startsWith('BAD_') || code.endsWith('_INVALID') || code.endsWith('_USAGE') || code === 'NO_COMMAND' || code === 'REFERENCE_INVALID' || code === 'UNSUPPORTED_OPTION' || code === 'VOLUME_DRIVER' || code === 'VOLUME_OPTIONS') return 400;
  if (code === 'NOT_IMPLEMENTED') return 501;
  return 500;
}

/** Status and body for anything a handler threw; internal errors keep their message, never a stack. */
export function errorResponse(e: unknown): { status: number; body: { message: string } } {
  if (e instanceof ApiError) return { status: e.status, body: { message: e.message } };
  if (e instanceof LodgerError) return { status: statusOfCode(e.code), body: { message: e.message } };
  const err = e as NodeJS.ErrnoException;
  return { status: 500, body: { message: err?.message ? String(err.message) : String(e) } };
}
