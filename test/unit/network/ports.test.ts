// Unit tests for -p/-P parsing, host-port choice against real sockets, and `lodger port` formatting.
import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  formatPortMappings,
  lookupPublishedPort,
  parseExposedPorts,
  parsePublish,
  publishAllSpecs,
  resolvePortMappings,
  type PortMapping,
} from '../../../src/network/ports';
import { lodgerErrorOf } from '../../helpers/errors';

describe('parsePublish', () => {
  it('parses every docker form of -p', () => {
    expect(parsePublish('80')).toEqual([{ hostIp: '', hostPort: 0, hostPortRange: null, containerPort: 80, protocol: 'tcp' }]);
    expect(parsePublish('8080:80')).toEqual([{ hostIp: '', hostPort: 8080, hostPortRange: null, containerPort: 80, protocol: 'tcp' }]);
    expect(parsePublish('127.0.0.1:8080:80/udp')).toEqual([{ hostIp: '127.0.0.1', hostPort: 8080, hostPortRange: null, containerPort: 80, protocol: 'udp' }]);
    expect(parsePublish('127.0.0.1::80')).toEqual([{ hostIp: '127.0.0.1', hostPort: 0, hostPortRange: null, containerPort: 80, protocol: 'tcp' }]);
    expect(parsePublish('[::1]:8080:80')).toEqual([{ hostIp: '::1', hostPort: 8080, hostPortRange: null, containerPort: 80, protocol: 'tcp' }]);
    expect(parsePublish('0.0.0.0:8080:80/TCP')[0]).toMatchObject({ hostIp: '', protocol: 'tcp' });
  });

  it('expands equal ranges pairwise and leaves unspecified host ports random', () => {
    const r = parsePublish('8000-8010:80-90');
    expect(r).toHaveLength(11);
    expect(r[0]).toMatchObject({ hostPort: 8000, containerPort: 80 });
    expect(r[10]).toMatchObject({ hostPort: 8010, containerPort: 90 });
    expect(parsePublish('80-82').map((s) => [s.hostPort, s.containerPort])).toEqual([[0, 80], [0, 81], [0, 82]]);
  });

  it('takes a host range for one container port as "any free port in the range"', () => {
    expect(parsePublish('8000-8010:80')).toEqual([{ hostIp: '', hostPort: 0, hostPortRange: [8000, 8010], containerPort: 80, protocol: 'tcp' }]);
  });

  it('rejects malformed specs and says what is expected', () => {
    for (const bad of ['', 'abc', '0', '70000', '80/sctp', '80/xyz', '8000-8002:80-81', '8080:80-81', 'nothost:8080:80', '1:2:3:4', '90-80', '[::1:8080:80']) {
      const e = lodgerErrorOf(() => parsePublish(bad));
      expect(e.code).toBe('NETWORK_PORT_INVALID');
      expect(e.message).toContain('expected [ip:][hostPort:]containerPort');
    }
  });
});

describe('-P and ExposedPorts', () => {
  it('reads image ExposedPorts keys, defaulting to tcp and expanding ranges', () => {
    expect(parseExposedPorts({ '80/tcp': {}, '53/udp': {}, '8080': {}, '9000-9001/tcp': {} })).toEqual([
      { containerPort: 53, protocol: 'udp' },
      { containerPort: 80, protocol: 'tcp' },
      { containerPort: 8080, protocol: 'tcp' },
      { containerPort: 9000, protocol: 'tcp' },
      { containerPort: 9001, protocol: 'tcp' },
    ]);
    expect(parseExposedPorts(undefined)).toEqual([]);
    expect(lodgerErrorOf(() => parseExposedPorts({ 'http': {} })).code).toBe('NETWORK_PORT_INVALID');
  });

  it('publishes every exposed port not already published with -p', () => {
    const explicit = parsePublish('8080:80');
    const all = publishAllSpecs({ '80/tcp': {}, '443/tcp': {}, '80/udp': {} }, explicit);
    expect(all.map((s) => `${s.containerPort}/${s.protocol}:${s.hostPort}`)).toEqual(['80/udp:0', '443/tcp:0']);
  });
});

describe('resolvePortMappings (real sockets on 127.0.0.1)', () => {
  let busy: Server | null = null;
  afterEach(() => {
    busy?.close();
    busy = null;
  });
  const listen = (): Promise<number> =>
    new Promise((resolve) => {
      busy = createServer();
      busy.listen({ host: '127.0.0.1', port: 0 }, () => resolve((busy!.address() as { port: number }).port));
    });

  it('gives random ports that are free and distinct', async () => {
    const m = await resolvePortMappings([...parsePublish('127.0.0.1::80'), ...parsePublish('127.0.0.1::81'), ...parsePublish('127.0.0.1::81/udp')]);
    expect(m).toHaveLength(3);
    expect(m.every((x) => x.hostPort > 0)).toBe(true);
    expect(m[0].hostPort).not.toBe(m[1].hostPort);
  });

  it('refuses a host port something already listens on, naming it', async () => {
    const port = await listen();
    await expect(resolvePortMappings(parsePublish(`127.0.0.1:${port}:80`))).rejects.toMatchObject({
      code: 'NETWORK_PORT_IN_USE',
      message: expect.stringContaining(`127.0.0.1:${port}/tcp`),
    });
  });

  it('skips taken ports of a host range', async () => {
    const port = await listen();
    const m = await resolvePortMappings(parsePublish(`127.0.0.1:${port}-${port + 1}:80`));
    // The taken one is skipped; the next may also be taken by chance on a busy host, so only check it moved on.
    expect(m[0].hostPort).toBe(port + 1);
  });

  it('refuses the same host port twice, also when one side binds every address', async () => {
    const port = await listen();
    busy!.close();
    busy = null;
    await expect(resolvePortMappings([...parsePublish(`${port}:80`), ...parsePublish(`127.0.0.1:${port}:81`)])).rejects.toMatchObject({
      code: 'NETWORK_PORT_INVALID',
      message: expect.stringContaining('given twice'),
    });
    // tcp and udp are separate port spaces
    await expect(resolvePortMappings([...parsePublish(`127.0.0.1:${port}:80`), ...parsePublish(`127.0.0.1:${port}:80/udp`)])).resolves.toHaveLength(2);
  });
});

describe('lodger port output', () => {
  const m: PortMapping[] = [
    { hostIp: '', hostPort: 8080, containerPort: 80, protocol: 'tcp' },
    { hostIp: '::1', hostPort: 8053, containerPort: 53, protocol: 'udp' },
    { hostIp: '127.0.0.1', hostPort: 8443, containerPort: 443, protocol: 'tcp' },
  ];

  it('prints docker\'s "80/tcp -> 0.0.0.0:8080" lines sorted by container port', () => {
    expect(formatPortMappings(m)).toEqual(['53/udp -> [::1]:8053', '80/tcp -> 0.0.0.0:8080', '443/tcp -> 127.0.0.1:8443']);
  });

  it('looks up one port, tcp by default, and names a missing one', () => {
    expect(lookupPublishedPort(m, '80', 'web')).toEqual(['0.0.0.0:8080']);
    expect(lookupPublishedPort(m, '53/udp', 'web')).toEqual(['[::1]:8053']);
    const e = lodgerErrorOf(() => lookupPublishedPort(m, '53', 'web'));
    expect(e.code).toBe('NETWORK_PORT_NOT_PUBLISHED');
    expect(e.message).toContain('53/tcp of web');
  });
});
