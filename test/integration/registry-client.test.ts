// The registry client against a real docker-registry (plain, TLS, htpasswd, token auth) with images pushed by skopeo, and against hostile servers that lie about blobs and manifests.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LodgerError } from '../../src/errors';
import { digestOf } from '../../src/oci/digest';
import { Descriptor, MediaType } from '../../src/oci/manifest';
import { parsePlatform } from '../../src/image/platform';
import { parseReference } from '../../src/image/reference';
import { RegistryClient, RegistryClientOptions, login, logout } from '../../src/image/registry';
import { destroyAgents } from '../../src/image/registry/http';
import { blobPath, buildOciLayout, pushOci, skopeoInspect, type BuiltImage } from '../helpers/fixtures';
import { registryPrereqs, startRegistry, type TestRegistry } from '../helpers/registry';

const ready = registryPrereqs();
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'lodger-registry-client-'));
const home = path.join(scratch, 'home');
fs.mkdirSync(home);
// Credentials must come only from files the tests write: never from the runner's own runtime dir.
process.env.XDG_RUNTIME_DIR = path.join(scratch, 'run');
delete process.env.REGISTRY_AUTH_FILE;
delete process.env.DOCKER_CONFIG;

afterAll(() => {
  destroyAgents();
  fs.rmSync(scratch, { recursive: true, force: true });
});

/** Fast retries: tests exercise the retry paths and must not sleep for seconds. */
const base: RegistryClientOptions = { home, retry: { baseDelayMs: 10, maxDelayMs: 50 } };

async function readAll(s: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function expectLodgerError(p: Promise<unknown> | (() => unknown), code: string, ...fragments: (string | RegExp)[]): Promise<LodgerError> {
  let err: unknown;
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    err = e;
  }
  expect(err, `expected ${code}`).toBeInstanceOf(LodgerError);
  const le = err as LodgerError;
  expect(le.code, le.message).toBe(code);
  for (const f of fragments) expect(le.message).toMatch(f);
  return le;
}

/** A small image with two layers, deterministic content per `seed`. */
async function tinyImage(name: string, seed: string, extra: Partial<Parameters<typeof buildOciLayout>[1]> = {}): Promise<BuiltImage> {
  const dir = path.join(scratch, 'layouts', name);
  return buildOciLayout(dir, {
    tag: 'v1',
    layers: [
      { files: [{ path: 'hello.txt', type: 'file', content: `hello ${seed}\n` }] },
      { files: [{ path: 'data', type: 'dir' }, { path: 'data/blob.bin', type: 'file', content: Buffer.alloc(20_000, seed) }] },
    ],
    config: { Cmd: ['/bin/sh'] },
    ...extra,
  });
}

function descriptorsOf(img: BuiltImage): Descriptor[] {
  return [{ mediaType: MediaType.OciConfig, digest: img.configDigest, size: fs.statSync(blobPath(img.dir, img.configDigest)).size }, ...img.layers];
}

describe.runIf(ready)('plain HTTP loopback registry', () => {
  let reg: TestRegistry;
  let img: BuiltImage;

  beforeAll(async () => {
    reg = await startRegistry();
    img = await tinyImage('hello', 'a');
    await pushOci(img.dir, 'v1', `${reg.host}/lodger/hello:v1`);
  });
  afterAll(async () => { await reg?.stop(); });

  it('pulls a manifest and its blobs anonymously over plain HTTP, as pushed by skopeo', async () => {
    const client = new RegistryClient(reg.host, 'lodger/hello', base);
    const r = await client.getManifest('v1');
    expect(client.session.currentScheme).toBe('http');
    expect(r.digest).toBe(img.manifestDigest);
    expect(r.mediaType).toBe(MediaType.OciManifest);
    expect(r.configDescriptor.digest).toBe(img.configDigest);
    expect(r.layers.map((l) => l.digest)).toEqual(img.layers.map((l) => l.digest));
    expect(digestOf(r.raw)).toBe(img.manifestDigest);
    for (const d of [r.configDescriptor, ...r.layers]) {
      const got = await readAll(client.fetchBlob(d));
      expect(got.equals(fs.readFileSync(blobPath(img.dir, d.digest)))).toBe(true);
    }
    const config = JSON.parse((await client.fetchBlobBuffer(r.configDescriptor)).toString()) as { config: { Cmd: string[] } };
    expect(config.config.Cmd).toEqual(['/bin/sh']);
  });

  it('resolves a reference string, by tag and by digest, through forReference/resolveForPull', async () => {
    const ref = parseReference(`${reg.host}/lodger/hello:v1`);
    const { client, result } = await RegistryClient.resolveForPull(ref, { ...base, registriesConf: { unqualifiedSearchRegistries: [], registries: [], aliases: {}, files: [] } });
    expect(client.repository).toBe('lodger/hello');
    expect(result.digest).toBe(img.manifestDigest);
    const byDigest = await RegistryClient.forReference(parseReference(`${reg.host}/lodger/hello@${img.manifestDigest}`), { ...base, registriesConf: { unqualifiedSearchRegistries: [], registries: [], aliases: {}, files: [] } })
      .getManifest(parseReference(`${reg.host}/lodger/hello@${img.manifestDigest}`));
    expect(byDigest.digest).toBe(img.manifestDigest);
  });

  it('says which image is missing for an unknown tag', async () => {
    const client = new RegistryClient(reg.host, 'lodger/hello', base);
    await expectLodgerError(client.getManifest('nope'), 'IMAGE_NOT_FOUND', `pull ${reg.host}/lodger/hello:nope`, /404/, /check the name/);
  });

  it('refuses malformed digests before any request is sent', async () => {
    const client = new RegistryClient(reg.host, 'lodger/hello', base);
    const bad = ['sha256:../../../etc/passwd', `sha256:${'A'.repeat(64)}`, 'sha256:abc', `md5:${'a'.repeat(32)}`, `sha512:${'a'.repeat(64)}`, `sha256:${'a'.repeat(64)}/../x`];
    for (const digest of bad) {
      await expectLodgerError(() => client.fetchBlob({ mediaType: MediaType.OciLayerGzip, digest, size: 1 }), 'DIGEST_INVALID', /sha256:<64 lowercase hex/);
      await expectLodgerError(client.getManifest(digest), 'DIGEST_INVALID');
      await expectLodgerError(client.blobExists(digest), 'DIGEST_INVALID');
    }
    await expectLodgerError(() => parseReference(`${reg.host}/lodger/hello@sha256:${'a'.repeat(63)}`), 'REFERENCE_INVALID', /bad digest/);
    expect(client.stats.requests['GET blob'] ?? 0).toBe(0);
    expect(client.stats.requests['GET manifest'] ?? 0).toBe(0);
    expect(client.stats.requests['HEAD blob'] ?? 0).toBe(0);
  });

  it('chooses the platform from an index (--platform and the host default), and says what exists when none matches', async () => {
    const amd = await tinyImage('multi-amd64', 'm', { architecture: 'amd64' });
    const arm = await tinyImage('multi-arm64', 'n', { architecture: 'arm64' });
    await pushOci(amd.dir, 'v1', `${reg.host}/lodger/multi:amd64`);
    await pushOci(arm.dir, 'v1', `${reg.host}/lodger/multi:arm64`);
    const index = Buffer.from(JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.OciIndex,
      manifests: [
        { mediaType: MediaType.OciManifest, digest: amd.manifestDigest, size: amd.manifestSize, platform: { os: 'linux', architecture: 'amd64' } },
        { mediaType: MediaType.OciManifest, digest: arm.manifestDigest, size: arm.manifestSize, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
      ],
    }));
    const client = new RegistryClient(reg.host, 'lodger/multi', base);
    expect(await client.putManifest('latest', index, MediaType.OciIndex)).toBe(digestOf(index));
    // skopeo sees exactly the index we pushed.
    const raw = await skopeoInspect(`docker://${reg.host}/lodger/multi:latest`, { raw: true });
    expect(raw.manifests).toHaveLength(2);

    const armPick = await client.getManifest('latest', { platform: parsePlatform('linux/arm64') });
    expect(armPick.digest).toBe(arm.manifestDigest);
    expect(armPick.index?.digest).toBe(digestOf(index));
    expect(armPick.layers.map((l) => l.digest)).toEqual(arm.layers.map((l) => l.digest));
    const amdPick = await client.getManifest('latest', { platform: parsePlatform('linux/x86_64') });
    expect(amdPick.digest).toBe(amd.manifestDigest);
    const hostPick = await client.getManifest('latest');
    expect(hostPick.digest).toBe(process.arch === 'arm64' ? arm.manifestDigest : amd.manifestDigest);
    await expectLodgerError(client.getManifest('latest', { platform: parsePlatform('linux/s390x') }), 'PLATFORM_NOT_FOUND', /linux\/s390x/, /linux\/amd64, linux\/arm64/, /--platform/);
  });

  it('pushes blobs and a manifest that skopeo and a fresh pull read back; a second push uploads nothing', async () => {
    const img2 = await tinyImage('pushme', 'p');
    const client = new RegistryClient(reg.host, 'lodger/pushed', base);
    const uploadsBefore = reg.countRequests(/"POST \/v2\/lodger\/pushed\/blobs\/uploads\//);
    for (const d of descriptorsOf(img2)) {
      expect(await client.pushBlob(d, () => fs.createReadStream(blobPath(img2.dir, d.digest)))).toBe('uploaded');
    }
    const raw = fs.readFileSync(blobPath(img2.dir, img2.manifestDigest));
    expect(await client.putManifest('v1', raw, MediaType.OciManifest)).toBe(img2.manifestDigest);
    expect(reg.countRequests(/"POST \/v2\/lodger\/pushed\/blobs\/uploads\//) - uploadsBefore).toBe(3);

    const inspected = await skopeoInspect(`docker://${reg.host}/lodger/pushed:v1`, { raw: true });
    expect(inspected).toEqual(JSON.parse(raw.toString()));
    const fresh = new RegistryClient(reg.host, 'lodger/pushed', base);
    const back = await fresh.getManifest('v1');
    expect(back.digest).toBe(img2.manifestDigest);
    for (const l of back.layers) expect((await readAll(fresh.fetchBlob(l))).equals(fs.readFileSync(blobPath(img2.dir, l.digest)))).toBe(true);

    // Again: HEAD finds every blob; no upload is started (the registry's own log says so).
    const again = new RegistryClient(reg.host, 'lodger/pushed', base);
    for (const d of descriptorsOf(img2)) expect(await again.pushBlob(d, Buffer.alloc(0))).toBe('exists');
    expect(again.stats.requests['POST upload'] ?? 0).toBe(0);
    expect(again.stats.requests['HEAD blob']).toBe(3);
    expect(reg.countRequests(/"POST \/v2\/lodger\/pushed\/blobs\/uploads\//) - uploadsBefore).toBe(3);
  });

  it('uploads in chunks, and mounts a blob from another repository instead of uploading it', async () => {
    const payload = Buffer.from(Array.from({ length: 5000 }, (_, i) => i % 251));
    const desc: Descriptor = { mediaType: MediaType.OciLayer, digest: digestOf(payload), size: payload.length };
    const a = new RegistryClient(reg.host, 'lodger/chunky', base);
    expect(await a.pushBlob(desc, payload, { chunkSize: 1024 })).toBe('uploaded');
    expect(a.stats.requests['PATCH upload']).toBe(5);
    expect((await readAll(a.fetchBlob(desc))).equals(payload)).toBe(true);

    const b = new RegistryClient(reg.host, 'lodger/mounted', base);
    expect(await b.blobExists(desc.digest)).toBe(false);
    expect(await b.pushBlob(desc, () => { throw new Error('must not read the content: the blob is mounted'); }, { mountFrom: ['lodger/chunky'] })).toBe('mounted');
    expect(reg.countRequests(/"POST \/v2\/lodger\/mounted\/blobs\/uploads\/\?.*mount=/)).toBe(1);
    expect(await b.blobExists(desc.digest)).toBe(true);
  });

  it('refuses to upload local content that does not match its descriptor', async () => {
    const payload = Buffer.from('the real content');
    const desc: Descriptor = { mediaType: MediaType.OciLayer, digest: digestOf(payload), size: payload.length };
    const client = new RegistryClient(reg.host, 'lodger/corrupt', base);
    await expectLodgerError(client.pushBlob(desc, Buffer.from('the fake content')), 'DIGEST_MISMATCH');
    expect(await client.blobExists(desc.digest)).toBe(false);
  });
});

describe.runIf(ready)('registry with htpasswd (Basic) auth', () => {
  let reg: TestRegistry;
  const authFile = path.join(scratch, 'basic-auth.json');

  beforeAll(async () => {
    reg = await startRegistry({ auth: true });
    const img = await tinyImage('private', 's');
    await pushOci(img.dir, 'v1', `${reg.host}/lodger/private:v1`, { creds: `${reg.user}:${reg.password}` });
  });
  afterAll(async () => { await reg?.stop(); });

  it('answers 401 with a message telling the user to log in', async () => {
    const client = new RegistryClient(reg.host, 'lodger/private', { ...base, authFile });
    await expectLodgerError(client.getManifest('v1'), 'AUTH_REQUIRED', `pull ${reg.host}/lodger/private:v1`, /401 Unauthorized/, `run "lodger login ${reg.host}"`);
  });

  it('login refuses a wrong password and stores nothing; a right one is stored 0600 and then pulls work', async () => {
    await expectLodgerError(login(reg.host, reg.user!, 'wrong', { ...base, authFile }), 'AUTH_FAILED', `login ${reg.host}`);
    expect(fs.existsSync(authFile)).toBe(false);

    const r = await login(`http://${reg.host}/`, reg.user!, reg.password!, { ...base, authFile });
    expect(r.registry).toBe(reg.host);
    expect(fs.statSync(authFile).mode & 0o777).toBe(0o600);
    const stored = JSON.parse(fs.readFileSync(authFile, 'utf8')) as { auths: Record<string, { auth: string }> };
    expect(Buffer.from(stored.auths[reg.host].auth, 'base64').toString()).toBe(`${reg.user}:${reg.password}`);

    const client = new RegistryClient(reg.host, 'lodger/private', { ...base, authFile });
    expect((await client.getManifest('v1')).layers).toHaveLength(2);

    await logout(reg.host, { authFile });
    await expectLodgerError(logout(reg.host, { authFile }), 'NOT_LOGGED_IN', /not logged in/);
    await expectLodgerError(new RegistryClient(reg.host, 'lodger/private', { ...base, authFile }).getManifest('v1'), 'AUTH_REQUIRED');
  });

  it('says the stored credentials were refused when they are stale', async () => {
    fs.writeFileSync(authFile, JSON.stringify({ auths: { [reg.host]: { auth: Buffer.from(`${reg.user}:stale`).toString('base64') } } }));
    const client = new RegistryClient(reg.host, 'lodger/private', { ...base, authFile });
    await expectLodgerError(client.getManifest('v1'), 'AUTH_FAILED', /were refused/, `lodger login ${reg.host}`);
  });
});

describe.runIf(ready)('registry with token (Bearer) auth', () => {
  let reg: TestRegistry;
  let img: BuiltImage;

  beforeAll(async () => {
    reg = await startRegistry({ auth: 'token' });
    img = await tinyImage('tokened', 't');
    await pushOci(img.dir, 'v1', `${reg.host}/lodger/public:v1`, { creds: `${reg.user}:${reg.password}` });
  });
  afterAll(async () => { await reg?.stop(); });

  it('pulls anonymously with a token per scope, fetched once and reused', async () => {
    const before = reg.tokenRequests().length;
    const client = new RegistryClient(reg.host, 'lodger/public', { ...base, anonymous: true });
    const r = await client.getManifest('v1');
    expect(r.digest).toBe(img.manifestDigest);
    for (const l of r.layers) await readAll(client.fetchBlob(l));
    const mine = reg.tokenRequests().slice(before);
    expect(mine).toEqual([{ scope: ['repository:lodger/public:pull'], user: null }]);
  });

  it('refuses an anonymous push with a login hint, and pushes with credentials', async () => {
    const payload = Buffer.from('pushed with a token');
    const desc: Descriptor = { mediaType: MediaType.OciLayer, digest: digestOf(payload), size: payload.length };
    const anon = new RegistryClient(reg.host, 'lodger/public', { ...base, anonymous: true });
    await expectLodgerError(anon.pushBlob(desc, payload), 'AUTH_REQUIRED', `lodger login ${reg.host}`);

    const before = reg.tokenRequests().length;
    const user = new RegistryClient(reg.host, 'lodger/public', { ...base, credentials: { username: reg.user!, password: reg.password! } });
    expect(await user.pushBlob(desc, payload)).toBe('uploaded');
    const mine = reg.tokenRequests().slice(before);
    expect(mine.length).toBeGreaterThan(0);
    expect(mine.every((t) => t.user === reg.user)).toBe(true);
    expect(mine.some((t) => t.scope.includes('repository:lodger/public:pull,push'))).toBe(true);
    expect(await anon.blobExists(desc.digest)).toBe(true);
  });

  it('login checks the password with the token service', async () => {
    const authFile = path.join(scratch, 'token-auth.json');
    await expectLodgerError(login(reg.host, reg.user!, 'nope', { ...base, authFile }), 'AUTH_FAILED', /refused/);
    await login(reg.host, reg.user!, reg.password!, { ...base, authFile });
    const client = new RegistryClient(reg.host, 'lodger/public', { ...base, authFile });
    await client.getManifest('v1');
    expect(reg.tokenRequests().at(-1)?.user).toBe(reg.user);
  });
});

describe.runIf(ready)('TLS registry', () => {
  let reg: TestRegistry;
  let img: BuiltImage;

  beforeAll(async () => {
    reg = await startRegistry({ tls: true });
    img = await tinyImage('tls', 'x');
    await pushOci(img.dir, 'v1', `${reg.host}/lodger/tls:v1`);
  });
  afterAll(async () => { await reg?.stop(); });

  it('verifies the certificate with the CA from --cert-dir (certs.d layout)', async () => {
    const client = new RegistryClient(reg.host, 'lodger/tls', { ...base, certDir: reg.caDir });
    const r = await client.getManifest('v1');
    expect(client.session.currentScheme).toBe('https');
    expect(r.digest).toBe(img.manifestDigest);
    expect((await readAll(client.fetchBlob(r.layers[0]))).equals(fs.readFileSync(blobPath(img.dir, r.layers[0].digest)))).toBe(true);
  });

  it('fails without the CA, naming --cert-dir and --tls-verify, and never falls back to plain HTTP', async () => {
    const client = new RegistryClient(reg.host, 'lodger/tls', base);
    await expectLodgerError(client.getManifest('v1'), 'TLS_VERIFY_FAILED', `pull ${reg.host}/lodger/tls:v1`, /not trusted/, /--cert-dir/, /--tls-verify=false/);
    expect(client.session.currentScheme).toBeUndefined();
  });

  it('accepts the unverified certificate with --tls-verify=false', async () => {
    const client = new RegistryClient(reg.host, 'lodger/tls', { ...base, tlsVerify: false });
    expect((await client.getManifest('v1')).digest).toBe(img.manifestDigest);
    expect(client.session.currentScheme).toBe('https');
  });
});

// ---- Hostile peers: a small server that speaks just enough of the registry API to lie. ----

interface Hostile {
  host: string;
  seen: { method: string; url: string; headers: http.IncomingHttpHeaders }[];
  close(): Promise<void>;
}

async function hostileServer(handler: (req: http.IncomingMessage, res: http.ServerResponse) => void, bind = '127.0.0.1'): Promise<Hostile> {
  const seen: Hostile['seen'] = [];
  const server = http.createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    if (req.url === '/v2/' && !res.headersSent) {
      // Let handlers override /v2/ by answering first; default: an open registry.
      handler(req, res);
      if (!res.headersSent) { res.writeHead(200, { 'Content-Type': 'application/json' }); res.end('{}'); }
      return;
    }
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, bind, resolve));
  return {
    host: `${bind}:${(server.address() as net.AddressInfo).port}`,
    seen,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

const sha = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

describe('hostile registries', () => {
  const real = Buffer.from('x'.repeat(10_000));
  const desc: Descriptor = { mediaType: MediaType.OciLayerGzip, digest: sha(real), size: real.length };
  const servers: Hostile[] = [];
  afterAll(async () => { for (const s of servers) await s.close(); });
  const serve = async (h: (req: http.IncomingMessage, res: http.ServerResponse) => void, bind?: string): Promise<Hostile> => {
    const s = await hostileServer(h, bind);
    servers.push(s);
    return s;
  };

  it('refuses a blob whose content does not match its digest', async () => {
    const s = await serve((req, res) => {
      if (req.url === '/v2/') return;
      res.writeHead(200, { 'Content-Length': String(real.length) });
      res.end(Buffer.from('y'.repeat(real.length)));
    });
    const client = new RegistryClient(s.host, 'evil/img', base);
    await expectLodgerError(readAll(client.fetchBlob(desc)), 'DIGEST_MISMATCH', /expected sha256:/);
  });

  it('cuts off a blob longer than its descriptor at size+1 bytes, never handing the excess on', async () => {
    const s = await serve((req, res) => {
      if (req.url === '/v2/') return;
      // Chunked encoding: no Content-Length to give the lie away before the bytes arrive.
      res.writeHead(200, {});
      res.write(real);
      res.write(Buffer.alloc(1 << 20, 'z'));
      res.end();
    });
    const client = new RegistryClient(s.host, 'evil/img', base);
    const stream = client.fetchBlob(desc);
    let received = 0;
    stream.on('data', (c: Buffer) => { received += c.length; });
    await expectLodgerError(new Promise((resolve, reject) => { stream.on('end', resolve); stream.on('error', reject); }), 'BLOB_TOO_LONG', /more than the 10000 bytes/);
    expect(received).toBeLessThanOrEqual(desc.size);
  });

  it('refuses a blob announced longer, and a blob that ends short', async () => {
    const long = await serve((req, res) => {
      if (req.url === '/v2/') return;
      res.writeHead(200, { 'Content-Length': String(real.length + 1) });
      res.end(Buffer.concat([real, Buffer.from('!')]));
    });
    await expectLodgerError(readAll(new RegistryClient(long.host, 'evil/img', base).fetchBlob(desc)), 'BLOB_TOO_LONG');
    const short = await serve((req, res) => {
      if (req.url === '/v2/') return;
      res.writeHead(200, {});
      res.end(real.subarray(0, 100));
    });
    await expectLodgerError(readAll(new RegistryClient(short.host, 'evil/img', base).fetchBlob(desc)), 'BLOB_TOO_SHORT', /after 100 of 10000 bytes/);
  });

  it('retries 503 and 429 with backoff, and resumes a reset transfer with a Range request', async () => {
    let calls = 0;
    const s = await serve((req, res) => {
      if (req.url === '/v2/') return;
      calls++;
      if (calls === 1) { res.writeHead(503, { 'Retry-After': '0' }); res.end(); return; }
      if (calls === 2) { res.writeHead(429); res.end(); return; }
      if (calls === 3) {
        // Half the blob, then the connection dies.
        res.writeHead(200, { 'Content-Length': String(real.length) });
        res.write(real.subarray(0, 4000), () => setTimeout(() => req.socket.destroy(), 20));
        return;
      }
      const m = /^bytes=([0-9]+)-$/.exec(String(req.headers.range ?? ''));
      const from = m ? Number(m[1]) : 0;
      res.writeHead(206, { 'Content-Range': `bytes ${from}-${real.length - 1}/${real.length}`, 'Content-Length': String(real.length - from) });
      res.end(real.subarray(from));
    });
    const client = new RegistryClient(s.host, 'evil/img', base);
    const got = await readAll(client.fetchBlob(desc));
    expect(got.equals(real)).toBe(true);
    expect(client.stats.retries).toBe(3);
    const blobGets = s.seen.filter((r) => r.url.includes('/blobs/'));
    expect(blobGets).toHaveLength(4);
    expect(blobGets[3].headers.range).toBe('bytes=4000-');
  });

  it('gives up after the retry budget with a clear error', async () => {
    const s = await serve((req, res) => {
      if (req.url === '/v2/') return;
      res.writeHead(503);
      res.end();
    });
    const client = new RegistryClient(s.host, 'evil/img', { ...base, retry: { attempts: 3, baseDelayMs: 5, maxDelayMs: 10 } });
    await expectLodgerError(readAll(client.fetchBlob(desc)), 'REGISTRY_UNAVAILABLE', /503 Service Unavailable/, /try again later/);
    expect(s.seen.filter((r) => r.url.includes('/blobs/'))).toHaveLength(3);
  });

  it('follows a redirect to blob storage on another host without the Authorization header', async () => {
    const storage = await serve((_req, res) => {
      res.writeHead(200, { 'Content-Length': String(real.length) });
      res.end(real);
    }, '127.0.0.2');
    const s = await serve((req, res) => {
      if (!req.headers.authorization) {
        res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="hostile"' });
        res.end();
        return;
      }
      if (req.url === '/v2/') return;
      res.writeHead(307, { Location: `http://${storage.host}/storage/blob?sig=1` });
      res.end();
    });
    const client = new RegistryClient(s.host, 'evil/img', { ...base, credentials: { username: 'u', password: 'p' } });
    expect((await readAll(client.fetchBlob(desc))).equals(real)).toBe(true);
    expect(s.seen.some((r) => r.url.includes('/blobs/') && r.headers.authorization === `Basic ${Buffer.from('u:p').toString('base64')}`)).toBe(true);
    expect(storage.seen).toHaveLength(1);
    expect(storage.seen[0].headers.authorization).toBeUndefined();
  });

  it('refuses manifests whose mediaType disagrees with their shape or their Content-Type', async () => {
    const layer = { mediaType: MediaType.OciLayerGzip, digest: desc.digest, size: desc.size };
    const config = { mediaType: MediaType.OciConfig, digest: desc.digest, size: desc.size };
    const docs: Record<string, { body: unknown; type: string; why: RegExp }> = {
      both: { body: { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [], layers: [layer], config }, type: MediaType.OciIndex, why: /both "manifests" and "layers"/ },
      shape: { body: { schemaVersion: 2, mediaType: MediaType.OciIndex, layers: [layer], config }, type: MediaType.OciIndex, why: /does not match the document/ },
      ctype: { body: { schemaVersion: 2, mediaType: MediaType.OciManifest, layers: [layer], config }, type: MediaType.DockerManifestList, why: /Content-Type/ },
      nomedia: { body: { schemaVersion: 2, manifests: [] }, type: MediaType.OciManifest, why: /Content-Type/ },
      schema1: { body: { schemaVersion: 1, name: 'x', tag: 'y', fsLayers: [] }, type: MediaType.DockerSchema1Signed, why: /schema 1/ },
    };
    const s = await serve((req, res) => {
      if (req.url === '/v2/') return;
      const name = /manifests\/(\w+)$/.exec(req.url ?? '')?.[1] ?? '';
      const d = docs[name];
      res.writeHead(200, { 'Content-Type': d.type });
      res.end(JSON.stringify(d.body));
    });
    const client = new RegistryClient(s.host, 'evil/img', base);
    for (const [name, d] of Object.entries(docs)) {
      await expectLodgerError(client.getManifest(name), name === 'schema1' ? 'MANIFEST_SCHEMA1' : 'MANIFEST_INVALID', d.why);
    }
  });

  it('refuses a manifest fetched by digest whose content has another digest', async () => {
    const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciManifest, config: { mediaType: MediaType.OciConfig, digest: desc.digest, size: 1 }, layers: [] }));
    const s = await serve((req, res) => {
      if (req.url === '/v2/') return;
      res.writeHead(200, { 'Content-Type': MediaType.OciManifest, 'Docker-Content-Digest': sha(Buffer.from('other')) });
      res.end(body);
    });
    const client = new RegistryClient(s.host, 'evil/img', base);
    await expectLodgerError(client.getManifest(sha(Buffer.from('wanted'))), 'DIGEST_MISMATCH');
    await expectLodgerError(client.getManifest('tagged'), 'DIGEST_MISMATCH', /altered/);
  });

  it('says the registry is down when nothing listens', async () => {
    const s = await serve(() => undefined);
    const host = s.host;
    await s.close();
    servers.splice(servers.indexOf(s), 1);
    const client = new RegistryClient(host, 'gone/img', base);
    await expectLodgerError(client.getManifest('v1'), 'REGISTRY_UNREACHABLE', /connection refused/, /is the registry running/);
  });
});
