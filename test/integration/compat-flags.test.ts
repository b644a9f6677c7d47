// Issue 16, process and namespace flags: --ulimit as `ulimit` sees it inside (and refused above our hard limit),
// --group-add, --stop-signal/--stop-timeout, --cidfile, --sysctl (namespaced ones only), --pid/--ipc/--uts host, --pid/--ipc container:X,
// --log-opt max-size/max-file for the detached container's log, -a.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeTree, runLodger, runLodgerOk, type Store } from '../helpers/cli';
import { busyboxStore, haveSubids } from './foundation-common';
import { mustRun } from '../helpers/exec';
import { requireTool } from '../helpers/prereqs';

const ok = haveSubids() && requireTool('cc');
let store: Store;
let work: string;

beforeAll(async () => {
  if (!ok) return;
  store = await busyboxStore();
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'lodger-compat-flags-'));
});
afterAll(async () => {
  await store?.cleanup();
  if (work) await removeTree(work);
});

const sh = (args: string[], script: string) => runLodger(['run', '--rm', ...args, 'busybox', 'sh', '-c', script], { store });
const shOk = async (args: string[], script: string) => (await runLodgerOk(['run', '--rm', ...args, 'busybox', 'sh', '-c', script], { store })).stdout;
const inspect = async (name: string) => JSON.parse((await runLodgerOk(['inspect', name], { store })).stdout)[0];

/** Our own hard limit of open files (what a container may not exceed). */
function hardNofile(): number {
  const line = fs.readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'))!;
  return Number(line.trim().split(/\s+/)[4]);
}

describe.skipIf(!ok)('--ulimit', () => {
  it('soft and hard limits are what `ulimit` reports inside', async () => {
    expect(await shOk(['--ulimit', 'nofile=256:512'], 'ulimit -n; ulimit -Hn')).toBe('256\n512\n');
    expect(await shOk(['--ulimit', 'nofile=300', '--ulimit', 'core=0'], 'ulimit -n; ulimit -Hn; ulimit -c')).toBe('300\n300\n0\n');
  });

  it('above our hard limit: refused (125) with the limit and what to do', async () => {
    const hard = hardNofile();
    const r = await sh(['--ulimit', `nofile=${hard + 1}`], 'true');
    expect(r.code).toBe(125);
    expect(r.stderr).toContain(`--ulimit nofile=${hard + 1}: ${hard + 1} is above your hard limit for nofile (${hard})`);
    const bad = await sh(['--ulimit', 'colours=3'], 'true');
    expect(bad.stderr).toMatch(/unknown limit "colours"/);
    const inverted = await sh(['--ulimit', 'nofile=100:50'], 'true');
    expect(inverted.stderr).toMatch(/soft limit is above the hard one/);
  });
});

describe.skipIf(!ok)('--group-add, --cidfile, --stop-signal, --stop-timeout', () => {
  it('--group-add adds gids by number and by the image\'s group names', async () => {
    expect(await shOk(['-u', '1000', '--group-add', '4321', '--group-add', 'nogroup'], 'id -G')).toBe('1000 4321 65534\n');
    const r = await sh(['--group-add', 'wheel'], 'true');
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/--group-add wheel: no such group/);
  });

  it('--cidfile gets the id; an existing file is refused', async () => {
    const f = path.join(work, 'cid');
    await runLodgerOk(['create', '--name', 'cid1', '--cidfile', f, 'busybox', 'true'], { store });
    expect(fs.readFileSync(f, 'utf8')).toBe((await inspect('cid1')).Id);
    const r = await runLodger(['run', '--rm', '--cidfile', f, 'busybox', 'true'], { store });
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/--cidfile .*cid: the file exists already/);
  });

  it('--stop-signal is what `stop` sends; inspect shows it and --stop-timeout', async () => {
    await runLodgerOk(['run', '-d', '--name', 'sig', '--stop-signal', 'SIGUSR1', '--stop-timeout', '30', 'busybox', 'sh', '-c',
      'trap "echo got-usr1; exit 3" USR1; echo ready; while :; do sleep 0.1; done'], { store });
    for (let i = 0; i < 100 && !(await runLodgerOk(['logs', 'sig'], { store })).stdout.includes('ready'); i++) await new Promise((r) => setTimeout(r, 50));
    const before = await inspect('sig');
    expect(before.Config.StopSignal).toBe('SIGUSR1');
    expect(before.Config.StopTimeout).toBe(30);
    await runLodgerOk(['stop', 'sig'], { store });
    const after = await inspect('sig');
    expect(after.State.ExitCode).toBe(3);
    expect((await runLodgerOk(['logs', 'sig'], { store })).stdout).toContain('got-usr1');
    const bad = await sh(['--stop-signal', 'SIGNOPE'], 'true');
    expect(bad.code).toBe(125);
  });
});

describe.skipIf(!ok)('--sysctl', () => {
  it('namespaced sysctls are set in the container\'s own namespaces', async () => {
    const out = await shOk(['--sysctl', 'net.ipv4.ip_unprivileged_port_start=80', '--sysctl', 'kernel.shmmax=123456', '--sysctl', 'fs.mqueue.msg_max=20'],
      'cat /proc/sys/net/ipv4/ip_unprivileged_port_start /proc/sys/kernel/shmmax /proc/sys/fs/mqueue/msg_max');
    expect(out).toBe('80\n123456\n20\n');
    // The host's are untouched.
    expect(fs.readFileSync('/proc/sys/kernel/shmmax', 'utf8').trim()).not.toBe('123456');
  });

  it('others are refused with the reason, as are net.* with --network host and IPC ones with --ipc host', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['--sysctl', 'vm.swappiness=10'], /vm.swappiness is not namespaced/],
      [['--sysctl', 'kernel.pid_max=1000'], /kernel.pid_max is not namespaced/],
      [['--sysctl', 'fs.file-max=1000'], /fs.file-max is not namespaced/],
      [['--network', 'host', '--sysctl', 'net.ipv4.ip_forward=1'], /with --network host the network namespace is not the container's own/],
      [['--ipc', 'host', '--sysctl', 'kernel.shmmax=1'], /with --ipc host/],
      [['--sysctl', 'novalue'], /expected KEY=VALUE/],
    ];
    for (const [args, msg] of cases) {
      const r = await sh(args, 'true');
      expect(r.code, args.join(' ')).toBe(125);
      expect(r.stderr, args.join(' ')).toMatch(msg);
    }
  });
});

describe.skipIf(!ok)('--pid, --ipc, --uts', () => {
  it('private by default: the command is PID 1, the IPC namespace and host name are the container\'s', async () => {
    const out = await shOk([], 'echo $$; readlink /proc/self/ns/ipc; hostname');
    const [pid, ipc, host] = out.split('\n');
    expect(pid).toBe('1');
    expect(ipc).not.toBe(fs.readlinkSync('/proc/self/ns/ipc'));
    expect(host).not.toBe(os.hostname());
  });

  it('host: the host\'s pid namespace (and /proc), IPC namespace and host name', async () => {
    const pid = (await shOk(['--pid', 'host'], 'echo $$; readlink /proc/self/ns/pid')).split('\n');
    expect(pid[0]).not.toBe('1');
    expect(pid[1]).toBe(fs.readlinkSync('/proc/self/ns/pid'));
    expect((await shOk(['--ipc', 'host'], 'readlink /proc/self/ns/ipc')).trim()).toBe(fs.readlinkSync('/proc/self/ns/ipc'));
    expect((await shOk(['--uts', 'host'], 'hostname')).trim()).toBe(os.hostname());
  });

  it('container:X: a container not running is refused (125) naming it; unknown modes with the reason', async () => {
    const a = await sh(['--ipc', 'container:other'], 'true');
    expect(a.code).toBe(125);
    expect(a.stderr).toMatch(/no such container: other/);
    await runLodgerOk(['create', '--name', 'pidstopped', 'busybox', 'true'], { store });
    const s = await sh(['--pid', 'container:pidstopped'], 'true');
    expect(s.code).toBe(125);
    expect(s.stderr).toMatch(/--pid container:pidstopped: container pidstopped is not running/);
    const b = await sh(['--uts', 'private'], 'true');
    expect(b.stderr).toMatch(/--uts private: expected host/);
  });

  it('--pid container:X: ps lists X\'s processes; --ipc container:X: X\'s SysV segment and message queue are seen', async () => {
    // busybox has no ipcmk: a static shmget(2) caller, bound in, makes X's segment (requireTool: cc).
    const shm = path.join(work, 'shmmk');
    fs.writeFileSync(`${shm}.c`, '#include <sys/shm.h>\nint main(void) { return shmget(IPC_PRIVATE, 1024, IPC_CREAT | 0600) < 0; }\n');
    await mustRun('cc', ['-static', '-o', shm, `${shm}.c`]);
    await runLodgerOk(['run', '-d', '--name', 'pidowner', '-v', `${shm}:/shmmk:ro`, 'busybox', 'sh', '-c', '/shmmk && touch /dev/mqueue/fromX && sleep 60'], { store });
    try {
      const ps = await shOk(['--pid', 'container:pidowner'], 'ps; readlink /proc/self/ns/pid');
      expect(ps).toMatch(/sleep 60/);
      const own = await runLodgerOk(['exec', 'pidowner', 'readlink', '/proc/self/ns/pid'], { store });
      expect(ps.trim().split('\n').pop()).toBe(own.stdout.trim());
      // X's shell made both before it sleeps; ps above saw the sleep.
      const ipc = await shOk(['--ipc', 'container:pidowner'], 'cat /proc/sysvipc/shm; ls /dev/mqueue; readlink /proc/self/ns/ipc');
      expect(ipc).toMatch(/^\s*\d+\s+\d+\s+\d+\s+1024\s/m);
      expect(ipc).toMatch(/^fromX$/m);
      const ownIpc = await runLodgerOk(['exec', 'pidowner', 'readlink', '/proc/self/ns/ipc'], { store });
      expect(ipc.trim().split('\n').pop()).toBe(ownIpc.stdout.trim());
      // All three of X's at once: one user namespace. Another container's beside X's: refused, with the reason.
      const all = await shOk(['--pid', 'container:pidowner', '--ipc', 'container:pidowner', '--network', 'container:pidowner'], 'ps -o comm | grep -cx sleep; ls /dev/mqueue');
      expect(all).toBe('1\nfromX\n');
      await runLodgerOk(['run', '-d', '--name', 'pidother', 'busybox', 'sleep', '60'], { store });
      const mixed = await sh(['--pid', 'container:pidowner', '--ipc', 'container:pidother'], 'true');
      expect(mixed.code).toBe(125);
      expect(mixed.stderr).toMatch(/--ipc container:pidother with --pid container:pidowner: the two containers have different user namespaces/);
      // Without the flag neither is there: a private IPC namespace.
      const priv = await shOk([], 'cat /proc/sysvipc/shm; ls /dev/mqueue');
      expect(priv).not.toMatch(/\s1024\s|fromX/);
    } finally {
      await runLodger(['rm', '-f', 'pidowner', 'pidother'], { store });
    }
  });
});

describe.skipIf(!ok)('--log-opt', () => {
  /** The container's log files (ctr.log, ctr.log.1, …) with their sizes. */
  const logFiles = async (name: string) => {
    const dir = path.dirname(JSON.parse((await runLodgerOk(['inspect', name], { store })).stdout)[0].LogPath);
    return fs.readdirSync(dir).filter((f) => f.startsWith('ctr.log')).sort().map((f) => [f, fs.statSync(path.join(dir, f)).size] as const);
  };

  it('max-size with max-file: the log rotates, each file stays near the size; logs shows the newest lines', async () => {
    await runLodgerOk(['run', '-d', '--name', 'rot', '--log-opt', 'max-size=2k', '--log-opt', 'max-file=3', 'busybox', 'sh', '-c', 'i=0; while [ $i -lt 200 ]; do echo line-$i; i=$((i+1)); done'], { store });
    await runLodger(['wait', 'rot'], { store });
    const files = await logFiles('rot');
    expect(files.map(([f]) => f)).toEqual(['ctr.log', 'ctr.log.1', 'ctr.log.2']);
    // A file is rotated once a record takes it to the size: no file holds more than the size plus one record.
    for (const [, size] of files) expect(size).toBeLessThan(2048 + 200);
    const out = (await runLodgerOk(['logs', 'rot'], { store })).stdout;
    expect(out.endsWith('line-199\n')).toBe(true);
    expect(out).not.toContain('line-0\n');
  });

  it('max-size alone keeps one file; unknown options are refused', async () => {
    await runLodgerOk(['run', '-d', '--name', 'one', '--log-opt', 'max-size=1k', 'busybox', 'sh', '-c', 'i=0; while [ $i -lt 100 ]; do echo line-$i; i=$((i+1)); done'], { store });
    await runLodger(['wait', 'one'], { store });
    const files = await logFiles('one');
    expect(files.map(([f]) => f)).toEqual(['ctr.log']);
    expect(files[0][1]).toBeLessThan(1024 + 200);
    const r = await sh(['--log-opt', 'compress=true'], 'true');
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/honours max-size and max-file only/);
  });
});

describe.skipIf(!ok)('-a', () => {
  it('only the streams named are attached; -a with -d is refused', async () => {
    const script = 'echo out; echo err >&2';
    const both = await runLodgerOk(['run', '--rm', 'busybox', 'sh', '-c', script], { store });
    expect([both.stdout, both.stderr]).toEqual(['out\n', 'err\n']);
    const out = await runLodgerOk(['run', '--rm', '-a', 'stdout', 'busybox', 'sh', '-c', script], { store });
    expect([out.stdout, out.stderr]).toEqual(['out\n', '']);
    const err = await runLodgerOk(['run', '--rm', '-a', 'STDERR', 'busybox', 'sh', '-c', script], { store });
    expect([err.stdout, err.stderr]).toEqual(['', 'err\n']);
    const d = await runLodger(['run', '-d', '-a', 'stdout', 'busybox', 'true'], { store });
    expect(d.code).toBe(125);
    expect(d.stderr).toMatch(/conflicting options: -a and -d/);
  });
});
