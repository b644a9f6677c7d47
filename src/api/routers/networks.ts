// Network routes (moby's router/network): Docker's built-in names and lodger's user networks.
import type { Backend } from '../backend';
import { filtersQuery, param, readJson, sendEmpty, sendJson, type Ctx } from '../context';
import { ApiError } from '../httpError';
import type { Route } from '../router';

const notYet = (what: string) => () => { throw new ApiError(501, `${what} is not implemented by lodger's API service yet`); };

export const networkRoutes: Route[] = [
  { method: 'GET', path: '/networks', handler: (ctx, b) => sendJson(ctx, 200, b.listNetworks(filtersQuery(ctx))) },
  { method: 'GET', path: '/networks/:id', handler: (ctx, b) => sendJson(ctx, 200, b.inspectNetwork(param(ctx, 'id'))) },
  { method: 'POST', path: '/networks/create', handler: async (ctx: Ctx, b: Backend) => sendJson(ctx, 201, await b.createNetwork(await readJson(ctx))) },
  { method: 'DELETE', path: '/networks/:id', handler: async (ctx, b) => { await b.removeNetwork(param(ctx, 'id')); sendEmpty(ctx, 204); } },
  { method: 'POST', path: '/networks/:id/connect', handler: notYet('network connect') },
  { method: 'POST', path: '/networks/:id/disconnect', handler: notYet('network disconnect') },
  { method: 'POST', path: '/networks/prune', handler: notYet('network prune') },
];
