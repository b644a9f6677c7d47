// A real loopback registry for tests: Debian's docker-registry with a generated config, optionally TLS (openssl-made CA), htpasswd auth, or token auth served by a small token service.
//
// docker-registry configuration: distribution docs/configuration.md (http.addr, http.tls,
// auth.htpasswd — bcrypt only —, auth.token with realm/service/issuer/rootcertbundle). Tokens are
// JWTs signed RS256 whose x5c header carries the signing certificate, which the registry checks
// against rootcertbundle (distribution docs/spec/auth/jwt.md).
import { spawn, type ChildProcess } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { mustRun, runCommand } from './exec';
import { requireTool, toolPath } from './prereqs';

export interface RegistryOptions {
  /** Serve HTTPS with a certificate for 127.0.0.1 signed by a fresh CA. */
  tls?: boolean;
  /** true or 'htpasswd': Basic auth; 'token': Bearer tokens from a token service (anonymous may pull, the user may push). */
  auth?: boolean | 'htpasswd' | 'token';
}

export interface TestRegistry {
  /** 127.0.0.1:PORT */
  host: string;
  /** certs.d-style directory: <caDir>/<host>/ca.crt. */
  caDir?: string;
  caFile?: string;
  user?: string;
  password?: string;
  /** The registry's access log and messages so far. */
  log(): string;
  /** Requests in the access log whose request line matches, e.g. /"PUT \/v2\/x\/blobs\/uploads/. */
  countRequests(re: RegExp): number;
  /** Token requests served (auth: 'token' only). */
  tokenRequests(): { scope: string[]; user: string | null }[];
  stop(): Promise<void>;
}

/** True if docker-registry, openssl and a bcrypt tool are present; fails in CI through requireTool otherwise. */
export function registryPrereqs(): boolean {
  return requireTool('docker-registry') && requireTool('openssl') && requireTool('skopeo');
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** A bcrypt htpasswd line: htpasswd -B if installed, else Perl's crypt(3), which uses libxcrypt's bcrypt on Debian. */
async function bcryptLine(user: string, password: string): Promise<string> {
  if (toolPath('htpasswd')) return (await mustRun('htpasswd', ['-Bbn', user, password])).trim();
  const salt = crypto.randomBytes(16).toString('base64').replace(/[^A-Za-z0-9]/g, '').padEnd(22, 'a').slice(0, 22);
  const hash = (await mustRun('perl', ['-e', 'print crypt($ARGV[0], $ARGV[1])', password, `$2b$05$${salt}`])).trim();
  if (!hash.startsWith('$2b$')) throw new Error('no bcrypt available: install apache2-utils (htpasswd)');
  return `${user}:${hash}`;
}

async function makeTls(dir: string): Promise<{ caFile: string; cert: string; key: string }> {
  const caKey = path.join(dir, 'ca.key');
  const caFile = path.join(dir, 'ca.crt');
  const key = path.join(dir, 'server.key');
  const csr = path.join(dir, 'server.csr');
  const cert = path.join(dir, 'server.crt');
  const ext = path.join(dir, 'server.ext');
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await mustRun('openssl', ['req', '-x509', ...ec, '-keyout', caKey, '-out', caFile, '-days', '2', '-subj', '/CN=lodger test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  await mustRun('openssl', ['req', ...ec, '-keyout', key, '-out', csr, '-subj', '/CN=127.0.0.1']);
  fs.writeFileSync(ext, 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n');
  await mustRun('openssl', ['x509', '-req', '-in', csr, '-CA', caFile, '-CAkey', caKey, '-CAcreateserial', '-out', cert, '-days', '2', '-extfile', ext]);
  return { caFile, cert, key };
}

interface TokenService {
  realm: string;
  rootBundle: string;
  requests: { scope: string[]; user: string | null }[];
  close(): Promise<void>;
}

const b64url = (b: Buffer | string): string => Buffer.from(b).toString('base64url');

/** A token service: anonymous callers get pull, the test user gets what they ask for, wrong passwords get 401. */
async function startTokenService(dir: string, user: string, password: string, service: string, issuer: string): Promise<TokenService> {
  const key = path.join(dir, 'token.key');
  const cert = path.join(dir, 'token.crt');
  await mustRun('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=lodger test token signer']);
  const signer = crypto.createPrivateKey(fs.readFileSync(key));
  const der = new crypto.X509Certificate(fs.readFileSync(cert)).raw;
  const requests: TokenService['requests'] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const scopes = url.searchParams.getAll('scope');
    let who: string | null = null;
    const auth = req.headers.authorization;
    if (auth) {
      const [u, ...p] = Buffer.from(auth.replace(/^Basic /, ''), 'base64').toString().split(':');
      if (!auth.startsWith('Basic ') || u !== user || p.join(':') !== password) {
        res.writeHead(401, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ details: 'incorrect username or password' }));
        return;
      }
      who = u;
    }
    requests.push({ scope: scopes, user: who });
    const access = scopes.map((s) => {
      const [type, name, actions] = s.split(':');
      const asked = (actions ?? '').split(',').filter(Boolean);
      return { type, name, actions: who ? asked : asked.filter((a) => a === 'pull') };
    });
    const now = Math.floor(Date.now() / 1000);
    const header = { typ: 'JWT', alg: 'RS256', x5c: [der.toString('base64')] };
    const claims = { iss: issuer, sub: who ?? '', aud: service, exp: now + 300, nbf: now - 10, iat: now, jti: crypto.randomBytes(8).toString('hex'), access };
    const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const sig = crypto.sign('sha256', Buffer.from(input), signer);
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ token: `${input}.${b64url(sig)}`, expires_in: 300, issued_at: new Date().toISOString() }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    realm: `http://127.0.0.1:${port}/token`,
    rootBundle: cert,
    requests,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

function waitForExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    child.once('exit', () => { clearTimeout(t); resolve(true); });
  });
}

/** Polls GET /v2/ until the registry answers (any status), or fails with its log. */
async function waitReady(host: string, tlsOn: boolean, child: ChildProcess, logFile: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited with ${child.exitCode}:\n${fs.readFileSync(logFile, 'utf8')}`);
    const ok = await new Promise<boolean>((resolve) => {
      const mod = tlsOn ? https : http;
      const req = mod.get(`${tlsOn ? 'https' : 'http'}://${host}/v2/`, { rejectUnauthorized: false, agent: false }, (res) => { res.resume(); resolve(true); });
      req.on('error', () => resolve(false));
      req.setTimeout(1000, () => req.destroy());
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`docker-registry on ${host} did not answer within 20 s:\n${fs.readFileSync(logFile, 'utf8')}`);
}

/** Starts docker-registry on 127.0.0.1 with storage in a fresh temp dir. Call stop() when done. */
export async function startRegistry(opts: RegistryOptions = {}): Promise<TestRegistry> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lodger-registry-'));
  const storage = path.join(dir, 'storage');
  fs.mkdirSync(storage);
  const logFile = path.join(dir, 'registry.log');
  let tlsFiles: { caFile: string; cert: string; key: string } | undefined;
  if (opts.tls) tlsFiles = await makeTls(dir);
  const authMode = opts.auth === true ? 'htpasswd' : opts.auth || undefined;
  const user = authMode ? 'lodgeruser' : undefined;
  const password = authMode ? `pw-${crypto.randomBytes(6).toString('hex')}` : undefined;
  let token: TokenService | undefined;
  const lines: string[] = [
    'version: 0.1',
    'log:',
    '  level: info',
    '  formatter: text',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${JSON.stringify(storage)}`,
    '  delete:',
    '    enabled: true',
    'http:',
    '  addr: "ADDR"',
    `  secret: ${crypto.randomBytes(16).toString('hex')}`,
  ];
  if (tlsFiles) lines.push('  tls:', `    certificate: ${JSON.stringify(tlsFiles.cert)}`, `    key: ${JSON.stringify(tlsFiles.key)}`);
  if (authMode === 'htpasswd') {
    const htpasswd = path.join(dir, 'htpasswd');
    fs.writeFileSync(htpasswd, (await bcryptLine(user!, password!)) + '\n');
    lines.push('auth:', '  htpasswd:', '    realm: lodger-test', `    path: ${JSON.stringify(htpasswd)}`);
  } else if (authMode === 'token') {
    token = await startTokenService(dir, user!, password!, 'lodger-test-registry', 'lodger-test-issuer');
    lines.push('auth:', '  token:', `    realm: ${JSON.stringify(token.realm)}`, '    service: lodger-test-registry',
      '    issuer: lodger-test-issuer', `    rootcertbundle: ${JSON.stringify(token.rootBundle)}`);
  }

  let child: ChildProcess | undefined;
  let host = '';
  // The free port may be taken between our probe and the registry's bind: try a few.
  for (let attempt = 0; attempt < 5; attempt++) {
    host = `127.0.0.1:${await freePort()}`;
    const config = path.join(dir, 'config.yml');
    fs.writeFileSync(config, lines.join('\n').replace('ADDR', host) + '\n');
    const out = fs.openSync(logFile, 'a');
    child = spawn('docker-registry', ['serve', config], { stdio: ['ignore', out, out] });
    fs.closeSync(out);
    try {
      await waitReady(host, !!tlsFiles, child, logFile);
      break;
    } catch (e) {
      child.kill('SIGKILL');
      await waitForExit(child, 5000);
      child = undefined;
      if (!/address already in use/.test(fs.readFileSync(logFile, 'utf8')) || attempt === 4) {
        await token?.close();
        fs.rmSync(dir, { recursive: true, force: true });
        throw e;
      }
    }
  }

  let caDir: string | undefined;
  if (tlsFiles) {
    caDir = path.join(dir, 'certs.d');
    fs.mkdirSync(path.join(caDir, host), { recursive: true });
    fs.copyFileSync(tlsFiles.caFile, path.join(caDir, host, 'ca.crt'));
  }
  const log = (): string => fs.readFileSync(logFile, 'utf8');
  return {
    host,
    caDir,
    caFile: tlsFiles?.caFile,
    user,
    password,
    log,
    countRequests: (re) => log().split('\n').filter((l) => /"(GET|HEAD|POST|PUT|PATCH|DELETE) \/v2\//.test(l) && re.test(l)).length,
    tokenRequests: () => [...(token?.requests ?? [])],
    async stop() {
      if (child) {
        child.kill('SIGTERM');
        if (!(await waitForExit(child, 10_000))) { child.kill('SIGKILL'); await waitForExit(child, 5000); }
      }
      await token?.close();
      // Storage written by the registry is ours (same user): remove it all.
      await runCommand('rm', ['-rf', dir]);
    },
  };
}
