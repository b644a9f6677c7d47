// Attaching a container to a user network and detaching it: address, namespace, veth, published ports, in that order and undone in reverse.
import { networkInterfaces } from 'node:os';
import type { AttachedNetwork, NetworkState, UserNetworkAttach } from './attach';
import type { HostEntry } from './hosts';
import { connectContainer, disconnectContainer, ensureNetworkNamespace, publishPorts, readInfraState, teardownNetworkNamespace, unpublishPorts } from './infra';
import type { PortMapping } from './ports';
import { allocateAddress, releaseAddress, removeNetworkRecord, type NetworkRecord } from './userNetwork';

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
  const { record, ip } = await allocateAddress(u.root, name, { containerId: u.containerId, containerName: u.containerName, aliases: u.aliases, ip: u.ip });
  const state: UserState = { backend: 'user', network: record.name, root: u.root, runtime: u.runtime, containerId: u.containerId, forwards: [] };
  const warnings: string[] = [];
  let nr;
  try {
    nr = await ensureNetworkNamespace(u.runtime, u.root, record, { responderCommand: u.responderCommand });
    await connectContainer(nr, record, { pid, containerId: u.containerId, ip });
    state.forwards = await publishPorts(nr, ip, ports);
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
  if (nr) {
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

