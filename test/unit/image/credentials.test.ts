// Credentials on disk: lookup order across lodger's, containers' and Docker's files, namespaced keys, credential helpers, and atomic 0600 writes.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { LodgerError } from '../../../src/errors';
import {
  authFilesToRead, lookupCredentials, normalizeRegistryKey, removeCredentials, saveCredentials,
} from '../../../src/image/registry/credentials';
import { loginRegistry } from '../../../src/image/registry/login';

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'lodger-creds-'));
const savedEnv = { ...process.env };
afterAll(() => {
  process.env = savedEnv;
  fs.rmSync(scratch, { recursive: true, force: true });
});

let home: string;
let n = 0;
beforeEach(() => {
  home = path.join(scratch, `home${n++}`);
  fs.mkdirSync(home);
  process.env.XDG_RUNTIME_DIR = path.join(home, 'run');
  delete process.env.REGISTRY_AUTH_FILE;
  delete process.env.DOCKER_CONFIG;
});

const auth = (u: string, p: string): string => Buffer.from(`${u}:${p}`).toString('base64');
function write(file: string, doc: unknown): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(doc));
}

/** A real credential helper on PATH speaking the docker-credential-helpers protocol. */
function installHelper(name: string, script: string): void {
  const bin = path.join(home, 'bin');
  fs.mkdirSync(bin, { recursive: true });
  fs.writeFileSync(path.join(bin, `docker-credential-${name}`), `#!/bin/sh\n${script}\n`, { mode: 0o755 });
  process.env.PATH = `${bin}:${savedEnv.PATH}`;
}

describe('registry keys', () => {
  it.each([
    ['https://index.docker.io/v1/', 'docker.io'], ['index.docker.io', 'docker.io'], ['registry-1.docker.io', 'docker.io'],
    ['docker.io', 'docker.io'], ['http://127.0.0.1:5000/', '127.0.0.1:5000'], ['Quay.io/org/repo', 'quay.io/org/repo'],
  ])('%s → %s', (k, want) => expect(normalizeRegistryKey(k)).toBe(want));

  it('login takes a host, not a repository', () => {
    expect(loginRegistry('https://index.docker.io/v1/')).toBe('docker.io');
    expect(() => loginRegistry('quay.io/org')).toThrow(/without a repository path/);
  });
});

describe('lookupCredentials', () => {
  it('searches lodger, runtime containers, containers, then Docker files', async () => {
    const files = authFilesToRead({ home });
    expect(files).toEqual([
      path.join(home, '.config/lodger/auth.json'), path.join(home, 'run/containers/auth.json'),
      path.join(home, '.config/containers/auth.json'), path.join(home, '.docker/config.json'),
    ]);
    write(files[3], { auths: { 'https://index.docker.io/v1/': { auth: auth('docker', 'd') } } });
    expect(await lookupCredentials('docker.io', 'library/alpine', { home })).toMatchObject({ username: 'docker', password: 'd', source: files[3] });
    write(files[1], { auths: { 'docker.io': { auth: auth('runtime', 'r') } } });
    expect(await lookupCredentials('docker.io', undefined, { home })).toMatchObject({ username: 'runtime', source: files[1] });
    write(files[0], { auths: { 'docker.io': { auth: auth('lodger', 'l:with:colons') } } });
    expect(await lookupCredentials('docker.io', undefined, { home })).toMatchObject({ username: 'lodger', password: 'l:with:colons' });
    expect(await lookupCredentials('quay.io', undefined, { home })).toBeUndefined();
  });

  it('prefers the most specific namespaced key', async () => {
    const f = path.join(home, '.config/lodger/auth.json');
    write(f, { auths: { 'quay.io': { auth: auth('host', 'h') }, 'quay.io/org': { auth: auth('org', 'o') }, 'quay.io/org/repo': { auth: auth('repo', 'r') } } });
    expect((await lookupCredentials('quay.io', 'org/repo', { home }))?.username).toBe('repo');
    expect((await lookupCredentials('quay.io', 'org/other', { home }))?.username).toBe('org');
    expect((await lookupCredentials('quay.io', 'elsewhere/x', { home }))?.username).toBe('host');
  });

  it('honours --authfile alone, and REGISTRY_AUTH_FILE', async () => {
    const only = path.join(home, 'only.json');
    write(only, { auths: { 'x.io': { auth: auth('a', 'b') } } });
    write(path.join(home, '.config/lodger/auth.json'), { auths: { 'y.io': { auth: auth('c', 'd') } } });
    expect(await lookupCredentials('y.io', undefined, { home, authFile: only })).toBeUndefined();
    process.env.REGISTRY_AUTH_FILE = only;
    expect((await lookupCredentials('x.io', undefined, { home }))?.username).toBe('a');
  });

  it('runs credHelpers and credsStore helpers with the server URL on stdin', async () => {
    installHelper('test', 'read url; case "$url" in https://index.docker.io/v1/) echo \'{"ServerURL":"x","Username":"hub","Secret":"s1"}\';; x.io) echo \'{"Username":"<token>","Secret":"idtok"}\';; *) echo "credentials not found in native keychain"; exit 1;; esac');
    const f = path.join(home, '.docker/config.json');
    write(f, { credHelpers: { 'x.io': 'test' }, credsStore: 'test', auths: { 'docker.io': {} } });
    expect(await lookupCredentials('x.io', undefined, { home })).toEqual({ username: '', password: '', identityToken: 'idtok', source: 'docker-credential-test' });
    expect(await lookupCredentials('docker.io', undefined, { home })).toEqual({ username: 'hub', password: 's1', source: 'docker-credential-test' });
    expect(await lookupCredentials('nothing.io', undefined, { home })).toBeUndefined();
  });

  it('says what to do when a helper is missing or broken, or a file is not JSON', async () => {
    write(path.join(home, '.docker/config.json'), { credsStore: 'absent-helper' });
    await expect(lookupCredentials('x.io', undefined, { home })).rejects.toThrow(/docker-credential-absent-helper: not found in PATH, or not executable — install it/);
    installHelper('broken', 'echo boom >&2; exit 3');
    write(path.join(home, '.docker/config.json'), { credsStore: 'broken' });
    await expect(lookupCredentials('x.io', undefined, { home })).rejects.toThrow(/exited with status 3: boom/);
    fs.writeFileSync(path.join(home, '.docker/config.json'), '{nope');
    const err = await lookupCredentials('x.io', undefined, { home }).catch((e: unknown) => e);
    expect((err as LodgerError).code).toBe('AUTH_FILE_INVALID');
    expect((err as LodgerError).message).toMatch(/config\.json: .*fix or remove the file/);
  });
});

describe('saving and removing', () => {
  it('writes 0600 atomically, keeps other content, and replaces aliases of the same registry', async () => {
    const f = path.join(home, '.config/lodger/auth.json');
    write(f, { auths: { 'https://index.docker.io/v1/': { auth: auth('old', 'o') }, 'x.io': { auth: auth('x', 'y') } }, credHelpers: { 'z.io': 'h' } });
    expect(saveCredentials('docker.io', { username: 'new', password: 'n' }, { home })).toBe(f);
    expect(fs.statSync(f).mode & 0o777).toBe(0o600);
    const doc = JSON.parse(fs.readFileSync(f, 'utf8')) as Record<string, unknown>;
    expect(doc).toEqual({ auths: { 'x.io': { auth: auth('x', 'y') }, 'docker.io': { auth: auth('new', 'n') } }, credHelpers: { 'z.io': 'h' } });
    expect(fs.readdirSync(path.dirname(f))).toEqual(['auth.json']);

    expect(await removeCredentials('docker.io', { home })).toBe(f);
    expect(JSON.parse(fs.readFileSync(f, 'utf8'))).toEqual({ auths: { 'x.io': { auth: auth('x', 'y') } }, credHelpers: { 'z.io': 'h' } });
  });

  it('logout points at the file that really holds the credentials', async () => {
    write(path.join(home, '.docker/config.json'), { auths: { 'q.io': { auth: auth('a', 'b') } } });
    await expect(removeCredentials('q.io', { home })).rejects.toThrow(/come from .*\.docker\/config\.json, which lodger does not change/);
    await expect(removeCredentials('nowhere.io', { home })).rejects.toThrow(/logout nowhere\.io: not logged in/);
  });

  it('refuses to overwrite an auth file it cannot read', () => {
    const f = path.join(home, '.config/lodger/auth.json');
    fs.mkdirSync(path.dirname(f), { recursive: true });
    fs.writeFileSync(f, 'garbage');
    expect(() => saveCredentials('x.io', { username: 'a', password: 'b' }, { home })).toThrow(/fix or remove the file/);
    expect(fs.readFileSync(f, 'utf8')).toBe('garbage');
  });
});
