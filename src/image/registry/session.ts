// A conversation with one registry host: scheme discovery (the /v2/ ping), authentication (Basic, Bearer tokens per scope), retries with backoff, and redirects.
//
// Request flow (distribution docs/spec/api.md "API Version Check", docs/spec/auth/token.md):
// GET /v2/ once to learn the scheme and the auth challenge; then every request carries the
// Authorization the challenge asks for (token fetched per scope set and cached); a 401 refreshes
// the challenge and token once. Redirects (blob storage on another host) are followed without the
// Authorization header when they leave the registry's host, as Docker does, so a token never
// reaches a third party.
import * as http from 'node:http';
import { Readable } from 'node:stream';
import { LodgerError } from '../../errors';
import {
  Challenge, Credentials, TokenCache, basicHeader, parseTokenResponse, parseWwwAuthenticate, pickChallenge,
  refreshTokenForm, scopesFor, tokenUrl,
} from './auth';
import { CredentialOptions, lookupCredentials } from './credentials';
import { RegistryError, networkError, statusError } from './errors';
import { drain, isPlainHttpServer, readBody, send } from './http';
import { DEFAULT_RETRY, RetryPolicy, backoffDelay, isTransientNetworkError, isTransientStatus, sleep } from './retry';
import { TlsSettings, TransportPlan, isLoopbackHost, planTransport } from './tls';

export interface SessionOptions extends CredentialOptions {
  /** --tls-verify. Undefined: verify, except that loopback hosts may speak plain HTTP. */
  tlsVerify?: boolean;
  /** --cert-dir. */
  certDir?: string;
  /** registries.conf `insecure` for this host. */
  insecure?: boolean;
  /** Use these instead of looking in auth files (e.g. --creds, or `login`'s verification). */
  credentials?: Credentials;
  /** Never look up stored credentials (anonymous access only). */
  anonymous?: boolean;
  retry?: Partial<RetryPolicy>;
  userAgent?: string;
  /** Socket idle timeout in ms (default 60 s). */
  timeoutMs?: number;
}

export interface RequestSpec {
  method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** A path on the registry (`/v2/…`) or an absolute URL (a Location the registry gave us). */
  url: string | URL;
  headers?: Record<string, string>;
  /** A Buffer, or a factory giving a fresh stream per attempt. */
  body?: Buffer | (() => Readable);
  /** Token scopes this request needs, e.g. `repository:library/alpine:pull`. */
  scopes: string[];
  /** Stats label, e.g. `GET manifest`. */
  kind: string;
  /** Message prefix, e.g. `pull 127.0.0.1:5000/x:latest`. */
  operation: string;
  what: 'manifest' | 'blob' | 'upload' | 'ping';
  action: 'pull' | 'push';
  /** Retry transient failures (default true). Uploads that moved server state say false and retry as a whole. */
  retry?: boolean;
  /** Follow 3xx redirects (default: for GET and HEAD). */
  followRedirects?: boolean;
}

export interface SessionStats {
  /** Requests sent, by kind (`GET manifest`, `HEAD blob`, `POST upload`, `PUT upload`, `GET token`…). */
  requests: Record<string, number>;
  retries: number;
  bytesDownloaded: number;
  bytesUploaded: number;
}

const MAX_REDIRECTS = 5;
const DOCKER_HUB_API = 'registry-1.docker.io';

/** The API host for a registry name: Docker Hub's is registry-1.docker.io. */
export function apiHostFor(registry: string): string {
  return registry === 'docker.io' ? DOCKER_HUB_API : registry;
}

export class RegistrySession {
  /** The registry as users name it (docker.io, 127.0.0.1:5000): for credentials and messages. */
  readonly registry: string;
  /** Where requests go (registry-1.docker.io for docker.io). */
  readonly apiHost: string;
  readonly stats: SessionStats = { requests: {}, retries: 0, bytesDownloaded: 0, bytesUploaded: 0 };
  readonly retryPolicy: RetryPolicy;
  private readonly opts: SessionOptions;
  private plan?: TransportPlan;
  private scheme?: 'https' | 'http';
  private discovering?: Promise<void>;
  private challenge?: Challenge;
  private readonly tokens = new TokenCache();
  private credsPromise?: Promise<Credentials | undefined>;
  private readonly otherHostTls = new Map<string, TlsSettings>();

  constructor(registry: string, opts: SessionOptions = {}) {
    this.registry = registry;
    this.apiHost = apiHostFor(registry);
    this.opts = opts;
    this.retryPolicy = { ...DEFAULT_RETRY, ...(opts.retry ?? {}) };
  }

  /** The scheme in use once the endpoint is known (after the first request). */
  get currentScheme(): 'https' | 'http' | undefined {
    return this.scheme;
  }

  count(kind: string): void {
    this.stats.requests[kind] = (this.stats.requests[kind] ?? 0) + 1;
  }

  transportPlan(): TransportPlan {
    if (!this.plan) this.plan = planTransport(this.apiHost, { tlsVerify: this.opts.tlsVerify, certDir: this.opts.certDir, insecure: this.opts.insecure, home: this.opts.home });
    return this.plan;
  }

  /** Credentials given, or found in auth files (looked up once, lazily: anonymous pulls never run a credential helper). */
  credentials(repository?: string): Promise<Credentials | undefined> {
    if (this.opts.anonymous) return Promise.resolve(undefined);
    if (this.opts.credentials) return Promise.resolve(this.opts.credentials);
    if (!this.credsPromise) this.credsPromise = lookupCredentials(this.registry, repository, { authFile: this.opts.authFile, home: this.opts.home });
    return this.credsPromise;
  }

  private userAgent(): string {
    return this.opts.userAgent ?? 'lodger/0.1';
  }

  private tlsFor(url: URL): TlsSettings {
    if (url.host === this.apiHost || url.host === this.baseUrl().host) return this.transportPlan().tls;
    let t = this.otherHostTls.get(url.host);
    if (!t) {
      // Blob storage we are redirected to: verified with the system CAs plus its certs.d entry, if any.
      t = planTransport(url.host, { certDir: this.opts.certDir, home: this.opts.home, tlsVerify: this.opts.tlsVerify === false ? false : true }).tls;
      this.otherHostTls.set(url.host, t);
    }
    return t;
  }

  private baseUrl(): URL {
    return new URL(`${this.scheme ?? 'https'}://${this.apiHost}/`);
  }

  /** Resolves `/v2/...` or a Location against the registry. */
  resolve(url: string | URL): URL {
    return url instanceof URL ? url : new URL(url, this.baseUrl());
  }

  private isRegistryHost(url: URL): boolean {
    return url.host === this.baseUrl().host;
  }

  /** GET /v2/ once: picks the scheme (HTTPS, or HTTP where allowed and the server does not speak TLS) and learns the auth challenge. */
  async ensureEndpoint(operation: string): Promise<void> {
    if (this.scheme) return;
    if (!this.discovering) {
      this.discovering = this.discover(operation);
      this.discovering.catch(() => { this.discovering = undefined; });
    }
    await this.discovering;
  }

  private async discover(operation: string): Promise<void> {
    const plan = this.transportPlan();
    for (let i = 0; i < plan.schemes.length; i++) {
      const scheme = plan.schemes[i];
      const url = new URL(`${scheme}://${this.apiHost}/v2/`);
      for (let attempt = 1; ; attempt++) {
        let res: http.IncomingMessage;
        try {
          res = await send({ method: 'GET', url, headers: { 'User-Agent': this.userAgent() }, tls: plan.tls, timeoutMs: this.timeout() });
          this.count('GET /v2/');
        } catch (e) {
          if (scheme === 'https' && i + 1 < plan.schemes.length && (isPlainHttpServer(e) || (!plan.tls.rejectUnauthorized && isHandshakeFailure(e)))) break;
          if (attempt < this.retryPolicy.attempts && isTransientNetworkError(e) && (e as NodeJS.ErrnoException).code !== 'ECONNREFUSED') {
            this.stats.retries++;
            await sleep(backoffDelay(this.retryPolicy, attempt));
            continue;
          }
          throw networkError(operation, this.apiHost, e, plan);
        }
        if (isTransientStatus(res.statusCode ?? 0) && attempt < this.retryPolicy.attempts) {
          await drain(res);
          this.stats.retries++;
          await sleep(backoffDelay(this.retryPolicy, attempt, header(res, 'retry-after')));
          continue;
        }
        this.scheme = scheme;
        if (res.statusCode === 401) {
          const ch = pickChallenge(parseWwwAuthenticate(res.headers['www-authenticate']));
          if (ch) this.challenge = ch;
        }
        await drain(res);
        return;
      }
    }
    throw new RegistryError('REGISTRY_UNREACHABLE', `${operation}: ${this.apiHost} speaks neither HTTPS nor HTTP as a registry — check the host and port`);
  }

  private timeout(): number {
    return this.opts.timeoutMs ?? 60_000;
  }

  /** The Authorization header for `scopes` under the current challenge, fetching a token if needed. */
  private async authorization(scopes: string[], operation: string, repository?: string): Promise<string | undefined> {
    const ch = this.challenge;
    if (!ch) return undefined;
    if (ch.scheme === 'basic') {
      const c = await this.credentials(repository);
      return c && (c.username || c.password) ? basicHeader(c) : undefined;
    }
    const cached = this.tokens.get(ch, scopes);
    if (cached) return `Bearer ${cached}`;
    const token = await this.fetchToken(ch, scopes, operation, repository);
    return `Bearer ${token}`;
  }

  private async fetchToken(ch: Challenge, scopes: string[], operation: string, repository?: string): Promise<string> {
    let url: URL;
    try {
      url = tokenUrl(ch, scopes);
    } catch {
      throw new RegistryError('AUTH_FAILED', `${operation}: the registry's token realm ${JSON.stringify(ch.params.realm)} is not a valid URL — the registry is misconfigured`);
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      throw new RegistryError('AUTH_FAILED', `${operation}: the registry's token realm ${url.href} is not http(s) — the registry is misconfigured`);
    }
    const creds = await this.credentials(repository);
    if (creds && url.protocol === 'http:' && !isLoopbackHost(url.host) && this.scheme === 'https') {
      throw new RegistryError('AUTH_FAILED', `${operation}: the registry sends credentials to a plain-HTTP token service ${url.origin} — refusing to leak them; ask the registry's operator to fix its realm`);
    }
    const headers: Record<string, string> = { 'User-Agent': this.userAgent(), Accept: 'application/json' };
    let method: 'GET' | 'POST' = 'GET';
    let body: Buffer | undefined;
    if (creds?.identityToken) {
      method = 'POST';
      headers['Content-Type'] = 'application/x-www-form-urlencoded';
      body = Buffer.from(refreshTokenForm(ch, scopes, creds.identityToken));
      url = new URL(ch.params.realm);
    } else if (creds) {
      headers.Authorization = basicHeader(creds);
    }
    let res: http.IncomingMessage;
    for (let attempt = 1; ; attempt++) {
      try {
        res = await send({ method, url, headers, body, tls: this.tlsFor(url), timeoutMs: this.timeout() });
        this.count('GET token');
      } catch (e) {
        if (attempt < this.retryPolicy.attempts && isTransientNetworkError(e)) {
          this.stats.retries++;
          await sleep(backoffDelay(this.retryPolicy, attempt));
          continue;
        }
        throw networkError(`${operation}: get a token from ${url.host}`, url.host, e);
      }
      if (isTransientStatus(res.statusCode ?? 0) && attempt < this.retryPolicy.attempts) {
        await drain(res);
        this.stats.retries++;
        await sleep(backoffDelay(this.retryPolicy, attempt, header(res, 'retry-after')));
        continue;
      }
      break;
    }
    const status = res.statusCode ?? 0;
    const text = await readBody(res, 1 << 20, `${operation}: read token`).catch(() => Buffer.alloc(0));
    if (status === 401 || status === 403) {
      throw creds
        ? new RegistryError('AUTH_FAILED', `${operation}: the token service ${url.host} refused the credentials for ${this.registry} (${status}) — run "lodger login ${this.registry}" with the right username and password`, { status })
        : new RegistryError('AUTH_REQUIRED', `${operation}: the token service ${url.host} refused anonymous access (${status}) — run "lodger login ${this.registry}"`, { status });
    }
    if (status !== 200) {
      throw new RegistryError('AUTH_FAILED', `${operation}: the token service ${url.host} answered ${status}${isTransientStatus(status) ? ' — try again later' : ''}`, { status, transient: isTransientStatus(status) });
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text.toString('utf8'));
    } catch {
      parsed = undefined;
    }
    const token = parseTokenResponse(parsed);
    if (!token) throw new RegistryError('AUTH_FAILED', `${operation}: the token service ${url.host} answered without a token — the registry's auth is misconfigured`);
    this.tokens.set(ch, scopes, token);
    return token.token;
  }

  /**
   * Sends a request with auth, retries and redirects. Resolves with the final response, whatever
   * its status (except transient ones, retried until the policy gives up); 401 after re-auth throws.
   */
  async request(spec: RequestSpec, repository?: string): Promise<http.IncomingMessage> {
    await this.ensureEndpoint(spec.operation);
    const attempts = spec.retry === false ? 1 : this.retryPolicy.attempts;
    for (let attempt = 1; ; attempt++) {
      let res: http.IncomingMessage;
      try {
        res = await this.exchange(spec, repository);
      } catch (e) {
        const transient = e instanceof RegistryError ? e.transient : !(e instanceof LodgerError) && isTransientNetworkError(e);
        if (attempt < attempts && transient) {
          this.stats.retries++;
          await sleep(backoffDelay(this.retryPolicy, attempt));
          continue;
        }
        throw networkError(spec.operation, this.apiHost, e, this.plan);
      }
      if (isTransientStatus(res.statusCode ?? 0) && attempt < attempts) {
        await drain(res);
        this.stats.retries++;
        await sleep(backoffDelay(this.retryPolicy, attempt, header(res, 'retry-after')));
        continue;
      }
      return res;
    }
  }

  private async exchange(spec: RequestSpec, repository?: string): Promise<http.IncomingMessage> {
    let url = this.resolve(spec.url);
    let method = spec.method;
    let scopes = spec.scopes;
    let reauthed = false;
    const follow = spec.followRedirects ?? (method === 'GET' || method === 'HEAD');
    for (let hops = 0; ; ) {
      const headers: Record<string, string> = { 'User-Agent': this.userAgent(), ...(spec.headers ?? {}) };
      const onRegistry = this.isRegistryHost(url);
      if (onRegistry) {
        const auth = await this.authorization(scopes, spec.operation, repository);
        if (auth) headers.Authorization = auth;
      }
      const body = spec.body === undefined || method === 'GET' || method === 'HEAD' ? undefined : Buffer.isBuffer(spec.body) ? spec.body : spec.body();
      const res = await send({ method, url, headers, body, tls: this.tlsFor(url), timeoutMs: this.timeout() });
      this.count(spec.kind);
      if (body !== undefined) this.stats.bytesUploaded += Buffer.isBuffer(body) ? body.length : Number(headers['Content-Length'] ?? 0);
      const status = res.statusCode ?? 0;

      if (status === 401 && onRegistry && !reauthed) {
        const ch = pickChallenge(parseWwwAuthenticate(res.headers['www-authenticate']));
        const hadAuth = headers.Authorization !== undefined;
        if (!ch) return res;
        await drain(res);
        reauthed = true;
        this.challenge = ch;
        if (ch.scheme === 'bearer') {
          // The challenge may ask for a scope we did not foresee (e.g. insufficient_scope): add it.
          scopes = scopesFor(ch, spec.scopes);
          this.tokens.delete(ch, scopes);
          continue;
        }
        const creds = await this.credentials(repository);
        if (!creds || hadAuth) {
          throw statusError(401, undefined, { operation: spec.operation, registry: this.registry, what: spec.what, hadCredentials: !!creds, action: spec.action });
        }
        continue;
      }
      if (status === 401 && onRegistry) {
        const text = await readBody(res, 65536, spec.operation).catch(() => undefined);
        const creds = await this.credentials(repository);
        throw statusError(401, text, { operation: spec.operation, registry: this.registry, what: spec.what, hadCredentials: !!creds, action: spec.action });
      }

      const location = header(res, 'location');
      if (follow && [301, 302, 303, 307, 308].includes(status) && location) {
        await drain(res);
        if (++hops > MAX_REDIRECTS) throw new RegistryError('REGISTRY_ERROR', `${spec.operation}: more than ${MAX_REDIRECTS} redirects — the registry or its storage is misconfigured`);
        const next = new URL(location, url);
        if (next.protocol !== 'https:' && next.protocol !== 'http:') throw new RegistryError('REGISTRY_ERROR', `${spec.operation}: redirected to ${next.protocol} URL — refusing`);
        if (url.protocol === 'https:' && next.protocol === 'http:' && !isLoopbackHost(next.host) && this.transportPlan().tls.rejectUnauthorized) {
          throw new RegistryError('REGISTRY_ERROR', `${spec.operation}: redirected from HTTPS to plain HTTP (${next.host}) — refusing the downgrade; pass --tls-verify=false if you trust the network`);
        }
        if (status === 303) method = 'GET';
        url = next;
        continue;
      }
      return res;
    }
  }

  /** Reads an unexpected response's body and throws the error that describes it. */
  async fail(res: http.IncomingMessage, spec: Pick<RequestSpec, 'operation' | 'what' | 'action'>): Promise<never> {
    const status = res.statusCode ?? 0;
    const text = await readBody(res, 65536, spec.operation).catch(() => undefined);
    const creds = this.challenge ? await this.credentials().catch(() => undefined) : undefined;
    throw statusError(status, text, { operation: spec.operation, registry: this.registry, what: spec.what, hadCredentials: !!creds, action: spec.action });
  }
}

export function header(res: http.IncomingMessage, name: string): string | undefined {
  const v = res.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** A TLS failure during the handshake other than certificate verification (tried only when verification is off). */
function isHandshakeFailure(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException)?.code ?? '';
  return /^ERR_SSL_|^EPROTO$|^ECONNRESET$/.test(code);
}
