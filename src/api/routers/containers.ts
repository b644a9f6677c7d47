// Container routes (moby's router/container): parse the query and body, call the backend, encode Docker's answer.
import * as fs from 'node:fs';
import { pipeline } from 'node:stream/promises';
import type { Backend, WaitCondition } from '../backend';
import { boolQuery, filtersQuery, hijack, intQuery, param, readJson, sendEmpty, sendJson, startStream, type Ctx } from '../context';
import { badRequest } from '../httpError';
import { STDERR, STDOUT, streamWriter } from '../mux';
import type { Route } from '../router';

async function create(ctx: Ctx, b: Backend): Promise<void> {
  const body = await readJson(ctx);
  const name = ctx.query.get('name') || undefined;
  sendJson(ctx, 201, await b.createContainer(name, body));
}

function list(ctx: Ctx, b: Backend): void {
  sendJson(ctx, 200, b.listContainers({ all: boolQuery(ctx, 'all'), limit: intQuery(ctx, 'limit'), size: boolQuery(ctx, 'size'), filters: filtersQuery(ctx) }));
}

async function wait(ctx: Ctx, b: Backend): Promise<void> {
  const cond = (ctx.query.get('condition') || 'not-running') as WaitCondition;
  if (!['not-running', 'next-exit', 'removed'].includes(cond)) throw badRequest(`invalid condition ${cond}: use not-running, next-exit or removed`);
  const id = param(ctx, 'id');
  b.inspectContainer(id);  // 404 before the 200 is sent
  // Docker sends the header at once and the body at the exit: clients (docker run) wait on it before start.
  const out = startStream(ctx, 'application/json');
  const abort = new AbortController();
  ctx.req.socket.once('close', () => abort.abort());
  try {
    out.end(JSON.stringify(await b.waitContainer(id, cond, abort.signal)) + '\n');
  } catch (e) {
    if (!abort.signal.aborted) out.end(JSON.stringify({ StatusCode: -1, Error: { Message: (e as Error).message } }) + '\n');
  }
}

/** attach: the raw (TTY) or multiplexed stream, on the upgraded connection, until the container's run ends. */
async function attach(ctx: Ctx, b: Backend): Promise<void> {
  const id = param(ctx, 'id');
  const tty = b.containerTty(id);
  const o = {
    stdin: boolQuery(ctx, 'stdin'), stdout: boolQuery(ctx, 'stdout'), stderr: boolQuery(ctx, 'stderr'),
    logs: boolQuery(ctx, 'logs'), stream: boolQuery(ctx, 'stream'),
  };
  const conn = hijack(ctx, tty);
  const abort = new AbortController();
  const sock = ctx.upgrade?.socket ?? ctx.req.socket;
  sock.once('close', () => abort.abort());
  sock.on('error', () => abort.abort());
  try {
    await b.attachContainer(id, o, {
      out: streamWriter(conn, STDOUT, !tty), err: streamWriter(conn, tty ? STDOUT : STDERR, !tty),
      input: ctx.upgrade && o.stdin ? ctx.upgrade.socket : undefined,
    }, abort.signal);
  } finally {
    conn.end();
  }
}

async function logs(ctx: Ctx, b: Backend): Promise<void> {
  const id = param(ctx, 'id');
  const tty = b.containerTty(id);
  const stdout = boolQuery(ctx, 'stdout'), stderr = boolQuery(ctx, 'stderr');
  if (!stdout && !stderr) throw badRequest('Bad parameters: you must choose at least one stream');
  const tailRaw = ctx.query.get('tail');
  const tail = tailRaw === null || tailRaw === '' || tailRaw === 'all' ? undefined : Number(tailRaw);
  if (tail !== undefined && !Number.isInteger(tail)) throw badRequest(`invalid tail=${tailRaw}`);
  const since = Number(ctx.query.get('since') ?? 0) || undefined;
  const until = Number(ctx.query.get('until') ?? 0) || undefined;
  const out = startStream(ctx, tty ? 'application/vnd.docker.raw-stream' : 'application/vnd.docker.multiplexed-stream');
  const abort = new AbortController();
  ctx.req.socket.once('close', () => abort.abort());
  await b.containerLogs(id, { follow: boolQuery(ctx, 'follow'), stdout, stderr, since, until, tail, timestamps: boolQuery(ctx, 'timestamps') },
    { out: streamWriter(out, STDOUT, !tty), err: streamWriter(out, tty ? STDOUT : STDERR, !tty) }, abort.signal);
  out.end();
}

async function remove(ctx: Ctx, b: Backend): Promise<void> {
  await b.removeContainer(param(ctx, 'id'), boolQuery(ctx, 'force'));
  sendEmpty(ctx, 204);
}

/** A stopped container's stop or a running one's start answers 304, as Docker does. */
async function start(ctx: Ctx, b: Backend): Promise<void> {
  const r = await b.startContainer(param(ctx, 'id'));
  sendEmpty(ctx, r === 'already' ? 304 : 204);
}

async function stop(ctx: Ctx, b: Backend): Promise<void> {
  const r = await b.stopContainer(param(ctx, 'id'), intQuery(ctx, 't'));
  sendEmpty(ctx, r === 'already' ? 304 : 204);
}

async function top(ctx: Ctx, b: Backend): Promise<void> {
  const ps = (ctx.query.get('ps_args') || '').split(/\s+/).filter(Boolean);
  sendJson(ctx, 200, b.topContainer(param(ctx, 'id'), ps));
}

/** stats: one sample (stream=false) or one per second until the client goes away. */
async function stats(ctx: Ctx, b: Backend): Promise<void> {
  const id = param(ctx, 'id');
  const first = await b.containerStats(id);
  if (!boolQuery(ctx, 'stream', true) || boolQuery(ctx, 'one-shot')) return sendJson(ctx, 200, first);
  const out = startStream(ctx, 'application/json');
  let open = true;
  ctx.req.socket.once('close', () => { open = false; });
  out.write(JSON.stringify(first) + '\n');
  while (open) {
    await new Promise((r) => setTimeout(r, 1000));
    if (!open) break;
    try { out.write(JSON.stringify(await b.containerStats(id)) + '\n'); } catch { break; }
  }
  out.end();
}

async function prune(ctx: Ctx, b: Backend): Promise<void> {
  sendJson(ctx, 200, await b.pruneContainers(filtersQuery(ctx)));
}

/** docker cp out (GET) and its stat (HEAD): the stat travels base64 JSON in X-Docker-Container-Path-Stat. */
async function archiveGet(ctx: Ctx, b: Backend): Promise<void> {
  const a = await b.archiveOut(param(ctx, 'id'), ctx.query.get('path'));
  try {
    ctx.res!.setHeader('X-Docker-Container-Path-Stat', Buffer.from(JSON.stringify(a.stat)).toString('base64'));
    if (ctx.req.method === 'HEAD') return sendEmpty(ctx, 200);
    const out = startStream(ctx, 'application/x-tar');
    await pipeline(fs.createReadStream(a.file), out);
  } finally {
    a.done();
  }
}


export const containerRoutes: Route[] = [
  { method: 'POST', path: '/containers/create', handler: create },
  { method: 'GET', path: '/containers/json', handler: list },
  { method: 'POST', path: '/containers/prune', handler: prune },
  { method: 'GET', path: '/containers/:id/json', handler: (ctx, b) => sendJson(ctx, 200, b.inspectContainer(param(ctx, 'id'))) },
  { method: 'POST', path: '/containers/:id/start', handler: start },
  { method: 'POST', path: '/containers/:id/stop', handler: stop },
  { method: 'POST', path: '/containers/:id/restart', handler: async (ctx, b) => { await b.restartContainer(param(ctx, 'id'), intQuery(ctx, 't')); sendEmpty(ctx, 204); } },
  { method: 'POST', path: '/containers/:id/kill', handler: async (ctx, b) => { await b.killContainer(param(ctx, 'id'), ctx.query.get('signal') || 'SIGKILL'); sendEmpty(ctx, 204); } },
  { method: 'POST', path: '/containers/:id/pause', handler: async (ctx, b) => { await b.pauseContainer(param(ctx, 'id'), true); sendEmpty(ctx, 204); } },
  { method: 'POST', path: '/containers/:id/unpause', handler: async (ctx, b) => { await b.pauseContainer(param(ctx, 'id'), false); sendEmpty(ctx, 204); } },
  { method: 'POST', path: '/containers/:id/rename', handler: async (ctx, b) => {
    const name = ctx.query.get('name');
    if (!name) throw badRequest('rename: name is required');
    await b.renameContainer(param(ctx, 'id'), name);
    sendEmpty(ctx, 204);
  } },
  { method: 'POST', path: '/containers/:id/wait', handler: wait },
  { method: 'POST', path: '/containers/:id/exec', handler: async (ctx, b) => sendJson(ctx, 201, b.createExec(param(ctx, 'id'), await readJson(ctx))) },
  { method: 'POST', path: '/containers/:id/attach', handler: attach },
  { method: 'GET', path: '/containers/:id/logs', handler: logs },
  { method: 'GET', path: '/containers/:id/top', handler: top },
  { method: 'GET', path: '/containers/:id/stats', handler: stats },
  // The monitor keeps the size its pty was given at start; a resize is accepted and not yet relayed.
  { method: 'POST', path: '/containers/:id/resize', handler: async (ctx, b) => {
    const h = intQuery(ctx, 'h'), w = intQuery(ctx, 'w');
    if (h === undefined || w === undefined || h < 0 || w < 0 || h > 65535 || w > 65535) throw badRequest('resize: h and w must be given, 0-65535');
    await b.resizeContainer(param(ctx, 'id'), h, w);
    sendEmpty(ctx, 200);
  } },
  { method: 'DELETE', path: '/containers/:id', handler: remove },
  { method: 'GET', path: '/containers/:id/export', handler: async (ctx, b) => {
    b.inspectContainer(param(ctx, 'id'));  // 404 before the 200
    const out = startStream(ctx, 'application/x-tar');
    await b.exportContainer(param(ctx, 'id'), out);
    out.end();
  } },
  { method: 'GET', path: '/containers/:id/archive', handler: archiveGet },
  { method: 'HEAD', path: '/containers/:id/archive', handler: archiveGet },
  { method: 'PUT', path: '/containers/:id/archive', handler: async (ctx, b) => { await b.archiveIn(param(ctx, 'id'), ctx.query.get('path'), ctx.req); sendEmpty(ctx, 200); } },
];

