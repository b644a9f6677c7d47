// slirp4netns(1): starting it for a container's network namespace, waiting until it is ready, forwarding ports through its API socket, stopping it.
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { closeSync, unlinkSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import type { Stream } from 'node:stream';
import { LodgerError } from '../errors';
import { cidrAddress, isIPv6, parseIPv4, parseIPv4Cidr } from './addr';
import type { SlirpInfo, SlirpOptions } from './mode';
import type { PortMapping } from './ports';
import { identify, openLog, tailFile, terminate, type ProcessIdentity } from './procs';

/** Addresses of the virtual network slirp4netns(1) documents: gateway/host .2, DNS .3, guest .100 (with --configure). */
export interface SlirpAddresses {
  cidr: string;
  prefix: number;
  gateway: string;
  dns: string;
  guest: string;
}

export const SLIRP_DEFAULT_CIDR = '10.0.2.0/24';
/** The tap device slirp4netns creates in the container's namespace. */
export const SLIRP_TAP = 'tap0';
/** sun_path is 108 bytes including the NUL (unix(7)). */
const MAX_SOCKET_PATH = 107;

export function slirpAddresses(cidr: string | null): SlirpAddresses {
  const net = parseIPv4Cidr(cidr || SLIRP_DEFAULT_CIDR);
  if (!net) throw new LodgerError('NETWORK_OPTION_INVALID', `compute slirp4netns addresses for cidr ${cidr}: not an IPv4 network`);
  return {
    cidr: `${net.network}/${net.prefix}`,
    prefix: net.prefix,
    gateway: cidrAddress(net, 2),
    dns: cidrAddress(net, 3),
    guest: cidrAddress(net, 100),
  };
}

/** `outbound_addr=eth0` names an interface; slirp4netns(1) `--outbound-addr` wants its address. */
function resolveOutbound(value: string, family: 'IPv4' | 'IPv6'): string {
  if (family === 'IPv4' ? parseIPv4(value) !== null : isIPv6(value)) return value;
  const addrs = networkInterfaces()[value];
  const hit = addrs && addrs.find((a) => a.family === family && !a.internal);
  if (!hit) {
    throw new LodgerError(
      'NETWORK_OPTION_INVALID',
      `resolve slirp4netns outbound_addr${family === 'IPv6' ? '6' : ''}=${value}: no interface of that name with an ${family} address — give an address or an existing interface`,
    );
  }
  return hit.address;
}

export interface SlirpArgsInput {
  pid: number;
  options: SlirpOptions;
  info: SlirpInfo;
  apiSocket: string;
  exitFd: number;
  readyFd: number;
}

/** The argument vector for slirp4netns 1.x (flags checked against the installed --help). */
export function buildSlirpArgs(input: SlirpArgsInput): string[] {
  const { options, info } = input;
  const args = ['--configure', `--mtu=${options.mtu}`];
  // slirp4netns(1): without --disable-host-loopback the gateway address reaches the host's 127.0.0.1:*.
  if (!options.allowHostLoopback) args.push('--disable-host-loopback');
  // --enable-sandbox: own mount namespace, pivot_root into a tmpfs with only /etc and /run, capabilities
  // dropped; --enable-seccomp: syscall filter. Both only when this build lists/supports them.
  if (info.sandbox) args.push('--enable-sandbox');
  if (info.seccomp) args.push('--enable-seccomp');
  if (options.cidr) args.push(`--cidr=${options.cidr}`);
  if (options.enableIpv6) args.push('--enable-ipv6');
  if (options.outboundAddr) args.push(`--outbound-addr=${resolveOutbound(options.outboundAddr, 'IPv4')}`);
  if (options.outboundAddr6) args.push(`--outbound-addr6=${resolveOutbound(options.outboundAddr6, 'IPv6')}`);
  args.push(`--api-socket=${input.apiSocket}`, `--exit-fd=${input.exitFd}`, `--ready-fd=${input.readyFd}`);
  // The PID form, not `--netns-type=path --userns-path=…`: slirp4netns 1.2.0 joins the target's user
  // namespace for --enable-sandbox (to become root there before unshare(CLONE_NEWNS)) only when it was
  // given a PID; with a path it calls setegid(0) outside any user namespace and fails ("setegid(0)").
  args.push(String(input.pid), SLIRP_TAP);
  return args;
}

export interface StartSlirpOptions {
  pid: number;
  runtimeDir: string;
  options: SlirpOptions;
  info: SlirpInfo;
  /** See AttachOptions.exitFd: the read end of a pipe/socket held open for the container's life. */
  exitFd?: number | Stream;
  ports?: PortMapping[];
  readyTimeoutMs?: number;
}

export interface SlirpHandle {
  identity: ProcessIdentity;
  apiSocket: string;
  logFile: string;
  addresses: SlirpAddresses;
  /** Closes our end of the exit pipe (if we own it), terminates slirp4netns, removes the API socket. */
  stop(): Promise<void>;
}

/** Ends this process holds open so a network process lives while we do; closed by stop(). */
const heldEnds = new Set<Socket>();

function waitReady(child: ChildProcess, readyPipe: Socket, timeoutMs: number, logFile: string, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let done = false;
    const finish = (err?: LodgerError): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      child.removeListener('exit', onExit);
      readyPipe.removeAllListeners('data');
      readyPipe.destroy();
      if (err) reject(err);
      else resolve();
    };
    const onExit = (code: number | null, signal: string | null): void => {
      const log = tailFile(logFile);
      finish(
        new LodgerError(
          'NETWORK_START_FAILED',
          `start ${what}: it exited (${signal || `status ${code}`}) before the network was ready${log ? `:\n${log}` : ''}\n— see ${logFile}`,
        ),
      );
    };
    const timer = setTimeout(() => {
      finish(new LodgerError('NETWORK_START_FAILED', `start ${what}: not ready after ${timeoutMs} ms — see ${logFile}`));
    }, timeoutMs);
    readyPipe.on('data', (chunk: Buffer) => {
      if (chunk.includes(0x31 /* "1" */)) finish();
    });
    child.once('exit', onExit);
  });
}

/** Sends one request to the slirp4netns API socket (one JSON object per connection) and returns the reply. */
export function slirpApiRequest(apiSocket: string, request: object, timeoutMs = 5000): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const sock = connect(apiSocket);
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new LodgerError('NETWORK_API_FAILED', `call slirp4netns API ${apiSocket}: no answer after ${timeoutMs} ms — is slirp4netns still running?`));
    }, timeoutMs);
    sock.on('connect', () => sock.write(JSON.stringify(request)));
    sock.on('data', (c: Buffer) => chunks.push(c));
    sock.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new LodgerError('NETWORK_API_FAILED', `call slirp4netns API ${apiSocket}: ${err.code || err.message} — is slirp4netns still running?`));
    });
    sock.on('end', () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('utf8');
      try {
        resolve(JSON.parse(text) as Record<string, unknown>);
      } catch {
        reject(new LodgerError('NETWORK_API_FAILED', `call slirp4netns API ${apiSocket}: unreadable answer ${JSON.stringify(text)}`));
      }
    });
  });
}

/** Adds one host→guest forward (`add_hostfwd`); the guest address defaults to slirp's recommended one. */
export async function slirpAddPort(apiSocket: string, m: PortMapping, guestAddr: string): Promise<number> {
  const reply = await slirpApiRequest(apiSocket, {
    execute: 'add_hostfwd',
    arguments: { proto: m.protocol, host_addr: m.hostIp || '0.0.0.0', host_port: m.hostPort, guest_addr: guestAddr, guest_port: m.containerPort },
  });
  const ret = reply.return as { id?: number } | undefined;
  if (ret && typeof ret.id === 'number') return ret.id;
  const desc = (reply.error as { desc?: string } | undefined)?.desc || JSON.stringify(reply);
  throw new LodgerError(
    'NETWORK_PORT_IN_USE',
    `publish ${m.hostIp || '0.0.0.0'}:${m.hostPort} -> ${m.containerPort}/${m.protocol} through slirp4netns: ${desc} — the host port is probably taken; choose another`,
  );
}

/**
 * Starts slirp4netns for the network namespace of `pid`, detached in its own session so it outlives
 * the CLI, and resolves once it reported ready (--ready-fd: tap configured, API socket listening,
 * sandbox entered) and every port is forwarded.
 *
 * Lifetime: slirp4netns exits when its --exit-fd reports POLLHUP, i.e. when every copy of the other
 * end is closed. With `exitFd` the caller decides who holds the other end (the container monitor);
 * without it this process holds it, so the network dies with this process or with stop().
 * slirp4netns does not notice the namespace going away by itself: its tap fd keeps the namespace alive.
 */
export async function startSlirp(o: StartSlirpOptions): Promise<SlirpHandle> {
  const addresses = slirpAddresses(o.options.cidr);
  const apiSocket = join(o.runtimeDir, 'slirp.sock');
  if (Buffer.byteLength(apiSocket) > MAX_SOCKET_PATH) {
    throw new LodgerError('NETWORK_START_FAILED', `start slirp4netns: API socket path ${apiSocket} is longer than ${MAX_SOCKET_PATH} bytes — use a shorter runtime directory (XDG_RUNTIME_DIR)`);
  }
  for (const m of o.ports || []) {
    if (m.hostIp && isIPv6(m.hostIp)) {
      throw new LodgerError('NETWORK_PORT_INVALID', `publish [${m.hostIp}]:${m.hostPort} through slirp4netns: its API forwards IPv4 host addresses only — use pasta or an IPv4 host address`);
    }
  }
  const logFile = join(o.runtimeDir, 'slirp4netns.log');
  const args = buildSlirpArgs({ pid: o.pid, options: o.options, info: o.info, apiSocket, exitFd: 3, readyFd: 4 });
  try {
    unlinkSync(apiSocket); // a stale socket from an earlier run makes bind(2) fail with EADDRINUSE
  } catch {
    // absent: the usual case
  }
  const logFd = openLog(logFile);
  let child: ChildProcess;
  try {
    child = spawn(o.info.path, args, {
      detached: true,
      stdio: ['ignore', logFd, logFd, o.exitFd === undefined ? 'pipe' : (o.exitFd as number), 'pipe'],
    });
  } finally {
    closeSync(logFd);
  }
  const ownEnd = o.exitFd === undefined ? (child.stdio[3] as Socket) : null;
  if (ownEnd) {
    heldEnds.add(ownEnd);
    ownEnd.on('error', () => undefined); // EPIPE/ECONNRESET once slirp4netns is gone: expected
  }
  const spawnError = new Promise<never>((_, reject) =>
    child.once('error', (err: NodeJS.ErrnoException) =>
      reject(new LodgerError('NETWORK_START_FAILED', `start slirp4netns ${o.info.path}: ${err.code || err.message} — is slirp4netns installed?`)),
    ),
  );
  const releaseOwnEnd = (): void => {
    if (ownEnd) {
      heldEnds.delete(ownEnd);
      ownEnd.destroy();
    }
  };
  let identity: ProcessIdentity | null = null;
  const stop = async (): Promise<void> => {
    releaseOwnEnd();
    if (identity) await terminate(identity);
    try {
      unlinkSync(apiSocket);
    } catch {
      // already removed by slirp4netns on a clean exit
    }
  };
  try {
    await Promise.race([waitReady(child, child.stdio[4] as Socket, o.readyTimeoutMs ?? 10000, logFile, 'slirp4netns'), spawnError]);
    identity = identify(child.pid as number);
    if (!identity) throw new LodgerError('NETWORK_START_FAILED', `start slirp4netns: it exited right after becoming ready — see ${logFile}`);
    for (const m of o.ports || []) await slirpAddPort(apiSocket, m, addresses.guest);
  } catch (err) {
    if (!identity && child.pid) identity = identify(child.pid);
    await stop();
    throw err;
  }
  child.unref();
  if (ownEnd) ownEnd.unref();
  return { identity, apiSocket, logFile, addresses, stop };
}
