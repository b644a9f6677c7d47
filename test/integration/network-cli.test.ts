// Issue 5 through the CLI: a server in a detached container reached from the host through -p (pasta and
// slirp4netns), published ports listed by `port`, `none` has only lo, and no network process outlives its container.
import * as net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLodger, runLodgerOk, requireTool, type Store } from '../helpers/cli';
import { runCommand } from '../helpers/exec';
import { busyboxStore } from './foundation-common';

const ready = requireTool('pasta') && requireTool('slirp4netns');
let store: Store;

beforeAll(async () => { if (ready) store = await busyboxStore(); });
afterAll(async () => { if (store) await store.cleanup(); });

function freePort(): Promise<number> {
  return new Promise((resolve) => { const s = net.createServer().listen(0, '127.0.0.1', () => { const p = (s.address() as net.AddressInfo).port; s.close(() => resolve(p)); }); });
}

/** Connects to 127.0.0.1:PORT and returns what the server sends, retrying while the container starts. */
async function fetchLine(port: number): Promise<string> {
  for (let i = 0; i < 50; i++) {
    const got = await new Promise<string>((resolve) => {
      let buf = '';
      const c = net.connect(port, '127.0.0.1');
      c.on('data', (d) => { buf += d.toString(); });
      c.on('end', () => resolve(buf));
      c.on('error', () => resolve(''));
      setTimeout(() => { c.destroy(); resolve(buf); }, 2000);
    });
    if (got) return got;
    await new Promise((r) => setTimeout(r, 100));
  }
  return '';
}

async function networkProcesses(marker: string): Promise<string> {
  return (await runCommand('pgrep', ['-u', String(process.getuid!()), '-a', '-f', marker])).stdout;
}

describe.skipIf(!ready)('networks through the CLI', () => {
  for (const backend of ['pasta', 'slirp4netns']) {
    it(`-p publishes a TCP server in a detached container (${backend}); port lists it; nothing outlives rm -f`, async () => {
      const port = await freePort();
      const id = (await runLodgerOk(['run', '-d', '--network', backend, '-p', `127.0.0.1:${port}:7000`, 'busybox', 'sh', '-c',
        'while :; do echo hello-from-$(hostname) | nc -l -p 7000; done'], { store })).stdout.trim();
      expect(await fetchLine(port)).toBe(`hello-from-${id.slice(0, 12)}\n`);
      // The backend runs with the container's runtime dir (…/c/<short id>/) on its command line.
      const marker = `/c/${id.slice(0, 12)}/`;
      expect(await networkProcesses(marker)).not.toBe('');
      expect((await runLodgerOk(['port', id], { store })).stdout).toBe(`7000/tcp -> 127.0.0.1:${port}\n`);
      expect((await runLodgerOk(['ps', '--format', '{{.Ports}}'], { store })).stdout).toContain(`127.0.0.1:${port}->7000/tcp`);
      await runLodgerOk(['rm', '-f', id], { store });
      for (let i = 0; i < 50 && (await networkProcesses(marker)); i++) await new Promise((r) => setTimeout(r, 100));
      expect(await networkProcesses(marker)).toBe('');
    });
  }

  it('the default network gives an address and a resolver other than the host loopback; none has only lo', async () => {
    const r = await runLodgerOk(['run', '--rm', 'busybox', 'sh', '-c', 'ls /sys/class/net; grep nameserver /etc/resolv.conf'], { store });
    expect(r.stdout.split('\n')).toContain('lo');
    expect(r.stdout.split('\n').length).toBeGreaterThan(3);
    expect(r.stdout).not.toMatch(/nameserver 127\./);
    const none = await runLodgerOk(['run', '--rm', '--network', 'none', 'busybox', 'ls', '/sys/class/net'], { store });
    expect(none.stdout).toBe('lo\n');
  });

  it('containers on one user network reach each other by name; another network cannot reach them', async () => {
    await runLodgerOk(['network', 'create', 'nca'], { store });
    await runLodgerOk(['network', 'create', 'ncb'], { store });
    await runLodgerOk(['run', '-d', '--name', 'srv', '--network', 'nca', 'busybox', 'sleep', '60'], { store });
    const ip = (await runLodgerOk(['inspect', '-f', '{{.NetworkSettings.IPAddress}}', 'srv'], { store })).stdout.trim();
    expect(ip).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    const same = await runLodger(['run', '--rm', '--network', 'nca', 'busybox', 'sh', '-c', 'ping -c1 -W2 srv'], { store });
    expect(same.code, same.stdout + same.stderr).toBe(0);
    expect(same.stdout).toContain(`(${ip})`);
    const other = await runLodger(['run', '--rm', '--network', 'ncb', 'busybox', 'sh', '-c', `ping -c1 -W1 srv; ping -c1 -W1 ${ip}`], { store });
    expect(other.code).not.toBe(0);
    expect(other.stdout + other.stderr).toMatch(/bad address 'srv'/);
    expect(other.stdout).toMatch(/0 packets received/);
    await runLodgerOk(['rm', '-f', 'srv'], { store });
    // The foreground --rm containers gave their addresses back: the networks can go without --force.
    await runLodgerOk(['network', 'rm', 'nca', 'ncb'], { store });
  });

  it('a detached --rm container on a user network gives its address and port back when it ends', async () => {
    // A /30 has exactly one container address (.2): the next container can only start if it came back.
    await runLodgerOk(['network', 'create', '--subnet', '10.89.250.0/30', 'ncrm'], { store });
    try {
      const port = await freePort();
      const id = (await runLodgerOk(['run', '-d', '--rm', '--network', 'ncrm', '-p', `127.0.0.1:${port}:7000`, 'busybox', 'sh', '-c', 'sleep 1'], { store })).stdout.trim();
      const attached = JSON.parse((await runLodgerOk(['network', 'inspect', 'ncrm'], { store })).stdout)[0].Containers;
      expect(Object.keys(attached)).toEqual([id]);
      expect(attached[id].IPv4Address).toBe('10.89.250.2/30');
      // --rm: its monitor removes the container once it ends; nothing calls lodger rm.
      let gone = false;
      for (let i = 0; i < 100 && !gone; i++) {
        gone = (await runLodger(['inspect', id], { store })).code !== 0;
        if (!gone) await new Promise((r) => setTimeout(r, 100));
      }
      expect(gone).toBe(true);
      // The namespace holding its veth goes a moment after the monitor; inspect must then show nobody.
      let left: Record<string, unknown> = attached;
      for (let i = 0; i < 50 && Object.keys(left).length; i++) {
        left = JSON.parse((await runLodgerOk(['network', 'inspect', 'ncrm'], { store })).stdout)[0].Containers;
        if (Object.keys(left).length) await new Promise((r) => setTimeout(r, 100));
      }
      expect(left).toEqual({});
      // The address and the published host port are free again for the next container.
      const next = await runLodgerOk(['run', '-d', '--network', 'ncrm', '-p', `127.0.0.1:${port}:7000`, 'busybox', 'sh', '-c',
        'while :; do echo second | nc -l -p 7000; done'], { store });
      const second = next.stdout.trim();
      expect((await runLodgerOk(['inspect', '-f', '{{.NetworkSettings.IPAddress}}', second], { store })).stdout.trim()).toBe('10.89.250.2');
      expect(await fetchLine(port)).toBe('second\n');
      // rm gives it back as well, so the network goes without --force.
      await runLodgerOk(['rm', '-f', second], { store });
      await runLodgerOk(['network', 'rm', 'ncrm'], { store });
    } finally {
      // A failure above must not leave the network's namespace, slirp4netns and responder running.
      await runLodger(['network', 'rm', '--force', 'ncrm'], { store });
    }
  });

  it('-p with --network none is refused before anything runs (125)', async () => {
    const r = await runLodger(['run', '--rm', '--network', 'none', '-p', '8080:80', 'busybox', 'true'], { store });
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/--network none/);
  });
});
