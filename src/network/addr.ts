// IPv4/IPv6 address arithmetic shared by the network modules: parsing, CIDR networks, loopback tests.
import { isIPv4, isIPv6 as netIsIPv6 } from 'node:net';

/** Parses dotted-quad IPv4 into an unsigned 32-bit number, or null. */
export function parseIPv4(text: string): number | null {
  if (!isIPv4(text)) return null;
  return text.split('.').reduce((acc, part) => (acc * 256 + Number(part)) >>> 0, 0);
}

export function formatIPv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => (value >>> shift) & 255).join('.');
}

export function isIPv6(text: string): boolean {
  return netIsIPv6(text);
}

export function isIP(text: string): boolean {
  return isIPv4(text) || netIsIPv6(text);
}

export interface IPv4Cidr {
  /** The network address (host bits cleared), dotted. */
  network: string;
  prefix: number;
  /** Network address as a number. */
  base: number;
  /** Number of addresses in the network. */
  size: number;
}

/** Parses `a.b.c.d/n`; host bits are cleared, so `10.0.2.5/24` means 10.0.2.0/24. */
export function parseIPv4Cidr(text: string): IPv4Cidr | null {
  const slash = text.indexOf('/');
  if (slash < 0) return null;
  const ip = parseIPv4(text.slice(0, slash));
  const prefixText = text.slice(slash + 1);
  if (ip === null || !/^\d{1,2}$/.test(prefixText)) return null;
  const prefix = Number(prefixText);
  if (prefix > 32) return null;
  const size = 2 ** (32 - prefix);
  const base = prefix === 0 ? 0 : (ip - (ip % size)) >>> 0;
  return { network: formatIPv4(base), prefix, base, size };
}

/** The address `offset` places into the network (offset 1 is the usual gateway). */
export function cidrAddress(cidr: IPv4Cidr, offset: number): string {
  return formatIPv4((cidr.base + offset) >>> 0);
}

export function cidrContains(cidr: IPv4Cidr, ip: string): boolean {
  const value = parseIPv4(ip);
  return value !== null && value >= cidr.base && value < cidr.base + cidr.size;
}

/** 127.0.0.0/8 and ::1: addresses that mean "this namespace" and so cannot be handed to a container. */
export function isLoopback(ip: string): boolean {
  if (isIPv4(ip)) return ip.startsWith('127.');
  if (netIsIPv6(ip)) {
    const lower = ip.toLowerCase();
    return lower === '::1' || lower === '0:0:0:0:0:0:0:1' || /^::ffff:127\./.test(lower);
  }
  return false;
}
