// Volume routes: lodger has no named volumes yet (the compatibility issue adds them), so the list is
// empty and every other call says so plainly.
import { param, sendJson } from '../context';
import { ApiError, notFound } from '../httpError';
import type { Route } from '../router';

const NO_VOLUMES = 'named volumes are not supported by lodger yet: use a bind mount (HostConfig.Binds "/host/dir:/path")';

export const volumeRoutes: Route[] = [
  { method: 'GET', path: '/volumes', handler: (ctx) => sendJson(ctx, 200, { Volumes: [], Warnings: [] }) },
  { method: 'POST', path: '/volumes/create', handler: () => { throw new ApiError(501, NO_VOLUMES); } },
  { method: 'GET', path: '/volumes/:name', handler: (ctx) => { throw notFound(`get ${param(ctx, 'name')}: no such volume`); } },
  { method: 'DELETE', path: '/volumes/:name', handler: (ctx) => { throw notFound(`get ${param(ctx, 'name')}: no such volume`); } },
  { method: 'POST', path: '/volumes/prune', handler: (ctx) => sendJson(ctx, 200, { VolumesDeleted: [], SpaceReclaimed: 0 }) },
];
