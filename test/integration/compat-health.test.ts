// Issue 16, health checks: --health-* and the image's HEALTHCHECK, run by the container's checker process;
// the state Docker shows (starting → healthy → unhealthy, FailingStreak, the last results) in inspect and ps.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeTree, requireTool, runLodger, runLodgerOk, type Store } from '../helpers/cli';
import { buildOciLayout, ociToDockerArchive, type ImageConfigSpec } from '../helpers/fixtures';
import { busyboxFixture, busyboxStore, haveSubids } from './foundation-common';

const ok = haveSubids() && requireTool('skopeo');
let store: Store;
let work: string;

beforeAll(async () => {
  if (!ok) return;
  store = await busyboxStore();
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'lodger-compat-health-'));
  // An image whose HEALTHCHECK (as `docker build` writes it: durations in ns) passes once /tmp/up exists.
  const oci = path.join(work, 'oci');
  await buildOciLayout(oci, {
    tag: 'hc',
    layers: [{ tarFile: busyboxFixture()!.tar }],
    config: { Cmd: ['sh', '-c', 'touch /tmp/up; sleep 60'], Healthcheck: { Test: ['CMD-SHELL', 'test -f /tmp/up'], Interval: 200e6, Retries: 2 } } as ImageConfigSpec,
  });
  await runLodgerOk(['load', '-i', await ociToDockerArchive(oci, 'hc', path.join(work, 'hc.tar'), 'localhost/hc:1')], { store });
});
afterAll(async () => {
  if (store) for (const id of (await runLodgerOk(['ps', '-aq'], { store })).stdout.split('\n').filter(Boolean)) await runLodger(['rm', '-f', id], { store });
  await store?.cleanup();
  if (work) await removeTree(work);
});

const health = async (name: string) => JSON.parse((await runLodgerOk(['inspect', name], { store })).stdout)[0].State.Health;

/** The distinct health states NAME goes through until it reaches FINAL (polled; the order is what is asserted). */
async function statesUntil(name: string, final: string, limit = 400): Promise<string[]> {
  const seen: string[] = [];
  for (let i = 0; i < limit; i++) {
    const s = (await health(name))?.Status;
    if (s && seen[seen.length - 1] !== s) seen.push(s);
    if (s === final) return seen;
    await new Promise((r) => setTimeout(r, 100));
  }
  return seen;
}

describe.skipIf(!ok)('health checks', () => {
  it('--health-cmd: starting, healthy once the check passes, unhealthy after --health-retries failures; ps shows it', async () => {
    await runLodgerOk(['run', '-d', '--name', 'h1', '--health-cmd', 'test -f /tmp/ok', '--health-interval', '200ms', '--health-retries', '2', '--health-start-period', '30s',
      'busybox', 'sh', '-c', 'sleep 1; touch /tmp/ok; sleep 2; rm /tmp/ok; sleep 60'], { store });
    const first = await health('h1');
    expect(first.Status).toBe('starting');
    expect((await runLodgerOk(['ps', '--filter', 'name=h1', '--format', '{{.Status}}'], { store })).stdout).toMatch(/^Up .*\(health: starting\)\n$/);
    expect(await statesUntil('h1', 'healthy')).toEqual(['starting', 'healthy']);
    expect((await runLodgerOk(['ps', '--filter', 'name=h1', '--format', '{{.Status}}'], { store })).stdout).toMatch(/\(healthy\)\n$/);
    // After the file goes, failures count even inside the start period: the container had started.
    expect(await statesUntil('h1', 'unhealthy')).toEqual(['healthy', 'unhealthy']);
    const h = await health('h1');
    expect(h.FailingStreak).toBeGreaterThanOrEqual(2);
    expect(h.Log.length).toBeLessThanOrEqual(5);
    expect(h.Log[h.Log.length - 1]).toMatchObject({ ExitCode: 1 });
    const cfg = JSON.parse((await runLodgerOk(['inspect', 'h1'], { store })).stdout)[0].Config.Healthcheck;
    expect(cfg).toEqual({ Test: ['CMD-SHELL', 'test -f /tmp/ok'], Interval: 200e6, Retries: 2, StartPeriod: 30e9 });
  });

  it('the image\'s HEALTHCHECK is honoured; --no-healthcheck turns it off', async () => {
    await runLodgerOk(['run', '-d', '--name', 'h2', 'localhost/hc:1'], { store });
    expect(await statesUntil('h2', 'healthy')).toContain('healthy');
    await runLodgerOk(['run', '-d', '--name', 'h3', '--no-healthcheck', 'localhost/hc:1'], { store });
    const doc = JSON.parse((await runLodgerOk(['inspect', 'h3'], { store })).stdout)[0];
    expect(doc.State.Health).toBeUndefined();
    expect(doc.Config.Healthcheck).toEqual({ Test: ['NONE'] });
    expect((await runLodgerOk(['ps', '--filter', 'name=h3', '--format', '{{.Status}}'], { store })).stdout).not.toMatch(/health/);
  });

  it('a check that outlives --health-timeout fails with Docker\'s message', async () => {
    await runLodgerOk(['run', '-d', '--name', 'h4', '--health-cmd', 'sleep 5', '--health-timeout', '300ms', '--health-interval', '200ms', '--health-retries', '1', 'busybox', 'sleep', '60'], { store });
    expect(await statesUntil('h4', 'unhealthy')).toEqual(['starting', 'unhealthy']);
    expect((await health('h4')).Log[0].Output).toMatch(/Health check exceeded timeout/);
  });

  it('bad values are refused', async () => {
    const r = await runLodger(['run', '--rm', '--health-cmd', 'true', '--health-interval', 'soon', 'busybox', 'true'], { store });
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/--health-interval soon: expected a duration/);
    const c = await runLodger(['run', '--rm', '--health-cmd', 'true', '--no-healthcheck', 'busybox', 'true'], { store });
    expect(c.stderr).toMatch(/--no-healthcheck conflicts/);
  });
});
