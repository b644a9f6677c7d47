// The API versions served and the /v1.NN path prefix, handled once for every route (as moby's version middleware does).
import { badRequest } from './httpError';

export const MIN_API_VERSION = '1.24';
export const API_VERSION = '1.43';

function num(v: string): number {
  const [maj, min] = v.split('.').map(Number);
  return maj * 1000 + min;
}

export function versionAtLeast(v: string, than: string): boolean {
  return num(v) >= num(than);
}

/**
 * Splits "/v1.41/containers/json" into the version and the path the routes know; a path without a
 * prefix is served at the newest version. A version older than 1.24 is refused as Docker refuses it;
 * a newer one is served as ours (Docker would too for a client that negotiated down).
 */
export function splitVersion(pathname: string): { version: string; path: string } {
  const m = /^\/v(\d+\.\d+)(\/.*)?$/.exec(pathname);
  if (!m) return { version: API_VERSION, path: pathname };
  const v = m[1];
  if (!versionAtLeast(v, MIN_API_VERSION)) throw badRequest(`client version ${v} is too old. Minimum supported API version is ${MIN_API_VERSION}, please upgrade your client to a newer version`);
  return { version: versionAtLeast(v, API_VERSION) ? API_VERSION : v, path: m[2] ?? '/' };
}
