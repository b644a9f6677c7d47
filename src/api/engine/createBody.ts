// The API's side of ContainerCreate: the container name's check, what clients send that the engine's
// body mapping (containers/createBody.ts, from the option declarations) does not take as is, and the aliases.
import { createOptionsFromDockerBody } from '../../containers/createBody';
import type { CreateOptions } from '../../containers/options';
import { badRequest } from '../httpError';

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => !!v && typeof v === 'object' && !Array.isArray(v);

/** Docker's container names (moby daemon/names: validContainerNamePattern). */
export const CONTAINER_NAME = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

/**
 * HostPort "0" is Docker's "any free port" as much as "" is (Testcontainers sends it); the engine's -p
 * syntax has only the empty form, so "0" becomes "".
 */
function normalizePortBindings(body: Obj): Obj {
  const hc = body.HostConfig;
  if (!isObj(hc) || !isObj(hc.PortBindings)) return body;
  const pb: Obj = {};
  for (const [k, list] of Object.entries(hc.PortBindings)) {
    pb[k] = Array.isArray(list) ? list.map((b) => (isObj(b) && (b.HostPort === '0' || b.HostPort === 0) ? { ...b, HostPort: '' } : b)) : list;
  }
  return { ...body, HostConfig: { ...hc, PortBindings: pb } };
}

/** The engine's create options from a ContainerCreate body and the ?name= and ?platform= query. */
export function createOptionsFromBody(name: string | undefined, body: Obj, platform?: string): CreateOptions {
  if (name !== undefined && !CONTAINER_NAME.test(name)) throw badRequest(`Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
  return createOptionsFromDockerBody(normalizePortBindings(body), { name: name?.replace(/^\//, ''), platform });
}

/** NetworkingConfig.EndpointsConfig[network].Aliases for the container's network (Compose: the service name). */
export function networkAliases(body: Obj, network: string): string[] {
  const nc = isObj(body.NetworkingConfig) ? body.NetworkingConfig : undefined;
  const eps = nc && isObj(nc.EndpointsConfig) ? nc.EndpointsConfig : {};
  const ep = eps[network];
  if (!isObj(ep) || !Array.isArray(ep.Aliases)) return [];
  return ep.Aliases.filter((a): a is string => typeof a === 'string' && /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(a));
}
