// `login` and `logout`: verify credentials against a registry (GET /v2/ with them), then store or remove them in lodger's auth file.
import { LodgerError } from '../../errors';
import { normalizeRegistryKey, removeCredentials, saveCredentials } from './credentials';
import { RegistryClient } from './client';
import { SessionOptions } from './session';

export type LoginOptions = Omit<SessionOptions, 'credentials' | 'anonymous'>;

/**
 * Turns what users type after `login` into a registry name: `docker.io`, `https://index.docker.io/v1/`
 * and `registry-1.docker.io` are Docker Hub (docker.io); a scheme or trailing path is dropped.
 */
export function loginRegistry(input: string): string {
  const reg = normalizeRegistryKey(input);
  if (reg === '' || reg.includes('/')) {
    throw new LodgerError('REFERENCE_INVALID', `login ${input}: give a registry host such as docker.io or registry.example.com:5000, without a repository path`);
  }
  return reg;
}

/**
 * Checks `username`/`password` against `registry` and stores them (0600, atomically) in
 * --authfile / $REGISTRY_AUTH_FILE / ~/.config/lodger/auth.json. Resolves with the file written.
 */
export async function login(registry: string, username: string, password: string, opts: LoginOptions = {}): Promise<{ registry: string; authFile: string }> {
  const reg = loginRegistry(registry);
  if (username === '' || password === '') {
    throw new LodgerError('LOGIN_INCOMPLETE', `login ${reg}: username and password must not be empty`);
  }
  // The repository is only needed to build a client; login asks for no repository scope.
  const client = new RegistryClient(reg, 'lodger-login-check', { ...opts, credentials: { username, password } });
  try {
    await client.checkAuth(`login ${reg}`);
  } catch (e) {
    if (e instanceof LodgerError && (e.code === 'AUTH_FAILED' || e.code === 'AUTH_REQUIRED')) {
      throw new LodgerError('AUTH_FAILED', `login ${reg}: the registry refused username ${JSON.stringify(username)} with that password — check both and try again`);
    }
    throw e;
  }
  const authFile = saveCredentials(reg, { username, password }, { authFile: opts.authFile, home: opts.home });
  return { registry: reg, authFile };
}

/** Removes stored credentials for `registry` from lodger's auth file. Resolves with the file changed. */
export async function logout(registry: string, opts: { authFile?: string; home?: string } = {}): Promise<{ registry: string; authFile: string }> {
  const reg = loginRegistry(registry);
  const authFile = await removeCredentials(reg, opts);
  return { registry: reg, authFile };
}
