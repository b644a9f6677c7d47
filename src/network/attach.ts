// attachNetwork: gives a just-created container's network namespace its network (per mode) and returns what resolv.conf, /etc/hosts and `lodger port` need.
import { networkInterfaces } from 'node:os';
import type { Stream } from 'node:stream';
import { rmdirSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import { LodgerError } from '../errors';
import { defaultBackend, detectBackends, resolveDefaultMode, type BackendName, type Backends, type NetworkMode, type PastaInfo } from './mode';
import type { PortMapping } from './ports';
import { startSlirp } from './slirp';
import { startPasta } from './pasta';
import { isAlive, terminate, waitForExit } from './procs';
import type { AttachedNetwork, NetworkState, UserNetworkAttach } from './types';

export type { AttachedNetwork, NetworkState, UserNetworkAttach };

export interface AttachOptions {
  /** Host pid of the container's init, whose user and network namespaces are the target. */
  pid: number;
  /** Per-container runtime directory (0700, ours): holds slirp.sock, pasta-netns/ and the backends' logs. */
  runtimeDir: string;
  /** Host ports already decided by resolvePortMappings(). */
  ports?: PortMapping[];
  /**
   * Ties the network process's life to the container. Give the READ end of a pipe (or one end of a
   * socketpair) whose other end is held only by processes that live exactly as long as the container
   * — the container monitor (lodger-helper) — and never by the container's own command. The network
   * process receives a copy as fd 3 and exits when every copy of the other end is closed: slirp4netns
   * through `--exit-fd` (POLLHUP), pasta through a watchdog that deletes the netns link pasta watches.
   * After attachNetwork resolves, the caller closes its own copy of both ends; nothing then depends on
   * the CLI staying alive (the network processes run in their own sessions).
   * Without exitFd this process keeps the other end: the network lives until stop() or until this
   * process exits — right for a foreground `run`, wrong for `run -d`.
   */
  exitFd?: number | Stream;
  /**
   * The container monitor deletes every path of AttachedNetwork.unlinkOnExit when the container exits.
   * pasta then needs no watchdog process (it quits when its netns link is deleted); without this a small
   * Node watchdog holding exitFd deletes the link.
   */
  monitorUnlinksOnExit?: boolean;
  /** detectBackends() result, to avoid probing again. */
  backends?: Backends;
  /** Backend for `--network` unset, from configuration; otherwise defaultBackend()'s choice (pasta for published ports, else slirp4netns). */
  preferredBackend?: BackendName | null;
  readyTimeoutMs?: number;
  /** Required for `--network <user network>`. */
  userNetwork?: UserNetworkAttach;
}

/** The host's first non-loopback IPv4 address: reachable from a slirp4netns container as an ordinary outbound destination. */
function hostAddress(): string | null {
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs || []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return null;
}

/**
 * libslirp shows a client on the host's loopback as 10.0.2.2 and sends UDP replies back through that
 * address, which --disable-host-loopback refuses: such clients get no replies (measured with
 * slirp4netns 1.2.0 / libslirp 4.7.0; clients on other addresses, and TCP, work).
 */
function slirpUdpWarnings(allowHostLoopback: boolean, ports: PortMapping[]): string[] {
  if (allowHostLoopback) return [];
  const udp = ports.filter((p) => p.protocol === 'udp');
  if (!udp.length) return [];
  return [
    `UDP ${udp.map((p) => p.hostPort).join(', ')}: slirp4netns drops the replies to clients on the host's loopback (127.0.0.1) unless --network slirp4netns:allow_host_loopback=true; clients on other addresses are answered`,
  ];
}

/**
 * pastas before the 2024 UDP flow rework (they lack --map-host-loopback, added in the same series)
 * deliver UDP forwarded to a different container port but lose the replies: measured with Debian
 * bookworm's 2023-03-09 build, where same-port UDP and translated TCP work.
 */
function pastaUdpWarnings(info: PastaInfo, ports: PortMapping[]): string[] {
  if (info.mapHostLoopback) return [];
  return ports
    .filter((p) => p.protocol === 'udp' && p.hostPort !== p.containerPort)
    .map(
      (p) =>
        `UDP port ${p.hostPort} -> ${p.containerPort}: this pasta loses the replies of UDP forwarded to a different port — publish it as ${p.containerPort}:${p.containerPort}/udp, use --network slirp4netns, or update passt`,
    );
}

function nothing(backend: 'none' | 'host' | 'container', ports: PortMapping[], warnings: string[]): AttachedNetwork {
  return {
    backend,
    pid: null,
    ip: null,
    prefix: null,
    gateway: null,
    dns: [],
    dnsExclusive: false,
    hostGateway: backend === 'host' ? '127.0.0.1' : null,
    ipv6: false,
    ports,
    unlinkOnExit: [],
    warnings,
    state: { backend },
    stop: async () => undefined,
  };
}

/**
 * Gives the container (already created, its command not yet exec'd) its network, and resolves when
 * the network is usable: addresses configured, ports bound. `none`: nothing runs; the namespace has
 * only `lo`, which the helper brings up. `host` and `container:…` have no namespace of their own here.
 */
export async function attachNetwork(mode: NetworkMode, opts: AttachOptions): Promise<AttachedNetwork> {
  const ports = opts.ports || [];
  if (mode.kind === 'none') {
    if (ports.length) {
      throw new LodgerError('NETWORK_PORT_INVALID', 'publish ports: the container has --network none, so nothing can reach it — drop -p/-P or choose a network');
    }
    return nothing('none', [], []);
  }
  if (mode.kind === 'host') {
    // docker prints the same: with the host's namespace every container port already is a host port.
    return nothing('host', [], ports.length ? ['Published ports are discarded when using host network mode'] : []);
  }
  if (mode.kind === 'container') {
    if (ports.length) {
      throw new LodgerError('NETWORK_PORT_INVALID', `publish ports: the container shares the network of ${mode.target} — publish them on that container instead`);
    }
    return nothing('container', [], []);
  }
  if (mode.kind === 'user') {
    if (!opts.userNetwork) {
      throw new LodgerError('NETWORK_MODE_INVALID', `attach to network ${mode.name}: the caller gave no store paths (internal error)`);
    }
    const { attachUserNetwork } = await import('./userAttach');
    return attachUserNetwork(mode.name, opts.pid, ports, opts.userNetwork);
  }
  const backends = opts.backends || (await detectBackends());
  const resolved = mode.kind === 'default' ? resolveDefaultMode(mode, defaultBackend(backends, opts.preferredBackend, ports.length > 0)) : mode;
  if (resolved.kind === 'slirp4netns') {
    const info = backends.slirp4netns;
    if (!info) throw new LodgerError('NETWORK_BACKEND_MISSING', 'start slirp4netns: it is not installed — install slirp4netns or use --network pasta');
    const h = await startSlirp({ pid: opts.pid, runtimeDir: opts.runtimeDir, options: resolved.options, info, exitFd: opts.exitFd, ports, readyTimeoutMs: opts.readyTimeoutMs });
    return {
      backend: 'slirp4netns',
      pid: h.identity.pid,
      ip: h.addresses.guest,
      prefix: h.addresses.prefix,
      gateway: h.addresses.gateway,
      dns: [h.addresses.dns],
      dnsExclusive: false,
      // slirp4netns(1): the gateway reaches the host's loopback only without --disable-host-loopback;
      // otherwise the host is reachable at its own address, as any outbound destination (podman does the same).
      hostGateway: resolved.options.allowHostLoopback ? h.addresses.gateway : hostAddress() || h.addresses.gateway,
      ipv6: resolved.options.enableIpv6,
      ports,
      unlinkOnExit: [h.apiSocket],
      warnings: slirpUdpWarnings(resolved.options.allowHostLoopback, ports),
      state: { backend: 'slirp4netns', process: h.identity, apiSocket: h.apiSocket, logFile: h.logFile },
      stop: h.stop,
    };
  }
  if (resolved.kind === 'pasta') {
    const info = backends.pasta;
    if (!info) throw new LodgerError('NETWORK_BACKEND_MISSING', 'start pasta: it is not installed — install passt or use --network slirp4netns');
    const h = await startPasta({
      pid: opts.pid,
      runtimeDir: opts.runtimeDir,
      info,
      ports,
      userArgs: resolved.args,
      mapGateway: resolved.mapGateway,
      exitFd: opts.exitFd,
      watchdog: !opts.monitorUnlinksOnExit,
      readyTimeoutMs: opts.readyTimeoutMs,
    });
    return {
      backend: 'pasta',
      pid: h.identity.pid,
      ip: h.ipv4.address,
      prefix: h.ipv4.prefix,
      gateway: h.ipv4.gateway,
      dns: h.dns,
      dnsExclusive: false,
      // The container holds the host's own address, so the host is reachable only through the gateway
      // address, and only when pasta maps it (--map-gw); without it this is the real gateway.
      hostGateway: h.ipv4.gateway,
      ipv6: true,
      ports,
      unlinkOnExit: [h.netnsLink],
      warnings: [...pastaUdpWarnings(info, ports), ...h.warnings],
      state: { backend: 'pasta', process: h.identity, watchdog: h.watchdog, netnsLink: h.netnsLink, logFile: h.logFile },
      stop: h.stop,
    };
  }
  throw new LodgerError('NETWORK_MODE_INVALID', `attach network: unexpected mode ${JSON.stringify(mode)}`);
}

/**
 * Stops a container's network from its stored state, from any lodger process (e.g. `lodger rm -f`
 * after the monitor died). Safe to call twice and for a network that already went away.
 */
export async function stopNetwork(state: NetworkState): Promise<void> {
  switch (state.backend) {
    case 'slirp4netns':
      await terminate(state.process);
      try {
        unlinkSync(state.apiSocket);
      } catch {
        // removed already
      }
      return;
    case 'pasta':
      try {
        unlinkSync(state.netnsLink); // pasta(1): quits once its filesystem-bound netns entry is deleted
      } catch {
        // removed already (watchdog or earlier stop)
      }
      if (isAlive(state.process) && !(await waitForExit(state.process, 2000))) await terminate(state.process);
      if (state.watchdog) await terminate(state.watchdog, 500);
      try {
        rmdirSync(dirname(state.netnsLink));
      } catch {
        // gone with the runtime directory
      }
      return;
    case 'user': {
      const { detachUserNetwork } = await import('./userAttach');
      await detachUserNetwork(state);
      return;
    }
    default:
      return;
  }
}
