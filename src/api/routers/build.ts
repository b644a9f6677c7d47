// The build route: POST /build waits for the build issue's engine (src/build/); until it is there it says so.
import { ApiError } from '../httpError';
import type { Route } from '../router';

export const buildRoutes: Route[] = [
  { method: 'POST', path: '/build', handler: () => { throw new ApiError(501, 'image build is not implemented by lodger\'s API service yet (it needs src/build/)'); } },
  { method: 'POST', path: '/build/prune', handler: (ctx) => import('../context').then(({ sendJson }) => sendJson(ctx, 200, { CachesDeleted: [], SpaceReclaimed: 0 })) },
];
