// The route table: find-my-way matches method and path (after the version prefix is split off) and the
// matched handler runs with its parameters; a handler's throw becomes Docker's error answer here, once.
import FindMyWay from 'find-my-way';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Backend } from './backend';
import type { Ctx } from './context';
import { sendJson } from './context';
import { errorResponse, notFound } from './httpError';
import { splitVersion, API_VERSION } from './version';

export type Handler = (ctx: Ctx, b: Backend) => Promise<void> | void;
export type Method = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE';
export interface Route { method: Method; path: string; handler: Handler }

export interface Router {
  /** Serves one request (REQ/RES) or one upgrade request (REQ/SOCKET). */
  dispatch(req: IncomingMessage, out: { res: ServerResponse } | { socket: Duplex; head: Buffer }): Promise<void>;
  /** Resolves when every handler still running has returned (for a clean stop). */
  idle(): Promise<void>;
  active(): number;
}

export function createRouter(routes: Route[], backend: Backend): Router {
  // Image names carry slashes ("127.0.0.1:5000/team/app:1"): their routes end in a wildcard (images.ts).
  const fmw = FindMyWay({ ignoreTrailingSlash: true, ignoreDuplicateSlashes: true, caseSensitive: true, maxParamLength: 1024 });
  const handlers = new Map<string, Handler>();
  for (const r of routes) {
    const key = `${r.method} ${r.path}`;
    handlers.set(key, r.handler);
    fmw.on(r.method, r.path, () => undefined, { key });
  }
  let running = 0;
  let waiters: Array<() => void> = [];
  const done = () => {
    running--;
    if (running === 0) { const w = waiters; waiters = []; w.forEach((f) => f()); }
  };
  return {
    active: () => running,
    idle: () => (running === 0 ? Promise.resolve() : new Promise((r) => waiters.push(r))),
    async dispatch(req, out) {
      running++;
      const url = new URL(req.url ?? '/', 'http://lodger');
      const ctx: Ctx = {
        req, params: {}, query: url.searchParams, version: API_VERSION,
        ...('res' in out ? { res: out.res } : { upgrade: out }),
      };
      try {
        const { version, path } = splitVersion(url.pathname);
        ctx.version = version;
        const found = fmw.find(req.method as Method, path);
        if (!found) throw notFound(`page not found: ${req.method} ${url.pathname}`);
        ctx.params = found.params as Record<string, string>;
        const handler = handlers.get((found.store as { key: string }).key)!;
        await handler(ctx, backend);
      } catch (e) {
        const { status, body } = errorResponse(e);
        if (ctx.res?.headersSent || ctx.res?.writableEnded) ctx.res.destroy();
        else sendJson(ctx, status, body);
      } finally {
        done();
      }
    },
  };
}
