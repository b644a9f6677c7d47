// Registry auth parsing: WWW-Authenticate challenges, token requests and responses, and the per-scope token cache.
import { describe, expect, it } from 'vitest';
import {
  TokenCache, basicHeader, parseTokenResponse, parseWwwAuthenticate, pickChallenge, refreshTokenForm, repositoryScope, scopesFor, tokenUrl,
} from '../../../src/image/registry/auth';

describe('WWW-Authenticate', () => {
  it('parses a distribution Bearer challenge', () => {
    const [c] = parseWwwAuthenticate('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"');
    expect(c).toEqual({ scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/alpine:pull' } });
  });

  it('handles spacing, escapes, token values, several challenges and several headers', () => {
    const cs = parseWwwAuthenticate(['Basic realm="a \\"quoted\\" realm", charset=UTF-8', 'Bearer  realm = "https://t/x" , error=insufficient_scope']);
    expect(cs).toEqual([
      { scheme: 'basic', params: { realm: 'a "quoted" realm', charset: 'UTF-8' } },
      { scheme: 'bearer', params: { realm: 'https://t/x', error: 'insufficient_scope' } },
    ]);
    expect(pickChallenge(cs)?.scheme).toBe('bearer');
    expect(pickChallenge(parseWwwAuthenticate('Basic realm="r"'))?.scheme).toBe('basic');
    expect(pickChallenge(parseWwwAuthenticate('Bearer service="no realm"'))).toBeUndefined();
    expect(pickChallenge(parseWwwAuthenticate('Negotiate'))).toBeUndefined();
    expect(parseWwwAuthenticate(undefined)).toEqual([]);
  });
});

describe('token requests', () => {
  const ch = { scheme: 'bearer', params: { realm: 'https://auth.example/token?x=1', service: 'reg', scope: 'repository:a:pull' } };

  it('asks for our scopes plus the one the challenge names', () => {
    const scopes = scopesFor(ch, [repositoryScope('b', ['pull', 'push'])]);
    expect(scopes).toEqual(['repository:a:pull', 'repository:b:pull,push']);
    const url = tokenUrl(ch, scopes);
    expect(url.origin + url.pathname).toBe('https://auth.example/token');
    expect(url.searchParams.get('x')).toBe('1');
    expect(url.searchParams.get('service')).toBe('reg');
    expect(url.searchParams.getAll('scope')).toEqual(scopes);
    const form = new URLSearchParams(refreshTokenForm(ch, scopes, 'rt'));
    expect(Object.fromEntries(form)).toEqual({ grant_type: 'refresh_token', refresh_token: 'rt', service: 'reg', client_id: 'lodger', scope: scopes.join(' ') });
    expect(basicHeader({ username: 'u', password: 'p:w' })).toBe(`Basic ${Buffer.from('u:p:w').toString('base64')}`);
  });

  it('reads token and access_token, with at least 60 s of life', () => {
    const now = Date.parse('2030-01-01T00:00:00Z');
    expect(parseTokenResponse({ token: 't', expires_in: 300 }, now)).toEqual({ token: 't', expiresAt: now + 290_000 });
    expect(parseTokenResponse({ access_token: 'a', expires_in: 5 }, now)).toEqual({ token: 'a', expiresAt: now + 50_000 });
    expect(parseTokenResponse({ token: 't', issued_at: '2030-01-01T00:00:30Z' }, now)?.expiresAt).toBe(now + 30_000 + 50_000);
    expect(parseTokenResponse({ token: 't', issued_at: '1999-01-01T00:00:00Z' }, now)?.expiresAt).toBe(now + 50_000);
    expect(parseTokenResponse({ token: '' }, now)).toBeUndefined();
    expect(parseTokenResponse('x', now)).toBeUndefined();
  });

  it('caches per realm, service and scope set, and forgets expired tokens', () => {
    const cache = new TokenCache();
    cache.set(ch, ['b', 'a'], { token: 't1', expiresAt: 1000 });
    expect(cache.get(ch, ['a', 'b'], 999)).toBe('t1');
    expect(cache.get(ch, ['a'], 999)).toBeUndefined();
    expect(cache.get({ ...ch, params: { ...ch.params, service: 'other' } }, ['a', 'b'], 999)).toBeUndefined();
    expect(cache.get(ch, ['a', 'b'], 1000)).toBeUndefined();
    expect(cache.get(ch, ['a', 'b'], 0)).toBeUndefined();
  });
});
