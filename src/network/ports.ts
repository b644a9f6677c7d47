// Published ports: parsing `-p`/`-P` the way docker does, choosing free host ports, formatting `lodger port`.
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { LodgerError } from '../errors';
import { isIP, isIPv6 } from './addr';

export type Protocol = 'tcp' | 'udp';

/** One `-p` item after range expansion; host port 0 means "any free port". */
export interface PublishSpec {
  /** Host address to bind; '' means every IPv4 address (0.0.0.0), as docker shows it. */
  hostIp: string;
  hostPort: number;
  /** `-p 8000-8010:80`: bind one free port of this range (docker's rule); hostPort is 0 then. */
  hostPortRange: [number, number] | null;
  containerPort: number;
  protocol: Protocol;
}

/** A published port with its host port decided: what the backends forward and `lodger port` prints. */
export interface PortMapping {
  hostIp: string;
  hostPort: number;
  containerPort: number;
  protocol: Protocol;
}

function invalid(spec: string, why: string): LodgerError {
  return new LodgerError('NETWORK_PORT_INVALID', `parse -p ${spec}: ${why} — expected [ip:][hostPort:]containerPort[/tcp|udp], e.g. -p 127.0.0.1:8080:80/tcp`);
}

function parsePortRange(spec: string, text: string, what: string): [number, number] {
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(text);
  if (!m) throw invalid(spec, `invalid ${what} "${text}"`);
  const lo = Number(m[1]);
  const hi = m[2] === undefined ? lo : Number(m[2]);
  if (lo < 1 || hi > 65535 || lo > 65535) throw invalid(spec, `${what} ${text} is out of range 1-65535`);
  if (hi < lo) throw invalid(spec, `${what} range ${text} ends before it starts`);
  return [lo, hi];
}

/** Parses one `-p` value into one spec per container port (ranges expanded). */
export function parsePublish(spec: string): PublishSpec[] {
  let rest = spec.trim();
  let protocol: Protocol = 'tcp';
  const slash = rest.lastIndexOf('/');
  if (slash >= 0) {
    const proto = rest.slice(slash + 1).toLowerCase();
    rest = rest.slice(0, slash);
    if (proto === 'sctp') throw invalid(spec, 'sctp is not supported by slirp4netns or pasta');
    if (proto !== 'tcp' && proto !== 'udp') throw invalid(spec, `unknown protocol "${proto}"`);
    protocol = proto;
  }
  let hostIp = '';
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close < 0 || rest[close + 1] !== ':') throw invalid(spec, 'unterminated [IPv6] address');
    hostIp = rest.slice(1, close);
    if (!isIPv6(hostIp)) throw invalid(spec, `"${hostIp}" is not an IPv6 address`);
    rest = rest.slice(close + 2);
  }
  const parts = rest.split(':');
  let hostText = '';
  let containerText: string;
  if (hostIp) {
    if (parts.length !== 2) throw invalid(spec, 'expected [ipv6]:hostPort:containerPort');
    [hostText, containerText] = parts;
  } else if (parts.length === 1) {
    containerText = parts[0];
  } else if (parts.length === 2) {
    [hostText, containerText] = parts;
  } else if (parts.length === 3) {
    [hostIp, hostText, containerText] = parts;
    if (!isIP(hostIp)) throw invalid(spec, `"${hostIp}" is not an IP address (write IPv6 addresses in brackets)`);
  } else {
    throw invalid(spec, 'too many ":" (write IPv6 addresses in brackets)');
  }
  if (hostIp === '0.0.0.0') hostIp = '';
  const [cLo, cHi] = parsePortRange(spec, containerText, 'container port');
  const count = cHi - cLo + 1;
  const out: PublishSpec[] = [];
  if (!hostText) {
    for (let p = cLo; p <= cHi; p++) out.push({ hostIp, hostPort: 0, hostPortRange: null, containerPort: p, protocol });
    return out;
  }
  const [hLo, hHi] = parsePortRange(spec, hostText, 'host port');
  const hostCount = hHi - hLo + 1;
  if (count === 1 && hostCount > 1) {
    // docker: a host range for a single container port means "any one free port of the range".
    return [{ hostIp, hostPort: 0, hostPortRange: [hLo, hHi], containerPort: cLo, protocol }];
  }
  if (hostCount !== count) {
    throw invalid(spec, `host range ${hostText} and container range ${containerText} differ in length`);
  }
  for (let i = 0; i < count; i++) {
    out.push({ hostIp, hostPort: hLo + i, hostPortRange: null, containerPort: cLo + i, protocol });
  }
  return out;
}

/** Parses an image config's `ExposedPorts` keys (`"80/tcp"`, `"53/udp"`, `"8080"`, `"8000-8002/tcp"`). */
export function parseExposedPorts(exposed: Record<string, unknown> | null | undefined): { containerPort: number; protocol: Protocol }[] {
  const out: { containerPort: number; protocol: Protocol }[] = [];
  for (const key of Object.keys(exposed || {})) {
    const m = /^(\d{1,5})(?:-(\d{1,5}))?(?:\/(tcp|udp|sctp))?$/i.exec(key.trim());
    if (!m) throw new LodgerError('NETWORK_PORT_INVALID', `read the image's ExposedPorts entry "${key}": expected PORT[/tcp|udp] — fix the image config or publish ports with -p`);
    const proto = (m[3] || 'tcp').toLowerCase();
    if (proto === 'sctp') continue; // neither backend forwards SCTP; docker -P would fail on it, we skip it
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    for (let p = lo; p <= hi && p <= 65535; p++) if (p >= 1) out.push({ containerPort: p, protocol: proto as Protocol });
  }
  // Object keys come back with integer-like ones first; sort so -P output does not depend on that.
  return out.sort((a, b) => a.containerPort - b.containerPort || a.protocol.localeCompare(b.protocol));
}

/** `-P`: every exposed port not already published by `-p`, on a free host port of every address. */
export function publishAllSpecs(exposed: Record<string, unknown> | null | undefined, explicit: PublishSpec[] = []): PublishSpec[] {
  const taken = new Set(explicit.map((s) => `${s.containerPort}/${s.protocol}`));
  return parseExposedPorts(exposed)
    .filter((p) => !taken.has(`${p.containerPort}/${p.protocol}`))
    .map((p) => ({ hostIp: '', hostPort: 0, hostPortRange: null, ...p }));
}

/** Tries to bind host ip:port for the protocol; returns the port bound (useful for port 0) or an errno code. */
export function probeHostPort(protocol: Protocol, hostIp: string, port: number): Promise<{ port: number } | { error: string }> {
  const address = hostIp || '0.0.0.0';
  return new Promise((resolve) => {
    if (protocol === 'tcp') {
      const server = createServer();
      server.once('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code || String(err) }));
      server.listen({ host: address, port, exclusive: true }, () => {
        const bound = (server.address() as { port: number }).port;
        server.close(() => resolve({ port: bound }));
      });
    } else {
      const socket = createSocket(isIPv6(address) ? 'udp6' : 'udp4');
      socket.once('error', (err: NodeJS.ErrnoException) => {
        socket.close();
        resolve({ error: err.code || String(err) });
      });
      socket.bind({ address, port, exclusive: true }, () => {
        const bound = socket.address().port;
        socket.close(() => resolve({ port: bound }));
      });
    }
  });
}

function portError(m: { hostIp: string; hostPort: number; protocol: Protocol }, code: string): LodgerError {
  const where = `${m.hostIp ? formatHost(m.hostIp) + ':' : ''}${m.hostPort}/${m.protocol}`;
  if (code === 'EADDRINUSE') {
    return new LodgerError('NETWORK_PORT_IN_USE', `publish host port ${where}: address already in use — stop what listens there or choose another host port`);
  }
  if (code === 'EACCES') {
    return new LodgerError(
      'NETWORK_PORT_INVALID',
      `publish host port ${where}: permission denied — ports below net.ipv4.ip_unprivileged_port_start (usually 1024) need that sysctl lowered by an administrator; choose a port above it`,
    );
  }
  if (code === 'EADDRNOTAVAIL') {
    return new LodgerError('NETWORK_PORT_INVALID', `publish host port ${where}: ${m.hostIp} is not an address of this host — use one of its addresses or omit it`);
  }
  return new LodgerError('NETWORK_PORT_INVALID', `publish host port ${where}: cannot bind (${code})`);
}

function overlaps(a: PortMapping, b: PortMapping): boolean {
  return a.protocol === b.protocol && a.hostPort === b.hostPort && (a.hostIp === b.hostIp || !a.hostIp || !b.hostIp);
}

/**
 * Decides every host port: explicit ports are checked free, port 0 gets a free port from the kernel,
 * a host range gets its first free port. There is a window between this check and the backend's own
 * bind; the backend reports a port taken in that window.
 */
export async function resolvePortMappings(specs: PublishSpec[]): Promise<PortMapping[]> {
  const out: PortMapping[] = [];
  const clash = (m: PortMapping): boolean => out.some((o) => overlaps(o, m));
  for (const spec of specs) {
    const base = { hostIp: spec.hostIp, containerPort: spec.containerPort, protocol: spec.protocol };
    if (spec.hostPortRange) {
      let chosen: PortMapping | null = null;
      for (let p = spec.hostPortRange[0]; p <= spec.hostPortRange[1] && !chosen; p++) {
        const candidate = { ...base, hostPort: p };
        if (clash(candidate)) continue;
        const r = await probeHostPort(spec.protocol, spec.hostIp, p);
        if ('port' in r) chosen = candidate;
      }
      if (!chosen) {
        throw new LodgerError(
          'NETWORK_PORT_IN_USE',
          `publish container port ${spec.containerPort}/${spec.protocol}: no free host port in ${spec.hostPortRange[0]}-${spec.hostPortRange[1]} — widen the range or free a port`,
        );
      }
      out.push(chosen);
    } else if (spec.hostPort === 0) {
      let chosen: PortMapping | null = null;
      for (let attempt = 0; attempt < 20 && !chosen; attempt++) {
        const r = await probeHostPort(spec.protocol, spec.hostIp, 0);
        if ('error' in r) throw portError({ ...base, hostPort: 0 }, r.error);
        const candidate = { ...base, hostPort: r.port };
        if (!clash(candidate)) chosen = candidate;
      }
      if (!chosen) throw portError({ ...base, hostPort: 0 }, 'EADDRINUSE');
      out.push(chosen);
    } else {
      const m = { ...base, hostPort: spec.hostPort };
      if (clash(m)) {
        throw new LodgerError('NETWORK_PORT_INVALID', `publish host port ${spec.hostPort}/${spec.protocol}: given twice — publish each host port once`);
      }
      const r = await probeHostPort(spec.protocol, spec.hostIp, spec.hostPort);
      if ('error' in r) throw portError(m, r.error);
      out.push(m);
    }
  }
  return out;
}

function formatHost(ip: string): string {
  if (!ip) return '0.0.0.0';
  return isIPv6(ip) ? `[${ip}]` : ip;
}

function byPort(a: PortMapping, b: PortMapping): number {
  return a.containerPort - b.containerPort || a.protocol.localeCompare(b.protocol) || a.hostPort - b.hostPort;
}

/** `lodger port CONTAINER`: one `80/tcp -> 0.0.0.0:8080` line per mapping, as docker prints them. */
export function formatPortMappings(mappings: PortMapping[]): string[] {
  return [...mappings].sort(byPort).map((m) => `${m.containerPort}/${m.protocol} -> ${formatHost(m.hostIp)}:${m.hostPort}`);
}

/** `lodger port CONTAINER 80[/tcp]`: the host addresses of one container port, or an error naming it. */
export function lookupPublishedPort(mappings: PortMapping[], query: string, container: string): string[] {
  const m = /^(\d{1,5})(?:\/(tcp|udp))?$/i.exec(query.trim());
  if (!m) throw new LodgerError('NETWORK_PORT_INVALID', `look up port ${query}: expected PORT[/tcp|udp], e.g. 80/tcp`);
  const port = Number(m[1]);
  const proto = (m[2] || 'tcp').toLowerCase();
  const lines = [...mappings]
    .sort(byPort)
    .filter((x) => x.containerPort === port && x.protocol === proto)
    .map((x) => `${formatHost(x.hostIp)}:${x.hostPort}`);
  if (!lines.length) {
    throw new LodgerError('NETWORK_PORT_NOT_PUBLISHED', `look up port ${port}/${proto} of ${container}: no public port published — publish it with -p when creating the container`);
  }
  return lines;
}
