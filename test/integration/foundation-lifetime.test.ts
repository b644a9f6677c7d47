// Issue 2, signals and lifetime: in the foreground, signals to `lodger run` reach the container; if the CLI is
// killed with SIGKILL the container dies with it, and a --rm container leaves nothing behind (no process, no
// mount, no record).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { killLodgers, runLodger, runLodgerOk, spawnLodger, waitForExit, waitForOutput, type Store } from '../helpers/cli';
import {
  alive, busyboxStore, containerShells, entries, haveSubids, hostMountinfo, marker, leakedMounts, psAllIds, waitUntil,
} from './foundation-common';

const ok = haveSubids();
let store: Store;
beforeAll(async () => {
  if (ok) store = await busyboxStore();
});
afterEach(() => killLodgers());
afterAll(async () => {
  await store?.cleanup();
});

/** Direct children of PID (the CLI's helper), from /proc/PID/task/TID/children. */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const t of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      out.push(...fs.readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').split(/\s+/).filter(Boolean).map(Number));
    } catch {
      /* thread gone */
    }
  }
  return out;
}

const TRAP = (sig: string, code: number) =>
  `trap "echo caught-${sig}; exit ${code}" ${sig}; echo ready; while :; do sleep 0.1; done`;

describe.skipIf(!ok)('signals to a foreground `lodger run` reach the container', () => {
  const cases: Array<[NodeJS.Signals, string, number]> = [
    ['SIGTERM', 'TERM', 42],
    ['SIGINT', 'INT', 43],
    ['SIGHUP', 'HUP', 44],
    ['SIGUSR1', 'USR1', 45],
  ];
  for (const [signal, name, code] of cases) {
    it(`${signal}: the container's trap runs and its exit status (${code}) is lodger's`, async () => {
      const cli = spawnLodger(['run', '--rm', 'busybox', 'sh', '-c', TRAP(name, code)], { store });
      await waitForOutput(cli, 'ready', { stream: 'stdout' });
      process.kill(cli.pid!, signal);
      const r = await waitForExit(cli, 15_000);
      expect(r.stdout).toBe(`ready\ncaught-${name}\n`);
      expect(r.code).toBe(code);
      expect(r.signal).toBeNull();
    });
  }

  it('a container that ignores SIGTERM keeps running; the CLI keeps waiting for it', async () => {
    const cli = spawnLodger(['run', '--rm', 'busybox', 'sh', '-c', 'trap "echo ignored" TERM; echo ready; sleep 1; sleep 1; echo done; exit 5'], { store });
    await waitForOutput(cli, 'ready', { stream: 'stdout' });
    process.kill(cli.pid!, 'SIGTERM');
    const r = await waitForExit(cli, 15_000);
    expect(r.stdout).toMatch(/ignored\n(.|\n)*done\n$/);
    expect(r.code).toBe(5);
  });
});

describe.skipIf(!ok)('the CLI killed with SIGKILL', () => {
  // Each test gets its own store: what is left behind is exactly what the test looks for.
  let store: Store;
  beforeEach(async () => {
    store = await busyboxStore();
  });
  afterEach(async () => {
    killLodgers();
    await store.cleanup();
  });

  it('a --rm container dies with it and leaves no process, no mount and no record', async () => {
    const before = hostMountinfo();
    const tag = marker('sigkill');
    const childTag = marker('sigkill-child');
    const cli = spawnLodger(
      ['run', '--rm', 'busybox', 'sh', '-c', `sh -c 'while :; do sleep 1; done' ${childTag} & echo ready; while :; do sleep 1; done`, tag],
      { store },
    );
    await waitForOutput(cli, 'ready', { stream: 'stdout' });
    expect(await containerShells(tag)).toHaveLength(1);
    expect(await containerShells(childTag)).toHaveLength(1);
    const helpers = childrenOf(cli.pid!);
    expect(helpers.length).toBeGreaterThan(0);

    process.kill(cli.pid!, 'SIGKILL'); // the CLI alone, as the OOM killer or `kill -9 <pid>` would
    await waitForExit(cli);

    await waitUntil('the container processes to die', async () => (await containerShells(tag)).length + (await containerShells(childTag)).length === 0, 5000);
    await waitUntil('the helper to exit', () => helpers.every((p) => !alive(p)), 5000);
    await waitUntil('the record to go', () => entries(path.join(store.root, 'containers'), true).length === 0, 5000);
    expect(await psAllIds(store)).toEqual([]);
    expect(leakedMounts(before, store.dir)).toEqual([]);
  });

  it('a --rm -i container (stdin from the CLI) also dies and leaves nothing', async () => {
    const tag = marker('sigkill-i');
    const cli = spawnLodger(['run', '--rm', '-i', 'busybox', 'sh', '-c', 'echo ready; while read l; do echo "got $l"; done', tag], { store });
    await waitForOutput(cli, 'ready', { stream: 'stdout' });
    cli.stdin!.write('one\n');
    await waitForOutput(cli, 'got one', { stream: 'stdout' });
    process.kill(cli.pid!, 'SIGKILL');
    await waitForExit(cli);
    await waitUntil('the container to die', async () => (await containerShells(tag)).length === 0, 5000);
    await waitUntil('the record to go', () => entries(path.join(store.root, 'containers'), true).length === 0, 5000);
    expect(await psAllIds(store)).toEqual([]);
  });

  it('a container without --rm dies too and is then listed as exited, not running, and can be removed', async () => {
    const tag = marker('sigkill-keep');
    const name = `kept-${process.pid}`;
    const cli = spawnLodger(['run', '--name', name, 'busybox', 'sh', '-c', 'echo ready; while :; do sleep 1; done', tag], { store });
    await waitForOutput(cli, 'ready', { stream: 'stdout' });
    process.kill(cli.pid!, 'SIGKILL');
    await waitForExit(cli);
    await waitUntil('the container to die', async () => (await containerShells(tag)).length === 0, 5000);
    const st = await runLodgerOk(['inspect', '-f', '{{.State.Status}} {{.State.Running}}', name], { store });
    expect(st.stdout.trim()).toBe('exited false');
    expect((await runLodgerOk(['ps', '-q'], { store })).stdout).toBe('');
    await runLodgerOk(['rm', name], { store });
    expect(await psAllIds(store)).toEqual([]);
  });
});

describe.skipIf(!ok)('a running foreground container is visible to the other commands', () => {
  it('ps lists a foreground --rm container as running, and `lodger kill NAME` ends it (137)', async () => {
    const name = `fg-rm-${process.pid}`;
    const cli = spawnLodger(['run', '--rm', '--name', name, 'busybox', 'sh', '-c', 'echo ready; while :; do sleep 1; done'], { store });
    await waitForOutput(cli, 'ready', { stream: 'stdout' });
    const ps = (await runLodgerOk(['ps', '--format', 'json'], { store })).stdout.trim().split('\n').map((l) => JSON.parse(l) as { Names: string; State: string });
    expect(ps.find((c) => c.Names === name)?.State).toBe('running');
    const rm = await runLodger(['rm', name], { store });
    expect(rm.code).not.toBe(0); // running: refused without -f
    const kill = await runLodger(['kill', name], { store });
    expect(kill.code, kill.stderr).toBe(0);
    expect((await waitForExit(cli, 15_000)).code).toBe(137);
    await waitUntil('the record to go', () => entries(path.join(store.root, 'containers')).length === 0, 5000);
  });

  it('ps lists a foreground container (without --rm) as running while it runs', async () => {
    const name = `fg-keep-${process.pid}`;
    const cli = spawnLodger(['run', '--name', name, 'busybox', 'sh', '-c', 'echo ready; sleep 2; exit 3'], { store });
    await waitForOutput(cli, 'ready', { stream: 'stdout' });
    const ps = (await runLodgerOk(['ps', '--format', 'json'], { store })).stdout.trim().split('\n').map((l) => JSON.parse(l) as { Names: string; State: string });
    expect(ps.find((c) => c.Names === name)?.State).toBe('running');
    expect((await waitForExit(cli, 15_000)).code).toBe(3);
    const after = (await runLodgerOk(['ps', '-a', '--format', 'json'], { store })).stdout.trim().split('\n').map((l) => JSON.parse(l) as { Names: string; State: string; Status: string });
    const row = after.find((c) => c.Names === name);
    expect(row?.State).toBe('exited');
    expect(row?.Status).toMatch(/^Exited \(3\)/);
    await runLodgerOk(['rm', name], { store });
  });
});
