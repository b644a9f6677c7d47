// Registry credentials on disk: finding them (lodger's auth.json, containers' auth.json, Docker's config.json, credential helpers) and storing or removing lodger's own.
//
// Formats: containers-auth.json(5) and Docker's config.json ("auths", "credHelpers",
// "credsStore"). Entry keys may be a host, a host with a repository namespace (most specific
// wins), or a legacy URL such as https://index.docker.io/v1/. Credential helpers follow
// docker-credential-helpers' protocol: `docker-credential-<name> get` reads the server URL on
// stdin and prints {"Username","Secret"}; Username "<token>" means Secret is an identity token.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { LodgerError, fsError } from '../../errors';
import { writeJsonAtomic } from '../../storage/atomic';
import { userConfigDir } from '../../config/dirs';
import { Credentials } from './auth';

export interface CredentialOptions {
  /** --authfile: read and write only this file. */
  authFile?: string;
  home?: string;
}

export interface FoundCredentials extends Credentials {
  /** Where they came from: a file, or `docker-credential-<name>`. */
  source: string;
}

const DOCKER_HUB_KEYS = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);
const DOCKER_HUB_HELPER_URL = 'https://index.docker.io/v1/';

/** The file `login` writes: --authfile, $REGISTRY_AUTH_FILE, else $XDG_CONFIG_HOME/lodger/auth.json (~/.config/lodger/auth.json). */
export function writableAuthFile(opts: CredentialOptions = {}): string {
  if (opts.authFile) return opts.authFile;
  if (process.env.REGISTRY_AUTH_FILE) return process.env.REGISTRY_AUTH_FILE;
  return path.join(userConfigDir(opts.home), 'lodger', 'auth.json');
}

/** Files searched for credentials, in order. */
export function authFilesToRead(opts: CredentialOptions = {}): string[] {
  if (opts.authFile) return [opts.authFile];
  if (process.env.REGISTRY_AUTH_FILE) return [process.env.REGISTRY_AUTH_FILE];
  const home = opts.home ?? os.homedir();
  const files = [writableAuthFile(opts)];
  if (process.env.XDG_RUNTIME_DIR) files.push(path.join(process.env.XDG_RUNTIME_DIR, 'containers', 'auth.json'));
  files.push(path.join(userConfigDir(opts.home), 'containers', 'auth.json'));
  files.push(path.join(process.env.DOCKER_CONFIG ?? path.join(home, '.docker'), 'config.json'));
  return files;
}

interface AuthEntry { auth?: string; username?: string; password?: string; identitytoken?: string }
interface AuthFile { auths?: Record<string, AuthEntry>; credHelpers?: Record<string, string>; credsStore?: string; [k: string]: unknown }

function readAuthFile(file: string): AuthFile | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw fsError('read credentials', file, e);
  }
  if (text.trim() === '') return {};
  try {
    const v = JSON.parse(text) as unknown;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not a JSON object');
    return v as AuthFile;
  } catch (e) {
    throw new LodgerError('AUTH_FILE_INVALID', `read credentials ${file}: ${(e as Error).message} — fix or remove the file`);
  }
}

/** Canonical key: docker.io for every Docker Hub alias; host[/namespace] with scheme and legacy /v1/ paths removed. */
export function normalizeRegistryKey(key: string): string {
  let k = key.trim();
  const hadScheme = /^[a-z]+:\/\//i.test(k);
  k = k.replace(/^[a-z]+:\/\//i, '');
  // A URL-style key (Docker's legacy form) names a host; its path is an API version, not a namespace.
  if (hadScheme) k = k.split('/')[0];
  k = k.replace(/\/+$/, '');
  const [host, ...rest] = k.split('/');
  const h = DOCKER_HUB_KEYS.has(host.toLowerCase()) ? 'docker.io' : host.toLowerCase();
  return [h, ...rest].join('/');
}

function decodeEntry(e: AuthEntry, registry: string, file: string): Credentials | undefined {
  if (e.auth) {
    const decoded = Buffer.from(e.auth, 'base64').toString('utf8');
    const i = decoded.indexOf(':');
    if (i < 0) throw new LodgerError('AUTH_FILE_INVALID', `read credentials for ${registry} in ${file}: "auth" is not base64 of user:password — log in again`);
    const c: Credentials = { username: decoded.slice(0, i), password: decoded.slice(i + 1) };
    if (e.identitytoken) c.identityToken = e.identitytoken;
    return c;
  }
  if (e.username !== undefined && e.password !== undefined) return { username: e.username, password: e.password };
  if (e.identitytoken) return { username: '', password: '', identityToken: e.identitytoken };
  return undefined;
}

/** Runs `docker-credential-<helper> get` for `registry`. Undefined when the helper has nothing stored. */
export function runCredentialHelper(helper: string, registry: string, timeoutMs = 30_000): Promise<Credentials | undefined> {
  const exe = `docker-credential-${helper}`;
  const serverUrl = registry === 'docker.io' ? DOCKER_HUB_HELPER_URL : registry;
  return new Promise((resolve, reject) => {
    if (!/^[A-Za-z0-9._-]+$/.test(helper)) {
      reject(new LodgerError('CREDENTIAL_HELPER_FAILED', `get credentials for ${registry}: credential helper name ${JSON.stringify(helper)} is not valid — fix credHelpers/credsStore`));
      return;
    }
    const child = spawn(exe, ['get'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (c: Buffer) => { out += c.toString('utf8'); });
    child.stderr.on('data', (c: Buffer) => { err += c.toString('utf8'); });
    child.stdin.on('error', () => { /* the helper may exit before reading; its exit status tells */ });
    child.on('error', (e) => {
      clearTimeout(timer);
      const code = (e as NodeJS.ErrnoException).code;
      reject(new LodgerError('CREDENTIAL_HELPER_FAILED', `get credentials for ${registry}: cannot run ${exe}${code === 'ENOENT' || code === 'EACCES' ? ': not found in PATH, or not executable' : `: ${e.message}`} — install it, or remove it from credHelpers/credsStore in your Docker config`));
    });
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      const text = (out + err).trim();
      if (status !== 0) {
        // docker-credential-helpers' "credentials not found in native keychain" means: nothing stored.
        if (/credentials not found/i.test(text)) { resolve(undefined); return; }
        reject(new LodgerError('CREDENTIAL_HELPER_FAILED', `get credentials for ${registry}: ${exe} ${signal ? `was killed (${signal})` : `exited with status ${status}`}${text ? `: ${text.slice(0, 300)}` : ''}`));
        return;
      }
      try {
        const v = JSON.parse(out) as { Username?: string; Secret?: string };
        if (typeof v.Secret !== 'string' || v.Secret === '') { resolve(undefined); return; }
        if (v.Username === '<token>') resolve({ username: '', password: '', identityToken: v.Secret });
        else resolve({ username: v.Username ?? '', password: v.Secret });
      } catch {
        reject(new LodgerError('CREDENTIAL_HELPER_FAILED', `get credentials for ${registry}: ${exe} printed something that is not JSON`));
      }
    });
    child.stdin.end(serverUrl);
  });
}

/**
 * Finds credentials for `registry` (a host as written in references, e.g. docker.io,
 * 127.0.0.1:5000) and optionally `repository` (path inside it, for namespaced keys). The first
 * file that has anything for the registry wins; inside a file: credHelpers, then auths (most
 * specific key first), then credsStore.
 */
export async function lookupCredentials(registry: string, repository?: string, opts: CredentialOptions = {}): Promise<FoundCredentials | undefined> {
  const reg = normalizeRegistryKey(registry);
  const candidates: string[] = [];
  if (repository) {
    const parts = repository.split('/');
    for (let n = parts.length; n > 0; n--) candidates.push(`${reg}/${parts.slice(0, n).join('/')}`);
  }
  candidates.push(reg);
  for (const file of authFilesToRead(opts)) {
    const doc = readAuthFile(file);
    if (!doc) continue;
    const helpers = doc.credHelpers ?? {};
    const helper = Object.entries(helpers).find(([k]) => normalizeRegistryKey(k) === reg)?.[1];
    if (helper) {
      const c = await runCredentialHelper(helper, reg);
      if (c) return { ...c, source: `docker-credential-${helper}` };
    }
    const entries = new Map<string, AuthEntry>();
    for (const [k, v] of Object.entries(doc.auths ?? {})) {
      if (v && typeof v === 'object') entries.set(normalizeRegistryKey(k), v);
    }
    for (const cand of candidates) {
      const e = entries.get(cand);
      if (!e) continue;
      const c = decodeEntry(e, registry, file);
      if (c) return { ...c, source: file };
    }
    if (doc.credsStore) {
      const c = await runCredentialHelper(doc.credsStore, reg);
      if (c) return { ...c, source: `docker-credential-${doc.credsStore}` };
    }
  }
  return undefined;
}

/** Stores credentials for `registry` in lodger's auth file (0600, written atomically). Returns the file. */
export function saveCredentials(registry: string, creds: Credentials, opts: CredentialOptions = {}): string {
  const file = writableAuthFile(opts);
  const doc = readAuthFile(file) ?? {};
  const auths: Record<string, AuthEntry> = { ...(doc.auths ?? {}) };
  const key = normalizeRegistryKey(registry);
  for (const k of Object.keys(auths)) if (normalizeRegistryKey(k) === key) delete auths[k];
  const entry: AuthEntry = { auth: Buffer.from(`${creds.username}:${creds.password}`, 'utf8').toString('base64') };
  if (creds.identityToken) entry.identitytoken = creds.identityToken;
  auths[key] = entry;
  writeAuthFile(file, { ...doc, auths });
  return file;
}

function writeAuthFile(file: string, doc: AuthFile): void {
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    writeJsonAtomic(file, doc, 0o600);
  } catch (e) {
    throw fsError('write credentials', file, e);
  }
}

/**
 * Removes `registry` from lodger's auth file. Throws NOT_LOGGED_IN when it is not there, naming
 * any other file that still holds credentials for it (lodger never edits Docker's or podman's files).
 */
export async function removeCredentials(registry: string, opts: CredentialOptions = {}): Promise<string> {
  const file = writableAuthFile(opts);
  const key = normalizeRegistryKey(registry);
  const doc = readAuthFile(file);
  const keys = Object.keys(doc?.auths ?? {}).filter((k) => normalizeRegistryKey(k) === key);
  if (doc && keys.length) {
    const auths = { ...(doc.auths ?? {}) };
    for (const k of keys) delete auths[k];
    writeAuthFile(file, { ...doc, auths });
    return file;
  }
  const elsewhere = authFilesToRead(opts).filter((f) => f !== file).filter((f) => {
    const d = readAuthFile(f);
    return !!d && (Object.keys(d.auths ?? {}).some((k) => normalizeRegistryKey(k) === key)
      || Object.keys(d.credHelpers ?? {}).some((k) => normalizeRegistryKey(k) === key));
  });
  if (elsewhere.length) {
    throw new LodgerError('NOT_LOGGED_IN', `logout ${registry}: lodger holds no credentials for it in ${file}; the ones in use come from ${elsewhere.join(', ')}, which lodger does not change — remove them there (e.g. "docker logout ${registry}" or "podman logout ${registry}")`);
  }
  throw new LodgerError('NOT_LOGGED_IN', `logout ${registry}: not logged in (no credentials in ${file})`);
}
