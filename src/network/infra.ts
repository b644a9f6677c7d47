// The per-user infra namespaces behind user networks: holder processes, bridge, outbound NAT, DNS responder, and veth links to containers.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { mkdirSync, readFileSync, readlinkSync, closeSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { LodgerError } from '../errors';
import { parseIPv4Cidr } from './addr';
import { detectBackends, DEFAULT_SLIRP_OPTIONS, findSystemTool } from './mode';
import { hasUdpListener } from './netinfo';
import { identify, isAlive, openLog, sleep, tailFile, terminate, type ProcessIdentity } from './procs';
import { slirpAddresses, slirpApiRequest, startSlirp, SLIRP_TAP } from './slirp';
import { withDirLock } from '../storage/lock';
import { networkFile, reclaimStale, writeAtomic, type NetworkContainer, type NetworkRecord } from './userNetwork';
import type { PortMapping } from './ports';
import type { PublishedPort } from './types';

export type { PublishedPort };

/** A process keeping a namespace alive, and the namespace it holds ("user:[…]", "net:[…]"). */
export interface Holder {
  process: ProcessIdentity;
  ns: string;
}

export interface NetworkRuntime {
  name: string;
  holder: Holder;
  slirp: ProcessIdentity | null;
  apiSocket: string | null;
  dns: ProcessIdentity | null;
}

export interface InfraState {
  userns: Holder | null;
  networks: Record<string, NetworkRuntime>;
}

export interface EnsureNetworkOptions {
  /** How to run lodger's DNS responder (dnsResponderMain); without it names are not served. */
  responderCommand?: string[] | null;
  readyTimeoutMs?: number;
}

function tool(name: string): string {
  const path = findSystemTool(name);
  if (!path) {
    const pkg: Record<string, string> = { ip: 'iproute2', nft: 'nftables', nsenter: 'util-linux', unshare: 'util-linux' };
    throw new LodgerError('NETWORK_TOOL_MISSING', `set up user networks: ${name} is not installed — install ${pkg[name] || name}`);
  }
  return path;
}

export function infraDir(runtime: string): string {
  return join(runtime, 'networks');
}

function stateFile(runtime: string): string {
  return join(infraDir(runtime), 'infra.json');
}

function ensureInfraDir(runtime: string): string {
  const dir = infraDir(runtime);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

export function readInfraState(runtime: string): InfraState {
  try {
    return JSON.parse(readFileSync(stateFile(runtime), 'utf8')) as InfraState;
  } catch {
    return { userns: null, networks: {} };
  }
}

function nsOf(pid: number, kind: 'user' | 'net'): string | null {
  try {
    return readlinkSync(`/proc/${pid}/ns/${kind}`);
  } catch {
    return null;
  }
}

/** Alive, not a reused pid, and still holding the same namespace. */
export function holderAlive(h: Holder | null, kind: 'user' | 'net'): boolean {
  return !!h && isAlive(h.process) && nsOf(h.process.pid, kind) === h.ns;
}

function run(file: string, args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(file, args, { timeout: 15000, encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** Runs a command as root of the namespaces `pid` is in (user + net); fails with the command's stderr. */
async function inNamespace(pid: number, what: string, args: string[], input?: string): Promise<string> {
  const r = await run(tool('nsenter'), ['--target', String(pid), '--user', '--net', '--preserve-credentials', ...args], input);
  if (r.code !== 0) {
    throw new LodgerError('NETWORK_INFRA_FAILED', `${what}: ${(r.stderr || r.stdout).trim() || `exit status ${r.code}`}`);
  }
  return r.stdout;
}

/**
 * Starts a holder (`… sleep infinity`, detached, own session) and waits until it has exec'd sleep in
 * its new namespace. With `lifetimeEnd` the holder keeps fd 3, the other end of a socket pair whose
 * end we return: whatever receives that end can watch for the holder's death.
 */
async function startHolder(file: string, args: string[], kind: 'user' | 'net', logFile: string, lifetimeEnd: boolean): Promise<{ holder: Holder; end: Socket | null }> {
  const logFd = openLog(logFile);
  let child: ChildProcess;
  try {
    child = spawn(file, args, { detached: true, stdio: ['ignore', logFd, logFd, lifetimeEnd ? 'pipe' : 'ignore'] });
  } finally {
    closeSync(logFd);
  }
  const end = lifetimeEnd ? (child.stdio[3] as Socket) : null;
  if (end) end.on('error', () => undefined);
  let exited = false;
  child.once('exit', () => (exited = true));
  child.once('error', () => (exited = true));
  const ours = readlinkSync(`/proc/self/ns/${kind}`);
  const deadline = Date.now() + 10000;
  while (!exited && Date.now() < deadline) {
    const pid = child.pid;
    if (pid) {
      let comm = '';
      try {
        comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
      } catch {
        // not there yet
      }
      const ns = nsOf(pid, kind);
      if (comm === 'sleep' && ns && ns !== ours) {
        const id = identify(pid);
        if (id) {
          child.unref();
          return { holder: { process: id, ns }, end };
        }
      }
    }
    await sleep(5);
  }
  end?.destroy();
  if (!exited) child.kill('SIGKILL');
  throw new LodgerError('NETWORK_INFRA_FAILED', `start namespace holder ${[file, ...args].join(' ')}: ${exited ? 'it exited' : 'timed out'}${tailFile(logFile) ? `:\n${tailFile(logFile)}` : ''}`);
}

/**
 * The infra user namespace: uid/gid 0 map to the user, 1… to the subuid/subgid range when there is one
 * (`unshare --map-auto`, through newuidmap(1)), so containers nested in it can use many ids.
 */
async function startUserns(runtime: string): Promise<Holder> {
  const log = join(infraDir(runtime), 'userns.log');
  const unshare = tool('unshare');
  try {
    return (await startHolder(unshare, ['--user', '--map-root-user', '--map-auto', 'sleep', 'infinity'], 'user', log, false)).holder;
  } catch {
    // no subordinate id range (or no newuidmap): a single-id namespace still carries networks
    return (await startHolder(unshare, ['--user', '--map-root-user', 'sleep', 'infinity'], 'user', log, false)).holder;
  }
}

/** The nftables ruleset of a network namespace: masquerade outbound, DNAT published ports (nft(8)). */
function nftRuleset(record: NetworkRecord): string {
  return [
    'table ip lodger {',
    '  chain prerouting { type nat hook prerouting priority dstnat; policy accept; }',
    '  chain postrouting {',
    '    type nat hook postrouting priority srcnat; policy accept;',
    `    oifname "${SLIRP_TAP}" ip saddr ${record.subnet} masquerade`,
    '  }',
    '}',
    '',
  ].join('\n');
}

async function configureNetworkNamespace(pid: number, record: NetworkRecord): Promise<void> {
  const prefix = (parseIPv4Cidr(record.subnet) as { prefix: number }).prefix;
  // A bridge without an address of its own takes the lowest MAC of its ports, so it changes whenever a
  // container joins or leaves and the others' ARP entries for the gateway go stale for seconds (DNS
  // timeouts); a fixed, locally administered address (bit 0x02 of the first byte) avoids that.
  const mac = ['02', ...record.id.slice(0, 10).match(/../g)!].join(':');
  await inNamespace(pid, `create bridge ${record.bridge} for network ${record.name}`, [tool('ip'), '-batch', '-'], [
    'link set lo up',
    `link add name ${record.bridge} address ${mac} type bridge`,
    `addr add ${record.gateway}/${prefix} dev ${record.bridge}`,
    `link set ${record.bridge} up`,
    '',
  ].join('\n'));
  if (record.internal) return;
  // /proc/sys/net shows the writer's network namespace; root of its owning user namespace may write it.
  await inNamespace(pid, `enable forwarding for network ${record.name}`, ['/bin/sh', '-c', 'echo 1 > /proc/sys/net/ipv4/ip_forward']);
  await inNamespace(pid, `add NAT rules for network ${record.name}`, [tool('nft'), '-f', '-'], nftRuleset(record));
}

/** Starts the DNS responder inside the namespace, holding `end` so it exits with the holder. */
async function startResponder(holderPid: number, record: NetworkRecord, root: string, command: string[], end: Socket, logFile: string, upstream: string[]): Promise<ProcessIdentity> {
  const logFd = openLog(logFile);
  let child: ChildProcess;
  try {
    const args = ['--target', String(holderPid), '--user', '--net', '--preserve-credentials', ...command, '--listen', record.gateway, '--records', networkFile(root, record.name), '--lifetime-fd', '3'];
    for (const u of upstream) args.push('--upstream', u);
    child = spawn(tool('nsenter'), args, { detached: true, stdio: ['ignore', logFd, logFd, end] });
  } finally {
    closeSync(logFd);
  }
  let exited = false;
  child.once('exit', () => (exited = true));
  const deadline = Date.now() + 10000;
  while (!exited && Date.now() < deadline) {
    if (hasUdpListener(holderPid, record.gateway, 53)) {
      child.unref();
      const id = child.pid ? identify(child.pid) : null;
      if (id) return id;
    }
    await sleep(10);
  }
  if (!exited) child.kill('SIGKILL');
  throw new LodgerError('NETWORK_DNS_FAILED', `start the DNS responder of network ${record.name}: ${exited ? 'it exited' : 'not listening after 10 s'}${tailFile(logFile) ? `:\n${tailFile(logFile)}` : ''}`);
}

/**
 * Makes sure the infra user namespace and this network's namespace exist and are set up; returns the
 * network's runtime state. Idempotent and serialised by `$runtime/networks/.lock`.
 */
export async function ensureNetworkNamespace(runtime: string, root: string, record: NetworkRecord, o: EnsureNetworkOptions = {}): Promise<NetworkRuntime> {
  const nr = await ensureNamespaceLocked(runtime, root, record, o);
  // Containers that ended without `rm` (a detached --rm one is removed by its monitor) left their
  // address and published ports: give them back before a new container checks its ports.
  await unpublishGone(nr, await reclaimStale(root, record.name));
  return nr;
}

/**
 * Undoes the published ports of containers found gone (userNetwork.reclaimStale), when the namespace is
 * the one they were made in: slirp4netns ids and nft rule handles mean nothing in another one.
 */
export async function unpublishGone(nr: NetworkRuntime, gone: Array<[string, NetworkContainer]>): Promise<void> {
  for (const [, c] of gone) {
    if (c.forwards && c.forwards.length && c.link && c.link.ns === nr.holder.ns) await unpublishPorts(nr, c.forwards).catch(() => undefined);
  }
}

async function ensureNamespaceLocked(runtime: string, root: string, record: NetworkRecord, o: EnsureNetworkOptions): Promise<NetworkRuntime> {
  const dir = ensureInfraDir(runtime);
  return withDirLock(dir, async () => {
    const state = readInfraState(runtime);
    const existing = state.networks[record.name];
    if (existing && holderAlive(existing.holder, 'net')) return existing;
    if (existing) delete state.networks[record.name];
    if (!holderAlive(state.userns, 'user')) {
      const live = Object.values(state.networks).filter((n) => holderAlive(n.holder, 'net'));
      if (live.length) {
        throw new LodgerError(
          'NETWORK_INFRA_FAILED',
          `set up network ${record.name}: the infra user namespace is gone while networks ${live.map((n) => n.name).join(', ')} still run — stop their containers and run lodger network rm/create again`,
        );
      }
      state.userns = await startUserns(runtime);
    }
    const userns = state.userns as Holder;
    const netDir = join(dir, record.name);
    mkdirSync(netDir, { recursive: true, mode: 0o700 });
    const { holder, end } = await startHolder(
      tool('nsenter'),
      ['--target', String(userns.process.pid), '--user', '--preserve-credentials', tool('unshare'), '--net', 'sleep', 'infinity'],
      'net',
      join(netDir, 'holder.log'),
      true,
    );
    const nr: NetworkRuntime = { name: record.name, holder, slirp: null, apiSocket: null, dns: null };
    try {
      await configureNetworkNamespace(holder.process.pid, record);
      if (!record.internal) {
        const backends = await detectBackends();
        if (!backends.slirp4netns) {
          throw new LodgerError('NETWORK_BACKEND_MISSING', `set up network ${record.name}: slirp4netns gives it outbound access and is not installed — install it or create the network with --internal`);
        }
        const h = await startSlirp({ pid: holder.process.pid, runtimeDir: netDir, options: { ...DEFAULT_SLIRP_OPTIONS }, info: backends.slirp4netns, exitFd: end as Socket, readyTimeoutMs: o.readyTimeoutMs });
        nr.slirp = h.identity;
        nr.apiSocket = h.apiSocket;
      }
      if (record.dnsEnabled && o.responderCommand && o.responderCommand.length) {
        const upstream = record.internal ? [] : [slirpAddresses(null).dns];
        nr.dns = await startResponder(holder.process.pid, record, root, o.responderCommand, end as Socket, join(netDir, 'dns.log'), upstream);
      }
    } catch (err) {
      end?.destroy();
      await terminate(holder.process, 500);
      throw err;
    }
    // From here only the holder keeps the other end: slirp4netns and the responder go when it goes.
    end?.destroy();
    state.networks[record.name] = nr;
    writeAtomic(stateFile(runtime), JSON.stringify(state, null, 2) + '\n');
    return nr;
  });
}

/** Stops a network's namespace (its slirp4netns and responder follow the holder). */
export async function teardownNetworkNamespace(runtime: string, name: string): Promise<void> {
  const dir = ensureInfraDir(runtime);
  await withDirLock(dir, async () => {
    const state = readInfraState(runtime);
    const nr = state.networks[name];
    if (!nr) return;
    if (holderAlive(nr.holder, 'net')) await terminate(nr.holder.process, 1000);
    for (const p of [nr.slirp, nr.dns]) if (p) await terminate(p, 1000);
    delete state.networks[name];
    rmSync(join(dir, name), { recursive: true, force: true });
    if (!Object.keys(state.networks).length && state.userns) {
      // Nothing left to hold: let the user namespace go too.
      if (holderAlive(state.userns, 'user')) await terminate(state.userns.process, 1000);
      state.userns = null;
    }
    writeAtomic(stateFile(runtime), JSON.stringify(state, null, 2) + '\n');
  });
}

/** Host-side veth name: at most 15 bytes (IFNAMSIZ), unique per container. */
export function hostVethName(containerId: string): string {
  return `lv${containerId.slice(0, 12)}`;
}

export interface ConnectOptions {
  /** Host pid of the container's init; its user namespace must descend from the infra user namespace. */
  pid: number;
  containerId: string;
  ip: string;
  ifname?: string;
}

/** Links the container to the network's bridge with a veth pair and configures its side. */
export async function connectContainer(nr: NetworkRuntime, record: NetworkRecord, o: ConnectOptions): Promise<string> {
  const veth = hostVethName(o.containerId);
  const ifname = o.ifname || 'eth0';
  const prefix = (parseIPv4Cidr(record.subnet) as { prefix: number }).prefix;
  try {
    await inNamespace(nr.holder.process.pid, `link container ${o.containerId.slice(0, 12)} to network ${record.name}`, [tool('ip'), '-batch', '-'], [
      `link add ${veth} type veth peer name ${ifname} netns ${o.pid}`,
      `link set ${veth} master ${record.bridge}`,
      `link set ${veth} up`,
      '',
    ].join('\n'));
  } catch (err) {
    if (/Operation not permitted|Permission denied/i.test((err as Error).message)) {
      throw new LodgerError(
        'NETWORK_INFRA_FAILED',
        `link container ${o.containerId.slice(0, 12)} to network ${record.name}: not permitted — the container's user namespace must be created inside lodger's infra user namespace (pid ${nr.holder.process.pid}) so that namespace may add links to it`,
      );
    }
    throw err;
  }
  const lines = ['link set lo up', `addr add ${o.ip}/${prefix} dev ${ifname}`, `link set ${ifname} up`];
  if (!record.internal) lines.push(`route add default via ${record.gateway}`);
  try {
    await inNamespace(o.pid, `configure ${ifname} of container ${o.containerId.slice(0, 12)}`, [tool('ip'), '-batch', '-'], lines.join('\n') + '\n');
  } catch (err) {
    await disconnectContainer(nr, o.containerId);
    throw err;
  }
  return veth;
}

/** Removes the container's veth pair (both ends); a link already gone is fine. */
export async function disconnectContainer(nr: NetworkRuntime, containerId: string): Promise<void> {
  if (!holderAlive(nr.holder, 'net')) return;
  const veth = hostVethName(containerId);
  await run(tool('nsenter'), ['--target', String(nr.holder.process.pid), '--user', '--net', '--preserve-credentials', tool('ip'), 'link', 'del', veth]);
}

/**
 * Publishes ports of a container on a user network: slirp4netns forwards the host port into the
 * network namespace (to the same port at its 10.0.2.100), where a DNAT rule sends it to the container.
 */
export async function publishPorts(nr: NetworkRuntime, containerIp: string, ports: PortMapping[]): Promise<PublishedPort[]> {
  if (!ports.length) return [];
  if (!nr.apiSocket) {
    throw new LodgerError('NETWORK_PORT_INVALID', `publish ports on network ${nr.name}: it is --internal, so nothing outside can reach it — drop -p or use another network`);
  }
  const guest = slirpAddresses(null).guest;
  const done: PublishedPort[] = [];
  try {
    for (const m of ports) {
      const reply = await slirpApiRequest(nr.apiSocket, {
        execute: 'add_hostfwd',
        arguments: { proto: m.protocol, host_addr: m.hostIp || '0.0.0.0', host_port: m.hostPort, guest_addr: guest, guest_port: m.hostPort },
      });
      const id = (reply.return as { id?: number } | undefined)?.id;
      if (typeof id !== 'number') {
        throw new LodgerError('NETWORK_PORT_IN_USE', `publish ${m.hostIp || '0.0.0.0'}:${m.hostPort} -> ${m.containerPort}/${m.protocol} on network ${nr.name}: ${JSON.stringify(reply.error || reply)} — choose another host port`);
      }
      // nft -e -a echoes the new rule with its handle, which is how it is deleted later (nft(8)).
      const out = await inNamespace(nr.holder.process.pid, `add the forwarding rule for port ${m.hostPort}`, [
        tool('nft'), '-e', '-a', 'add', 'rule', 'ip', 'lodger', 'prerouting', 'iifname', SLIRP_TAP, m.protocol, 'dport', String(m.hostPort), 'dnat', 'to', `${containerIp}:${m.containerPort}`,
      ]);
      const handle = /# handle (\d+)/.exec(out);
      done.push({ mapping: m, slirpId: id, nftHandle: handle ? Number(handle[1]) : -1 });
    }
  } catch (err) {
    await unpublishPorts(nr, done);
    throw err;
  }
  return done;
}

export async function unpublishPorts(nr: NetworkRuntime, published: PublishedPort[]): Promise<void> {
  for (const p of published) {
    if (nr.apiSocket) await slirpApiRequest(nr.apiSocket, { execute: 'remove_hostfwd', arguments: { id: p.slirpId } }).catch(() => undefined);
    if (p.nftHandle >= 0 && holderAlive(nr.holder, 'net')) {
      await run(tool('nsenter'), ['--target', String(nr.holder.process.pid), '--user', '--net', '--preserve-credentials', tool('nft'), 'delete', 'rule', 'ip', 'lodger', 'prerouting', 'handle', String(p.nftHandle)]);
    }
  }
}
