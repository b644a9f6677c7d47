// One HTTP(S) exchange over node:http/https with pooled keep-alive agents per TLS setting, bounded body reads, and classification of network and TLS errors.
import * as http from 'node:http';
import * as https from 'node:https';
import * as crypto from 'node:crypto';
import { Readable } from 'node:stream';
import { LodgerError } from '../../errors';
import { TlsSettings } from './tls';

export interface SendOptions {
  method: string;
  url: URL;
  headers: Record<string, string>;
  body?: Buffer | Readable;
  tls: TlsSettings;
  /** Socket idle timeout: no byte in either direction for this long fails the exchange. */
  timeoutMs: number;
}

const agents = new Map<string, http.Agent>();

function tlsKey(t: TlsSettings): string {
  const h = crypto.createHash('sha256');
  h.update(String(t.rejectUnauthorized));
  for (const c of t.ca ?? []) h.update(c);
  if (t.cert) h.update(t.cert);
  if (t.key) h.update(t.key);
  return h.digest('hex').slice(0, 16);
}

/** A keep-alive agent per scheme and TLS setting; idle sockets are unref'd by Node, so they never hold the process open. */
function agentFor(url: URL, t: TlsSettings): http.Agent {
  const key = url.protocol === 'https:' ? `https|${tlsKey(t)}` : 'http';
  let a = agents.get(key);
  if (!a) {
    a = url.protocol === 'https:'
      ? new https.Agent({ keepAlive: true, maxSockets: 8, rejectUnauthorized: t.rejectUnauthorized, ca: t.ca, cert: t.cert, key: t.key })
      : new http.Agent({ keepAlive: true, maxSockets: 8 });
    agents.set(key, a);
  }
  return a;
}

/** Closes pooled connections (tests, and a CLI that wants to exit promptly). */
export function destroyAgents(): void {
  for (const a of agents.values()) a.destroy();
  agents.clear();
}

/** Sends one request and resolves with the response head; the body is left for the caller to read or drain. */
export function send(opts: SendOptions): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const mod = opts.url.protocol === 'https:' ? https : http;
    const headers: Record<string, string> = { ...opts.headers };
    if (Buffer.isBuffer(opts.body)) headers['Content-Length'] = String(opts.body.length);
    const req = mod.request(opts.url, {
      method: opts.method,
      headers,
      agent: agentFor(opts.url, opts.tls),
      // Server name for SNI and verification comes from the URL; Node does not send SNI for IP literals.
    });
    let settled = false;
    req.setTimeout(opts.timeoutMs, () => {
      const e = new Error(`no data for ${Math.round(opts.timeoutMs / 1000)} s`) as NodeJS.ErrnoException;
      e.code = 'ETIMEDOUT';
      req.destroy(e);
    });
    req.on('response', (res) => {
      settled = true;
      resolve(res);
    });
    req.on('error', (err) => {
      if (!settled) { settled = true; reject(err); }
    });
    if (opts.body === undefined) req.end();
    else if (Buffer.isBuffer(opts.body)) req.end(opts.body);
    else {
      const body = opts.body;
      body.on('error', (err) => req.destroy(err));
      body.pipe(req);
    }
  });
}

/** Reads a whole body, refusing more than `limit` bytes (checked against Content-Length first, then while reading). */
export function readBody(res: http.IncomingMessage, limit: number, what: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(res.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      res.destroy();
      reject(new LodgerError('RESPONSE_TOO_LARGE', `${what}: the registry announced ${declared} bytes, more than the ${limit} allowed — refusing it`));
      return;
    }
    const chunks: Buffer[] = [];
    let n = 0;
    res.on('data', (c: Buffer) => {
      n += c.length;
      if (n > limit) {
        res.destroy();
        reject(new LodgerError('RESPONSE_TOO_LARGE', `${what}: the registry sent more than the ${limit} bytes allowed — refusing it`));
        return;
      }
      chunks.push(c);
    });
    res.on('end', () => resolve(Buffer.concat(chunks)));
    res.on('error', reject);
    res.on('aborted', () => reject(Object.assign(new Error('aborted'), { code: 'ECONNRESET' })));
  });
}

/**
 * Reads and discards a body so that the connection goes back to the pool. The body must be
 * consumed even when the message is already complete: until 'end' is emitted the agent keeps the
 * socket, and a handful of such sockets would stall every later request.
 */
export function drain(res: http.IncomingMessage): Promise<void> {
  return new Promise((resolve) => {
    if (res.readableEnded || res.destroyed) { resolve(); return; }
    // A body we do not want may be large (an error page, a blob): past 64 KiB, drop the connection instead.
    let n = 0;
    res.on('data', (c: Buffer) => { n += c.length; if (n > 65536) { res.destroy(); resolve(); } });
    res.once('end', () => resolve());
    res.once('error', () => resolve());
    res.once('close', () => resolve());
    res.resume();
  });
}

const TLS_VERIFY_CODES = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED', 'CERT_REJECTED', 'CERT_SIGNATURE_FAILURE', 'ERR_TLS_CERT_ALTNAME_INVALID', 'INVALID_CA',
]);

/** True when the TLS handshake failed on the server's certificate. */
export function isTlsVerifyError(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException)?.code;
  return !!code && TLS_VERIFY_CODES.has(code);
}

/** True when we spoke TLS to a server that answered in plain HTTP (so HTTP is worth a try). */
export function isPlainHttpServer(err: unknown): boolean {
  const e = err as NodeJS.ErrnoException;
  if (!e) return false;
  return e.code === 'ERR_SSL_WRONG_VERSION_NUMBER' || e.code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG'
    || e.code === 'ERR_SSL_HTTP_REQUEST' || /wrong version number|packet length too long|http request/i.test(e.message ?? '');
}

/** A short text for a network error: "connection refused (ECONNREFUSED)". */
export function describeNetworkError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const texts: Record<string, string> = {
    ECONNREFUSED: 'connection refused', ECONNRESET: 'connection reset', ETIMEDOUT: 'timed out', ENOTFOUND: 'host not found',
    EAI_AGAIN: 'name resolution failed temporarily', EHOSTUNREACH: 'host unreachable', ENETUNREACH: 'network unreachable', EPIPE: 'connection closed',
  };
  if (e?.code && texts[e.code]) return `${texts[e.code]} (${e.code})`;
  return e?.code ? `${e.message} (${e.code})` : String(e?.message ?? err);
}
