// Issue 16 point 7: a terminal that hangs up under a foreground run, exec or attach (tmux kill-session, as an
// ssh drop or a closed window) ends them as the container's terminal would, and -t output is only the container's.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lodgerCommand, lodgerEnv, requireTool, runLodger, runLodgerOk, type Store } from '../helpers/cli';
import { mustRun, runCommand } from '../helpers/exec';
import { busyboxStore, dropStore, lifecyclePrereqs, waitUntil } from './lifecycle-common';

const ok = lifecyclePrereqs() && requireTool('tmux') && requireTool('script');
let store: Store;
let tmuxDir: string;
const out = async (args: string[]) => (await runLodgerOk(args, { store })).stdout;

/** The lodger command line for a shell (tmux and script run their command through sh -c). */
function lodgerLine(args: string[]): string {
  const env = lodgerEnv({ store });
  const { cmd, args: pre } = lodgerCommand();
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const vars = ['PATH', 'HOME', 'LODGER_ROOT', 'XDG_RUNTIME_DIR', 'XDG_DATA_HOME', 'LODGER_STORAGE_DRIVER', 'LODGER_CGROUPS', 'LODGER_CGROUP_PARENT']
    .filter((k) => env[k] !== undefined).map((k) => `${k}=${q(env[k]!)}`);
  return ['env', ...vars, q(cmd), ...pre.map(q), ...args.map(q)].join(' ');
}

function tmux(args: string[]) {
  return mustRun('tmux', ['-S', path.join(tmuxDir, 'sock'), ...args]);
}

/** The command lines of the processes that mention WORD (a container name made for one test), words joined by spaces. */
function processesWith(word: string): string[] {
  const found: string[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    let argv: string[];
    try { argv = fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0'); } catch { continue; }  // gone
    if (argv.some((a) => a.includes(word))) found.push(argv.join(' '));
  }
  return found;
}

const names = async (all: boolean) => (await out(['ps', ...(all ? ['-a'] : []), '--format', '{{.Names}}'])).split('\n').filter(Boolean);

describe.skipIf(!ok)('terminals', () => {
  beforeAll(async () => {
    store = await busyboxStore('lodger-term-');
    tmuxDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lodger-tmux-'));
  }, 60_000);
  afterAll(async () => {
    await runCommand('tmux', ['-S', path.join(tmuxDir, 'sock'), 'kill-server']);
    fs.rmSync(tmuxDir, { recursive: true, force: true });
    await dropStore(store);
  });

  it('run --rm -t: only the container\'s bytes reach the output (no ^@ from script\'s stdin at EOF)', async () => {
    for (let i = 0; i < 3; i++) {
      const r = await runCommand('script', ['-qec', lodgerLine(['run', '--rm', '-t', 'busybox', 'echo', 'yes']), '/dev/null'], { input: '' });
      expect(r.code).toBe(0);
      expect(r.stdout).toBe('yes\r\n');
    }
  });

  it('a hang-up under run --rm -it: the container gets SIGHUP, then CLI, helper and the --rm record go', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lodger-hup-'));
    fs.chmodSync(dir, 0o777);
    const script = 'trap "echo hup > /out/hup; exit 7" HUP; echo ready > /out/ready; while :; do sleep 1; done';
    await tmux(['new-session', '-d', '-s', 'trap', '-x', '80', '-y', '24', lodgerLine(['run', '--rm', '-it', '--name', 'hup-trap', '-v', `${dir}:/out`, 'busybox', 'sh', '-c', script])]);
    await waitUntil(() => fs.existsSync(path.join(dir, 'ready')), 'the container to start', 30_000);
    expect(processesWith('hup-trap').length).toBeGreaterThan(0);
    await tmux(['kill-session', '-t', 'trap']);
    await waitUntil(() => fs.existsSync(path.join(dir, 'hup')), 'the container\'s SIGHUP trap', 10_000);
    await waitUntil(async () => !(await names(true)).includes('hup-trap'), 'the --rm container to be removed', 15_000);
    await waitUntil(() => processesWith('hup-trap').length === 0, 'the CLI and the helper to end', 10_000);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a hang-up under an interactive shell (run --rm -it busybox sh) ends it like any exit', async () => {
    await tmux(['new-session', '-d', '-s', 'sh', '-x', '80', '-y', '24', lodgerLine(['run', '--rm', '-it', '--name', 'hup-sh', 'busybox', 'sh'])]);
    await waitUntil(async () => (await names(false)).includes('hup-sh'), 'the shell to start', 30_000);
    await tmux(['kill-session', '-t', 'sh']);
    await waitUntil(async () => !(await names(true)).includes('hup-sh'), 'the --rm container to be removed', 15_000);
    await waitUntil(() => processesWith('hup-sh').length === 0, 'the CLI and the helper to end', 10_000);
  });

  it('a hang-up under exec -it ends the exec\'d shell; under attach it detaches; the container runs on', async () => {
    await runLodgerOk(['run', '-d', '-it', '--name', 'hup-det', 'busybox', 'sh'], { store });
    await tmux(['new-session', '-d', '-s', 'att', '-x', '80', '-y', '24', lodgerLine(['attach', 'hup-det'])]);
    await tmux(['new-session', '-d', '-s', 'ex', '-x', '80', '-y', '24', lodgerLine(['exec', '-it', 'hup-det', 'sh'])]);
    const shells = async () => (await out(['exec', 'hup-det', 'ps', '-o', 'comm'])).split('\n').filter((l) => l.trim() === 'sh').length;
    await waitUntil(async () => (await shells()) === 2, 'the exec\'d shell', 30_000);
    const clients = () => processesWith('hup-det').filter((c) => / (attach|exec) /.test(c));
    await waitUntil(() => clients().length === 2, 'attach and exec to start', 10_000);
    await tmux(['kill-session', '-t', 'att']);
    await tmux(['kill-session', '-t', 'ex']);
    await waitUntil(async () => (await shells()) === 1, 'the exec\'d shell to end', 10_000);
    await waitUntil(() => clients().length === 0, 'attach and exec to end', 10_000);
    expect(await out(['ps', '--filter', 'name=^hup-det$', '--format', '{{.State}}'])).toBe('running\n');
    await runLodger(['rm', '-f', 'hup-det'], { store });
  });
});
