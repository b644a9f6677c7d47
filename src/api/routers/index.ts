// Every route of the service, resource by resource.
import type { Route } from '../router';
import { buildRoutes } from './build';
import { containerRoutes } from './containers';
import { imageRoutes } from './images';
import { networkRoutes } from './networks';
import { systemRoutes } from './system';
import { volumeRoutes } from './volumes';

export const allRoutes: Route[] = [...systemRoutes, ...containerRoutes, ...imageRoutes, ...networkRoutes, ...volumeRoutes, ...buildRoutes];
