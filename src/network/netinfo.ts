// Reads a namespace's IPv4 configuration from /proc/PID/net (proc(5)) without entering it.
import { readFileSync } from 'node:fs';
import { formatIPv4 } from './addr';

export interface NetnsIPv4 {
  /** Interface of the default route, or null without one. */
  interface: string | null;
  address: string | null;
  prefix: number | null;
  gateway: string | null;
}

/** /proc/net/route prints addresses as the kernel stores them: network byte order read as a host-order hex word. */
function routeHex(hex: string): number {
  const value = parseInt(hex, 16) >>> 0;
  // On little-endian machines the hex word shows the bytes reversed (10.0.2.2 is "0202000A").
  const le = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
  if (!le) return value;
  return (((value & 0xff) << 24) | (((value >>> 8) & 0xff) << 16) | (((value >>> 16) & 0xff) << 8) | ((value >>> 24) & 0xff)) >>> 0;
}

function popcount(n: number): number {
  let c = 0;
  for (let v = n >>> 0; v; v >>>= 1) c += v & 1;
  return c;
}

/** Local IPv4 addresses (`/32 host LOCAL` leaves of /proc/net/fib_trie). */
export function parseFibTrieLocal(text: string): string[] {
  const out = new Set<string>();
  let last: string | null = null;
  for (const line of text.split('\n')) {
    const leaf = /\|--\s+(\d+\.\d+\.\d+\.\d+)/.exec(line);
    if (leaf) {
      last = leaf[1];
      continue;
    }
    if (last && /\/32 host LOCAL/.test(line)) out.add(last);
  }
  return [...out];
}

export interface RouteEntry {
  iface: string;
  destination: number;
  gateway: number;
  mask: number;
}

export function parseRouteTable(text: string): RouteEntry[] {
  return text
    .split('\n')
    .slice(1)
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length >= 8)
    .map((f) => ({ iface: f[0], destination: routeHex(f[1]), gateway: routeHex(f[2]), mask: routeHex(f[7]) }));
}

/** The default route, its interface's address and prefix, from the two proc(5) tables. */
export function describeIPv4(routeText: string, fibTrieText: string): NetnsIPv4 {
  const routes = parseRouteTable(routeText);
  const def = routes.find((r) => r.destination === 0 && r.mask === 0);
  const locals = parseFibTrieLocal(fibTrieText).filter((ip) => !ip.startsWith('127.'));
  if (!def) {
    return { interface: null, address: locals[0] || null, prefix: null, gateway: null };
  }
  const subnet = routes.find((r) => r.iface === def.iface && r.mask !== 0 && r.gateway === 0);
  let address: string | null = null;
  if (subnet) {
    address =
      locals.find((ip) => {
        const v = ip.split('.').reduce((a, p) => (a * 256 + Number(p)) >>> 0, 0);
        return ((v & subnet.mask) >>> 0) === ((subnet.destination & subnet.mask) >>> 0);
      }) || null;
  }
  return {
    interface: def.iface,
    address: address || locals[0] || null,
    prefix: subnet ? popcount(subnet.mask) : null,
    gateway: formatIPv4(def.gateway),
  };
}

export function readNetnsIPv4(pid: number): NetnsIPv4 {
  return describeIPv4(readFileSync(`/proc/${pid}/net/route`, 'utf8'), readFileSync(`/proc/${pid}/net/fib_trie`, 'utf8'));
}

/** Interface names present in the namespace of `pid` (/proc/PID/net/dev). */
export function readInterfaces(pid: number): string[] {
  return readFileSync(`/proc/${pid}/net/dev`, 'utf8')
    .split('\n')
    .slice(2)
    .map((l) => l.split(':')[0].trim())
    .filter(Boolean);
}

/** Whether a UDP socket in the namespace of `pid` is bound to ip:port (/proc/PID/net/udp, proc(5)). */
export function hasUdpListener(pid: number, ip: string, port: number): boolean {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/net/udp`, 'utf8');
  } catch {
    return false;
  }
  const want = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  return text
    .split('\n')
    .slice(1)
    .some((l) => {
      const local = l.trim().split(/\s+/)[1];
      if (!local || !local.endsWith(want)) return false;
      const addr = formatIPv4(routeHex(local.split(':')[0]));
      return addr === ip || addr === '0.0.0.0';
    });
}
