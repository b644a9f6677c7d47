// System routes: _ping, version, info, events, system/df, auth — thin handlers over the backend.
import { filtersQuery, readJson, sendJson, sendText, startStream, type Ctx } from '../context';
import type { ApiEvent } from '../backend';
import type { Route } from '../router';

function ping(ctx: Ctx): void {
  const res = ctx.res!;
  res.setHeader('Cache-Control', 'no-cache, no-store, must-revalidate');
  res.setHeader('Pragma', 'no-cache');
  res.setHeader('Builder-Version', '1');
  if (ctx.req.method === 'HEAD') {
    res.setHeader('Api-Version', ctx.version);
    res.setHeader('Ostype', 'linux');
    res.setHeader('Content-Type', 'text/plain; charset=utf-8');
    res.setHeader('Content-Length', '0');
    res.writeHead(200);
    res.end();
    return;
  }
  sendText(ctx, 200, 'OK');
}

/** Docker's events filters: type, event/action, container (id or name), image, label. */
function matchEvent(e: ApiEvent, f: Map<string, string[]>): boolean {
  for (const [k, vs] of f) {
    if (!vs.length) continue;
    const a = e.Actor.Attributes;
    const ok = vs.some((v) => {
      switch (k) {
        case 'type': return e.Type === v;
        case 'event': case 'action': return e.Action === v || e.Action.startsWith(v + ':');
        case 'container': return e.Type === 'container' && (e.Actor.ID.startsWith(v) || a.name === v);
        case 'image': return a.image === v || e.from === v;
        case 'label': { const i = v.indexOf('='); return i < 0 ? Object.hasOwn(a, v) : a[v.slice(0, i)] === v.slice(i + 1); }
        default: return true;
      }
    });
    if (!ok) return false;
  }
  return true;
}

/**
 * A stream of JSON events until the client goes away (or `until` passes). Events are what this
 * service does; containers changed by the CLI meanwhile are not reported (no daemon sees them).
 */
async function events(ctx: Ctx, b: import('../backend').Backend): Promise<void> {
  const f = filtersQuery(ctx);
  const until = Number(ctx.query.get('until') ?? 0);
  const out = startStream(ctx, 'application/json');
  await new Promise<void>((resolve) => {
    const off = b.subscribe((e) => { if (matchEvent(e, f)) out.write(JSON.stringify(e) + '\n'); });
    const end = () => { off(); clearTimeout(timer); resolve(); };
    const timer = until > 0 ? setTimeout(() => { out.end(); end(); }, Math.max(0, until * 1000 - Date.now())) : undefined;
    ctx.req.socket.once('close', end);
  });
}

export const systemRoutes: Route[] = [
  { method: 'GET', path: '/_ping', handler: ping },
  { method: 'HEAD', path: '/_ping', handler: ping },
  { method: 'GET', path: '/version', handler: (ctx, b) => sendJson(ctx, 200, b.version()) },
  { method: 'GET', path: '/info', handler: async (ctx, b) => sendJson(ctx, 200, await b.info()) },
  { method: 'GET', path: '/system/df', handler: async (ctx, b) => sendJson(ctx, 200, await b.df()) },
  { method: 'GET', path: '/events', handler: events },
  // Checked against the registry and not stored: Docker's clients keep their credentials and send them
  // with each pull and push (X-Registry-Auth).
  { method: 'POST', path: '/auth', handler: async (ctx, b) => {
    const body = await readJson(ctx);
    const { badRequest } = await import('../httpError');
    if (typeof body.username !== 'string' || typeof body.password !== 'string') throw badRequest('auth: username and password are required');
    await b.checkAuth(typeof body.serveraddress === 'string' ? body.serveraddress : '', body.username, body.password);
    sendJson(ctx, 200, { Status: 'Login Succeeded', IdentityToken: '' });
  } },
];
