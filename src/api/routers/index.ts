// Every route of the service, resource by resource.
import type { Route } from '../router';
import { buildRoutes } from './build';
import { containerRoutes } from './containers';
import { execRoutes } from './exec';
import { imageRoutes } from './images';
import { networkRoutes } from './networks';
import { systemRoutes } from './system';
import { volumeRoutes } from './volumes';

export const allRoutes: Route[] = [...systemRoutes, ...containerRoutes, ...execRoutes, ...imageRoutes, ...networkRoutes, ...volumeRoutes, ...buildRoutes];
