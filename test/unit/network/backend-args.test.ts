// Unit tests for the slirp4netns/pasta argument vectors and for reading a namespace's addresses from proc(5) tables.
import { describe, expect, it } from 'vitest';
import { buildSlirpArgs, slirpAddresses } from '../../../src/network/slirp';
import { buildPastaArgs, gatewayRouteArgs, lossBasedCongestion, pastaPortSpecs, PASTA_DNS_FORWARD } from '../../../src/network/pasta';
import { DEFAULT_SLIRP_OPTIONS, type PastaInfo, type SlirpInfo } from '../../../src/network/mode';
import { describeIPv4, parseFibTrieLocal } from '../../../src/network/netinfo';
import type { PortMapping } from '../../../src/network/ports';

const slirpInfo: SlirpInfo = {
  path: '/usr/bin/slirp4netns', version: '1.2.0', libslirp: '4.7.0', sandbox: true, seccomp: true, disableHostLoopback: true, apiSocket: true,
  cidr: true, netnsType: true, userNsPath: true, outboundAddr: true, disableDns: true, exitFd: true, readyFd: true,
};
const pastaInfo: PastaInfo = { path: '/usr/bin/pasta', version: null, configNet: true, dnsForward: true, noMapGw: true, nsPorts: true, netnsQuit: true, mapHostLoopback: false, mapGuestAddr: false };

describe('slirp4netns arguments', () => {
  it('configures, sandboxes, disables host loopback and ties to the exit/ready fds by default', () => {
    const args = buildSlirpArgs({ pid: 42, options: { ...DEFAULT_SLIRP_OPTIONS }, info: slirpInfo, apiSocket: '/run/x/slirp.sock', exitFd: 3, readyFd: 4 });
    expect(args).toEqual([
      '--configure', '--mtu=65520', '--disable-host-loopback', '--enable-sandbox', '--enable-seccomp',
      '--api-socket=/run/x/slirp.sock', '--exit-fd=3', '--ready-fd=4', '42', 'tap0',
    ]);
  });

  it('honours allow_host_loopback, cidr, ipv6, outbound address, and a build without sandbox/seccomp', () => {
    const args = buildSlirpArgs({
      pid: 7,
      options: { ...DEFAULT_SLIRP_OPTIONS, allowHostLoopback: true, cidr: '10.5.0.0/24', enableIpv6: true, outboundAddr: '192.0.2.9' },
      info: { ...slirpInfo, sandbox: false, seccomp: false },
      apiSocket: '/s', exitFd: 3, readyFd: 4,
    });
    expect(args).not.toContain('--disable-host-loopback');
    expect(args).not.toContain('--enable-sandbox');
    expect(args).toContain('--cidr=10.5.0.0/24');
    expect(args).toContain('--enable-ipv6');
    expect(args).toContain('--outbound-addr=192.0.2.9');
  });

  it('computes the documented addresses of a cidr', () => {
    expect(slirpAddresses(null)).toEqual({ cidr: '10.0.2.0/24', prefix: 24, gateway: '10.0.2.2', dns: '10.0.2.3', guest: '10.0.2.100' });
    expect(slirpAddresses('10.5.0.0/16')).toMatchObject({ gateway: '10.5.0.2', dns: '10.5.0.3', guest: '10.5.0.100' });
  });
});

describe('pasta arguments', () => {
  const base = { pid: 42, info: pastaInfo, userArgs: [], mapGateway: false, netnsLink: '/r/pasta.netns', pidFile: '/r/pasta.pid', logFile: '/r/pasta.log' };

  it('forwards nothing and isolates the host loopback unless asked', () => {
    const args = buildPastaArgs({ ...base, ports: [] });
    expect(args.join(' ')).toBe(
      `--config-net --quiet -t none -u none -T none -U none --no-map-gw --dns-forward ${PASTA_DNS_FORWARD} --log-file /r/pasta.log --pid /r/pasta.pid --netns /r/pasta.netns --userns /proc/42/ns/user`,
    );
  });

  it('turns mappings into grouped -t/-u specs with host addresses', () => {
    const ports: PortMapping[] = [
      { hostIp: '', hostPort: 8000, containerPort: 80, protocol: 'tcp' },
      { hostIp: '', hostPort: 8001, containerPort: 81, protocol: 'tcp' },
      { hostIp: '', hostPort: 8002, containerPort: 90, protocol: 'tcp' },
      { hostIp: '127.0.0.1', hostPort: 5353, containerPort: 53, protocol: 'udp' },
      { hostIp: '::1', hostPort: 9000, containerPort: 9000, protocol: 'tcp' },
    ];
    expect(pastaPortSpecs(ports, 'tcp')).toEqual(['8000-8001:80-81', '8002:90', '::1/9000:9000']);
    expect(pastaPortSpecs(ports, 'udp')).toEqual(['127.0.0.1/5353:53']);
    const args = buildPastaArgs({ ...base, ports });
    expect(args.slice(2, 12)).toEqual(['-t', '8000-8001:80-81', '-t', '8002:90', '-t', '::1/9000:9000', '-u', '127.0.0.1/5353:53', '-T', 'none']);
  });

  it('leaves -T and the gateway mapping to the user when given', () => {
    const args = buildPastaArgs({ ...base, ports: [], userArgs: ['-T', '8080'], mapGateway: true });
    expect(args).not.toContain('--no-map-gw');
    expect(args.filter((a) => a === '-T')).toHaveLength(1);
    expect(args).toContain('8080');
  });
});

describe('reading a namespace from proc(5)', () => {
  const route = [
    'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT',
    'tap0\t00000000\t0202000A\t0003\t0\t0\t0\t00000000\t0\t0\t0',
    'tap0\t0002000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0',
  ].join('\n');
  const fib = [
    'Main:', '  +-- 0.0.0.0/0 3 0 5', '     |-- 0.0.0.0', '        /0 universe UNICAST', '     +-- 10.0.2.0/24 2 0 2',
    '        |-- 10.0.2.100', '           /32 host LOCAL', '     |-- 127.0.0.1', '        /32 host LOCAL',
  ].join('\n');

  it('finds the default route, the address on its interface and the prefix', () => {
    expect(parseFibTrieLocal(fib)).toEqual(['10.0.2.100', '127.0.0.1']);
    expect(describeIPv4(route, fib)).toEqual({ interface: 'tap0', address: '10.0.2.100', prefix: 24, gateway: '10.0.2.2' });
  });

  it('reports no gateway in a namespace with only lo', () => {
    expect(describeIPv4(route.split('\n')[0], '')).toEqual({ interface: null, address: null, prefix: null, gateway: null });
  });
});

describe('the tuned route to a mapped pasta gateway', () => {
  it('asks for a short retransmission timer and a loss-based congestion control the kernel has', () => {
    expect(gatewayRouteArgs('192.0.2.1', 'eth0', 'cubic')).toEqual(['route', 'replace', '192.0.2.1/32', 'dev', 'eth0', 'rto_min', '5ms', 'congctl', 'lock', 'cubic']);
    expect(gatewayRouteArgs('10.0.0.1', 'enp1s0', null)).toEqual(['route', 'replace', '10.0.0.1/32', 'dev', 'enp1s0', 'rto_min', '5ms']);
    expect(lossBasedCongestion('reno bbr cubic\n')).toBe('cubic');
    expect(lossBasedCongestion('reno bbr\n')).toBe('reno');
    expect(lossBasedCongestion('')).toBe('reno');
  });
});
