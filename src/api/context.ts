// One request as a handler sees it: path parameters, query, API version, body reading and the ways to answer
// (JSON, empty, a stream, or a hijacked raw connection after an HTTP upgrade).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { badRequest } from './httpError';

/** Request bodies larger than this are refused (a ContainerCreate body is a few KiB). */
export const JSON_BODY_LIMIT = 4 << 20;

export interface Ctx {
  req: IncomingMessage;
  /** Absent when the request asked to upgrade (Upgrade: tcp): then `upgrade` is set. */
  res?: ServerResponse;
  upgrade?: { socket: Duplex; head: Buffer };
  params: Record<string, string | undefined>;
  query: URLSearchParams;
  /** The API version the client asked for in its path prefix, or the newest we serve. */
  version: string;
}

export function param(ctx: Ctx, name: string): string {
  const v = ctx.params[name];
  if (v === undefined || v === '') throw badRequest(`missing path parameter ${name}`);
  return v;
}

/** Docker's booleans in a query: 1/true/yes are true, 0/false/no/absent false. */
export function boolQuery(ctx: Ctx, name: string, dflt = false): boolean {
  const v = ctx.query.get(name);
  if (v === null || v === '') return dflt;
  return !['0', 'false', 'no', 'False', 'FALSE'].includes(v);
}

export function intQuery(ctx: Ctx, name: string): number | undefined {
  const v = ctx.query.get(name);
  if (v === null || v === '') return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw badRequest(`invalid ${name}=${v}: not a number`);
  return Math.trunc(n);
}

/**
 * Docker's filters query: JSON of {key: [values]} or, from older clients, {key: {value: true}}
 * (moby api/types/filters FromJSON accepts both).
 */
export function filtersQuery(ctx: Ctx): Map<string, string[]> {
  const raw = ctx.query.get('filters');
  const out = new Map<string, string[]>();
  if (!raw) return out;
  let v: unknown;
  try { v = JSON.parse(raw); } catch { throw badRequest(`invalid filters: ${raw} is not JSON`); }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw badRequest('invalid filters: expected an object of lists');
  for (const [k, vals] of Object.entries(v as Record<string, unknown>)) {
    if (Array.isArray(vals)) out.set(k, vals.map(String));
    else if (vals && typeof vals === 'object') out.set(k, Object.entries(vals).filter(([, b]) => b).map(([s]) => s));
    else throw badRequest(`invalid filters: ${k} must be a list`);
  }
  return out;
}

/** The whole body, refused past LIMIT bytes (413) — read before anything is parsed. */
export async function readBody(ctx: Ctx, limit = JSON_BODY_LIMIT): Promise<Buffer> {
  if (ctx.upgrade) return upgradeBody(ctx, limit);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of ctx.req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > limit) {
      const { ApiError } = await import('./httpError');
      throw new ApiError(413, `request body larger than ${limit} bytes`);
    }
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}

/**
 * An upgrade request's body (exec start sends {"Detach","Tty"} with Upgrade: tcp): Node parses no body
 * for an upgrade, so it is the first Content-Length bytes after the headers — in HEAD, or still to
 * come on the socket. What follows it is the client's stdin and stays for the hijacked stream.
 */
async function upgradeBody(ctx: Ctx, limit: number): Promise<Buffer> {
  const u = ctx.upgrade!;
  const len = Number(ctx.req.headers['content-length'] ?? 0);
  if (!Number.isInteger(len) || len < 0) throw badRequest('invalid Content-Length');
  if (len > limit) {
    const { ApiError } = await import('./httpError');
    throw new ApiError(413, `request body larger than ${limit} bytes`);
  }
  let buf = u.head;
  while (buf.length < len) {
    const more = await new Promise<Buffer | null>((resolve) => {
      const onData = (b: Buffer) => { cleanup(); resolve(b); };
      const onEnd = () => { cleanup(); resolve(null); };
      const cleanup = () => { u.socket.off('data', onData); u.socket.off('end', onEnd); u.socket.off('close', onEnd); u.socket.pause(); };
      u.socket.on('data', onData); u.socket.once('end', onEnd); u.socket.once('close', onEnd);
      u.socket.resume();
    });
    if (!more) throw badRequest('request body ended early');
    buf = Buffer.concat([buf, more]);
  }
  u.head = buf.subarray(len);
  return buf.subarray(0, len);
}

/** A JSON object body (an empty body is {}); anything else is a 400. */
export async function readJson(ctx: Ctx): Promise<Record<string, unknown>> {
  const b = await readBody(ctx);
  if (b.length === 0) return {};
  let v: unknown;
  try { v = JSON.parse(b.toString('utf8')); } catch (e) { throw badRequest(`malformed JSON body: ${(e as Error).message}`); }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw badRequest('malformed JSON body: expected an object');
  return v as Record<string, unknown>;
}

function headers(ctx: Ctx): void {
  ctx.res!.setHeader('Api-Version', ctx.version);
  ctx.res!.setHeader('Docker-Experimental', 'false');
  ctx.res!.setHeader('Ostype', 'linux');
  ctx.res!.setHeader('Server', 'lodger');
}

export function sendJson(ctx: Ctx, status: number, body: unknown): void {
  if (!ctx.res) { // an upgrade request answered without upgrading
    const text = JSON.stringify(body);
    ctx.upgrade!.socket.end(`HTTP/1.1 ${status} ${status < 400 ? 'OK' : 'Error'}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`);
    return;
  }
  headers(ctx);
  const text = JSON.stringify(body);
  ctx.res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  ctx.res.end(text);
}

export function sendEmpty(ctx: Ctx, status: number): void {
  if (!ctx.res) { ctx.upgrade!.socket.end(`HTTP/1.1 ${status} No Content\r\nConnection: close\r\n\r\n`); return; }
  headers(ctx);
  ctx.res.writeHead(status);
  ctx.res.end();
}

export function sendText(ctx: Ctx, status: number, text: string, type = 'text/plain; charset=utf-8'): void {
  headers(ctx);
  ctx.res!.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(text) });
  ctx.res!.end(text);
}

/** Starts a streamed 200 answer of TYPE (JSON lines, a tar, a log) and returns where to write it. */
export function startStream(ctx: Ctx, type: string): ServerResponse {
  headers(ctx);
  ctx.res!.writeHead(200, { 'Content-Type': type });
  ctx.res!.flushHeaders();
  return ctx.res!;
}

/**
 * The raw connection for attach and exec start: after an `Upgrade: tcp` request, Docker answers 101
 * and both sides speak the raw stream on the socket (moby's hijack); a client that did not ask to
 * upgrade gets the same bytes as a 200 body.
 */
export function hijack(ctx: Ctx, tty: boolean): Duplex | ServerResponse {
  const type = tty ? 'application/vnd.docker.raw-stream' : 'application/vnd.docker.multiplexed-stream';
  if (ctx.upgrade) {
    const s = ctx.upgrade.socket;
    s.write(`HTTP/1.1 101 UPGRADED\r\nContent-Type: ${type}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nApi-Version: ${ctx.version}\r\n\r\n`);
    if (ctx.upgrade.head.length) s.unshift(ctx.upgrade.head);
    return s;
  }
  return startStream(ctx, type);
}
