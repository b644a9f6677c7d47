// Where the service listens: podman's URI forms (unix:///path, tcp://host:port) and the default socket path.
import * as net from 'node:net';
import * as path from 'node:path';
import { LodgerError } from '../errors';
import { runtimeDir } from '../storage/paths';

export type ListenAddress = { kind: 'unix'; path: string } | { kind: 'tcp'; host: string; port: number } | { kind: 'fd'; fd: number };

/**
 * systemd socket activation (sd_listen_fds(3)): LISTEN_PID is us and LISTEN_FDS counts the sockets
 * passed from fd 3 on; we serve the first.
 */
export function activatedSocket(env: NodeJS.ProcessEnv = process.env): ListenAddress | undefined {
  if (env.LISTEN_PID !== String(process.pid) || !(Number(env.LISTEN_FDS) >= 1)) return undefined;
  return { kind: 'fd', fd: 3 };
}

/** $XDG_RUNTIME_DIR/lodger/lodger.sock, or the private runtime directory's when XDG_RUNTIME_DIR is unset. */
export function defaultSocketPath(): string {
  return path.join(runtimeDir(), 'lodger.sock');
}

/** Loopback: 127.0.0.0/8, ::1 and localhost — nobody off this machine can reach them. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  if (h === 'localhost') return true;
  if (net.isIPv4(h)) return h.startsWith('127.');
  if (net.isIPv6(h)) return h === '::1' || /^::ffff:127\./i.test(h);
  return false;
}

/**
 * Parses URI. A tcp:// address other than loopback is refused: the API starts containers as this
 * user, and over TCP there is no peer credential to check, so it would hand the account to anyone
 * who can reach the port (podman-system-service(1) warns of the same).
 */
export function parseListenUri(uri: string | undefined): ListenAddress {
  if (!uri) return { kind: 'unix', path: defaultSocketPath() };
  if (uri.startsWith('unix://')) {
    const p = uri.slice('unix://'.length);
    if (!p.startsWith('/')) throw new LodgerError('BAD_URI', `service URI ${uri}: give an absolute socket path, unix:///run/user/1000/lodger/lodger.sock`);
    return { kind: 'unix', path: p };
  }
  if (uri.startsWith('tcp://')) {
    let u: URL;
    try { u = new URL(uri.replace(/^tcp:/, 'http:')); } catch { throw new LodgerError('BAD_URI', `service URI ${uri}: expected tcp://HOST:PORT`); }
    const host = u.hostname.replace(/^\[|\]$/g, '');
    if (!u.port) throw new LodgerError('BAD_URI', `service URI ${uri}: give a port, tcp://127.0.0.1:2375`);
    if (!isLoopback(host)) {
      throw new LodgerError('TCP_NOT_LOOPBACK', `service URI ${uri}: refusing to listen on a non-loopback address — anyone who reaches it could run containers as you; use a unix:// socket or tcp://127.0.0.1:PORT`);
    }
    return { kind: 'tcp', host, port: Number(u.port) };
  }
  if (uri.startsWith('/')) return { kind: 'unix', path: uri };
  throw new LodgerError('BAD_URI', `service URI ${uri}: use unix:///path/to/socket or tcp://127.0.0.1:PORT`);
}
