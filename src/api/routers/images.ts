// Image routes (moby's router/image). Names carry slashes and ports ("127.0.0.1:5000/team/app:1"), which a
// path parameter cannot hold: /images/* takes the rest and the last segment says which action it is.
import type { Backend, PullProgress } from '../backend';
import { boolQuery, filtersQuery, sendJson, startStream, type Ctx } from '../context';
import { badRequest, notFound } from '../httpError';
import type { Route } from '../router';

/** X-Registry-Auth: base64url JSON {username, password, serveraddress} (an empty "{}" means anonymous). */
export function registryAuth(ctx: Ctx): { username?: string; password?: string; serveraddress?: string } | undefined {
  const h = ctx.req.headers['x-registry-auth'];
  if (typeof h !== 'string' || !h) return undefined;
  try {
    const v = JSON.parse(Buffer.from(h.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8'));
    return v && typeof v === 'object' ? v : undefined;
  } catch {
    throw badRequest('invalid X-Registry-Auth header: not base64-encoded JSON');
  }
}

/**
 * Streams Docker's JSON progress lines for a pull or push; a failure after the 200 went out is one
 * more line, {"errorDetail": {"message"}, "error"}, which the docker CLI prints.
 */
async function progressStream(ctx: Ctx, run: (progress: (p: PullProgress) => void) => Promise<void>): Promise<void> {
  const out = startStream(ctx, 'application/json');
  try {
    await run((p) => out.write(JSON.stringify(p) + '\n'));
  } catch (e) {
    const message = (e as Error).message;
    out.write(JSON.stringify({ errorDetail: { message }, error: message }) + '\n');
  }
  out.end();
}

async function create(ctx: Ctx, b: Backend): Promise<void> {
  const from = ctx.query.get('fromImage');
  if (ctx.query.get('fromSrc')) throw new (await import('../httpError')).ApiError(501, 'image import (fromSrc) is not implemented by lodger\'s API service yet');
  if (!from) throw badRequest('fromImage is required');
  const tag = ctx.query.get('tag');
  // Docker puts the tag apart (fromImage=busybox&tag=latest) or a digest in it (tag=sha256:…).
  const ref = !tag ? from : tag.startsWith('sha256:') ? `${from}@${tag}` : `${from}:${tag}`;
  const platform = ctx.query.get('platform') || undefined;
  const auth = registryAuth(ctx);
  await progressStream(ctx, (progress) => b.pullImage(ref, { platform, auth }, progress));
}

async function byName(ctx: Ctx, b: Backend): Promise<void> {
  const rest = ctx.params['*'] ?? '';
  const method = ctx.req.method;
  const cut = rest.lastIndexOf('/');
  const action = cut < 0 ? '' : rest.slice(cut + 1);
  const name = decodeURIComponent(cut < 0 ? rest : rest.slice(0, cut));
  if (method === 'DELETE') {
    return sendJson(ctx, 200, await b.removeImage(decodeURIComponent(rest), boolQuery(ctx, 'force')));
  }
  if (method === 'GET' && action === 'json') return sendJson(ctx, 200, b.inspectImage(name));
  if (method === 'GET' && action === 'history') return sendJson(ctx, 200, b.imageHistory(name));
  if (method === 'GET' && action === 'get') {
    const out = startStream(ctx, 'application/x-tar');
    await b.saveImages([name], out);
    return void out.end();
  }
  if (method === 'POST' && action === 'tag') {
    await b.tagImage(name, ctx.query.get('repo') ?? '', ctx.query.get('tag') ?? '');
    return sendJson(ctx, 201, {});
  }
  if (method === 'POST' && action === 'push') {
    const tag = ctx.query.get('tag');
    const ref = tag ? `${name}:${tag}` : name;
    const auth = registryAuth(ctx);
    return progressStream(ctx, async (progress) => { await b.pushImage(ref, { auth }, progress); });
  }
  throw notFound(`page not found: ${method} /images/${rest}`);
}

async function save(ctx: Ctx, b: Backend): Promise<void> {
  const names = ctx.query.getAll('names');
  if (!names.length) throw badRequest('names is required');
  const out = startStream(ctx, 'application/x-tar');
  await b.saveImages(names, out);
  out.end();
}

export const imageRoutes: Route[] = [
  { method: 'GET', path: '/images/json', handler: (ctx, b) => sendJson(ctx, 200, b.listImages({ all: boolQuery(ctx, 'all'), filters: filtersQuery(ctx) })) },
  { method: 'POST', path: '/images/create', handler: create },
  { method: 'POST', path: '/images/prune', handler: async (ctx, b) => sendJson(ctx, 200, await b.pruneImages(false, filtersQuery(ctx))) },
  { method: 'GET', path: '/images/get', handler: save },
  { method: 'POST', path: '/images/load', handler: async (ctx, b) => {
    const names = await b.loadImages(ctx.req);
    // Docker streams JSON lines ("Loaded image: NAME") when quiet is not set; the CLI prints their stream.
    const out = startStream(ctx, 'application/json');
    for (const n of names) out.write(JSON.stringify({ stream: `Loaded image: ${n}\n` }) + '\n');
    out.end();
  } },
  { method: 'GET', path: '/images/*', handler: byName },
  { method: 'POST', path: '/images/*', handler: byName },
  { method: 'DELETE', path: '/images/*', handler: byName },
];
