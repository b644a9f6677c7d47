// The API service: an HTTP/1.1 server on a unix socket (0600 in a 0700 directory, peers checked by uid),
// stopping after an idle time or when told (the CLI relays SIGTERM) — and taking no container with it (each has its own monitor).
import { native } from '../helper/native';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';
import { fsError, LodgerError } from '../errors';
import type { Backend } from './backend';
import { createRouter } from './router';
import { allRoutes } from './routers';
import type { ListenAddress } from './uri';

export interface ServiceOptions {
  address: ListenAddress;
  /** Seconds without a connection before the service exits; 0 serves until stopped. */
  idleSeconds: number;
  backend: Backend;
  /** Report every request through notice. */
  debug?: boolean;
  /** Notices for whoever started the service (the CLI prints them to stderr). */
  notice?: (text: string) => void;
}

export interface Service {
  /** The socket path or host:port, as DOCKER_HOST names it. */
  url: string;
  /** Resolves when the service has stopped (idle, stop() or a signal). */
  closed: Promise<void>;
  stop(): Promise<void>;
}

/** The socket's directory: created 0700, and refused when another user owns it or others may enter it. */
function prepareSocketDir(dir: string): void {
  try { fs.mkdirSync(dir, { recursive: true, mode: 0o700 }); } catch (e) { throw fsError('create socket directory', dir, e); }
  const st = fs.statSync(dir);
  const uid = process.getuid?.() ?? 0;
  if (st.uid !== uid) throw new LodgerError('SOCKET_DIR_UNSAFE', `socket directory ${dir} belongs to uid ${st.uid}, not to you — choose another path`);
  if ((st.mode & 0o077) !== 0) {
    // Ours but open to others (e.g. made by hand): tighten it rather than serve through it.
    try { fs.chmodSync(dir, 0o700); } catch (e) { throw fsError('restrict socket directory', dir, e); }
  }
}

/** A socket file left by a service that died: removed if nobody answers on it, refused if someone does. */
async function clearStaleSocket(file: string): Promise<void> {
  if (!fs.existsSync(file)) return;
  const live = await new Promise<boolean>((resolve) => {
    const c = net.connect(file);
    c.once('connect', () => { c.destroy(); resolve(true); });
    c.once('error', () => resolve(false));
  });
  if (live) throw new LodgerError('SOCKET_IN_USE', `${file} is in use by a running service — stop it first, or give another path`);
  fs.rmSync(file, { force: true });
}

/** The uid at the other end of a unix connection (SO_PEERCRED, unix(7)); undefined if it cannot be read. */
function peerUid(sock: net.Socket): number | undefined {
  const fd = (sock as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) return undefined;
  return native().peerCred(fd).uid;
}

export async function startService(o: ServiceOptions): Promise<Service> {
  const router = createRouter(allRoutes, o.backend);
  const server = http.createServer({ requestTimeout: 0, keepAlive: true });
  server.headersTimeout = 60_000;
  server.keepAliveTimeout = 5_000;
  const sockets = new Set<net.Socket>();
  const me = process.getuid?.() ?? 0;
  let idleTimer: NodeJS.Timeout | undefined;
  const armIdle = () => {
    if (o.idleSeconds <= 0 || sockets.size > 0 || router.active() > 0) return;
    clearTimeout(idleTimer);
    idleTimer = setTimeout(() => { if (sockets.size === 0) void stop(); }, o.idleSeconds * 1000);
  };

  server.on('connection', (sock: net.Socket) => {
    if (o.address.kind !== 'tcp') {
      let uid: number | undefined;
      try { uid = peerUid(sock); } catch (e) { o.notice?.(`peer credentials: ${(e as Error).message}`); uid = undefined; }
      if (uid !== me) {
        o.notice?.(`refused a connection from uid ${uid ?? 'unknown'}: only uid ${me} may use this service`);
        sock.destroy();
        return;
      }
    }
    clearTimeout(idleTimer);
    sockets.add(sock);
    sock.once('close', () => { sockets.delete(sock); armIdle(); });
  });
  // --log-level debug: one line per request, as podman's service logs them.
  const trace = o.debug ? (req: http.IncomingMessage, kind: string) => o.notice?.(`${kind} ${req.method} ${req.url}`) : () => undefined;
  server.on('request', (req, res) => { trace(req, 'request'); void router.dispatch(req, { res }); });
  server.on('upgrade', (req, socket, head) => { trace(req, 'upgrade'); void router.dispatch(req, { socket, head }); });
  // A malformed request line or header: answer 400 and keep serving the others.
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{"message":"malformed HTTP request"}');
    else socket.destroy();
  });

  let url: string;
  if (o.address.kind === 'unix') {
    const file = o.address.path;
    prepareSocketDir(path.dirname(file));
    await clearStaleSocket(file);
    // The socket is created 0600 from the start (umask), never briefly open to others.
    const old = process.umask(0o177);
    try {
      await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(file, () => { server.off('error', reject); resolve(); }); });
    } finally {
      process.umask(old);
    }
    fs.chmodSync(file, 0o600);
    url = `unix://${file}`;
  } else if (o.address.kind === 'fd') {
    // systemd made the socket (and chose its mode and owner); peers are checked all the same.
    const fd = o.address.fd;
    await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen({ fd }, () => { server.off('error', reject); resolve(); }); });
    url = `fd://${fd}`;
  } else {
    const { host, port } = o.address;
    o.notice?.(`warning: listening on tcp://${host}:${port} — every local user can reach it (no peer check over TCP); prefer a unix socket`);
    await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(port, host, () => { server.off('error', reject); resolve(); }); });
    const a = server.address() as net.AddressInfo;
    url = `tcp://${host.includes(':') ? `[${host}]` : host}:${a.port}`;
  }

  let done!: () => void;
  const closed = new Promise<void>((r) => { done = r; });
  let stopping: Promise<void> | undefined;
  async function stop(): Promise<void> {
    if (stopping) return stopping;
    stopping = (async () => {
      clearTimeout(idleTimer);
      await new Promise<void>((r) => {
        server.close(() => r());
        // Streams (attach, logs -f, events) would hold the close forever: their clients are cut off;
        // the containers behind them keep running under their monitors.
        for (const s of sockets) s.destroy();
      });
      if (o.address.kind === 'unix') fs.rmSync(o.address.path, { force: true });
      await o.backend.drain();
      done();
    })();
    return stopping;
  }
  // One request's stray failure (a relay that broke after its answer went out) must not end the
  // service for every other client: it is reported and the service goes on.
  const stray = (e: unknown) => o.notice?.(`internal error (the service goes on): ${(e as Error)?.stack ?? String(e)}`);
  process.on('unhandledRejection', stray);
  void closed.then(() => process.off('unhandledRejection', stray));
  armIdle();
  return { url, closed, stop };
}
