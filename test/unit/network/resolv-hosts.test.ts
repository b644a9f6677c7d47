// Unit tests for building the container's /etc/resolv.conf and /etc/hosts.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildResolvConf, parseResolvConf, readHostResolvConf } from '../../../src/network/resolv';
import { buildHosts, parseAddHost } from '../../../src/network/hosts';
import { lodgerErrorOf } from '../../helpers/errors';

const nameservers = (text: string): string[] => parseResolvConf(text).nameservers;

describe('parseResolvConf', () => {
  it('reads nameservers, the last search/domain, options, and skips comments', () => {
    const rc = parseResolvConf('# c\nnameserver 1.1.1.1 ; trailing\ndomain a.example\nsearch b.example c.example\noptions ndots:2\noptions edns0\n;x\nnameserver ::1\n');
    expect(rc).toEqual({ nameservers: ['1.1.1.1', '::1'], search: ['b.example', 'c.example'], options: ['ndots:2', 'edns0'] });
  });
});

describe('readHostResolvConf', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lodger-resolv-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('follows systemd-resolved\'s stub to its upstream list', () => {
    writeFileSync(join(dir, 'etc'), 'nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch lan\n');
    writeFileSync(join(dir, 'up'), 'nameserver 192.168.1.1\nsearch lan\n');
    expect(readHostResolvConf({ etc: join(dir, 'etc'), upstream: join(dir, 'up') })).toEqual({ path: join(dir, 'up'), content: 'nameserver 192.168.1.1\nsearch lan\n' });
  });

  it('keeps the host file when it names real resolvers or the upstream list is absent', () => {
    writeFileSync(join(dir, 'etc2'), 'nameserver 127.0.0.53\nnameserver 9.9.9.9\n');
    expect(readHostResolvConf({ etc: join(dir, 'etc2'), upstream: join(dir, 'up') }).path).toBe(join(dir, 'etc2'));
    writeFileSync(join(dir, 'etc3'), 'nameserver 127.0.0.53\n');
    expect(readHostResolvConf({ etc: join(dir, 'etc3'), upstream: join(dir, 'missing') }).path).toBe(join(dir, 'etc3'));
    expect(readHostResolvConf({ etc: join(dir, 'missing') }).content).toBe('');
  });
});

describe('buildResolvConf', () => {
  const host = 'nameserver 127.0.0.53\nnameserver 192.0.2.53\nnameserver 2001:db8::53\nnameserver fe80::1%eth0\nsearch corp.example\noptions edns0\n';

  it('replaces loopback resolvers with the slirp4netns forwarder and drops unusable ones', () => {
    const out = buildResolvConf({ network: 'private', hostContent: host, forwarders: ['10.0.2.3'], ipv6: false });
    expect(nameservers(out)).toEqual(['10.0.2.3', '192.0.2.53']);
    expect(parseResolvConf(out).search).toEqual(['corp.example']);
    expect(parseResolvConf(out).options).toEqual(['edns0']);
  });

  it('keeps IPv6 resolvers when the container has IPv6 (pasta)', () => {
    const out = buildResolvConf({ network: 'private', hostContent: host, forwarders: ['169.254.1.1'], ipv6: true });
    expect(nameservers(out)).toEqual(['169.254.1.1', '192.0.2.53', '2001:db8::53']);
  });

  it('falls back to the forwarder when the host names no resolver at all', () => {
    expect(nameservers(buildResolvConf({ network: 'private', hostContent: '', forwarders: ['10.0.2.3'], ipv6: false }))).toEqual(['10.0.2.3']);
  });

  it('lets --dns, --dns-search and --dns-option replace the host\'s values', () => {
    const out = buildResolvConf({
      network: 'private',
      hostContent: host,
      forwarders: ['10.0.2.3'],
      ipv6: false,
      settings: { dns: ['9.9.9.9'], dnsSearch: ['svc.local'], dnsOptions: ['ndots:5'] },
    });
    expect(parseResolvConf(out)).toEqual({ nameservers: ['9.9.9.9'], search: ['svc.local'], options: ['ndots:5'] });
    expect(parseResolvConf(buildResolvConf({ network: 'private', hostContent: host, forwarders: [], ipv6: false, settings: { dnsSearch: ['.'] } })).search).toEqual([]);
  });

  it('keeps the host file verbatim for --network host unless overridden', () => {
    expect(buildResolvConf({ network: 'host', hostContent: host, forwarders: [], ipv6: true })).toBe(host);
    expect(nameservers(buildResolvConf({ network: 'host', hostContent: host, forwarders: [], ipv6: true, settings: { dns: ['1.1.1.1'] } }))).toEqual(['1.1.1.1']);
  });

  it('keeps no loopback resolver for --network none', () => {
    const out = buildResolvConf({ network: 'none', hostContent: 'nameserver 127.0.0.1\nnameserver ::1\n', forwarders: [], ipv6: false });
    expect(nameservers(out)).toEqual([]);
  });

  it('uses only a user network\'s responder', () => {
    expect(nameservers(buildResolvConf({ network: 'private', hostContent: host, forwarders: ['10.89.0.1'], forwardersOnly: true, ipv6: false }))).toEqual(['10.89.0.1']);
  });

  it('rejects a --dns that is not an address', () => {
    expect(lodgerErrorOf(() => buildResolvConf({ network: 'private', hostContent: '', forwarders: [], ipv6: false, settings: { dns: ['dns.example'] } })).code).toBe('NETWORK_DNS_INVALID');
    expect(lodgerErrorOf(() => buildResolvConf({ network: 'private', hostContent: '', forwarders: [], ipv6: false, settings: { dnsOptions: ['a b'] } })).code).toBe('NETWORK_DNS_INVALID');
  });
});

describe('parseAddHost', () => {
  it('accepts NAME:IP, NAME=IP, bare and bracketed IPv6, several names', () => {
    expect(parseAddHost('db:10.0.0.5', null)).toEqual({ ip: '10.0.0.5', names: ['db'] });
    expect(parseAddHost('db=10.0.0.5', null)).toEqual({ ip: '10.0.0.5', names: ['db'] });
    expect(parseAddHost('v6:::1', null)).toEqual({ ip: '::1', names: ['v6'] });
    expect(parseAddHost('v6:[2001:db8::1]', null)).toEqual({ ip: '2001:db8::1', names: ['v6'] });
    expect(parseAddHost('a;b.example:10.0.0.1', null)).toEqual({ ip: '10.0.0.1', names: ['a', 'b.example'] });
  });

  it('resolves host-gateway, and refuses it where there is no way to the host', () => {
    expect(parseAddHost('host.docker.internal:host-gateway', '10.0.2.2')).toEqual({ ip: '10.0.2.2', names: ['host.docker.internal'] });
    expect(lodgerErrorOf(() => parseAddHost('gw:host-gateway', null)).message).toMatch(/host-gateway/);
  });

  it('rejects bad names and addresses', () => {
    for (const bad of ['nocolon', ':1.2.3.4', 'db:notanip', 'bad name:1.2.3.4']) expect(lodgerErrorOf(() => parseAddHost(bad, null)).code).toBe('NETWORK_HOST_INVALID');
  });
});

describe('buildHosts', () => {
  it('writes localhost lines, --add-host entries, then the container\'s hostname and name at its address', () => {
    const text = buildHosts({ hostname: 'abc123', name: 'web', ip: '10.0.2.100', addHosts: ['db:10.0.0.5', 'gw:host-gateway'], hostGateway: '10.0.2.2' });
    const lines = text.trim().split('\n');
    expect(lines[0]).toBe('127.0.0.1\tlocalhost');
    expect(lines[1]).toBe('::1\tlocalhost ip6-localhost ip6-loopback');
    expect(lines).toContain('10.0.0.5\tdb');
    expect(lines).toContain('10.0.2.2\tgw');
    expect(lines[lines.length - 1]).toBe('10.0.2.100\tabc123 web');
  });

  it('points the names at 127.0.0.1 without a network and lists user-network peers', () => {
    expect(buildHosts({ hostname: 'h', ip: null })).toContain('127.0.0.1\th\n');
    const text = buildHosts({ hostname: 'a', name: 'a', ip: '10.89.0.2', peers: [{ ip: '10.89.0.3', names: ['b', 'b-alias'] }, { ip: '10.89.0.2', names: ['a'] }] });
    expect(text).toContain('10.89.0.2\ta\n10.89.0.3\tb b-alias\n');
  });

  it('extends the host\'s file for --network host', () => {
    expect(buildHosts({ hostname: 'h', ip: null, base: '127.0.0.1 localhost\n192.0.2.2 myhost\n', addHosts: ['x:1.2.3.4'] })).toBe('127.0.0.1 localhost\n192.0.2.2 myhost\n1.2.3.4\tx\n');
  });
});
