// Turning registry answers and network failures into LodgerErrors that say what happened and what to do.
//
// Error bodies follow distribution docs/spec/api.md "Errors": {"errors":[{"code","message","detail"}]}.
import { LodgerError } from '../../errors';
import { describeNetworkError, isTlsVerifyError } from './http';
import { TransportPlan } from './tls';

/** A registry failure; `transient` says whether trying again may help (the caller's retry loop reads it). */
export class RegistryError extends LodgerError {
  readonly status?: number;
  readonly transient: boolean;
  constructor(code: string, message: string, opts: { status?: number; transient?: boolean } = {}) {
    super(code, message);
    this.status = opts.status;
    this.transient = opts.transient ?? false;
  }
}

export interface RegistryErrorDetail { code: string; message: string }

/** Reads `errors[]` from a registry error body; tolerant of anything else. */
export function parseErrorBody(body: Buffer | undefined): RegistryErrorDetail[] {
  if (!body || body.length === 0) return [];
  try {
    const v = JSON.parse(body.toString('utf8')) as { errors?: unknown };
    if (!Array.isArray(v.errors)) return [];
    return v.errors
      .filter((e): e is Record<string, unknown> => typeof e === 'object' && e !== null)
      .map((e) => ({ code: String(e.code ?? ''), message: String(e.message ?? '') }));
  } catch {
    return [];
  }
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed',
  409: 'Conflict', 413: 'Payload Too Large', 416: 'Range Not Satisfiable', 429: 'Too Many Requests',
  500: 'Internal Server Error', 502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout',
};

export function statusLine(status: number): string {
  return `${status}${STATUS_TEXT[status] ? ` ${STATUS_TEXT[status]}` : ''}`;
}

export interface StatusContext {
  /** e.g. `pull 127.0.0.1:5000/x:latest`. */
  operation: string;
  /** Registry as users name it, for `lodger login <registry>`. */
  registry: string;
  /** 'manifest' | 'blob' | 'upload' | 'ping' | 'token': shapes the 404 message. */
  what: string;
  hadCredentials: boolean;
  /** For 403: the action the user attempted. */
  action: 'pull' | 'push';
}

/** The error for an unexpected HTTP status. */
export function statusError(status: number, body: Buffer | undefined, ctx: StatusContext): RegistryError {
  const details = parseErrorBody(body);
  const detailText = details.length ? ` (${details.map((d) => [d.code, d.message].filter(Boolean).join(': ')).join('; ')})` : '';
  const head = `${ctx.operation}: registry answered ${statusLine(status)}${detailText}`;
  if (status === 401) {
    return ctx.hadCredentials
      ? new RegistryError('AUTH_FAILED', `${head} — the stored credentials for ${ctx.registry} were refused; run "lodger login ${ctx.registry}" again`, { status })
      : new RegistryError('AUTH_REQUIRED', `${head} — run "lodger login ${ctx.registry}"`, { status });
  }
  if (status === 403) {
    return new RegistryError('ACCESS_DENIED', `${head} — your account may not ${ctx.action} this repository; check the name and your permissions${ctx.hadCredentials ? '' : `, or run "lodger login ${ctx.registry}"`}`, { status });
  }
  if (status === 404) {
    if (ctx.what === 'manifest') return new RegistryError('IMAGE_NOT_FOUND', `${head} — no such image or tag; check the name, tag and registry`, { status });
    if (ctx.what === 'blob') return new RegistryError('BLOB_NOT_FOUND', `${head} — the registry lost a blob its manifest names; push the image again`, { status });
    if (ctx.what === 'ping') return new RegistryError('NOT_A_REGISTRY', `${head} — this host does not serve the registry API at /v2/; check the host and port`, { status });
    return new RegistryError('REGISTRY_ERROR', `${head}`, { status });
  }
  if (status === 429) return new RegistryError('TOO_MANY_REQUESTS', `${head} — the registry is rate-limiting; wait and try again${ctx.hadCredentials ? '' : `, or log in ("lodger login ${ctx.registry}") for a higher limit`}`, { status, transient: true });
  if (status >= 500) return new RegistryError('REGISTRY_UNAVAILABLE', `${head} — the registry failed; try again later`, { status, transient: status !== 501 });
  if (status === 400 && details.some((d) => d.code === 'DIGEST_INVALID')) {
    return new RegistryError('DIGEST_MISMATCH', `${head} — the uploaded content does not match its digest; the local image may be corrupt`, { status });
  }
  if (status === 400 && details.some((d) => d.code === 'MANIFEST_BLOB_UNKNOWN' || d.code === 'BLOB_UNKNOWN')) {
    return new RegistryError('BLOB_NOT_FOUND', `${head} — a blob the manifest names is missing in the registry; push its layers first`, { status });
  }
  return new RegistryError('REGISTRY_ERROR', head, { status });
}

/** The error for a failed connection or TLS handshake. */
export function networkError(operation: string, host: string, err: unknown, plan?: TransportPlan): RegistryError {
  if (err instanceof LodgerError) return err instanceof RegistryError ? err : new RegistryError(err.code, err.message);
  const e = err as NodeJS.ErrnoException;
  if (isTlsVerifyError(err)) {
    const dirs = plan?.certDirsSearched.length ? plan.certDirsSearched.join(', ') : `~/.config/containers/certs.d/${host}`;
    return new RegistryError('TLS_VERIFY_FAILED',
      `${operation}: TLS certificate of ${host} is not trusted (${e.message}${e.code ? `, ${e.code}` : ''}) — put the registry's CA certificate in ${host}/ca.crt under a directory given with --cert-dir (looked in ${dirs}), or pass --tls-verify=false if you trust the network`);
  }
  if (e?.code && /^ERR_SSL_|^ERR_TLS_|^EPROTO$/.test(e.code)) {
    return new RegistryError('TLS_FAILED', `${operation}: TLS handshake with ${host} failed (${e.message}) — check the host and port; if it speaks plain HTTP, pass --tls-verify=false`);
  }
  const transient = ['ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ECONNREFUSED'].includes(e?.code ?? '') || e?.message === 'aborted';
  const hint = e?.code === 'ECONNREFUSED' ? 'is the registry running, and is the port right?'
    : e?.code === 'ENOTFOUND' ? 'check the registry host name'
      : 'check the network and try again';
  return new RegistryError('REGISTRY_UNREACHABLE', `${operation}: cannot reach ${host}: ${describeNetworkError(err)} — ${hint}`, { transient });
}
