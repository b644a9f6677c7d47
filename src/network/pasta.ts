// pasta(1): starting it for a container's network namespace with its ports, tuning the route to a mapped gateway, tying its life to the container, stopping it.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { mkdirSync, readFileSync, rmdirSync, symlinkSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { Stream } from 'node:stream';
import { LodgerError } from '../errors';
import { findSystemTool, type PastaInfo } from './mode';
import { readNetnsIPv4, type NetnsIPv4 } from './netinfo';
import type { PortMapping, Protocol } from './ports';
import { identify, isAlive, tailFile, terminate, waitForExit, type ProcessIdentity } from './procs';

/**
 * The address the container sends DNS queries to; pasta(1) `--dns-forward ADDR` maps UDP port 53 at
 * ADDR to the host's first resolver (from the host's /etc/resolv.conf), so a host resolver on
 * 127.0.0.53 works too. 169.254.1.1 is link-local, never a real host, and is what newer pastas use by default.
 */
export const PASTA_DNS_FORWARD = '169.254.1.1';

/** Groups consecutive mappings into pasta port specs: `[addr/]first[-last]:target[-targetLast]`. */
export function pastaPortSpecs(ports: PortMapping[], protocol: Protocol): string[] {
  const list = ports
    .filter((p) => p.protocol === protocol)
    .sort((a, b) => a.hostIp.localeCompare(b.hostIp) || a.hostPort - b.hostPort);
  const specs: string[] = [];
  let i = 0;
  while (i < list.length) {
    let j = i;
    while (
      j + 1 < list.length &&
      list[j + 1].hostIp === list[i].hostIp &&
      list[j + 1].hostPort === list[j].hostPort + 1 &&
      list[j + 1].containerPort === list[j].containerPort + 1
    ) {
      j++;
    }
    const a = list[i];
    const b = list[j];
    const host = a.hostPort === b.hostPort ? `${a.hostPort}` : `${a.hostPort}-${b.hostPort}`;
    const target = a.containerPort === b.containerPort ? `${a.containerPort}` : `${a.containerPort}-${b.containerPort}`;
    // pasta(1) -t: "-t 192.0.2.1/22 Forward local port 22, bound to 192.0.2.1".
    specs.push(`${a.hostIp ? `${a.hostIp}/` : ''}${host}:${target}`);
    i = j + 1;
  }
  return specs;
}

/**
 * Container→host TCP through the mapped gateway (--map-gw) takes pasta's "tap" path: pasta reads the
 * container's segments from the tap device and writes their payload to a socket on the host's loopback.
 * The 2023 pastas (Debian bookworm's 2023-03-09 build) drop what that socket does not take at once
 * (sendmsg(2) with MSG_DONTWAIT returning short when its send buffer is full) and every out-of-order
 * segment after it, advertise no SACK and send at most one duplicate ACK, so the container's TCP
 * recovers each such loss only by its retransmission timer: at least 200 ms (Linux's TCP_RTO_MIN),
 * doubling on each further loss. With BBR as congestion control (new network namespaces inherit the
 * host's default), which does not slow down on loss, the container keeps overrunning pasta. Measured on
 * 2 vCPUs, iperf3 3 s, container→host: 0.04–6 Gbit/s, most runs under 1 (stalls of 0.5–1.5 s seen
 * with `ss -ti`: rto 408→816→1632 ms); an MTU from 1500 to 65520, or the receiver's window, changed nothing.
 *
 * lodger cannot change pasta, but it can make the container's TCP cope, for the gateway's address only:
 * a /32 route to it with `rto_min` (ip-route(8); RTAX_RTO_MIN, read by tcp_rto_min()) and a loss-based
 * `congctl` (RTAX_CC_ALGO, used by tcp_init_congestion_control() for connections on that route). Same
 * machine: 6.3–13.3 Gbit/s with rto_min 5 ms and cubic (8 of 8 runs), 9.1–12.3 with 1 ms, 5.6–7.6 with
 * 10 ms, 2.1–4.0 with 50 ms; rto_min alone or cubic alone still stall. The path to the gateway is a local
 * process (RTT ~0.07 ms), so 5 ms leaves room for scheduling delays before a retransmission is spurious.
 * Connections elsewhere (Internet, published ports — those are spliced between sockets, no tap) keep the
 * kernel's defaults.
 */
export const GATEWAY_RTO_MIN_MS = 5;

/** A loss-based congestion control the kernel has: cubic when registered (the usual default), else reno (built in). */
export function lossBasedCongestion(available: string): 'cubic' | 'reno' {
  return available.split(/\s+/).includes('cubic') ? 'cubic' : 'reno';
}

/** ip(8) arguments for the tuned route to the gateway (`replace`: idempotent). */
export function gatewayRouteArgs(gateway: string, iface: string, congestion: string | null): string[] {
  const args = ['route', 'replace', `${gateway}/32`, 'dev', iface, 'rto_min', `${GATEWAY_RTO_MIN_MS}ms`];
  if (congestion) args.push('congctl', 'lock', congestion);
  return args;
}

function runQuiet(file: string, args: string[]): Promise<string | null> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: 5000, encoding: 'utf8' }, (err, _stdout, stderr) => resolve(err ? (stderr || err.message).trim() || 'failed' : null));
  });
}

/**
 * Adds the route of GATEWAY_RTO_MIN_MS inside the namespace of `pid`, as root of its user namespace
 * (nsenter(1), as for user networks). Returns a warning when it could not (the container still works,
 * only container→host transfers may stall).
 */
export async function tuneGatewayRoute(pid: number, ipv4: NetnsIPv4): Promise<string | null> {
  if (!ipv4.gateway || !ipv4.interface) return null;
  const nsenter = findSystemTool('nsenter');
  const ip = findSystemTool('ip');
  const why = 'TCP from the container to the host through the gateway may stall with this pasta';
  if (!nsenter || !ip) return `${why}: ${!nsenter ? 'nsenter (util-linux)' : 'ip (iproute2)'} is not installed to tune its route`;
  let available = '';
  try {
    available = readFileSync('/proc/sys/net/ipv4/tcp_available_congestion_control', 'utf8');
  } catch {
    // no such file: reno, which every kernel has
  }
  const enter = ['--target', String(pid), '--user', '--net', '--preserve-credentials', ip];
  let err = await runQuiet(nsenter, [...enter, ...gatewayRouteArgs(ipv4.gateway, ipv4.interface, lossBasedCongestion(available))]);
  // Kernels before 4.0 know no per-route congestion control; the shorter timer alone still helps.
  if (err) err = await runQuiet(nsenter, [...enter, ...gatewayRouteArgs(ipv4.gateway, ipv4.interface, null)]);
  return err ? `${why}: tuning its route failed: ${err}` : null;
}

export interface PastaArgsInput {
  pid: number;
  info: PastaInfo;
  ports: PortMapping[];
  /** Extra arguments from `--network pasta:…`. */
  userArgs: string[];
  mapGateway: boolean;
  netnsLink: string;
  pidFile: string;
  logFile: string;
}

/** The argument vector for the installed pasta (flags checked against its --help). */
export function buildPastaArgs(input: PastaArgsInput): string[] {
  const args = ['--config-net', '--quiet'];
  const user = input.userArgs;
  const userHas = (...flags: string[]): boolean => user.some((a) => flags.includes(a) || flags.some((f) => f.startsWith('--') && a.startsWith(`${f}=`)));
  // pasta(1): -t/-u default to "auto" (forward every port bound in the namespace) — not what -p means.
  const tcp = pastaPortSpecs(input.ports, 'tcp');
  const udp = pastaPortSpecs(input.ports, 'udp');
  if (!userHas('-t', '--tcp-ports')) for (const s of tcp.length ? tcp : ['none']) args.push('-t', s);
  else for (const s of tcp) args.push('-t', s);
  if (!userHas('-u', '--udp-ports')) for (const s of udp.length ? udp : ['none']) args.push('-u', s);
  else for (const s of udp) args.push('-u', s);
  // pasta(1): -T/-U default to "auto": every port bound on the host's loopback would appear on the
  // container's 127.0.0.1. Off, like slirp4netns --disable-host-loopback, unless asked for.
  if (input.info.nsPorts) {
    if (!userHas('-T', '--tcp-ns')) args.push('-T', 'none');
    if (!userHas('-U', '--udp-ns')) args.push('-U', 'none');
  }
  // pasta(1) --no-map-gw: "Don't remap TCP connections and untracked UDP traffic, with the gateway
  // address as destination, to the host" — podman's default too; `--map-gw` turns the mapping back on.
  if (!input.mapGateway && input.info.noMapGw) args.push('--no-map-gw');
  if (input.info.dnsForward && !userHas('--dns-forward')) args.push('--dns-forward', PASTA_DNS_FORWARD);
  args.push('--log-file', input.logFile, '--pid', input.pidFile);
  args.push(...user);
  // A path target makes pasta watch its directory with inotify and quit once the entry is deleted
  // (pasta(1) --no-netns-quit); /proc/PID/ns/net itself never sees such an event, so the target is a
  // symlink we own, alone in its directory (see startPasta).
  args.push('--netns', input.netnsLink, '--userns', `/proc/${input.pid}/ns/user`);
  return args;
}

export interface StartPastaOptions {
  pid: number;
  runtimeDir: string;
  info: PastaInfo;
  ports?: PortMapping[];
  userArgs?: string[];
  mapGateway?: boolean;
  exitFd?: number | Stream;
  /** false when the container monitor deletes the netns link at container exit itself (no watchdog then). */
  watchdog?: boolean;
  readyTimeoutMs?: number;
}

export interface PastaHandle {
  identity: ProcessIdentity;
  /** The `sh` that deletes the netns link when the exit fd hangs up. */
  watchdog: ProcessIdentity | null;
  netnsLink: string;
  logFile: string;
  ipv4: NetnsIPv4;
  dns: string[];
  /** Things the user should hear about (a gateway route that could not be tuned). */
  warnings: string[];
  stop(): Promise<void>;
}

const heldEnds = new Set<Socket>();

function runToExit(child: ChildProcess, timeoutMs: number): Promise<{ code: number | null; signal: string | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    let stderr = '';
    const pipe = child.stderr;
    if (pipe) pipe.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new LodgerError('NETWORK_START_FAILED', `start pasta: not ready after ${timeoutMs} ms`));
    }, timeoutMs);
    child.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new LodgerError('NETWORK_START_FAILED', `start pasta: ${err.code || err.message} — is passt (pasta) installed?`));
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      // The daemonized pasta redirects its stdio, but give a last chunk already in the pipe a turn.
      setImmediate(() => {
        if (pipe) pipe.destroy();
        resolve({ code, signal, stderr });
      });
    });
  });
}

/**
 * The watchdog ties pasta to the exit fd: it waits for end-of-file on fd 3 (nothing is ever written,
 * so only EOF — every holder of the other end gone — ends the wait) and then deletes the netns link,
 * which pasta sees through inotify and quits. It is Node itself because the fd may be a non-blocking
 * socket (Node's stdio "pipe"s are socketpairs with O_NONBLOCK shared across dup(2)), where a shell's
 * `read` fails at once with EAGAIN; Node polls. ~40 MB RSS: a monitor that unlinks the link itself
 * when the container exits makes it unnecessary (see AttachOptions.monitorUnlinksOnExit).
 */
const WATCHDOG_SCRIPT = [
  "const fs = require('fs');",
  'const link = process.argv[1];',
  "const s = new (require('net').Socket)({ fd: 3, readable: true, writable: false });",
  'const done = () => { try { fs.unlinkSync(link); } catch {} process.exit(0); };',
  "s.on('end', done); s.on('close', done); s.on('error', done); s.resume();",
  "process.on('SIGTERM', () => process.exit(0));",
].join('\n');

function startWatchdog(exitFd: number | Stream | 'pipe', netnsLink: string): { child: ChildProcess; ownEnd: Socket | null } {
  const child = spawn(process.execPath, ['--max-old-space-size=8', '-e', WATCHDOG_SCRIPT, netnsLink], {
    detached: true,
    stdio: ['ignore', 'ignore', 'ignore', exitFd as number],
  });
  const ownEnd = exitFd === 'pipe' ? (child.stdio[3] as Socket) : null;
  if (ownEnd) ownEnd.on('error', () => undefined);
  return { child, ownEnd };
}

/**
 * Starts pasta for the network namespace of `pid`. pasta forks into the background (its own session)
 * once the namespace is configured and its ports are bound, so the first process exiting with status 0
 * is the readiness signal; `--pid` gives the daemon's pid.
 */
export async function startPasta(o: StartPastaOptions): Promise<PastaHandle> {
  // The link sits alone in a directory of its own: pasta (2023 builds) reads a batch of inotify events
  // but checks only the first, so if `rm -rf` of the runtime directory deleted pasta.log first, the
  // link's deletion would go unnoticed and pasta would outlive the container (seen here).
  const netnsDir = join(o.runtimeDir, 'pasta-netns');
  const netnsLink = join(netnsDir, 'netns');
  const pidFile = join(o.runtimeDir, 'pasta.pid');
  const logFile = join(o.runtimeDir, 'pasta.log');
  for (const f of [netnsLink, pidFile]) {
    try {
      unlinkSync(f);
    } catch {
      // absent: the usual case
    }
  }
  mkdirSync(netnsDir, { recursive: true, mode: 0o700 });
  symlinkSync(`/proc/${o.pid}/ns/net`, netnsLink);
  const args = buildPastaArgs({
    pid: o.pid,
    info: o.info,
    ports: o.ports || [],
    userArgs: o.userArgs || [],
    mapGateway: !!o.mapGateway,
    netnsLink,
    pidFile,
    logFile,
  });
  // The watchdog first: if we fail later, removing the link is also how we stop pasta.
  const wd = o.watchdog === false ? null : startWatchdog(o.exitFd === undefined ? 'pipe' : o.exitFd, netnsLink);
  if (wd && wd.ownEnd) heldEnds.add(wd.ownEnd);
  const watchdog = wd && wd.child.pid ? identify(wd.child.pid) : null;
  let identity: ProcessIdentity | null = null;
  const stop = async (): Promise<void> => {
    try {
      unlinkSync(netnsLink);
    } catch {
      // the watchdog removed it already
    }
    if (identity && !(await waitForExit(identity, 2000))) await terminate(identity);
    if (wd && wd.ownEnd) {
      heldEnds.delete(wd.ownEnd);
      wd.ownEnd.destroy();
    }
    if (watchdog) await terminate(watchdog, 500);
    try {
      rmdirSync(netnsDir);
    } catch {
      // removed with the runtime directory already
    }
    try {
      unlinkSync(pidFile);
    } catch {
      // not written (failed start) or already removed
    }
  };
  try {
    const child = spawn(o.info.path, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    const result = await runToExit(child, o.readyTimeoutMs ?? 10000);
    if (result.code !== 0) {
      const text = (result.stderr.split('\n').filter((l) => l.trim() && !l.startsWith('Failed to send')).join('\n') || tailFile(logFile)).trim();
      throw new LodgerError(
        /bind/i.test(text) ? 'NETWORK_PORT_IN_USE' : 'NETWORK_START_FAILED',
        `start pasta for pid ${o.pid}: it failed (${result.signal || `status ${result.code}`})${text ? `:\n${text}` : ''}\n— see ${logFile}`,
      );
    }
    const daemonPid = Number(readFileSync(pidFile, 'utf8').trim());
    identity = daemonPid > 0 ? identify(daemonPid) : null;
    if (!identity || !isAlive(identity)) {
      throw new LodgerError('NETWORK_START_FAILED', `start pasta for pid ${o.pid}: it exited right after configuring the namespace — see ${logFile}`);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  if (wd) {
    wd.child.unref();
    if (wd.ownEnd) wd.ownEnd.unref();
  }
  const ipv4 = readNetnsIPv4(o.pid);
  const dns = o.info.dnsForward ? [PASTA_DNS_FORWARD] : [];
  const warnings: string[] = [];
  // Only where the gateway is the host (see GATEWAY_RTO_MIN_MS); otherwise it is the real router.
  if (o.mapGateway || !o.info.noMapGw) {
    const w = await tuneGatewayRoute(o.pid, ipv4);
    if (w) warnings.push(w);
  }
  return { identity, watchdog, netnsLink, logFile, ipv4, dns, warnings, stop };
}

