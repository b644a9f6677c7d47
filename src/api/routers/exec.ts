// Exec routes (moby's router/container exec half): start hijacks the connection like attach.
import type { Backend } from '../backend';
import { hijack, param, readJson, sendEmpty, sendJson, type Ctx } from '../context';
import { STDERR, STDOUT, streamWriter } from '../mux';
import type { Route } from '../router';

async function start(ctx: Ctx, b: Backend): Promise<void> {
  const id = param(ctx, 'id');
  const body = await readJson(ctx);
  const detach = body.Detach === true;
  const tty = typeof body.Tty === 'boolean' ? body.Tty : b.execTty(id);
  const abort = new AbortController();
  if (detach) {
    await b.startExec(id, { detach: true }, undefined, abort.signal);
    return sendEmpty(ctx, 200);
  }
  b.inspectExec(id);  // 404 before the upgrade
  const conn = hijack(ctx, tty);
  const sock = ctx.upgrade?.socket ?? ctx.req.socket;
  sock.once('close', () => abort.abort());
  sock.on('error', () => abort.abort());
  try {
    await b.startExec(id, { detach: false, tty }, {
      out: streamWriter(conn, STDOUT, !tty), err: streamWriter(conn, tty ? STDOUT : STDERR, !tty),
      input: ctx.upgrade?.socket,
    }, abort.signal);
  } finally {
    conn.end();
  }
}

export const execRoutes: Route[] = [
  { method: 'POST', path: '/exec/:id/start', handler: start },
  { method: 'GET', path: '/exec/:id/json', handler: (ctx, b) => sendJson(ctx, 200, b.inspectExec(param(ctx, 'id'))) },
  // The exec's pty keeps the size it was started with; a resize is accepted and not yet relayed.
  { method: 'POST', path: '/exec/:id/resize', handler: (ctx, b) => { b.inspectExec(param(ctx, 'id')); sendEmpty(ctx, 201); } },
];
