// Unit tests for `--network` parsing, backend probing output parsing and the default-backend choice.
import { describe, expect, it } from 'vitest';
import {
  defaultBackend,
  parseNetworkMode,
  parsePastaProbe,
  parseSlirpProbe,
  resolveDefaultMode,
  type Backends,
  type PastaInfo,
  type SlirpInfo,
} from '../../../src/network/mode';
import { lodgerErrorOf } from '../../helpers/errors';

const code = (fn: () => unknown): string => lodgerErrorOf(fn).code;

describe('parseNetworkMode', () => {
  it('maps unset and docker/podman aliases to the default backend', () => {
    for (const v of [undefined, '', 'bridge', 'default', 'private']) expect(parseNetworkMode(v)).toEqual({ kind: 'default' });
  });

  it('parses none, host and container:NAME', () => {
    expect(parseNetworkMode('none')).toEqual({ kind: 'none' });
    expect(parseNetworkMode('host')).toEqual({ kind: 'host' });
    expect(parseNetworkMode('container:web')).toEqual({ kind: 'container', target: 'web' });
    expect(code(() => parseNetworkMode('container:'))).toBe('NETWORK_MODE_INVALID');
  });

  it('parses slirp4netns options with podman names', () => {
    const m = parseNetworkMode('slirp4netns:mtu=1500,allow_host_loopback=true,cidr=10.5.0.7/24,enable_ipv6=true,port_handler=slirp4netns,outbound_addr=eth0');
    expect(m).toEqual({
      kind: 'slirp4netns',
      options: { mtu: 1500, allowHostLoopback: true, cidr: '10.5.0.0/24', enableIpv6: true, portHandler: 'slirp4netns', outboundAddr: 'eth0', outboundAddr6: null },
    });
    expect(parseNetworkMode('slirp4netns')).toMatchObject({ options: { mtu: 65520, allowHostLoopback: false, cidr: null } });
  });

  it('rejects bad slirp4netns options with the option named', () => {
    expect(code(() => parseNetworkMode('slirp4netns:mtu=70000'))).toBe('NETWORK_OPTION_INVALID');
    expect(code(() => parseNetworkMode('slirp4netns:allow_host_loopback=yes'))).toBe('NETWORK_OPTION_INVALID');
    expect(code(() => parseNetworkMode('slirp4netns:cidr=10.0.2.0/28'))).toBe('NETWORK_OPTION_INVALID');
    expect(code(() => parseNetworkMode('slirp4netns:port_handler=rootlesskit'))).toBe('NETWORK_OPTION_INVALID');
    expect(code(() => parseNetworkMode('slirp4netns:bogus=1'))).toBe('NETWORK_OPTION_INVALID');
    expect(code(() => parseNetworkMode('slirp4netns:mtu'))).toBe('NETWORK_OPTION_INVALID');
    expect(code(() => parseNetworkMode('slirp4netns:outbound_addr=::1'))).toBe('NETWORK_OPTION_INVALID');
    try {
      parseNetworkMode('slirp4netns:bogus=1');
    } catch (e) {
      expect((e as Error).message).toMatch(/bogus.*known options are mtu/);
    }
  });

  it('splits pasta arguments on commas and keeps --map-gw as a lodger option', () => {
    expect(parseNetworkMode('pasta')).toEqual({ kind: 'pasta', args: [], mapGateway: false });
    expect(parseNetworkMode('pasta:-T,auto,--map-gw,--mtu,1500')).toEqual({ kind: 'pasta', args: ['-T', 'auto', '--mtu', '1500'], mapGateway: true });
    expect(code(() => parseNetworkMode('pasta:--netns,/tmp/x'))).toBe('NETWORK_OPTION_INVALID');
    expect(code(() => parseNetworkMode('pasta:--no-netns-quit'))).toBe('NETWORK_OPTION_INVALID');
  });

  it('takes anything else that is a valid name as a user network', () => {
    expect(parseNetworkMode('my-net_1.x')).toEqual({ kind: 'user', name: 'my-net_1.x' });
    expect(code(() => parseNetworkMode('bad/name'))).toBe('NETWORK_MODE_INVALID');
    expect(code(() => parseNetworkMode('-net'))).toBe('NETWORK_MODE_INVALID');
  });
});

const SLIRP_HELP_120 = `Usage: slirp4netns [OPTION]... PID|PATH [TAPNAME]
-c, --configure          bring up the interface
-e, --exit-fd=FD         specify the FD for terminating slirp4netns
-r, --ready-fd=FD        specify the FD to write to when the network is configured
-a, --api-socket=PATH    specify API socket path
--cidr=CIDR              specify network address CIDR (default=10.0.2.0/24)
--disable-host-loopback  prohibit connecting to 127.0.0.1:* on the host namespace
--netns-type=TYPE 	 specify network namespace type ([path|pid], default=pid)
--userns-path=PATH	 specify user namespace path
--enable-sandbox         create a new mount namespace
--enable-seccomp         enable seccomp to limit syscalls (experimental)
--outbound-addr=IPv4     sets outbound ipv4 address to bound to (experimental)
--disable-dns            disables 10.0.2.3
`;

describe('backend probes', () => {
  it('reads slirp4netns features from --help and --version', () => {
    const info = parseSlirpProbe('/usr/bin/slirp4netns', SLIRP_HELP_120, 'slirp4netns version 1.2.0\ncommit: 656041d\nlibslirp: 4.7.0\nSLIRP_CONFIG_VERSION_MAX: 4\nlibseccomp: 2.5.4\n');
    expect(info).toMatchObject({ version: '1.2.0', libslirp: '4.7.0', sandbox: true, seccomp: true, disableHostLoopback: true, apiSocket: true, exitFd: true, readyFd: true });
  });

  it('does not claim seccomp when the build lacks libseccomp', () => {
    const info = parseSlirpProbe('/x', SLIRP_HELP_120, 'slirp4netns version 1.0.1\nlibslirp: 4.3.1\n');
    expect(info.seccomp).toBe(false);
    expect(parseSlirpProbe('/x', '--configure\n', '').sandbox).toBe(false);
  });

  it('reads pasta features through the syslog noise of old builds', () => {
    const help = 'Failed to send 51 bytes to syslog\n  --dns-forward ADDR\tForward DNS queries sent to ADDR\nFailed to send 9 bytes to syslog\n  --no-map-gw\t\tDon\'t map gateway address to host\n  -T, --tcp-ns SPEC\n  --no-netns-quit\n  --config-net\n';
    const info = parsePastaProbe('/usr/bin/pasta', help, 'pasta unknown version\nCopyright Red Hat\n');
    expect(info).toMatchObject({ version: null, dnsForward: true, noMapGw: true, nsPorts: true, netnsQuit: true, configNet: true, mapGuestAddr: false });
    expect(parsePastaProbe('/p', '', 'pasta 2024_08_21.1d6142f\n').version).toBe('2024_08_21.1d6142f');
  });
});

describe('defaultBackend', () => {
  const slirp = { path: '/usr/bin/slirp4netns' } as SlirpInfo;
  const pasta = { path: '/usr/bin/pasta' } as PastaInfo;
  const both: Backends = { slirp4netns: slirp, pasta };

  it('prefers slirp4netns (a few MiB per container, pasta ~29) unless ports are published (pasta splices them), falls back, obeys configuration', () => {
    expect(defaultBackend(both)).toBe('slirp4netns');
    expect(defaultBackend(both, null, true)).toBe('pasta');
    expect(defaultBackend({ slirp4netns: null, pasta })).toBe('pasta');
    expect(defaultBackend({ slirp4netns: slirp, pasta: null }, null, true)).toBe('slirp4netns');
    expect(defaultBackend(both, 'pasta')).toBe('pasta');
    expect(defaultBackend(both, 'slirp4netns', true)).toBe('slirp4netns');
  });

  it('fails with advice when nothing (or not the configured one) is installed', () => {
    expect(code(() => defaultBackend({ slirp4netns: null, pasta: null }))).toBe('NETWORK_BACKEND_MISSING');
    expect(code(() => defaultBackend({ slirp4netns: slirp, pasta: null }, 'pasta'))).toBe('NETWORK_BACKEND_MISSING');
  });

  it('turns the default mode into the backend mode', () => {
    expect(resolveDefaultMode({ kind: 'default' }, 'pasta')).toEqual({ kind: 'pasta', args: [], mapGateway: false });
    expect(resolveDefaultMode({ kind: 'default' }, 'slirp4netns')).toMatchObject({ kind: 'slirp4netns', options: { mtu: 65520 } });
    expect(resolveDefaultMode({ kind: 'none' }, 'pasta')).toEqual({ kind: 'none' });
  });
});
