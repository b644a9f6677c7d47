// User-defined networks (`lodger network create|ls|rm|inspect`): their records in the store and address management (IPAM).
/**
 * DESIGN — rootless user networks
 *
 * Goal (issue point 4): containers on the same user network reach each other by IP and by name;
 * containers of other users (and other networks) cannot reach them; nothing needs root.
 *
 * What an unprivileged user can do: create user namespaces and, inside one, network namespaces,
 * bridges and veth pairs (CAP_NET_ADMIN over a netns is held by root of the user namespace that owns
 * it, and by that user namespace's ancestors' owner). What they cannot do: put a veth end into a
 * network namespace owned by a *sibling* user namespace — moving a link needs CAP_NET_ADMIN over
 * both namespaces. Hence podman's answer, which lodger follows:
 *
 *   1. One per-user "infra" user namespace, held open by a tiny holder process (`sleep infinity`
 *      under `unshare --user --map-root-user --map-auto`: uid 0 → the user, 1… → the subuid range,
 *      the same mapping containers get). Its pid and namespace inode are recorded in
 *      `$runtime/networks/infra.json`; a dead or replaced holder is detected (pid + start time +
 *      inode) and recreated.
 *   2. Per user network, one network namespace owned by the infra user namespace, held by its own
 *      holder (`nsenter --user -t INFRA unshare --net sleep infinity`), containing a bridge
 *      (`lodger0`) with the network's gateway address. One namespace per network (podman uses one for
 *      all, separated by firewall rules) makes networks isolated from each other by construction.
 *   3. Outbound access: slirp4netns attached to that namespace (tap0, 10.0.2.100, default route),
 *      `net.ipv4.ip_forward=1` and an nftables masquerade rule for the subnet out of tap0, all inside
 *      the namespace. `--internal` networks get none of this. Published ports: slirp4netns forwards
 *      the host port into the namespace (add_hostfwd) and an nftables DNAT rule sends it on to the
 *      container.
 *   4. A container joins by a veth pair: one end on the bridge, the other moved into the container's
 *      network namespace as eth0 with its address and a default route via the gateway. The container's
 *      user namespace must therefore be a CHILD of the infra user namespace (lodger-helper joins the
 *      infra user namespace — `setns(/proc/INFRA/ns/user)` — before cloning the container with
 *      CLONE_NEWUSER|CLONE_NEWNET; the child's identity map 0–65535 → 0–65535 is written by the helper as
 *      root of the parent user namespace, no newuidmap needed). Root of the infra user namespace then
 *      holds CAP_NET_ADMIN over the container's namespace and can create the veth there.
 *   5. Names: a DNS responder (src/network/dnsServer.ts, Node dgram) runs inside each network's
 *      namespace on the gateway address, port 53, answering A queries for container names, aliases and
 *      ids from the network record (re-read when it changes) and forwarding everything else to
 *      slirp4netns's DNS (10.0.2.3). Containers get `nameserver <gateway>` only.
 *   6. Lifetimes: slirp4netns and the responder receive an end of a socket pair whose other end only
 *      the namespace holder keeps; when the holder dies (network removed, machine state lost) they exit
 *      on their own (slirp4netns(1) --exit-fd). The veth pair disappears with the container's namespace.
 *
 * Isolation from other users: every namespace above is owned by this user's user namespace, which
 * other unprivileged users cannot enter (setns(2) needs CAP_SYS_ADMIN over it) and which has no
 * link to the host's network namespace except through slirp4netns, whose only inbound paths are the
 * explicitly published ports.
 *
 * Records: `$root/networks/<name>.json` (this file), written atomically under
 * `$root/networks/.lock` (proper-lockfile). IPAM: one IPv4 subnet per network, default the first
 * free 10.89.N.0/24; gateway .1; containers get the lowest free address from .2, recorded with their
 * name and aliases (the responder reads them from there).
 *
 * Giving addresses back: `rm` and a foreground run release theirs, but a detached `--rm` container is
 * removed by its monitor (C), which knows nothing of this record. So an entry also says where its
 * container's veth lives (`link`: the network namespace's holder and the host-side veth name) and
 * which lodger process is attaching it (`attaching`). The veth vanishes with the container's network
 * namespace (veth(4): deleting one end deletes the pair), so an entry whose veth is gone and whose
 * attaching process has ended belongs to a container that stopped or no longer exists: every reader
 * skips it (`network inspect`, `network rm` without --force, the peers in /etc/hosts), and starting
 * a container on the network drops it from the record under the lock (infra.ensureNetworkNamespace,
 * then allocateAddress), freeing its address and unpublishing the ports it left.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, readlinkSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { LodgerError, fsError } from '../errors';
import { cidrAddress, cidrContains, formatIPv4, parseIPv4, parseIPv4Cidr, type IPv4Cidr } from './addr';
import { isValidNetworkName, RESERVED_NETWORK_NAMES } from './mode';
import { SLIRP_DEFAULT_CIDR } from './slirp';
import { readInterfaces } from './netinfo';
import { isAlive, type ProcessIdentity } from './procs';
import { writeFileAtomic } from '../storage/atomic';
import { withDirLock } from '../storage/lock';
import type { PublishedPort } from './types';

/** Where a container's veth lives: the network namespace (its holder and inode) and the host-side name. */
export interface NetworkLink {
  holder: ProcessIdentity;
  /** readlink(/proc/HOLDER/ns/net), e.g. "net:[4026532890]". */
  ns: string;
  veth: string;
}

export interface NetworkContainer {
  name: string;
  ip: string;
  aliases: string[];
  /** Absent in records written before lodger tracked it: such entries count as live. */
  link?: NetworkLink;
  /** The lodger process attaching the container, until its veth exists; dropped once attached. */
  attaching?: ProcessIdentity;
  /** Its published ports as forwarded in the namespace of `link` (slirp4netns ids, nft handles). */
  forwards?: PublishedPort[];
}

export interface NetworkRecord {
  name: string;
  id: string;
  driver: 'bridge';
  subnet: string;
  gateway: string;
  internal: boolean;
  dnsEnabled: boolean;
  /** The bridge inside the network's namespace. */
  bridge: string;
  created: string;
  labels: Record<string, string>;
  /** container id → its address on this network. */
  containers: Record<string, NetworkContainer>;
}

export interface CreateNetworkOptions {
  subnet?: string | null;
  gateway?: string | null;
  internal?: boolean;
  disableDns?: boolean;
  labels?: Record<string, string>;
}

export const BRIDGE_NAME = 'lodger0';

export function networksDir(root: string): string {
  return join(root, 'networks');
}

export function networkFile(root: string, name: string): string {
  return join(networksDir(root), `${name}.json`);
}

function ensureDir(root: string): string {
  const dir = networksDir(root);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw fsError('create', dir, e);
  }
  return dir;
}

/** Runs `fn` holding the networks lock. */
export function withNetworksLock<T>(root: string, fn: () => T | Promise<T>): Promise<T> {
  return withDirLock(ensureDir(root), fn);
}

/** Writes a network file atomically (storage/atomic.ts: temp, fsync, rename, fsync of the directory). */
export function writeAtomic(path: string, data: string): void {
  try {
    writeFileAtomic(path, data);
  } catch (e) {
    throw fsError('write', path, e);
  }
}

export function saveNetwork(root: string, record: NetworkRecord): void {
  writeAtomic(networkFile(root, record.name), JSON.stringify(record, null, 2) + '\n');
}

function readRecord(path: string): NetworkRecord {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as NetworkRecord;
  } catch (e) {
    throw fsError('read network record', path, e, 'remove the file if it is corrupt and create the network again');
  }
}

/**
 * Whether the container of an entry may still be on the network: its attach is under way, or its veth
 * is still in the network namespace (read from /proc/HOLDER/net/dev, proc(5), without entering it).
 */
export function containerAttached(c: NetworkContainer): boolean {
  if (c.attaching && isAlive(c.attaching)) return true;
  if (!c.link) return !c.attaching; // an entry from an older lodger: nothing to judge it by
  if (!isAlive(c.link.holder)) return false; // the namespace went, and every veth in it
  let ns: string;
  try {
    ns = readlinkSync(`/proc/${c.link.holder.pid}/ns/net`);
  } catch {
    return false;
  }
  if (ns !== c.link.ns) return false;
  try {
    return readInterfaces(c.link.holder.pid).includes(c.link.veth);
  } catch {
    return false;
  }
}

/** The record without the entries of containers that are gone, and those entries. */
export function splitStale(record: NetworkRecord): { live: NetworkRecord; stale: Array<[string, NetworkContainer]> } {
  const live: Array<[string, NetworkContainer]> = [];
  const stale: Array<[string, NetworkContainer]> = [];
  for (const e of Object.entries(record.containers)) (containerAttached(e[1]) ? live : stale).push(e);
  if (!stale.length) return { live: record, stale };
  return { live: { ...record, containers: Object.fromEntries(live) }, stale };
}

function listRecords(root: string): NetworkRecord[] {
  let names: string[];
  try {
    names = readdirSync(networksDir(root));
  } catch {
    return [];
  }
  return names
    .filter((n) => n.endsWith('.json'))
    .map((n) => readRecord(join(networksDir(root), n)))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** The networks, each showing only the containers still attached (see splitStale). */
export function listNetworks(root: string): NetworkRecord[] {
  return listRecords(root).map((r) => splitStale(r).live);
}

/** By exact name, full id, or unique id prefix (docker's rules); only containers still attached. */
export function inspectNetwork(root: string, nameOrId: string): NetworkRecord {
  return splitStale(findRecord(root, nameOrId)).live;
}

/** The record as stored, stale entries included. */
function findRecord(root: string, nameOrId: string): NetworkRecord {
  const all = listRecords(root);
  const byName = all.find((r) => r.name === nameOrId);
  if (byName) return byName;
  const byId = /^[0-9a-f]{1,64}$/.test(nameOrId) ? all.filter((r) => r.id.startsWith(nameOrId)) : [];
  if (byId.length === 1) return byId[0];
  if (byId.length > 1) {
    throw new LodgerError('NETWORK_AMBIGUOUS', `find network ${nameOrId}: the id prefix matches ${byId.map((r) => r.name).join(', ')} — give more characters or the name`);
  }
  if (RESERVED_NETWORK_NAMES.includes(nameOrId)) {
    throw new LodgerError('NETWORK_NOT_FOUND', `find network ${nameOrId}: it is a built-in mode, not a user network`);
  }
  throw new LodgerError('NETWORK_NOT_FOUND', `find network ${nameOrId}: no such network — list them with lodger network ls or create it with lodger network create ${nameOrId}`);
}

function overlapping(a: IPv4Cidr, b: IPv4Cidr): boolean {
  return a.base < b.base + b.size && b.base < a.base + a.size;
}

function chooseSubnet(taken: IPv4Cidr[]): IPv4Cidr {
  for (let n = 0; n < 256; n++) {
    const c = parseIPv4Cidr(`10.89.${n}.0/24`) as IPv4Cidr;
    if (!taken.some((t) => overlapping(t, c))) return c;
  }
  throw new LodgerError('NETWORK_ADDRESS_EXHAUSTED', 'create network: all 256 default subnets 10.89.0.0/24–10.89.255.0/24 are in use — give one with --subnet');
}

export async function createNetwork(root: string, name: string, o: CreateNetworkOptions = {}): Promise<NetworkRecord> {
  if (!isValidNetworkName(name)) {
    throw new LodgerError(
      'NETWORK_NAME_INVALID',
      `create network ${name}: ${RESERVED_NETWORK_NAMES.includes(name) ? 'the name is a built-in network mode' : "names use letters, digits, '_', '.', '-' and start with a letter or digit"} — choose another name`,
    );
  }
  return withNetworksLock(root, () => {
    const all = listRecords(root);
    if (all.some((r) => r.name === name)) {
      throw new LodgerError('NETWORK_EXISTS', `create network ${name}: a network of that name exists — remove it first or choose another name`);
    }
    const taken = all.map((r) => parseIPv4Cidr(r.subnet) as IPv4Cidr);
    let subnet: IPv4Cidr;
    if (o.subnet) {
      const s = parseIPv4Cidr(o.subnet);
      if (!s || s.prefix < 8 || s.prefix > 30) {
        throw new LodgerError('NETWORK_SUBNET_INVALID', `create network ${name} --subnet ${o.subnet}: expected an IPv4 network from /8 to /30, e.g. 10.90.0.0/24`);
      }
      const clash = all.find((r) => overlapping(parseIPv4Cidr(r.subnet) as IPv4Cidr, s));
      if (clash) {
        throw new LodgerError('NETWORK_SUBNET_INVALID', `create network ${name} --subnet ${o.subnet}: overlaps network ${clash.name} (${clash.subnet}) — choose a free range`);
      }
      // The network namespace reaches outside through slirp4netns's own 10.0.2.0/24.
      if (overlapping(s, parseIPv4Cidr(SLIRP_DEFAULT_CIDR) as IPv4Cidr)) {
        throw new LodgerError('NETWORK_SUBNET_INVALID', `create network ${name} --subnet ${o.subnet}: overlaps ${SLIRP_DEFAULT_CIDR}, which the network uses for outbound traffic — choose another range`);
      }
      subnet = s;
    } else {
      subnet = chooseSubnet(taken);
    }
    let gateway = cidrAddress(subnet, 1);
    if (o.gateway) {
      if (!cidrContains(subnet, o.gateway) || o.gateway === subnet.network || o.gateway === cidrAddress(subnet, subnet.size - 1)) {
        throw new LodgerError('NETWORK_SUBNET_INVALID', `create network ${name} --gateway ${o.gateway}: not a host address of ${subnet.network}/${subnet.prefix}`);
      }
      gateway = o.gateway;
    }
    const record: NetworkRecord = {
      name,
      id: randomBytes(32).toString('hex'),
      driver: 'bridge',
      subnet: `${subnet.network}/${subnet.prefix}`,
      gateway,
      internal: !!o.internal,
      dnsEnabled: !o.disableDns,
      bridge: BRIDGE_NAME,
      created: new Date().toISOString(),
      labels: o.labels || {},
      containers: {},
    };
    saveNetwork(root, record);
    return record;
  });
}

/** Removes the record; with containers attached only when `force` (the caller stops them first). */
export async function removeNetworkRecord(root: string, nameOrId: string, o: { force?: boolean } = {}): Promise<NetworkRecord> {
  return withNetworksLock(root, () => {
    const record = inspectNetwork(root, nameOrId); // containers that are gone do not hold it
    const attached = Object.values(record.containers).map((c) => c.name);
    if (attached.length && !o.force) {
      throw new LodgerError('NETWORK_IN_USE', `remove network ${record.name}: containers ${attached.join(', ')} are attached — remove them first or use --force`);
    }
    try {
      unlinkSync(networkFile(root, record.name));
    } catch (e) {
      throw fsError('remove', networkFile(root, record.name), e);
    }
    return record;
  });
}

export interface AllocateOptions {
  containerId: string;
  containerName: string;
  aliases?: string[];
  ip?: string | null;
  /** Where the container's veth will be: lets later readers tell when the container is gone. */
  link?: NetworkLink;
  /** The process attaching it (see NetworkContainer.attaching). */
  attaching?: ProcessIdentity;
}

export interface Allocation {
  record: NetworkRecord;
  ip: string;
  /** Entries of containers found gone and dropped from the record: their forwards are the caller's to undo. */
  reclaimed: Array<[string, NetworkContainer]>;
}

/**
 * Gives the container an address on the network (the requested one, or the lowest free) and records it,
 * first dropping the entries of containers that are gone (their addresses and names are free again).
 */
export async function allocateAddress(root: string, name: string, o: AllocateOptions): Promise<Allocation> {
  return withNetworksLock(root, () => {
    const { live: record, stale: reclaimed } = splitStale(findRecord(root, name));
    const subnet = parseIPv4Cidr(record.subnet) as IPv4Cidr;
    const used = new Set(Object.entries(record.containers).filter(([id]) => id !== o.containerId).map(([, c]) => c.ip));
    const nameClash = Object.entries(record.containers).find(([id, c]) => id !== o.containerId && (c.name === o.containerName || c.aliases.includes(o.containerName)));
    if (nameClash) {
      throw new LodgerError('NETWORK_NAME_IN_USE', `connect ${o.containerName} to network ${record.name}: another container there already answers to that name — rename one of them`);
    }
    let ip: string | null = null;
    if (o.ip) {
      if (!cidrContains(subnet, o.ip) || o.ip === record.gateway || o.ip === subnet.network || o.ip === cidrAddress(subnet, subnet.size - 1)) {
        throw new LodgerError('NETWORK_ADDRESS_INVALID', `connect ${o.containerName} to network ${record.name} --ip ${o.ip}: not a free host address of ${record.subnet} (the gateway is ${record.gateway})`);
      }
      if (used.has(o.ip)) {
        throw new LodgerError('NETWORK_ADDRESS_IN_USE', `connect ${o.containerName} to network ${record.name} --ip ${o.ip}: already taken — choose another or omit --ip`);
      }
      ip = o.ip;
    } else {
      const gw = parseIPv4(record.gateway);
      for (let off = 1; off < subnet.size - 1 && !ip; off++) {
        const candidate = formatIPv4(subnet.base + off);
        if (subnet.base + off !== gw && !used.has(candidate)) ip = candidate;
      }
    }
    if (!ip) {
      throw new LodgerError('NETWORK_ADDRESS_EXHAUSTED', `connect ${o.containerName} to network ${record.name}: every address of ${record.subnet} is in use — remove containers or create a larger network`);
    }
    const entry: NetworkContainer = { name: o.containerName, ip, aliases: o.aliases || [] };
    if (o.link) entry.link = o.link;
    if (o.attaching) entry.attaching = o.attaching;
    record.containers[o.containerId] = entry;
    saveNetwork(root, record);
    return { record, ip, reclaimed: reclaimed.filter(([id]) => id !== o.containerId) };
  });
}

/**
 * Drops the entries of containers that are gone from the record and returns them (their published
 * ports are the caller's to undo). Takes the lock only when a plain read finds such entries.
 */
export async function reclaimStale(root: string, name: string): Promise<Array<[string, NetworkContainer]>> {
  try {
    if (!splitStale(findRecord(root, name)).stale.length) return [];
  } catch {
    return [];
  }
  return (await withRecordLocked(root, name, (record) => {
    const { live, stale } = splitStale(record);
    if (stale.length) saveNetwork(root, live);
    return stale;
  })) ?? [];
}

/** Runs FN on network NAME's record under the networks lock; a network already gone gives undefined. */
async function withRecordLocked<T>(root: string, name: string, fn: (record: NetworkRecord) => T): Promise<T | undefined> {
  return withNetworksLock(root, () => {
    let record: NetworkRecord;
    try {
      record = findRecord(root, name);
    } catch {
      return undefined;
    }
    return fn(record);
  });
}

/** Marks the container's attach done (its veth exists now) and records the ports forwarded for it. */
export async function recordAttached(root: string, name: string, containerId: string, forwards: PublishedPort[]): Promise<void> {
  await withRecordLocked(root, name, (record) => {
    const entry = record.containers[containerId];
    if (!entry) return;
    delete entry.attaching;
    if (forwards.length) entry.forwards = forwards;
    else delete entry.forwards;
    saveNetwork(root, record);
  });
}

/** Forgets the container's address; a container or network already gone is fine. */
export async function releaseAddress(root: string, name: string, containerId: string): Promise<void> {
  await withRecordLocked(root, name, (record) => {
    if (!record.containers[containerId]) return;
    delete record.containers[containerId];
    saveNetwork(root, record);
  });
}

/** `lodger network inspect`: the record in docker's shape. */
export function formatNetworkInspect(record: NetworkRecord): Record<string, unknown> {
  const prefix = record.subnet.split('/')[1];
  return {
    Name: record.name,
    Id: record.id,
    Created: record.created,
    Scope: 'local',
    Driver: record.driver,
    EnableIPv6: false,
    IPAM: { Driver: 'default', Config: [{ Subnet: record.subnet, Gateway: record.gateway }] },
    Internal: record.internal,
    Attachable: false,
    Containers: Object.fromEntries(
      Object.entries(record.containers).map(([id, c]) => [id, { Name: c.name, IPv4Address: `${c.ip}/${prefix}`, Aliases: c.aliases }]),
    ),
    Options: { 'lodger.dns': String(record.dnsEnabled) },
    Labels: record.labels,
  };
}

/** `lodger network ls` rows, docker's columns: NETWORK ID, NAME, DRIVER, SCOPE. */
export function formatNetworkList(records: NetworkRecord[]): string[][] {
  return records.map((r) => [r.id.slice(0, 12), r.name, r.driver, 'local']);
}
