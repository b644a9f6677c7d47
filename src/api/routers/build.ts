// POST /build (moby's router/build): the tar body and Docker's query parameters into the build engine
// (src/build/), its events out as Docker's JSON progress lines.
import { PassThrough, type Readable } from 'node:stream';
import * as zlib from 'node:zlib';
import type { BuildEvent, BuildInput } from '../../build/types';
import type { Backend } from '../backend';
import { boolQuery, sendJson, startStream, type Ctx } from '../context';
import { badRequest } from '../httpError';
import type { Route } from '../router';

/** A JSON object query parameter of strings (buildargs, labels); absent is {}. */
function jsonMap(ctx: Ctx, name: string): Record<string, string> {
  const raw = ctx.query.get(name);
  if (!raw) return {};
  let v: unknown;
  try { v = JSON.parse(raw); } catch { throw badRequest(`invalid ${name}: not JSON`); }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw badRequest(`invalid ${name}: expected an object`);
  return Object.fromEntries(Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== null).map(([k, x]) => [k, String(x)]));
}

/** The body as a tar: docker build sends it plain or gzip'ed (its --compress), as the first bytes tell. */
function tarBody(req: Readable): Readable {
  const out = new PassThrough();
  let first = true;
  let gunzip: zlib.Gunzip | undefined;
  req.on('data', (c: Buffer) => {
    if (first) {
      first = false;
      if (c[0] === 0x1f && c[1] === 0x8b) { gunzip = zlib.createGunzip(); gunzip.pipe(out); gunzip.on('error', (e) => out.destroy(e)); }
    }
    (gunzip ?? out).write(c);
  });
  req.on('end', () => (gunzip ?? out).end());
  req.on('error', (e) => out.destroy(e));
  return out;
}

export function buildInput(ctx: Ctx, context: Readable, signal: AbortSignal): BuildInput {
  const pullQ = ctx.query.get('pull');
  const net = ctx.query.get('networkmode') || 'default';
  if (!['default', 'none', 'host', 'bridge'].includes(net)) throw badRequest(`networkmode ${net}: lodger builds with default, none or host`);
  return {
    context: { tar: context },
    dockerfile: ctx.query.get('dockerfile') || undefined,
    tags: ctx.query.getAll('t').filter(Boolean),
    buildArgs: jsonMap(ctx, 'buildargs'),
    target: ctx.query.get('target') || undefined,
    noCache: boolQuery(ctx, 'nocache'),
    // Docker's pull=1 pulls the base images again; otherwise only missing ones.
    pull: pullQ && pullQ !== '0' && pullQ !== 'false' ? 'always' : 'missing',
    labels: jsonMap(ctx, 'labels'),
    secrets: [],
    network: net === 'bridge' ? 'default' : net as BuildInput['network'],
    platform: ctx.query.get('platform') || undefined,
    signal,
  };
}

async function build(ctx: Ctx, b: Backend): Promise<void> {
  const abort = new AbortController();
  const input = buildInput(ctx, tarBody(ctx.req), abort.signal);
  const quiet = boolQuery(ctx, 'q');
  const out = startStream(ctx, 'application/json');
  ctx.req.socket.once('close', () => abort.abort());
  const line = (o: unknown) => out.write(JSON.stringify(o) + '\n');
  let lastStage = -1;
  const render = (e: BuildEvent) => {
    if (quiet) return;
    switch (e.type) {
      case 'step':
        if (e.stage !== lastStage && lastStage !== -1) line({ stream: '\n' });
        lastStage = e.stage;
        line({ stream: `Step ${e.step}/${e.total} : ${e.text}\n` });
        if (e.cached) line({ stream: ' ---> Using cache\n' });
        break;
      case 'output': line({ stream: e.data.toString('utf8') }); break;
      case 'warning': line({ stream: `[WARNING]: ${e.message}\n` }); break;
      case 'pull': line({ status: `Pulling ${e.ref}` }); break;
      default:
    }
  };
  try {
    const res = await b.buildImage(input, render);
    line({ aux: { ID: res.imageId } });
    if (!quiet) {
      line({ stream: `Successfully built ${res.imageId.replace(/^sha256:/, '').slice(0, 12)}\n` });
      for (const n of input.tags) line({ stream: `Successfully tagged ${n.includes(':') ? n : `${n}:latest`}\n` });
    } else {
      line({ stream: `${res.imageId}\n` });
    }
  } catch (e) {
    const message = (e as Error).message;
    line({ errorDetail: { message }, error: message });
  }
  out.end();
}

export const buildRoutes: Route[] = [
  { method: 'POST', path: '/build', handler: build },
  { method: 'POST', path: '/build/prune', handler: (ctx) => sendJson(ctx, 200, { CachesDeleted: [], SpaceReclaimed: 0 }) },
];
