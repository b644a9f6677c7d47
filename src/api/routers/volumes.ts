// Volume routes (moby's router/volume): named volumes of the store (src/volumes/), as `lodger volume` has them.
import type { Backend } from '../backend';
import { boolQuery, filtersQuery, param, readJson, sendEmpty, sendJson, type Ctx } from '../context';
import { badRequest } from '../httpError';
import type { Route } from '../router';

/** Docker's filters query as the volume engine's KEY=VALUE list. */
function filterSpecs(ctx: Ctx): string[] {
  return [...filtersQuery(ctx)].flatMap(([k, vs]) => vs.map((v) => `${k}=${v}`));
}

async function create(ctx: Ctx, b: Backend): Promise<void> {
  const body = await readJson(ctx);
  const str = (v: unknown, f: string) => { if (v !== undefined && v !== null && typeof v !== 'string') throw badRequest(`invalid ${f}: expected a string`); return (v as string | undefined) || undefined; };
  const map = (v: unknown, f: string) => {
    if (v === undefined || v === null) return {};
    if (typeof v !== 'object' || Array.isArray(v) || !Object.values(v).every((x) => typeof x === 'string')) throw badRequest(`invalid ${f}: expected an object of strings`);
    return v as Record<string, string>;
  };
  sendJson(ctx, 201, await b.createVolume(str(body.Name, 'Name'), { driver: str(body.Driver, 'Driver'), labels: map(body.Labels, 'Labels'), options: map(body.DriverOpts, 'DriverOpts') }));
}

export const volumeRoutes: Route[] = [
  { method: 'GET', path: '/volumes', handler: (ctx, b) => sendJson(ctx, 200, { Volumes: b.listVolumes(filterSpecs(ctx)), Warnings: [] }) },
  { method: 'POST', path: '/volumes/create', handler: create },
  { method: 'POST', path: '/volumes/prune', handler: async (ctx, b) => sendJson(ctx, 200, await b.pruneVolumes(filterSpecs(ctx))) },
  { method: 'GET', path: '/volumes/:name', handler: (ctx, b) => sendJson(ctx, 200, b.inspectVolume(param(ctx, 'name'))) },
  { method: 'DELETE', path: '/volumes/:name', handler: async (ctx, b) => { await b.removeVolume(param(ctx, 'name'), boolQuery(ctx, 'force')); sendEmpty(ctx, 204); } },
];
