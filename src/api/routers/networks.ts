// Network routes (moby's router/network): Docker's built-in names and lodger's user networks.
import type { Backend } from '../backend';
import { filtersQuery, param, readJson, sendEmpty, sendJson, type Ctx } from '../context';
import { ApiError, badRequest } from '../httpError';
import type { Route } from '../router';

const notYet = (what: string) => () => { throw new ApiError(501, `${what} is not implemented by lodger's API service yet`); };

async function connect(ctx: Ctx, b: Backend): Promise<void> {
  const body = await readJson(ctx);
  if (typeof body.Container !== 'string' || !body.Container) throw badRequest('Container is required');
  const ep = (body.EndpointConfig && typeof body.EndpointConfig === 'object' ? body.EndpointConfig : {}) as { Aliases?: unknown };
  const aliases = Array.isArray(ep.Aliases) ? ep.Aliases.filter((a): a is string => typeof a === 'string' && /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(a)) : [];
  await b.connectNetwork(param(ctx, 'id'), body.Container, aliases);
  sendEmpty(ctx, 200);
}

export const networkRoutes: Route[] = [
  { method: 'GET', path: '/networks', handler: (ctx, b) => sendJson(ctx, 200, b.listNetworks(filtersQuery(ctx))) },
  { method: 'GET', path: '/networks/:id', handler: (ctx, b) => sendJson(ctx, 200, b.inspectNetwork(param(ctx, 'id'))) },
  { method: 'POST', path: '/networks/create', handler: async (ctx: Ctx, b: Backend) => sendJson(ctx, 201, await b.createNetwork(await readJson(ctx))) },
  { method: 'DELETE', path: '/networks/:id', handler: async (ctx, b) => { await b.removeNetwork(param(ctx, 'id')); sendEmpty(ctx, 204); } },
  { method: 'POST', path: '/networks/:id/connect', handler: connect },
  { method: 'POST', path: '/networks/:id/disconnect', handler: async (ctx, b) => {
    const body = await readJson(ctx);
    if (typeof body.Container !== 'string' || !body.Container) throw badRequest('Container is required');
    await b.disconnectNetwork(param(ctx, 'id'), body.Container);
    sendEmpty(ctx, 200);
  } },
  { method: 'POST', path: '/networks/prune', handler: notYet('network prune') },
];
