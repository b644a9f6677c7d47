// Attaching a container to a user network and detaching it: address, namespace, veth, published ports, in that order and undone in reverse.
import { networkInterfaces } from 'node:os';
import type { AttachedNetwork, NetworkState, UserNetworkAttach } from './types';
import type { HostEntry } from './hosts';
import { connectContainer, disconnectContainer, ensureNetworkNamespace, hostVethName, publishPorts, readInfraState, teardownNetworkNamespace, unpublishGone, unpublishPorts } from './infra';
import type { PortMapping } from './ports';
import { identify } from './procs';
import { allocateAddress, inspectNetwork, recordAttached, releaseAddress, removeNetworkRecord, type NetworkRecord } from './userNetwork';

type UserState = Extract<NetworkState, { backend: 'user' }>;

function hostAddress(): string | null {
  for (const addrs of Object.values(networkInterfaces())) for (const a of addrs || []) if (a.family === 'IPv4' && !a.internal) return a.address;
  return null;
}

/** /etc/hosts entries for the other containers on the network (names also resolve through the responder). */
export function networkPeers(record: NetworkRecord, containerId: string): HostEntry[] {
  return Object.entries(record.containers)
    .filter(([id]) => id !== containerId)
    .map(([id, c]) => ({ ip: c.ip, names: [c.name, ...c.aliases, id.slice(0, 12)] }));
}

export async function attachUserNetwork(name: string, pid: number, ports: PortMapping[], u: UserNetworkAttach): Promise<AttachedNetwork> {
  // The namespace first, so the address entry can say where the container's veth will be.
  const nr = await ensureNetworkNamespace(u.runtime, u.root, inspectNetwork(u.root, name), { responderCommand: u.responderCommand });
  const veth = hostVethName(u.containerId);
  const { record, ip, reclaimed } = await allocateAddress(u.root, name, {
    containerId: u.containerId,
    containerName: u.containerName,
    aliases: u.aliases,
    ip: u.ip,
    link: { holder: nr.holder.process, ns: nr.holder.ns, veth },
    attaching: identify(process.pid) ?? undefined,
  });
  const state: UserState = { backend: 'user', network: record.name, root: u.root, runtime: u.runtime, containerId: u.containerId, forwards: [], ns: nr.holder.ns };
  const warnings: string[] = [];
  try {
    await unpublishGone(nr, reclaimed);
    await connectContainer(nr, record, { pid, containerId: u.containerId, ip });
    state.forwards = await publishPorts(nr, ip, ports);
    await recordAttached(u.root, record.name, u.containerId, state.forwards);
  } catch (err) {
    await detachUserNetwork(state).catch(() => undefined);
    throw err;
  }
  if (record.dnsEnabled && !nr.dns) warnings.push(`network ${record.name}: no DNS responder runs, so container names do not resolve (the caller gave no responder command)`);
  return {
    backend: 'user',
    pid: nr.slirp ? nr.slirp.pid : null,
    ip,
    prefix: Number(record.subnet.split('/')[1]),
    gateway: record.gateway,
    dns: nr.dns ? [record.gateway] : [],
    dnsExclusive: !!nr.dns,
    // Outbound goes through slirp4netns with host loopback disabled: the host is reachable at its own address.
    hostGateway: record.internal ? null : hostAddress(),
    ipv6: false,
    ports,
    unlinkOnExit: [],
    warnings,
    state,
    stop: () => detachUserNetwork(state),
  };
}

/** Undoes attachUserNetwork: forwards, veth, address. Safe to repeat and after the network is gone. */
export async function detachUserNetwork(state: UserState): Promise<void> {
  const nr = readInfraState(state.runtime).networks[state.network];
  // A namespace made since (network removed and created again) has its own rule handles and veths.
  if (nr && (!state.ns || state.ns === nr.holder.ns)) {
    await unpublishPorts(nr, state.forwards);
    state.forwards = [];
    await disconnectContainer(nr, state.containerId);
  }
  await releaseAddress(state.root, state.network, state.containerId);
}

/** `lodger network rm`: the record, then the namespace (its slirp4netns and responder go with it). */
export async function deleteNetwork(root: string, runtime: string, nameOrId: string, o: { force?: boolean } = {}): Promise<NetworkRecord> {
  const record = await removeNetworkRecord(root, nameOrId, o);
  await teardownNetworkNamespace(runtime, record.name);
  return record;
}

