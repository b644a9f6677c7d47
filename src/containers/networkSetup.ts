// Gives a starting container its network: resolves --network (default: pasta for a container that publishes ports, else slirp4netns), attaches
// slirp4netns/pasta/a user network to the namespace the helper created, then writes resolv.conf, hosts and network.json.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Stream } from 'node:stream';
import { LodgerError } from '../errors';
import type { Reporter } from '../events';
import type { AttachedNetwork, NetworkState } from '../network/attach';
import type { Backends, NetworkMode } from '../network/mode';
import type { PortMapping } from '../network/ports';
import { containerDir, liveState, readState, resolveContainer, type ContainerRecord } from '../storage/containers';
import { writeJsonAtomic, readJson } from '../storage/atomic';
import type { StorePaths } from '../storage/paths';
import { packageRoot } from '../helper/native';

export interface NetworkStart {
  mode: NetworkMode;
  /** container:X — the init pid of X, whose user and network namespaces this container joins. */
  joinPid?: number;
  /** A backend must be attached after the helper reports the container's pid (and before it may run). */
  attach: boolean;
  backends?: Backends;
}

/** What `inspect` and `port` read: the network the container got at its last start. */
export interface NetworkInfo {
  Backend: string;
  IPAddress: string;
  IPPrefixLen: number;
  Gateway: string;
  Ports: Record<string, Array<{ HostIp: string; HostPort: string }>>;
  Mappings: PortMapping[];
  State: NetworkState;
}

export function networkInfoPath(p: StorePaths, id: string): string {
  return path.join(containerDir(p, id), 'network.json');
}

export function readNetworkInfo(p: StorePaths, id: string): NetworkInfo | undefined {
  return readJson<NetworkInfo>(networkInfoPath(p, id));
}

/** The container's private runtime directory: the backends' sockets, netns link and logs. Removed at exit. */
export function containerRuntimeDir(p: StorePaths, id: string): string {
  // The short id keeps unix socket paths (slirp.sock) under sun_path's 108 bytes (unix(7)).
  const dir = path.join(p.runtime, 'c', id.slice(0, 12));
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

/**
 * The installed backends, probed once and kept in the runtime dir while the binaries stay the same
 * (probing runs four processes, ~10 ms — too much for every `run`).
 */
async function cachedBackends(p: StorePaths): Promise<Backends> {
  const mode = require('../network/mode') as typeof import('../network/mode');
  const file = path.join(p.runtime, 'network-backends.json');
  const stamp = ['slirp4netns', 'pasta'].map((b) => {
    const exe = mode.findExecutable(b);
    let m = 0;
    try { m = exe ? fs.statSync(exe).mtimeMs : 0; } catch { /* gone */ }
    return `${b}=${exe}@${m}`;
  }).join(',');
  const cached = readJson<{ stamp: string; backends: Backends }>(file);
  if (cached && cached.stamp === stamp) return cached.backends;
  const backends = await mode.detectBackends();
  try { writeJsonAtomic(file, { stamp, backends }); } catch { /* read-only runtime dir: probe next time */ }
  return backends;
}

export async function planNetwork(p: StorePaths, rec: ContainerRecord): Promise<NetworkStart> {
  const mode = require('../network/mode') as typeof import('../network/mode');
  const parsed = mode.parseNetworkMode(rec.HostConfig.NetworkMode || undefined);
  switch (parsed.kind) {
    case 'none':
    case 'host':
      return { mode: parsed, attach: false };
    case 'container': {
      const target = resolveContainer(p, parsed.target);
      const st = liveState(readState(p, target));
      if (!st.Running) throw new LodgerError('NOT_RUNNING', `--network container:${parsed.target}: that container is not running — start it first`);
      return { mode: parsed, joinPid: st.Pid, attach: false };
    }
    case 'default': {
      const backends = await cachedBackends(p);
      const publishes = (rec.HostConfig.PublishSpecs ?? []).length > 0 || !!rec.HostConfig.PublishAllPorts;
      return { mode: mode.resolveDefaultMode(parsed, mode.defaultBackend(backends, (process.env.LODGER_NETWORK_BACKEND || null) as 'pasta' | 'slirp4netns' | null, publishes)), attach: true, backends };
    }
    default:
      return { mode: parsed, attach: true, backends: parsed.kind === 'user' ? undefined : await cachedBackends(p) };
  }
}

/** -p specs and -P over the image's EXPOSE, with host ports decided (free ones for -P and empty host ports). */
async function portMappings(rec: ContainerRecord): Promise<PortMapping[]> {
  const ports = require('../network/ports') as typeof import('../network/ports');
  const explicit = (rec.HostConfig.PublishSpecs ?? []).flatMap((s) => ports.parsePublish(s));
  const all = rec.HostConfig.PublishAllPorts ? ports.publishAllSpecs(rec.Config.ExposedPorts, explicit) : explicit;
  return ports.resolvePortMappings(all);
}

/** Checks --network, -p and --dns* at create, so a mistake fails before anything runs (exit 125). */
export function validateNetworkOptions(o: { network: string; publish: string[]; dns: string[]; dnsSearch: string[]; dnsOption: string[] }): void {
  const mode = require('../network/mode') as typeof import('../network/mode');
  const ports = require('../network/ports') as typeof import('../network/ports');
  const { buildResolvConf } = require('../network/resolv') as typeof import('../network/resolv');
  const parsed = mode.parseNetworkMode(o.network || undefined);
  for (const s of o.publish) ports.parsePublish(s);
  if (o.publish.length && (parsed.kind === 'none' || parsed.kind === 'container')) {
    throw new LodgerError('NETWORK_PORT_INVALID', `publish ports: --network ${o.network} gives the container no network of its own to publish from — drop -p or choose another network`);
  }
  buildResolvConf({ network: 'private', hostContent: '', forwarders: [], ipv6: false, settings: { dns: o.dns, dnsSearch: o.dnsSearch, dnsOptions: o.dnsOption } });
}

/** Writes the container's /etc/hosts and /etc/resolv.conf into DIR for the network it has (before it runs). */
export function writeEtcFiles(dir: string, rec: ContainerRecord, net: { kind: string; attached?: AttachedNetwork; root?: string }): void {
  const { buildHosts } = require('../network/hosts') as typeof import('../network/hosts');
  const { buildResolvConf, readHostResolvConf } = require('../network/resolv') as typeof import('../network/resolv');
  const a = net.attached;
  const network = net.kind === 'host' ? 'host' : net.kind === 'none' ? 'none' : 'private';
  let peers;
  if (a?.state.backend === 'user') {
    const { networkPeers } = require('../network/userAttach') as typeof import('../network/userAttach');
    const { inspectNetwork } = require('../network/userNetwork') as typeof import('../network/userNetwork');
    peers = networkPeers(inspectNetwork(a.state.root, a.state.network), rec.Id);
  }
  let hostEtc: string | null = null;
  if (network === 'host') { try { hostEtc = fs.readFileSync('/etc/hosts', 'utf8'); } catch { /* none */ } }
  const hosts = buildHosts({ hostname: rec.Config.Hostname, name: rec.Name, ip: a?.ip ?? null, addHosts: rec.HostConfig.ExtraHosts, hostGateway: a?.hostGateway ?? null, peers, base: hostEtc });
  const resolv = buildResolvConf({
    network, hostContent: readHostResolvConf().content, forwarders: a?.dns ?? [], forwardersOnly: a?.dnsExclusive, ipv6: a?.ipv6 ?? false,
    settings: { dns: rec.HostConfig.Dns, dnsSearch: rec.HostConfig.DnsSearch, dnsOptions: rec.HostConfig.DnsOptions },
  });
  fs.writeFileSync(path.join(dir, 'hosts'), hosts, { mode: 0o644 });
  fs.writeFileSync(path.join(dir, 'resolv.conf'), resolv, { mode: 0o644 });
}

/**
 * Attaches the network for the container whose init is PID (its network namespace is its helper's:
 * it outlives restarts). LIFE is the helper-held socket whose EOF tells the backend the container is
 * gone (slirp4netns --exit-fd; pasta's netns link is removed with the runtime dir at exit). REPORT
 * (default: the store's) gets the backend's warnings (e.g. a port it could not forward).
 */
export async function attachForStart(p: StorePaths, rec: ContainerRecord, ns: NetworkStart, pid: number, life: Stream, report: Reporter | undefined = p.report): Promise<AttachedNetwork> {
  const { attachNetwork } = require('../network/attach') as typeof import('../network/attach');
  const attached = await attachNetwork(ns.mode, {
    pid,
    runtimeDir: containerRuntimeDir(p, rec.Id),
    ports: await portMappings(rec),
    exitFd: life,
    monitorUnlinksOnExit: true,
    backends: ns.backends,
    userNetwork: ns.mode.kind === 'user' ? {
      root: p.root, runtime: p.runtime, containerId: rec.Id, containerName: rec.Name, aliases: rec.NetworkAliases,
      responderCommand: [process.execPath, path.join(packageRoot(), 'dist', 'lodger.js'), '__dns-responder'],
    } : undefined,
  });
  for (const w of attached.warnings) report?.({ kind: 'warning', message: w });
  writeEtcFiles(containerDir(p, rec.Id), rec, { kind: ns.mode.kind, attached });
  const portsDoc: NetworkInfo['Ports'] = {};
  for (const m of attached.ports) (portsDoc[`${m.containerPort}/${m.protocol}`] ??= []).push({ HostIp: m.hostIp, HostPort: String(m.hostPort) });
  const info: NetworkInfo = { Backend: attached.backend, IPAddress: attached.ip ?? '', IPPrefixLen: attached.prefix ?? 0, Gateway: attached.gateway ?? '', Ports: portsDoc, Mappings: attached.ports, State: attached.state };
  writeJsonAtomic(networkInfoPath(p, rec.Id), info);
  return attached;
}

/**
 * Takes down what outlives the container's namespaces — a user network's address and published ports
 * (slirp4netns and pasta end with the helper by themselves). Run by `rm` and before a new `start`.
 */
export async function networkCleanup(p: StorePaths, id: string): Promise<void> {
  const info = readNetworkInfo(p, id);
  if (!info) return;
  const { stopNetwork } = require('../network/attach') as typeof import('../network/attach');
  await stopNetwork(info.State).catch(() => undefined);
}
