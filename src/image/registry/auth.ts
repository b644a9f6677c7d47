// Registry authentication state: parsing WWW-Authenticate challenges, building token requests, and caching Bearer tokens per scope.
//
// Flow (distribution docs/spec/auth/token.md): a request answered 401 carries
// `WWW-Authenticate: Bearer realm="…",service="…",scope="…"`; we GET realm?service=…&scope=…
// (with Basic credentials if we have them, anonymously otherwise) and retry with
// `Authorization: Bearer <token>`. A refresh token ("identitytoken" in auth.json) is exchanged with
// a POST instead (docs/spec/auth/oauth.md). A `Basic` challenge is answered with the credentials
// directly (RFC 7617). Challenge syntax: RFC 9110 §11.6.1 (auth-param, quoted-string).

export interface Challenge {
  scheme: string; // lower-case: 'bearer', 'basic'
  params: Record<string, string>;
}

export interface Credentials {
  username: string;
  password: string;
  /** An OAuth2 refresh token ("identitytoken"), used instead of the password with Bearer realms. */
  identityToken?: string;
}

/** Parses a WWW-Authenticate header value into challenges (several may be listed, comma-separated). */
export function parseWwwAuthenticate(header: string | string[] | undefined): Challenge[] {
  if (header === undefined) return [];
  const text = Array.isArray(header) ? header.join(', ') : header;
  const out: Challenge[] = [];
  let i = 0;
  const ws = (): void => { while (i < text.length && /[ \t,]/.test(text[i])) i++; };
  const token = (): string => {
    const m = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+/.exec(text.slice(i));
    if (!m) return '';
    i += m[0].length;
    return m[0];
  };
  let current: Challenge | undefined;
  while (i < text.length) {
    ws();
    const start = i;
    const name = token();
    if (!name) { i++; continue; }
    let j = i;
    while (text[j] === ' ' || text[j] === '\t') j++;
    if (text[j] === '=' && current) {
      // auth-param of the current challenge
      i = j + 1;
      while (text[i] === ' ' || text[i] === '\t') i++;
      let value = '';
      if (text[i] === '"') {
        i++;
        while (i < text.length && text[i] !== '"') {
          if (text[i] === '\\' && i + 1 < text.length) i++;
          value += text[i++];
        }
        i++;
      } else {
        value = token();
      }
      current.params[name.toLowerCase()] = value;
    } else if (text[j] === '=' && !current) {
      i = start + name.length + 1; // stray param before any scheme: skip it
    } else {
      current = { scheme: name.toLowerCase(), params: {} };
      out.push(current);
    }
  }
  return out;
}

/** The challenge we can answer, Bearer preferred over Basic. */
export function pickChallenge(challenges: Challenge[]): Challenge | undefined {
  return challenges.find((c) => c.scheme === 'bearer' && c.params.realm) ?? challenges.find((c) => c.scheme === 'basic');
}

/** Scope strings (distribution docs/spec/auth/scope.md): `repository:<name>:<actions>`. */
export function repositoryScope(repository: string, actions: ('pull' | 'push')[]): string {
  return `repository:${repository}:${actions.join(',')}`;
}

/** Merges our scopes with the one the challenge asks for, without duplicates, in a stable order. */
export function scopesFor(challenge: Challenge, wanted: string[]): string[] {
  const all = new Set(wanted);
  if (challenge.params.scope) for (const s of challenge.params.scope.split(' ')) if (s) all.add(s);
  return [...all].sort();
}

/** The GET URL for an anonymous or Basic-authenticated token request. */
export function tokenUrl(challenge: Challenge, scopes: string[]): URL {
  const url = new URL(challenge.params.realm);
  if (challenge.params.service) url.searchParams.set('service', challenge.params.service);
  for (const s of scopes) url.searchParams.append('scope', s);
  return url;
}

/** The POST body for exchanging a refresh token (OAuth2 refresh_token grant). */
export function refreshTokenForm(challenge: Challenge, scopes: string[], refreshToken: string): string {
  const p = new URLSearchParams();
  p.set('grant_type', 'refresh_token');
  p.set('refresh_token', refreshToken);
  if (challenge.params.service) p.set('service', challenge.params.service);
  p.set('client_id', 'lodger');
  if (scopes.length) p.set('scope', scopes.join(' '));
  return p.toString();
}

export interface Token {
  token: string;
  expiresAt: number;
}

/**
 * Reads a token response: `token` or `access_token`, `expires_in` seconds (at least 60, the spec's
 * default), `issued_at`. Returns undefined if there is no token in it.
 */
export function parseTokenResponse(body: unknown, now = Date.now()): Token | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const b = body as Record<string, unknown>;
  const token = typeof b.token === 'string' && b.token ? b.token : typeof b.access_token === 'string' && b.access_token ? b.access_token : undefined;
  if (!token) return undefined;
  const expiresIn = typeof b.expires_in === 'number' && b.expires_in >= 60 ? b.expires_in : 60;
  const issued = typeof b.issued_at === 'string' ? Date.parse(b.issued_at) : NaN;
  // Trust issued_at only if it is close to our clock; a skewed server would otherwise expire tokens early or late.
  const base = Number.isFinite(issued) && Math.abs(issued - now) < 60_000 ? issued : now;
  return { token, expiresAt: base + expiresIn * 1000 - 10_000 };
}

export function basicHeader(c: Credentials): string {
  return 'Basic ' + Buffer.from(`${c.username}:${c.password}`, 'utf8').toString('base64');
}

/** Tokens by realm, service and scopes; expired entries are dropped on lookup. */
export class TokenCache {
  private readonly tokens = new Map<string, Token>();

  private key(challenge: Challenge, scopes: string[]): string {
    return `${challenge.params.realm}\n${challenge.params.service ?? ''}\n${[...scopes].sort().join(' ')}`;
  }

  get(challenge: Challenge, scopes: string[], now = Date.now()): string | undefined {
    const k = this.key(challenge, scopes);
    const t = this.tokens.get(k);
    if (!t) return undefined;
    if (t.expiresAt <= now) { this.tokens.delete(k); return undefined; }
    return t.token;
  }

  set(challenge: Challenge, scopes: string[], token: Token): void {
    this.tokens.set(this.key(challenge, scopes), token);
  }

  delete(challenge: Challenge, scopes: string[]): void {
    this.tokens.delete(this.key(challenge, scopes));
  }
}
