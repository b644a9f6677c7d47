// The container's /etc/hosts: localhost lines, --add-host entries, the container's own names, and user-network peers.
import { LodgerError } from '../errors';
import { isIP } from './addr';

export interface HostEntry {
  ip: string;
  names: string[];
}

export interface BuildHostsInput {
  /** The container's hostname (--hostname, or the short id). */
  hostname: string;
  /** The container's name; listed after the hostname when different (podman does, so peers and the container agree). */
  name?: string | null;
  /** The container's address on its network; null for `none` (the names then point at 127.0.0.1). */
  ip: string | null;
  /** `--add-host` values, `NAME:IP` (or `NAME=IP`, names joined with `;`), IP may be `host-gateway`. */
  addHosts?: string[];
  /** What `host-gateway` resolves to: the address at which the backend reaches the host; null if none. */
  hostGateway?: string | null;
  /** Other containers on the same user network. */
  peers?: HostEntry[];
  /** For `--network host`: the host's /etc/hosts, kept and extended rather than replaced. */
  base?: string | null;
}

/** The localhost block docker writes (hosts(5) format: address, then names, tab separated). */
const LOCALHOST_LINES = [
  '127.0.0.1\tlocalhost',
  '::1\tlocalhost ip6-localhost ip6-loopback',
  'fe00::0\tip6-localnet',
  'ff00::0\tip6-mcastprefix',
  'ff02::1\tip6-allnodes',
  'ff02::2\tip6-allrouters',
];

const HOST_NAME = /^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?$/;

/** Parses one `--add-host` value. IPv6 may be bare (`h:::1`, docker's form) or bracketed (`h:[::1]`). */
export function parseAddHost(spec: string, hostGateway: string | null | undefined): HostEntry {
  const sep = /[:=]/.exec(spec);
  if (!sep) {
    throw new LodgerError('NETWORK_HOST_INVALID', `parse --add-host ${spec}: expected NAME:IP (e.g. db:10.0.0.5 or gw:host-gateway)`);
  }
  const names = spec.slice(0, sep.index).split(';').filter(Boolean);
  let ip = spec.slice(sep.index + 1);
  if (ip.startsWith('[') && ip.endsWith(']')) ip = ip.slice(1, -1);
  if (!names.length || names.some((n) => !HOST_NAME.test(n))) {
    throw new LodgerError('NETWORK_HOST_INVALID', `parse --add-host ${spec}: "${names.join(';')}" is not a host name`);
  }
  if (ip === 'host-gateway') {
    if (!hostGateway) {
      throw new LodgerError(
        'NETWORK_HOST_INVALID',
        `resolve --add-host ${spec}: this container's network has no route to the host (--network none) — give an IP address instead of host-gateway`,
      );
    }
    ip = hostGateway;
  } else if (!isIP(ip)) {
    throw new LodgerError('NETWORK_HOST_INVALID', `parse --add-host ${spec}: "${ip}" is not an IP address or host-gateway`);
  }
  return { ip, names };
}

function line(entry: HostEntry): string {
  return `${entry.ip}\t${entry.names.join(' ')}`;
}

/** The container's /etc/hosts text. */
export function buildHosts(input: BuildHostsInput): string {
  const extra = (input.addHosts || []).map((s) => parseAddHost(s, input.hostGateway));
  const own = [input.hostname];
  if (input.name && input.name !== input.hostname) own.push(input.name);
  const lines: string[] = [];
  if (input.base !== undefined && input.base !== null) {
    // --network host: the host's names stay true inside; only add what was asked for.
    lines.push(input.base.replace(/\n+$/, ''));
    lines.push(...extra.map(line));
    return lines.join('\n') + '\n';
  }
  lines.push(...LOCALHOST_LINES);
  lines.push(...extra.map(line));
  lines.push(line({ ip: input.ip || '127.0.0.1', names: own }));
  const ownNames = new Set(own);
  for (const peer of input.peers || []) {
    const names = peer.names.filter((n) => !ownNames.has(n));
    if (names.length && peer.ip !== input.ip) lines.push(line({ ip: peer.ip, names }));
  }
  return lines.join('\n') + '\n';
}
