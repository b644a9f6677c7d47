// Issue 2, namespaces: the command is PID 1 of its own pid namespace; uts (host name from the id, --hostname),
// ipc, cgroup and mount namespaces of its own; --network none has only lo (up), --network host the host's interfaces.
import * as fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLodger, runLodgerOk, type Store } from '../helpers/cli';
import { bbshOk, busyboxStore, haveSubids } from './foundation-common';

const ok = haveSubids();
let store: Store;
beforeAll(async () => {
  if (ok) store = await busyboxStore();
});
afterAll(async () => {
  await store?.cleanup();
});

describe.skipIf(!ok)('pid namespace', () => {
  it('the command is PID 1 and sees only the container\'s processes', async () => {
    // (No pipes in these scripts: each thing is read on its own and compared here.)
    const out = await bbshOk(store, 'echo $$; echo --; cat /proc/1/cmdline; echo; echo --; ls -d /proc/[0-9]*');
    const [pid, cmdline, procs] = out.split(/^--$/m).map((s) => s.trim());
    expect(pid).toBe('1');
    expect(cmdline.split('\0')[0]).toBe('sh');
    expect(cmdline.split('\0')[1]).toBe('-c');
    // The glob is expanded by sh itself, before it forks ls: the only process there is then is PID 1.
    expect(procs.split('\n')).toEqual(['/proc/1']);
  });

  it('a detached container\'s init is PID 1 too (its own namespace, not the host\'s)', async () => {
    const id = (await runLodgerOk(['run', '-d', 'busybox', 'sh', '-c', 'echo pid=$$; sleep 30'], { store })).stdout.trim();
    try {
      expect(id).toMatch(/^[0-9a-f]{64}$/);
      const hostPid = Number((await runLodgerOk(['inspect', '-f', '{{.State.Pid}}', id], { store })).stdout.trim());
      expect(hostPid).toBeGreaterThan(1);
      expect(fs.readlinkSync(`/proc/${hostPid}/ns/pid`)).not.toBe(fs.readlinkSync('/proc/self/ns/pid'));
      // NSpid: the pid in each namespace, host first, the container's last.
      const nspid = fs.readFileSync(`/proc/${hostPid}/status`, 'utf8').match(/^NSpid:\s+(.*)$/m)?.[1].split(/\s+/);
      expect(nspid?.[0]).toBe(String(hostPid));
      expect(nspid?.at(-1)).toBe('1');
    } finally {
      await runLodger(['rm', '-f', id], { store });
    }
  });
});

describe.skipIf(!ok)('uts namespace', () => {
  it('the host name defaults to the first 12 hex digits of the 64-hex container id', async () => {
    const name = `hn-${process.pid}`;
    const r = await runLodgerOk(['run', '--name', name, 'busybox', 'hostname'], { store });
    const id = (await runLodgerOk(['inspect', '-f', '{{.Id}}', name], { store })).stdout.trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    expect(r.stdout.trim()).toBe(id.slice(0, 12));
    await runLodgerOk(['rm', name], { store });
  });

  it('`run -d` prints the id whose first 12 hex digits are the host name', async () => {
    const id = (await runLodgerOk(['run', '-d', 'busybox', 'sh', '-c', 'hostname; cat /etc/hostname'], { store })).stdout.trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    await runLodgerOk(['wait', id], { store });
    const logs = await runLodgerOk(['logs', id], { store });
    expect(logs.stdout.trim().split('\n')).toEqual([id.slice(0, 12), id.slice(0, 12)]);
    await runLodgerOk(['rm', id], { store });
  });

  it('--hostname sets it (uname, hostname and /etc/hostname agree), and the host\'s name is untouched', async () => {
    const before = fs.readFileSync('/proc/sys/kernel/hostname', 'utf8');
    const out = await bbshOk(store, 'hostname; uname -n; cat /etc/hostname', ['--hostname', 'lodger-box']);
    expect(out.trim().split('\n')).toEqual(['lodger-box', 'lodger-box', 'lodger-box']);
    expect(fs.readFileSync('/proc/sys/kernel/hostname', 'utf8')).toBe(before);
  });
});

describe.skipIf(!ok)('ipc, cgroup, mount and user namespaces', () => {
  for (const ns of ['ipc', 'cgroup', 'mnt', 'uts', 'pid', 'user', 'net']) {
    it(`/proc/self/ns/${ns} differs from the host's`, async () => {
      const inside = (await bbshOk(store, `readlink /proc/self/ns/${ns}`)).trim();
      expect(inside).toMatch(new RegExp(`^${ns}:\\[\\d+\\]$`));
      expect(inside).not.toBe(fs.readlinkSync(`/proc/self/ns/${ns}`));
    });
  }

  it('the cgroup namespace is rooted at the container: /proc/self/cgroup says "0::/"', async () => {
    const out = await bbshOk(store, 'cat /proc/self/cgroup');
    const v2 = out.split('\n').find((l) => l.startsWith('0::'));
    expect(v2).toBe('0::/');
  });
});

describe.skipIf(!ok)('network', () => {
  it('--network none: only lo, and lo is up', async () => {
    const out = await bbshOk(store, 'ls /sys/class/net; echo --; ip -o link show lo; echo --; ip -o addr show lo', ['--network', 'none']);
    const [ifaces, lo, addrs] = out.split(/^--$/m).map((s) => s.trim());
    expect(ifaces.split(/\s+/)).toEqual(['lo']);
    expect(lo).toMatch(/<[^>]*\bUP\b[^>]*>/);
    expect(addrs).toMatch(/inet 127\.0\.0\.1\//);
  });

  it('--network none: the loopback interface carries traffic', async () => {
    const out = await bbshOk(
      store,
      'mkdir /tmp/www && echo pong >/tmp/www/ping && httpd -p 127.0.0.1:8080 -h /tmp/www && sleep 0.3 && wget -q -O - http://127.0.0.1:8080/ping',
      ['--network', 'none'],
    );
    expect(out.trim()).toBe('pong');
  });

  it('--network none: the host\'s interfaces are not there', async () => {
    const host = fs.readdirSync('/sys/class/net').filter((n) => n !== 'lo');
    const out = await bbshOk(store, 'ls /sys/class/net', ['--network', 'none']);
    for (const i of host) expect(out.split(/\s+/)).not.toContain(i);
  });

  it('--network host sees the host\'s interfaces and network namespace', async () => {
    const host = fs.readdirSync('/sys/class/net').sort();
    const out = await bbshOk(store, 'ls /sys/class/net; echo --; readlink /proc/self/ns/net', ['--network', 'host']);
    const [ifaces, netns] = out.split(/^--$/m).map((s) => s.trim());
    expect(ifaces.split(/\s+/).sort()).toEqual(host);
    expect(netns).toBe(fs.readlinkSync('/proc/self/ns/net'));
  });
});
