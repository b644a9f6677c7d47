// Unit tests for user-network records and address management in a scratch store.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  allocateAddress,
  createNetwork,
  formatNetworkInspect,
  formatNetworkList,
  inspectNetwork,
  listNetworks,
  networkFile,
  reclaimStale,
  recordAttached,
  releaseAddress,
  removeNetworkRecord,
  type NetworkLink,
} from '../../../src/network/userNetwork';
import { identify, waitForExit, type ProcessIdentity } from '../../../src/network/procs';

let root = '';
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'lodger-netstore-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

const id = (n: number): string => n.toString(16).padStart(2, '0').repeat(32);

describe('network records', () => {
  it('creates networks on successive free /24s with the gateway at .1', async () => {
    const a = await createNetwork(root, 'a');
    const b = await createNetwork(root, 'b', { internal: true });
    expect(a).toMatchObject({ name: 'a', subnet: '10.89.0.0/24', gateway: '10.89.0.1', internal: false, dnsEnabled: true, driver: 'bridge' });
    expect(b).toMatchObject({ subnet: '10.89.1.0/24', internal: true });
    expect(a.id).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.parse(readFileSync(networkFile(root, 'a'), 'utf8')).id).toBe(a.id);
    expect(listNetworks(root).map((r) => r.name)).toEqual(['a', 'b']);
  });

  it('honours --subnet/--gateway and refuses overlaps, slirp\'s range and bad values', async () => {
    const c = await createNetwork(root, 'c', { subnet: '10.90.0.0/16', gateway: '10.90.0.254' });
    expect(c).toMatchObject({ subnet: '10.90.0.0/16', gateway: '10.90.0.254' });
    await expect(createNetwork(root, 'd', { subnet: '10.90.5.0/24' })).rejects.toMatchObject({ code: 'NETWORK_SUBNET_INVALID', message: expect.stringContaining('overlaps network c') });
    await expect(createNetwork(root, 'e', { subnet: '10.0.0.0/16' })).rejects.toMatchObject({ code: 'NETWORK_SUBNET_INVALID', message: expect.stringContaining('10.0.2.0/24') });
    await expect(createNetwork(root, 'f', { subnet: '10.91.0.0/31' })).rejects.toMatchObject({ code: 'NETWORK_SUBNET_INVALID' });
    await expect(createNetwork(root, 'g', { subnet: '10.92.0.0/24', gateway: '10.93.0.1' })).rejects.toMatchObject({ code: 'NETWORK_SUBNET_INVALID' });
  });

  it('refuses duplicate, reserved and malformed names', async () => {
    await createNetwork(root, 'dup');
    await expect(createNetwork(root, 'dup')).rejects.toMatchObject({ code: 'NETWORK_EXISTS' });
    await expect(createNetwork(root, 'host')).rejects.toMatchObject({ code: 'NETWORK_NAME_INVALID', message: expect.stringContaining('built-in') });
    await expect(createNetwork(root, 'a/b')).rejects.toMatchObject({ code: 'NETWORK_NAME_INVALID' });
  });

  it('finds networks by name or unique id prefix and names what is missing', async () => {
    const a = await createNetwork(root, 'alpha');
    expect(inspectNetwork(root, a.id.slice(0, 6)).name).toBe('alpha');
    expect(() => inspectNetwork(root, 'nope')).toThrow(/no such network.*lodger network create nope/);
  });

  it('formats inspect and ls like docker', async () => {
    const a = await createNetwork(root, 'alpha');
    await allocateAddress(root, 'alpha', { containerId: id(1), containerName: 'web', aliases: ['www'] });
    const j = formatNetworkInspect(inspectNetwork(root, 'alpha'));
    expect(j).toMatchObject({ Name: 'alpha', Id: a.id, Driver: 'bridge', IPAM: { Config: [{ Subnet: '10.89.0.0/24', Gateway: '10.89.0.1' }] } });
    expect((j.Containers as Record<string, unknown>)[id(1)]).toEqual({ Name: 'web', IPv4Address: '10.89.0.2/24', Aliases: ['www'] });
    expect(formatNetworkList(listNetworks(root))).toEqual([[a.id.slice(0, 12), 'alpha', 'bridge', 'local']]);
  });
});

describe('IPAM', () => {
  it('hands out the lowest free address, reuses released ones, and keeps a container\'s own', async () => {
    await createNetwork(root, 'n');
    expect((await allocateAddress(root, 'n', { containerId: id(1), containerName: 'a' })).ip).toBe('10.89.0.2');
    expect((await allocateAddress(root, 'n', { containerId: id(2), containerName: 'b' })).ip).toBe('10.89.0.3');
    await releaseAddress(root, 'n', id(1));
    expect((await allocateAddress(root, 'n', { containerId: id(3), containerName: 'c' })).ip).toBe('10.89.0.2');
    // allocating again for the same container replaces its entry rather than taking a second address
    expect((await allocateAddress(root, 'n', { containerId: id(3), containerName: 'c' })).ip).toBe('10.89.0.2');
    expect(Object.keys(inspectNetwork(root, 'n').containers)).toHaveLength(2);
  });

  it('honours --ip inside the subnet and refuses taken, foreign or gateway addresses', async () => {
    await createNetwork(root, 'n');
    expect((await allocateAddress(root, 'n', { containerId: id(1), containerName: 'a', ip: '10.89.0.50' })).ip).toBe('10.89.0.50');
    await expect(allocateAddress(root, 'n', { containerId: id(2), containerName: 'b', ip: '10.89.0.50' })).rejects.toMatchObject({ code: 'NETWORK_ADDRESS_IN_USE' });
    await expect(allocateAddress(root, 'n', { containerId: id(2), containerName: 'b', ip: '10.89.0.1' })).rejects.toMatchObject({ code: 'NETWORK_ADDRESS_INVALID' });
    await expect(allocateAddress(root, 'n', { containerId: id(2), containerName: 'b', ip: '10.1.0.5' })).rejects.toMatchObject({ code: 'NETWORK_ADDRESS_INVALID' });
  });

  it('refuses a second container answering to the same name', async () => {
    await createNetwork(root, 'n');
    await allocateAddress(root, 'n', { containerId: id(1), containerName: 'web' });
    await expect(allocateAddress(root, 'n', { containerId: id(2), containerName: 'web' })).rejects.toMatchObject({ code: 'NETWORK_NAME_IN_USE' });
  });

  it('runs out cleanly on a full network and stays consistent under concurrent allocation', async () => {
    await createNetwork(root, 'small', { subnet: '10.95.0.0/29' }); // .1 gateway, .2–.6 free
    const ips = await Promise.all([1, 2, 3, 4, 5].map((n) => allocateAddress(root, 'small', { containerId: id(n), containerName: `c${n}` }).then((r) => r.ip)));
    expect(new Set(ips).size).toBe(5);
    await expect(allocateAddress(root, 'small', { containerId: id(6), containerName: 'c6' })).rejects.toMatchObject({ code: 'NETWORK_ADDRESS_EXHAUSTED' });
  });

  it('removes a network only without containers unless forced', async () => {
    await createNetwork(root, 'n');
    await allocateAddress(root, 'n', { containerId: id(1), containerName: 'web' });
    await expect(removeNetworkRecord(root, 'n')).rejects.toMatchObject({ code: 'NETWORK_IN_USE', message: expect.stringContaining('web') });
    await removeNetworkRecord(root, 'n', { force: true });
    expect(listNetworks(root)).toEqual([]);
    await releaseAddress(root, 'n', id(1)); // the network is gone: nothing to do, no error
  });
});

/** Links in this process's own network namespace: `lo` is there, the other name is not. */
function ownLink(veth: string): NetworkLink {
  return { holder: identify(process.pid) as ProcessIdentity, ns: readlinkSync('/proc/self/ns/net'), veth };
}

/** The identity a process had, taken while it ran; it has exited (and been reaped) since. */
async function deadProcess(): Promise<ProcessIdentity> {
  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  const who = identify(child.pid as number) as ProcessIdentity;
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  expect(await waitForExit(who, 2000)).toBe(true);
  return who;
}

describe('containers that are gone', () => {
  it('shows and keeps entries whose veth exists or whose attach is under way; an allocation drops the others', async () => {
    await createNetwork(root, 'n', { subnet: '10.96.0.0/29' });
    const dead = await deadProcess();
    const ip = async (n: number, name: string, extra: object): Promise<[string, string[]]> => {
      const a = await allocateAddress(root, 'n', { containerId: id(n), containerName: name, ...extra });
      return [a.ip, a.reclaimed.map(([cid]) => cid)];
    };
    expect(await ip(1, 'up', { link: ownLink('lo') })).toEqual(['10.96.0.2', []]);
    expect(await ip(2, 'gone', { link: ownLink('lvnosuchlink0') })).toEqual(['10.96.0.3', []]);
    // 'gone' has no veth: its address and name are free for the next one.
    expect(await ip(3, 'gone', { link: ownLink('lvnosuchlink1'), attaching: dead })).toEqual(['10.96.0.3', [id(2)]]);
    // Its attaching process ended without a veth ever appearing: gone too.
    expect(await ip(4, 'coming', { link: ownLink('lvnosuchlink2'), attaching: identify(process.pid) })).toEqual(['10.96.0.3', [id(3)]]);
    // An attach under way (this process) keeps its address although its veth does not exist yet.
    expect(await ip(5, 'oldns', { link: { ...ownLink('lo'), holder: dead } })).toEqual(['10.96.0.4', []]);
    // A namespace whose holder ended took every veth with it, so 'oldns' shows nowhere…
    expect(Object.values(inspectNetwork(root, 'n').containers).map((c) => c.name).sort()).toEqual(['coming', 'up']);
    expect(Object.keys(listNetworks(root)[0].containers)).toHaveLength(2);
    // …though it stays on disk until the next allocation drops it.
    expect(Object.keys(JSON.parse(readFileSync(networkFile(root, 'n'), 'utf8')).containers).sort()).toEqual([id(1), id(4), id(5)]);
    expect(await ip(6, 'next', {})).toEqual(['10.96.0.4', [id(5)]]);
    expect(Object.keys(JSON.parse(readFileSync(networkFile(root, 'n'), 'utf8')).containers).sort()).toEqual([id(1), id(4), id(6)]);
  });

  it('lets network rm through when only gone containers are recorded, and reclaimStale returns their forwards', async () => {
    await createNetwork(root, 'n');
    await allocateAddress(root, 'n', { containerId: id(1), containerName: 'web', link: ownLink('lvnosuchlink0') });
    await recordAttached(root, 'n', id(1), [{ mapping: { hostIp: '', hostPort: 8080, containerPort: 80, protocol: 'tcp' }, slirpId: 7, nftHandle: 3 }]);
    const gone = await reclaimStale(root, 'n');
    expect(gone.map(([cid, c]) => [cid, c.forwards?.[0].slirpId])).toEqual([[id(1), 7]]);
    expect(await reclaimStale(root, 'n')).toEqual([]);
    await allocateAddress(root, 'n', { containerId: id(2), containerName: 'db', link: ownLink('lvnosuchlink1') });
    await removeNetworkRecord(root, 'n'); // no --force needed
    expect(listNetworks(root)).toEqual([]);
  });

  it('recordAttached ends the attach: without its veth the entry is then gone', async () => {
    await createNetwork(root, 'n');
    await allocateAddress(root, 'n', { containerId: id(1), containerName: 'web', link: ownLink('lvnosuchlink0'), attaching: identify(process.pid) as ProcessIdentity });
    expect(Object.keys(inspectNetwork(root, 'n').containers)).toEqual([id(1)]);
    await recordAttached(root, 'n', id(1), []);
    expect(JSON.parse(readFileSync(networkFile(root, 'n'), 'utf8')).containers[id(1)].attaching).toBeUndefined();
    expect(inspectNetwork(root, 'n').containers).toEqual({});
  });
});
