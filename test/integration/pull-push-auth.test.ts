// Registry authentication and TLS through the CLI (issue 3): login/logout with --password-stdin and --cert-dir, --tls-verify=false, --creds, the credentials file, and token auth for push.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireSubids, runLodger, runLodgerOk } from '../helpers/cli';
import { buildOciLayout, cachedBusybox, pushOci, skopeoInspect, type BuiltImage } from '../helpers/fixtures';
import { skopeo } from '../helpers/skopeo';
import { registryPrereqs, startRegistry, type TestRegistry } from '../helpers/registry';
import { expectFailure, imagesJson, pullPushScratch } from './pull-push-common';

const ready = registryPrereqs() && requireSubids();
const { scratch, newStore } = pullPushScratch('pp-auth');
let img: BuiltImage;

beforeAll(async () => {
  if (!ready) return;
  const { tar } = await cachedBusybox();
  img = await buildOciLayout(path.join(scratch, 'img'), {
    tag: 'v1',
    layers: [{ tarFile: tar, compression: 'gzip' }, { files: [{ path: 'etc/secret-image', type: 'file', content: 'behind a login\n' }] }],
    config: { Cmd: ['cat', '/etc/secret-image'] },
  });
});



describe.runIf(ready)('TLS and htpasswd auth', () => {
  let reg: TestRegistry;
  let ref: string;

  beforeAll(async () => {
    reg = await startRegistry({ tls: true, auth: 'htpasswd' });
    ref = `${reg.host}/private/img:v1`;
    await pushOci(img.dir, 'v1', ref, { creds: `${reg.user}:${reg.password}` });
  });
  afterAll(async () => {
    await reg?.stop();
  });

  it('pull without login fails with 125 and says to run lodger login', async () => {
    const store = newStore();
    const r = await runLodger(['pull', '--cert-dir', reg.caDir!, ref], { store });
    expectFailure(r, new RegExp(`lodger login ${reg.host.replace(/\./g, '\\.')}`));
    expect(await imagesJson(store)).toEqual([]);
  });

  it('a self-signed registry is refused without --cert-dir, and the message names --cert-dir', async () => {
    const store = newStore();
    expectFailure(await runLodger(['pull', '--creds', `${reg.user}:${reg.password}`, ref], { store }), /--cert-dir/, /certificate|TLS/i);
    const login = await runLodger(['login', '--username', reg.user!, '--password-stdin', reg.host], { store, input: `${reg.password}\n` });
    expectFailure(login, /--cert-dir/);
    // A CA directory that does not hold this registry's CA does not help.
    const empty = fs.mkdtempSync(path.join(scratch, 'empty-certs-'));
    expectFailure(await runLodger(['pull', '--cert-dir', empty, '--creds', `${reg.user}:${reg.password}`, ref], { store }), /--cert-dir/);
  });

  it('login --password-stdin --cert-dir stores 0600 credentials; pull and push then work; logout makes pull fail again', async () => {
    const store = newStore();
    const bad = await runLodger(['login', '--username', reg.user!, '--password-stdin', '--cert-dir', reg.caDir!, reg.host], { store, input: 'wrong-password\n' });
    expectFailure(bad, /refused|incorrect|unauthori[sz]ed/i);

    const login = await runLodgerOk(['login', '--username', reg.user!, '--password-stdin', '--cert-dir', reg.caDir!, reg.host], { store, input: `${reg.password}\n` });
    expect(login.stdout).toMatch(/Login Succeeded/);
    const authFile = /saved in (\S+)\)/.exec(login.stdout)?.[1];
    expect(authFile, login.stdout).toBeDefined();
    // The user's configuration lives under XDG_CONFIG_HOME (the store's private one here).
    expect(authFile!.startsWith(store.configDir + '/'), authFile).toBe(true);
    const st = fs.statSync(authFile!);
    expect(st.mode & 0o777).toBe(0o600);
    const saved = JSON.parse(fs.readFileSync(authFile!, 'utf8')) as { auths: Record<string, { auth: string }> };
    expect(Buffer.from(saved.auths[reg.host].auth, 'base64').toString()).toBe(`${reg.user}:${reg.password}`);

    const pulled = await runLodgerOk(['pull', '--cert-dir', reg.caDir!, ref], { store });
    expect(pulled.stdout.trim()).toBe(img.configDigest);
    expect((await runLodgerOk(['run', '--rm', ref], { store })).stdout).toBe('behind a login\n');

    // Push with the stored login, then read it back with skopeo.
    const pushed = await runLodgerOk(['push', '--cert-dir', reg.caDir!, ref, `${reg.host}/private/copy:v2`], { store });
    expect(pushed.stdout.trim()).toBe(`${reg.host}/private/copy:v2@${img.manifestDigest}`);
    const raw = JSON.parse(await skopeo(['inspect', '--raw', '--cert-dir', path.join(reg.caDir!, reg.host), '--creds', `${reg.user}:${reg.password}`, `docker://${reg.host}/private/copy:v2`]));
    expect(raw.config.digest).toBe(img.configDigest);

    // --tls-verify=false instead of the CA.
    const other = newStore();
    const insecure = await runLodger(['pull', '--tls-verify=false', '--creds', `${reg.user}:${reg.password}`, `${reg.host}/private/copy:v2`], { store: other });
    expect(insecure.code, insecure.stderr).toBe(0);
    expect(insecure.stdout.trim()).toBe(img.configDigest);

    const logout = await runLodgerOk(['logout', reg.host], { store });
    expect(logout.stdout).toMatch(new RegExp(`Removed login credentials for ${reg.host.replace(/\./g, '\\.')}`));
    const after = JSON.parse(fs.readFileSync(authFile!, 'utf8')) as { auths?: Record<string, unknown> };
    expect(after.auths?.[reg.host]).toBeUndefined();
    expectFailure(await runLodger(['pull', '--cert-dir', reg.caDir!, `${reg.host}/private/copy:v2`], { store }), /lodger login/);
    // Logging out twice says there was nothing to remove.
    const again = await runLodger(['logout', reg.host], { store });
    expect(again.code).not.toBe(0);
  });

  it('--creds USER:PASSWORD works for one command without storing anything', async () => {
    const store = newStore();
    const r = await runLodgerOk(['pull', '--cert-dir', reg.caDir!, '--creds', `${reg.user}:${reg.password}`, ref], { store });
    expect(r.stdout.trim()).toBe(img.configDigest);
    expect(fs.existsSync(path.join(store.configDir, 'lodger', 'auth.json'))).toBe(false);
    expectFailure(await runLodger(['pull', '--cert-dir', reg.caDir!, '--creds', `${reg.user}:nope`, ref], { store }), /refused|incorrect|unauthori[sz]ed/i);
  });

  it('--authfile reads and writes the given file only', async () => {
    const store = newStore();
    const file = path.join(store.dir, 'my-auth.json');
    await runLodgerOk(['login', '--authfile', file, '-u', reg.user!, '--password-stdin', '--cert-dir', reg.caDir!, reg.host], { store, input: reg.password! });
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.existsSync(path.join(store.configDir, 'lodger', 'auth.json'))).toBe(false);
    await runLodgerOk(['pull', '--authfile', file, '--cert-dir', reg.caDir!, ref], { store });
    expectFailure(await runLodger(['pull', '--cert-dir', reg.caDir!, ref], { store }), /lodger login/);
  });
});

describe.runIf(ready)('token auth', () => {
  let reg: TestRegistry;

  beforeAll(async () => {
    reg = await startRegistry({ auth: 'token' });
    await pushOci(img.dir, 'v1', `${reg.host}/open/img:v1`, { creds: `${reg.user}:${reg.password}` });
  });
  afterAll(async () => {
    await reg?.stop();
  });

  it('anonymous pull works; push needs a login, and works after one', async () => {
    const store = newStore();
    await runLodgerOk(['pull', `${reg.host}/open/img:v1`], { store });
    expect(reg.tokenRequests().some((t) => t.user === null && t.scope.some((s) => s.includes('open/img') && s.endsWith(':pull')))).toBe(true);
    const push = await runLodger(['push', `${reg.host}/open/img:v1`, `${reg.host}/mine/img:v1`], { store });
    expectFailure(push, /lodger login/);
    await runLodgerOk(['login', '-u', reg.user!, '--password-stdin', reg.host], { store, input: reg.password! });
    const ok = await runLodgerOk(['push', `${reg.host}/open/img:v1`, `${reg.host}/mine/img:v1`], { store });
    expect(ok.stdout.trim()).toBe(`${reg.host}/mine/img:v1@${img.manifestDigest}`);
    expect(reg.tokenRequests().some((t) => t.user === reg.user && t.scope.some((s) => s.includes('mine/img') && s.includes('push')))).toBe(true);
    const inspected = await skopeoInspect(`docker://${reg.host}/mine/img:v1`, { raw: true });
    expect(inspected.config).toMatchObject({ digest: img.configDigest });
  });
});
